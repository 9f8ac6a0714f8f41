// Readers beside a writer on the same data directory (engine/partition_reader.h): a read-only
// engine next to a read-write one, on real files, as `sluice consume --follow` runs next to
// `sluice produce` or `sluice serve`.

#include "engine/partition_reader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "engine/engine.h"
#include "engine/group_offsets.h"
#include "engine/watermark.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using testing::MakeBatch;
using testing::ReadValues;
using testing::TempDir;

class PartitionReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions o = testing::TestEngineOptions(dir_.path());  // real files, published watermarks
    writer_ = testing::OpenTestEngine(o);
    ASSERT_NE(writer_, nullptr);
    ASSERT_OK(writer_->CreateTopic("t", 1, {{"segment.bytes", "8192"}}));
  }

  std::unique_ptr<Engine> OpenReader() {
    EngineOptions o = testing::TestEngineOptions(dir_.path());
    o.access = EngineAccess::kReadOnly;
    return testing::OpenTestEngine(o);
  }

  void AppendBatches(int batches, int records, const std::string& prefix) {
    for (int i = 0; i < batches; ++i) {
      const std::string batch = MakeBatch(records, prefix + std::to_string(i));
      ASSERT_OK(writer_->Append("t", 0, base::AsBytes(batch)));
    }
  }

  Offset ReaderHw(const Engine& reader) {
    auto stats = reader.GetPartitionStats("t", 0);
    EXPECT_TRUE(stats.has_value());
    return stats ? stats->high_watermark : Offset(-1);
  }

  TempDir dir_;
  std::unique_ptr<Engine> writer_;
};

TEST_F(PartitionReaderTest, ReadsEverythingTheWriterHasPublishedWhileItHoldsTheDirectory) {
  AppendBatches(5, 10, "a");
  auto reader = OpenReader();  // no lock taken: the writer holds it
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(ReaderHw(*reader), Offset(50));
  EXPECT_EQ(ReadValues(*reader, "t", 0), ReadValues(*writer_, "t", 0));
  // And what comes later, at the next read.
  AppendBatches(3, 10, "b");
  EXPECT_EQ(ReaderHw(*reader), Offset(80));
  EXPECT_EQ(ReadValues(*reader, "t", 0), ReadValues(*writer_, "t", 0));
}

TEST_F(PartitionReaderTest, ReadsNothingPastThePublishedWatermark) {
  AppendBatches(6, 10, "a");
  writer_.reset();  // closed cleanly: every frame is in the file
  // A writer that wrote those frames but has published only the first 30 offsets.
  ASSERT_OK_AND_ASSIGN(auto published, PublishedWatermark::OpenForWriter(dir_.Join("t-0")));
  published->Publish(Offset(30));
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(ReaderHw(*reader), Offset(30));
  EXPECT_EQ(ReadValues(*reader, "t", 0).size(), 30u);
  auto past = reader->Read("t", 0, Offset(31), 1 << 20);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, base::ErrorCode::kOutOfRange);
  published->Publish(Offset(50));
  EXPECT_EQ(ReadValues(*reader, "t", 0).size(), 50u);
}

TEST_F(PartitionReaderTest, WithoutAWriterReadsWhatAStoppedWriterLeft) {
  AppendBatches(4, 10, "a");
  writer_.reset();
  std::filesystem::remove(dir_.Join("t-0/watermark"));  // as left by an older sluice
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(ReaderHw(*reader), Offset(40));  // up to the recovery point of the clean close
  EXPECT_EQ(ReadValues(*reader, "t", 0).size(), 40u);
  EXPECT_TRUE(std::filesystem::exists(dir_.Join(".clean-shutdown")));  // untouched
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("t-0/watermark")));   // the reader wrote nothing
}

TEST_F(PartitionReaderTest, WakesOnAnAppendWithinABound) {
  AppendBatches(1, 10, "a");
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(ReaderHw(*reader), Offset(10));
  ASSERT_OK_AND_ASSIGN(auto watermark, PublishedWatermark::OpenForReader(dir_.Join("t-0")));
  auto waited = std::async(std::launch::async, [&] {
    const auto start = std::chrono::steady_clock::now();
    auto hw = reader->WaitForData("t", 0, Offset(10), 30'000);
    return std::make_pair(hw, std::chrono::steady_clock::now() - start);
  });
  // Append only once the reader sleeps on the futex.
  while (watermark->waiters() == 0) std::this_thread::yield();
  const auto appended = std::chrono::steady_clock::now();
  AppendBatches(1, 10, "b");
  auto [hw, elapsed] = waited.get();
  ASSERT_OK(hw);
  EXPECT_EQ(*hw, Offset(20));
  const auto woke_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - appended)
                           .count();
  // The timed fallback is 1 s: a wake well below it came from the writer's futex wake.
  EXPECT_LT(woke_ms, 800) << "woke " << woke_ms << " ms after the append";
  (void)elapsed;
}

TEST_F(PartitionReaderTest, FollowsRollsAndRetention) {
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(ReaderHw(*reader), Offset(0));
  AppendBatches(100, 20, "a");  // 8 KiB segments: many rolls after the reader opened
  ASSERT_OK_AND_ASSIGN(PartitionStats ws, writer_->GetPartitionStats("t", 0));
  ASSERT_GT(ws.segment_count, 3u);
  EXPECT_EQ(ReaderHw(*reader), Offset(2000));
  EXPECT_EQ(ReadValues(*reader, "t", 0), ReadValues(*writer_, "t", 0));
  // A read result taken before retention keeps its bytes.
  ASSERT_OK_AND_ASSIGN(ReadResult held, reader->Read("t", 0, Offset(0), 1 << 20));
  ASSERT_FALSE(held.batches.empty());
  const std::string first_batch(base::AsString(held.batches[0].bytes));

  ASSERT_OK(writer_->DeleteSegmentsBefore("t", 0, Offset(1000)));
  ASSERT_OK_AND_ASSIGN(ws, writer_->GetPartitionStats("t", 0));
  ASSERT_GT(ws.log_start_offset, Offset(0));
  ASSERT_OK_AND_ASSIGN(PartitionStats rs, reader->GetPartitionStats("t", 0));
  EXPECT_EQ(rs.log_start_offset, ws.log_start_offset);
  auto gone = reader->Read("t", 0, Offset(0), 1 << 20);
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, base::ErrorCode::kOutOfRange);
  EXPECT_EQ(ReadValues(*reader, "t", 0, ws.log_start_offset.value()),
            ReadValues(*writer_, "t", 0, ws.log_start_offset.value()));
  EXPECT_EQ(std::string(base::AsString(held.batches[0].bytes)), first_batch);
}

TEST_F(PartitionReaderTest, NoticesARestartedWriter) {
  AppendBatches(2, 10, "a");
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(ReaderHw(*reader), Offset(20));
  writer_->SimulateCrashForTesting();
  writer_.reset();
  EXPECT_EQ(ReaderHw(*reader), Offset(20));
  writer_ = testing::OpenTestEngine(testing::TestEngineOptions(dir_.path()));
  ASSERT_NE(writer_, nullptr);
  AppendBatches(2, 10, "b");
  EXPECT_EQ(ReaderHw(*reader), Offset(40));
  EXPECT_EQ(ReadValues(*reader, "t", 0), ReadValues(*writer_, "t", 0));
}

// Records the writer's process deleted (Kafka's DeleteRecords, inside a segment) are gone for a
// reader too: its log start moves and reads below it are out of range.
TEST_F(PartitionReaderTest, HonoursTheLogStartDeleteRecordsStored) {
  AppendBatches(4, 10, "a");
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  ASSERT_OK_AND_ASSIGN(Offset start, writer_->DeleteRecords("t", 0, Offset(15)));
  EXPECT_EQ(start, Offset(15));
  ASSERT_OK_AND_ASSIGN(auto stats, reader->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.log_start_offset, Offset(15));
  auto below = reader->Read("t", 0, Offset(10), 1 << 20);
  ASSERT_FALSE(below.has_value());
  EXPECT_EQ(below.error().code, base::ErrorCode::kOutOfRange);
  ASSERT_OK_AND_ASSIGN(auto from_start, reader->Read("t", 0, Offset(15), 1 << 20));
  EXPECT_EQ(from_start.log_start_offset, Offset(15));
  EXPECT_FALSE(from_start.batches.empty());
}

TEST_F(PartitionReaderTest, ReadOnlyEngineRefusesWrites) {
  ASSERT_OK_AND_ASSIGN(GroupOffsetStore * offsets, writer_->GroupOffsets());
  const OffsetCommit commit{"t", 0, Offset(7), "m"};
  ASSERT_OK(offsets->Commit("g", std::span(&commit, 1)));
  auto reader = OpenReader();
  ASSERT_NE(reader, nullptr);
  const std::string batch = MakeBatch(1);
  auto appended = reader->Append("t", 0, base::AsBytes(batch));
  ASSERT_FALSE(appended.has_value());
  EXPECT_EQ(appended.error().code, base::ErrorCode::kRefused);
  EXPECT_EQ(reader->CreateTopic("u", 1, {}).error().code, base::ErrorCode::kRefused);
  // Committed offsets read as the writer made them durable; a commit is refused.
  ASSERT_OK_AND_ASSIGN(GroupOffsetStore * seen, reader->GroupOffsets());
  ASSERT_TRUE(seen->Fetch("g", "t", 0).has_value());
  EXPECT_EQ(seen->Fetch("g", "t", 0)->offset, Offset(7));
  EXPECT_EQ(seen->Commit("g", std::span(&commit, 1)).error().code, base::ErrorCode::kRefused);
  ASSERT_OK(reader->Close());
  EXPECT_FALSE(std::filesystem::exists(dir_.Join(".clean-shutdown")));  // the writer's to say
}

}  // namespace
}  // namespace sluice::engine

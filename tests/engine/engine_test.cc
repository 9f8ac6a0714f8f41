#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "segment/base/codec.h"
#include "segment/io/posix_fs.h"
#include "segment/io/uring_fs.h"
#include "segment/record_batch.h"
#include "segment/small_file.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::Codec;
using base::ErrorCode;
using base::Offset;
using testing::BatchValues;
using testing::MakeBatch;

class EngineTest : public testing::EngineTestBase {
 protected:
  std::vector<std::string> ReadAll(const std::string& topic, int32_t partition) {
    return testing::ReadValues(*engine_, topic, partition);
  }
};

TEST_F(EngineTest, AppendAssignsContiguousOffsets) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  ASSERT_OK_AND_ASSIGN(auto a, engine_->Append("t", 0, base::AsBytes(MakeBatch(10))));
  ASSERT_OK_AND_ASSIGN(auto b, engine_->Append("t", 0, base::AsBytes(MakeBatch(5))));
  EXPECT_EQ(a.base_offset, Offset(0));
  EXPECT_EQ(a.last_offset, Offset(9));
  EXPECT_EQ(b.base_offset, Offset(10));
  EXPECT_EQ(b.last_offset, Offset(14));
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.high_watermark, Offset(15));
  EXPECT_EQ(stats.log_start_offset, Offset(0));
}

TEST_F(EngineTest, AsyncAppendsAreAllToldBeforeCloseReturnsAndSurviveReopen) {
  // Server-side zstd: each batch is compressed into a buffer of the engine's, which must live
  // until the writer thread is done with it.
  ASSERT_OK(engine_->CreateTopic("t", 2, {{"flush", "sync"}, {"compression.type", "zstd"}}));
  constexpr int kPerThread = 150;
  std::mutex mu;
  std::vector<std::pair<int, Result<AppendResult>>> told;  // (partition, result)
  std::vector<std::thread> threads;
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string batch = MakeBatch(2, "p" + std::to_string(p) + "-" + std::to_string(i));
        const Bytes bytes = base::AsBytes(batch);
        // The caller's bytes are borrowed until `done`: wait for it before `batch` goes.
        std::atomic<bool> done{false};
        engine_->AppendBatchesAsync("t", p, std::span<const Bytes>(&bytes, 1),
                                    [&, p](Result<AppendResult> r) {
                                      {
                                        std::lock_guard lock(mu);
                                        told.emplace_back(p, std::move(r));
                                      }
                                      done.store(true);
                                      done.notify_one();
                                    });
        done.wait(false);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_OK(engine_->Close());
  ASSERT_EQ(told.size(), 2u * kPerThread);
  std::vector<int64_t> next(2, 0);
  for (const auto& [p, r] : told) {
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->base_offset.value(), next[static_cast<size_t>(p)]);  // in order, no gap
    next[static_cast<size_t>(p)] += 2;
  }
  Reopen();
  for (int p = 0; p < 2; ++p) {
    auto values = ReadAll("t", p);
    ASSERT_EQ(values.size(), 2u * kPerThread);
    EXPECT_EQ(values.back(), "p" + std::to_string(p) + "-" + std::to_string(kPerThread - 1) + "-1");
  }
}

TEST_F(EngineTest, AsyncAppendsRacingATopicDeletionAreEachToldOnce) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"flush", "sync"}}));
  const std::string batch = MakeBatch(3, "race");  // outlives every append
  const Bytes bytes = base::AsBytes(batch);
  std::atomic<int> calls{0}, told{0}, stored{0};
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    while (!stop.load()) {
      calls.fetch_add(1);
      engine_->AppendBatchesAsync("t", 0, std::span<const Bytes>(&bytes, 1),
                                  [&](Result<AppendResult> r) {
                                    if (r) stored.fetch_add(1);
                                    told.fetch_add(1);
                                  });
    }
  });
  while (stored.load() < 20) std::this_thread::yield();
  ASSERT_OK(engine_->DeleteTopic("t"));
  stop.store(true);
  appender.join();
  // Deleting closed the log, which waited for its writer: every queued append was told.
  EXPECT_EQ(told.load(), calls.load());
  EXPECT_FALSE(engine_->GetPartitionStats("t", 0).has_value());
}

class EngineCompressionTest : public EngineTest,
                              public ::testing::WithParamInterface<std::string> {};

TEST_P(EngineCompressionTest, RoundTripsEveryRecordAcrossReopen) {
  ASSERT_OK(engine_->CreateTopic("t", 2, {{"compression.type", GetParam()}}));
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    std::string batch = MakeBatch(50, "b" + std::to_string(i));
    for (const auto& v : BatchValues(batch)) want.push_back(v);
    ASSERT_OK(engine_->Append("t", 1, base::AsBytes(batch)));
  }
  EXPECT_EQ(ReadAll("t", 1), want);
  EXPECT_TRUE(ReadAll("t", 0).empty());
  engine_->SimulateCrashForTesting();
  Reopen();
  EXPECT_FALSE(engine_->opened_after_clean_shutdown());
  ASSERT_FALSE(engine_->recovery_reports().empty());
  EXPECT_FALSE(engine_->recovery_reports()[0].truncated);
  EXPECT_EQ(ReadAll("t", 1), want);
  ASSERT_OK(engine_->Close());
  Reopen();
  EXPECT_TRUE(engine_->opened_after_clean_shutdown());
  EXPECT_TRUE(engine_->recovery_reports().empty());
  EXPECT_EQ(ReadAll("t", 1), want);
}

TEST_P(EngineCompressionTest, StoresBatchesWithThePolicysCodec) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"compression.type", GetParam()}}));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(100))));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(100, "gz", 0, Codec::kGzip))));
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Read("t", 0, Offset(0), 1 << 20));
  ASSERT_EQ(r.batches.size(), 2u);
  Codec want = Codec::kNone;
  if (GetParam() == "zstd") want = Codec::kZstd;
  if (GetParam() == "lz4") want = Codec::kLz4;
  EXPECT_EQ(r.batches[0].header.codec(), want);
  // A batch the producer compressed is stored as it came.
  EXPECT_EQ(r.batches[1].header.codec(), Codec::kGzip);
  // Stored batches are valid Kafka batches: base offset set, CRC intact, leader epoch stamped.
  EXPECT_EQ(r.batches[1].header.base_offset, 100);
  EXPECT_EQ(r.batches[1].header.partition_leader_epoch, 0);
  EXPECT_OK(segment::VerifyBatchCrc(r.batches[1].bytes, r.batches[1].header));
  EXPECT_OK(segment::VerifyBatchCrc(r.batches[0].bytes, r.batches[0].header));
}

INSTANTIATE_TEST_SUITE_P(Policies, EngineCompressionTest,
                         ::testing::Values("zstd", "lz4", "none", "producer"));

TEST_F(EngineTest, RejectsBadBatchesWithoutStoringThem) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"max.message.bytes", "4096"}}));
  std::string good = MakeBatch(3);
  std::string bad_crc = good;
  bad_crc.back() ^= 1;
  std::string short_batch = good.substr(0, 40);
  std::string bad_magic = good;
  bad_magic[16] = 1;
  std::string bad_length = good;
  bad_length[11] ^= 4;
  for (const std::string* b : {&bad_crc, &short_batch, &bad_magic, &bad_length}) {
    auto r = engine_->Append("t", 0, base::AsBytes(*b));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().ToString();
  }
  auto big = engine_->Append("t", 0, base::AsBytes(MakeBatch(500)));
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(big.error().context.find("max.message.bytes"), std::string::npos);
  EXPECT_EQ(engine_->Append("t", 1, base::AsBytes(good)).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(engine_->Append("nope", 0, base::AsBytes(good)).error().code, ErrorCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.high_watermark, Offset(0));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(good)));
}

// A Produce's batches for one partition land all or none: a bad third batch (too large, or a
// broken one) stores none of the three, and the error says which batch.
TEST_F(EngineTest, AppendBatchesStoresNothingWhenOneBatchIsBad) {
  ASSERT_OK(
      engine_->CreateTopic("t", 1, {{"max.message.bytes", "4096"}, {"segment.bytes", "65536"}}));
  const std::string a = MakeBatch(3, "a");
  const std::string b = MakeBatch(3, "b");
  const std::string big = MakeBatch(1, std::string(5000, 'x'));
  std::string broken = MakeBatch(3, "c");
  broken[broken.size() - 1] ^= 1;  // CRC mismatch
  const Bytes too_large[] = {base::AsBytes(a), base::AsBytes(b), base::AsBytes(big)};
  auto r = engine_->AppendBatches("t", 0, too_large);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(r.error().context.find("batch 3 of 3"), std::string::npos) << r.error().context;
  const Bytes with_broken[] = {base::AsBytes(a), base::AsBytes(b), base::AsBytes(broken)};
  r = engine_->AppendBatches("t", 0, with_broken);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.high_watermark, Offset(0));
  const Bytes good[] = {base::AsBytes(a), base::AsBytes(b), base::AsBytes(a)};
  ASSERT_OK_AND_ASSIGN(AppendResult ok, engine_->AppendBatches("t", 0, good));
  EXPECT_EQ(ok.base_offset, Offset(0));
  EXPECT_EQ(ok.last_offset, Offset(8));
  EXPECT_EQ(
      testing::ReadValues(*engine_, "t", 0),
      (std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1", "b-2", "a-0", "a-1", "a-2"}));
}

// Together the batches must fit one segment (they are written into one), as in Kafka.
TEST_F(EngineTest, AppendBatchesLargerThanASegmentAreTooLarge) {
  ASSERT_OK(
      engine_->CreateTopic("t", 1, {{"segment.bytes", "4096"}, {"compression.type", "none"}}));
  const std::string batch = MakeBatch(1, std::string(1500, 'x'));
  const Bytes two[] = {base::AsBytes(batch), base::AsBytes(batch)};
  ASSERT_OK(engine_->AppendBatches("t", 0, two));
  const Bytes three[] = {base::AsBytes(batch), base::AsBytes(batch), base::AsBytes(batch)};
  auto r = engine_->AppendBatches("t", 0, three);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(r.error().context.find("segment.bytes"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.high_watermark, Offset(2));
}

TEST_F(EngineTest, RejectsTransactionalBatches) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  std::string batch = MakeBatch(2);
  auto* p = reinterpret_cast<std::byte*>(batch.data());
  base::StoreBE<int16_t>(p + segment::batch_field::kAttributes, 0x10);
  segment::UpdateBatchCrc({p, batch.size()});
  auto r = engine_->Append("t", 0, base::AsBytes(batch));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(EngineTest, FillsInMaxTimestampFromTheRecords) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"compression.type", "none"}}));
  std::string batch = MakeBatch(5, "v", 7000);
  auto* p = reinterpret_cast<std::byte*>(batch.data());
  base::StoreBE<int64_t>(p + segment::batch_field::kMaxTimestamp, -1);  // as sarama sends it
  segment::UpdateBatchCrc({p, batch.size()});
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(batch)));
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Read("t", 0, Offset(0), 1 << 20));
  ASSERT_EQ(r.batches.size(), 1u);
  EXPECT_EQ(r.batches[0].header.max_timestamp, 7004);
  EXPECT_OK(segment::VerifyBatchCrc(r.batches[0].bytes, r.batches[0].header));
  ASSERT_OK_AND_ASSIGN(auto found, engine_->OffsetForTimestamp("t", 0, 7003));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->offset, Offset(3));
}

TEST_F(EngineTest, ReadsOutsideTheLogAreOutOfRange) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(4))));
  EXPECT_EQ(engine_->Read("t", 0, Offset(5), 100).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(engine_->Read("t", 0, Offset(-1), 100).error().code, ErrorCode::kOutOfRange);
  ASSERT_OK_AND_ASSIGN(auto at_end, engine_->Read("t", 0, Offset(4), 100));
  EXPECT_TRUE(at_end.batches.empty());
  EXPECT_EQ(at_end.high_watermark, Offset(4));
  // A batch is returned whole even when it is bigger than max_bytes.
  ASSERT_OK_AND_ASSIGN(auto one, engine_->Read("t", 0, Offset(2), 1));
  ASSERT_EQ(one.batches.size(), 1u);
  EXPECT_EQ(one.batches[0].header.base_offset, 0);
}

TEST_F(EngineTest, TopicLifecycleIsPersisted) {
  ASSERT_OK(engine_->CreateTopic("a", 3, {{"flush", "sync"}, {"retention.ms", "1000"}}));
  ASSERT_OK(engine_->CreateTopic("b", 1, {}));
  EXPECT_EQ(engine_->CreateTopic("a", 1, {}).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(engine_->CreateTopic("bad name", 1, {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->CreateTopic("c", 0, {}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->CreateTopic("c", 1, {{"flush", "sometimes"}}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->CreateTopic("c", 1, {{"no.such.key", "1"}}).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_OK(engine_->AlterTopicConfig("b", {{"compression.type", "lz4"}}));
  ASSERT_OK(engine_->Append("a", 2, base::AsBytes(MakeBatch(3))));
  ASSERT_OK(engine_->Close());
  Reopen();
  std::vector<TopicInfo> topics;
  for (const auto& t : engine_->ListTopics()) {
    if (!IsInternalTopic(t.name)) topics.push_back(t);
  }
  ASSERT_EQ(topics.size(), 2u);
  EXPECT_EQ(topics[0].name, "a");
  EXPECT_EQ(topics[0].partitions, 3);
  EXPECT_EQ(topics[0].config.flush, FlushMode::kSync);
  EXPECT_EQ(topics[0].config.retention_ms, 1000);
  EXPECT_EQ(topics[1].config.compression, CompressionPolicy::kLz4);
  ASSERT_OK_AND_ASSIGN(auto desc, engine_->DescribeTopic("a"));
  EXPECT_EQ(desc.partitions[2].high_watermark, Offset(3));
  ASSERT_OK(engine_->DeleteTopic("a"));
  EXPECT_EQ(engine_->DeleteTopic("a").error().code, ErrorCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_.Exists(dir_.Join("a-0")));
  EXPECT_FALSE(exists);
  Reopen();
  // b only: __consumer_offsets is created by the first use of group offsets.
  ASSERT_EQ(engine_->ListTopics().size(), 1u);
  // A topic created again under a deleted name starts empty.
  ASSERT_OK(engine_->CreateTopic("a", 3, {}));
  ASSERT_OK_AND_ASSIGN(auto fresh, engine_->GetPartitionStats("a", 2));
  EXPECT_EQ(fresh.high_watermark, Offset(0));
}

TEST_F(EngineTest, ADataDirectoryIsOpenedByOneEngineAtATime) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  EngineOptions o;
  o.data_dir = dir_.path();
  o.background = BackgroundWork::kManual;  // a second PosixFs: as another process would
  auto second = Engine::Open(o);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kBusy);
  EXPECT_NE(second.error().context.find("another process"), std::string::npos);
  ASSERT_OK(engine_->Close());
  auto third = Engine::Open(o);
  ASSERT_OK(third);
}

// A damaged catalog is rebuilt from the directories (storage_safety_test.cc); one written by a
// newer sluice is not, since rebuilding could drop what that version knows.
// EngineOptions::write_path picks the engine's own file system when none is handed in, and data
// written through either survives a reopen through the other.
TEST(EngineWritePathTest, EachWritePathWritesWhatTheOtherReads) {
  EXPECT_EQ(ParseWritePath("posix"), WritePath::kPosix);
  EXPECT_EQ(ParseWritePath("uring"), WritePath::kUring);
  EXPECT_EQ(ParseWritePath("io_uring"), std::nullopt);
  EXPECT_STREQ(WritePathName(WritePath::kUring), "uring");
  EXPECT_EQ(EngineOptions{}.write_path, kDefaultWritePath);
  testing::TempDir dir;
  std::vector<std::string> expected;
  for (int round = 0; round < 4; ++round) {
    const WritePath path = round % 2 == 0 ? WritePath::kUring : WritePath::kPosix;
    EngineOptions o = testing::TestEngineOptions(dir.path());
    o.write_path = path;
    std::unique_ptr<Engine> engine = testing::OpenTestEngine(o);
    ASSERT_NE(engine, nullptr);
    const io::FileSystem& fs = engine->file_system();
    if (path == WritePath::kUring && io::UringFs::Available()) {
      EXPECT_NE(dynamic_cast<const io::UringFs*>(&fs), nullptr);
    } else {
      EXPECT_NE(dynamic_cast<const io::PosixFs*>(&fs), nullptr);
      EXPECT_EQ(dynamic_cast<const io::UringFs*>(&fs), nullptr);
    }
    if (round == 0) ASSERT_OK(engine->CreateTopic("t", 1, {{"flush", "sync"}}));
    EXPECT_EQ(testing::ReadValues(*engine, "t", 0), expected);
    const std::string prefix = std::string(WritePathName(path)) + std::to_string(round) + "-";
    const std::string batch = MakeBatch(3, prefix);
    ASSERT_OK(engine->Append("t", 0, base::AsBytes(batch)));
    for (const std::string& v : BatchValues(batch)) expected.push_back(v);
    ASSERT_OK(engine->Close());
  }
  EngineOptions o = testing::TestEngineOptions(dir.path());
  std::unique_ptr<Engine> engine = testing::OpenTestEngine(o);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(testing::ReadValues(*engine, "t", 0), expected);
  EXPECT_EQ(expected.size(), 12u);
}

TEST_F(EngineTest, NewerCatalogVersionRefusesToOpen) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  ASSERT_OK(engine_->Close());
  engine_.reset();
  const segment::SmallFileKind newer{segment::format::kCatalogMagic, 1, 99};
  const std::string payload = R"({"topics": {}})";
  testing::WriteWholeFile(dir_.Join(kCatalogFile),
                          segment::EncodeSmallFile(newer, base::AsBytes(payload)));
  EngineOptions o;
  o.data_dir = dir_.path();
  o.fs = &fs_;
  o.background = BackgroundWork::kManual;
  auto e = Engine::Open(o);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, ErrorCode::kUnsupportedVersion);
  EXPECT_NE(e.error().context.find("version 99"), std::string::npos) << e.error().context;
}

TEST_F(EngineTest, OffsetForTimestampFindsTheFirstRecordAtOrAfter) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"segment.bytes", "4096"}}));
  // 80 batches of 10 records, timestamps 1000 + 10*i + j, spread over several segments.
  for (int i = 0; i < 80; ++i) {
    ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(10, "v", 1000 + 10 * i))));
  }
  ASSERT_OK_AND_ASSIGN(auto desc, engine_->DescribeTopic("t"));
  EXPECT_GT(desc.partitions[0].segment_count, 3u);
  for (int64_t ts : {0, 1000, 1001, 1234, 1799}) {
    ASSERT_OK_AND_ASSIGN(auto found, engine_->OffsetForTimestamp("t", 0, ts));
    ASSERT_TRUE(found.has_value()) << ts;
    const int64_t want = std::max<int64_t>(0, ts - 1000);
    EXPECT_EQ(found->offset, Offset(want)) << ts;
    EXPECT_EQ(found->timestamp, 1000 + want);
  }
  ASSERT_OK_AND_ASSIGN(auto none, engine_->OffsetForTimestamp("t", 0, 1800));
  EXPECT_FALSE(none.has_value());
}

}  // namespace
}  // namespace sluice::engine

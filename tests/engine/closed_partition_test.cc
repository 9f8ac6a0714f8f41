// Describing (and so listing) topics after a clean shutdown reads what it shows from the
// partitions' files without opening their logs (engine/closed_partition.h), and shows exactly what
// opening them would; partitions whose files are not those of a clean close are opened, and show
// what opening finds. Which files are opened is counted through FaultFs.

#include "engine/closed_partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "engine/engine.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

namespace fs = std::filesystem;
using base::Offset;
using io::testing::FaultFs;
using io::testing::OpKind;
using testing::MakeBatch;

constexpr int32_t kPartitions = 6;

class ClosedPartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    // Partitions of 0 to 5 rolls (4 KiB segments), one whose oldest segments were deleted, and
    // one that stays empty.
    ASSERT_OK(engine_->CreateTopic("ev", kPartitions, {{"segment.bytes", "4096"}}));
    for (int32_t p = 1; p < kPartitions; ++p) {
      for (int i = 0; i < 12 * p; ++i) {
        ASSERT_OK(engine_->Append("ev", p, base::AsBytes(MakeBatch(5, "v" + std::to_string(i)))));
      }
    }
    ASSERT_OK(engine_->DeleteSegmentsBefore("ev", 4, Offset(1000)));  // all but the active one
    ASSERT_OK_AND_ASSIGN(want_, engine_->DescribeTopic("ev"));
    ASSERT_GT(want_.partitions[4].log_start_offset, Offset(0));
    ASSERT_GE(want_.partitions[5].segment_count, 3u);
    ASSERT_OK(engine_->Close());
  }

  void Open() {
    engine_.reset();
    engine_ = testing::OpenTestEngine(testing::TestEngineOptions(dir_.path(), &fs_, &clock_));
    ASSERT_NE(engine_, nullptr);
  }

  // Operations that opening a partition does and reading its files without opening it does not.
  uint64_t OpeningOps() const {
    return fs_.OpCount(OpKind::kOpen) + fs_.OpCount(OpKind::kWrite) + fs_.OpCount(OpKind::kSync) +
           fs_.OpCount(OpKind::kAllocate) + fs_.OpCount(OpKind::kTruncate) +
           fs_.OpCount(OpKind::kRename);
  }

  std::string PartitionDir(int32_t p) const { return dir_.Join("ev-" + std::to_string(p)); }
  std::string LastSegment(int32_t p, const std::string& ext) const {
    std::string last;
    for (const auto& e : fs::directory_iterator(PartitionDir(p))) {
      if (e.path().extension() == ".log") last = std::max(last, e.path().stem().string());
    }
    return PartitionDir(p) + "/" + last + ext;
  }

  static void ExpectSameStats(const PartitionStats& got, const PartitionStats& want, int32_t p) {
    EXPECT_FALSE(got.offline.has_value()) << p << ": " << got.offline->ToString();
    EXPECT_EQ(got.log_start_offset, want.log_start_offset) << p;
    EXPECT_EQ(got.high_watermark, want.high_watermark) << p;
    EXPECT_EQ(got.segment_count, want.segment_count) << p;
    EXPECT_EQ(got.size_bytes, want.size_bytes) << p;
  }

  testing::TempDir dir_;
  base::ManualClock clock_;
  io::PosixFs posix_;
  FaultFs fs_{posix_};
  std::unique_ptr<Engine> engine_;
  TopicDescription want_;  // every partition opened, before the clean close
};

TEST_F(ClosedPartitionTest, DescribeAfterCleanShutdownOpensNoPartitionAndShowsWhatOpeningWould) {
  Open();
  ASSERT_TRUE(engine_->opened_after_clean_shutdown());
  const uint64_t before = OpeningOps();
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  EXPECT_EQ(OpeningOps(), before) << "a partition was opened to describe it";
  for (int32_t p = 0; p < kPartitions; ++p) {
    ExpectSameStats(described.partitions[static_cast<size_t>(p)],
                    want_.partitions[static_cast<size_t>(p)], p);
  }

  // What opening gives, and after a clean close without any append, the same again unopened.
  EXPECT_TRUE(engine_->OpenAllPartitions().empty());
  ASSERT_OK_AND_ASSIGN(auto opened, engine_->DescribeTopic("ev"));
  for (int32_t p = 0; p < kPartitions; ++p) {
    ExpectSameStats(opened.partitions[static_cast<size_t>(p)],
                    want_.partitions[static_cast<size_t>(p)], p);
  }
  ASSERT_OK(engine_->Append("ev", 2, base::AsBytes(MakeBatch(5, "more"))));
  want_.partitions[2] = *engine_->GetPartitionStats("ev", 2);
  Open();
  ASSERT_OK_AND_ASSIGN(auto again, engine_->DescribeTopic("ev"));
  ExpectSameStats(again.partitions[2], want_.partitions[2], 2);
  EXPECT_EQ(again.partitions[2].high_watermark, opened.partitions[2].high_watermark + 5);
}

TEST_F(ClosedPartitionTest, PartitionsNotAsACleanCloseLeftThemAreOpenedToBeDescribed) {
  // Each partition differs from a clean close in one way; opening works around each.
  fs::remove(LastSegment(1, ".index"));          // rebuilt by a scan
  fs::remove(dir_.Join("ev-2/recovery-point"));  // the last segment verified whole
  fs::resize_file(LastSegment(3, ".log"), fs::file_size(LastSegment(3, ".log")) + 4096);
  for (int32_t p = 1; p <= 3; ++p) {
    EXPECT_FALSE(StatsOfClosedPartition(posix_, PartitionDir(p)).has_value()) << p;
  }
  EXPECT_TRUE(StatsOfClosedPartition(posix_, PartitionDir(4)).has_value());
  Open();
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  for (int32_t p = 0; p < kPartitions; ++p) {
    ExpectSameStats(described.partitions[static_cast<size_t>(p)],
                    want_.partitions[static_cast<size_t>(p)], p);
  }
}

TEST_F(ClosedPartitionTest, DamagedPartitionsShowOfflineAsOpeningFindsThem) {
  // A zeroed segment header, a missing directory, a segment shorter than its recovery point.
  {
    std::string bytes = testing::ReadWholeFile(LastSegment(1, ".log"));
    std::fill(bytes.begin(), bytes.begin() + segment::format::kSegmentHeaderSize, '\0');
    testing::WriteWholeFile(LastSegment(1, ".log"), bytes);
  }
  fs::rename(PartitionDir(2), dir_.Join("moved-away"));
  fs::resize_file(LastSegment(3, ".log"), fs::file_size(LastSegment(3, ".log")) - 1);
  Open();
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  for (int32_t p = 1; p <= 3; ++p) {
    const PartitionStats& s = described.partitions[static_cast<size_t>(p)];
    ASSERT_TRUE(s.offline.has_value()) << p;
    EXPECT_EQ(s.offline->context, engine_->Read("ev", p, Offset(0), 1).error().context) << p;
  }
  for (int32_t p : {0, 4, 5}) {
    ExpectSameStats(described.partitions[static_cast<size_t>(p)],
                    want_.partitions[static_cast<size_t>(p)], p);
  }
}

TEST_F(ClosedPartitionTest, SegmentsThatDoNotJoinUpShowOffline) {
  // Every file left is whole, but a segment in the middle is gone.
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(PartitionDir(5))) {
    if (e.path().extension() == ".log") logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  ASSERT_GE(logs.size(), 3u);
  ASSERT_TRUE(StatsOfClosedPartition(posix_, PartitionDir(5)).has_value());
  fs::rename(logs[1], dir_.Join("moved-away.log"));
  EXPECT_FALSE(StatsOfClosedPartition(posix_, PartitionDir(5)).has_value());
  Open();
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  EXPECT_TRUE(described.partitions[5].offline.has_value());
}

}  // namespace
}  // namespace sluice::engine

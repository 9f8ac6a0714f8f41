// Failures injected through the file-system seam: failed writes and fsyncs, a full disk, torn
// writes, power loss. In every case the error is reported, the partition refuses writes until it is
// reopened, and nothing acknowledged is lost.

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using io::testing::Fault;
using io::testing::FaultFs;
using io::testing::MemFs;
using io::testing::OpKind;
using testing::MakeBatch;

class FaultTest : public ::testing::Test {
 protected:
  void Open(io::FileSystem& fs) {
    engine_.reset();
    engine_ = testing::OpenTestEngine(testing::TestEngineOptions(data_dir_, &fs, &clock_));
    ASSERT_NE(engine_, nullptr);
  }

  // Appends batch `i` ("b<i>", 5 records); returns the result.
  Result<AppendResult> AppendBatch(int i) {
    return engine_->Append("t", 0, base::AsBytes(MakeBatch(5, "b" + std::to_string(i))));
  }

  // The distinct batch prefixes in partition 0, in offset order.
  std::vector<std::string> BatchNames() {
    std::vector<std::string> names;
    auto r = engine_->Read("t", 0, Offset(0), 1 << 30);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r) return names;
    for (const auto& b : r->batches) {
      auto values = testing::BatchValues(std::string(base::AsString(b.bytes)));
      names.push_back(values.at(0).substr(0, values[0].find('-')));
    }
    return names;
  }

  static std::vector<std::string> Names(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back("b" + std::to_string(i));
    return out;
  }

  testing::TempDir dir_;
  std::string data_dir_ = dir_.path();
  base::ManualClock clock_;
  // The file systems outlive the engine (members are destroyed in reverse order).
  io::PosixFs posix_;
  FaultFs fs_{posix_, 42};
  MemFs mem_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(FaultTest, FailedWritePoisonsThePartitionUntilReopened) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  for (int i = 0; i < 10; ++i) ASSERT_OK(AppendBatch(i));
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).OnPath(".log"));
  auto failed = AppendBatch(10);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kIoError);
  auto refused = AppendBatch(11);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPoisoned);
  EXPECT_NE(refused.error().context.find("I/O error"), std::string::npos);
  // Reads go on, and show only what was acknowledged.
  EXPECT_EQ(BatchNames(), Names(0, 10));
  EXPECT_FALSE(engine_->Close().has_value());  // a poisoned partition cannot close cleanly
  Open(fs_);
  EXPECT_FALSE(engine_->opened_after_clean_shutdown());
  EXPECT_EQ(BatchNames(), Names(0, 10));
  ASSERT_OK(AppendBatch(12));
}

TEST_F(FaultTest, FailedFsyncUnderFlushSyncIsNeverAcknowledged) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"flush", "sync"}}));
  for (int i = 0; i < 5; ++i) ASSERT_OK(AppendBatch(i));
  fs_.Arm(Fault::Nth(OpKind::kSync, 1).OnPath(".log"));
  auto failed = AppendBatch(5);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kIoError);
  EXPECT_EQ(AppendBatch(6).error().code, ErrorCode::kPoisoned);
  // The high watermark did not move past the unsynced batch.
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.high_watermark, Offset(25));
  engine_->SimulateCrashForTesting();
  Open(fs_);
  auto names = BatchNames();
  ASSERT_GE(names.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 5), Names(0, 5));
}

TEST_F(FaultTest, FullDiskIsReportedAsNoSpace) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  ASSERT_OK(AppendBatch(0));
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).OnPath(".log").WithErrno(ENOSPC));
  auto r = AppendBatch(1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNoSpace);
  EXPECT_NE(r.error().ToString().find(".log"), std::string::npos);
  engine_->SimulateCrashForTesting();
  Open(fs_);
  EXPECT_EQ(BatchNames(), Names(0, 1));
}

TEST_F(FaultTest, FullDiskWhenRollingIsReportedAndRecovered) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"segment.bytes", "4096"}}));
  fs_.Arm(Fault::Nth(OpKind::kAllocate, 1).OnPath(".log").WithErrno(ENOSPC));
  int acked = 0;
  Error error;
  for (int i = 0; i < 100; ++i) {
    auto r = AppendBatch(i);
    if (!r) {
      error = r.error();
      break;
    }
    ++acked;
  }
  EXPECT_EQ(error.code, ErrorCode::kNoSpace);
  EXPECT_GT(acked, 0);
  engine_->SimulateCrashForTesting();
  Open(fs_);
  EXPECT_EQ(BatchNames(), Names(0, acked));
  ASSERT_OK(AppendBatch(1000));
}

TEST_F(FaultTest, TornWriteIsTruncatedByRecovery) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  for (int i = 0; i < 8; ++i) ASSERT_OK(AppendBatch(i));
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).OnPath(".log").Torn());
  ASSERT_FALSE(AppendBatch(8).has_value());
  engine_->SimulateCrashForTesting();
  Open(fs_);
  EXPECT_EQ(BatchNames(), Names(0, 8));
  ASSERT_OK(AppendBatch(9));
  EXPECT_EQ(BatchNames().back(), "b9");
}

TEST_F(FaultTest, FlippedBitIsNeverReturnedToAReader) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  ASSERT_OK(AppendBatch(0));
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).OnPath(".log").FlipBit());
  ASSERT_OK(AppendBatch(1));  // the disk lied
  auto r = engine_->Read("t", 0, Offset(5), 1 << 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  EXPECT_NE(r.error().context.find("00000000000000000000.log"), std::string::npos);
  // Recovery drops the damaged frame instead of serving it.
  engine_->SimulateCrashForTesting();
  Open(fs_);
  EXPECT_EQ(BatchNames(), Names(0, 1));
}

// Power loss: everything not fsynced vanishes. With flush=sync every acknowledged batch survives.
TEST_F(FaultTest, AcknowledgedSyncAppendsSurvivePowerLoss) {
  data_dir_ = "/data";
  auto rng = testing::SeededRng();
  int acked = 0;
  for (int round = 0; round < 10; ++round) {
    Open(mem_);
    if (round == 0)
      ASSERT_OK(engine_->CreateTopic("t", 1, {{"flush", "sync"}, {"segment.bytes", "8192"}}));
    EXPECT_EQ(BatchNames(), Names(0, acked)) << "round " << round;
    const int n = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(AppendBatch(acked));
      ++acked;
    }
    engine_->SimulateCrashForTesting();
    mem_.DropUnsynced();
  }
}

// With flush=none, a power loss may lose the unflushed tail but leaves a prefix of what was
// written, and everything before the last flush.
TEST_F(FaultTest, PowerLossWithoutSyncLeavesAPrefixCoveringTheLastFlush) {
  data_dir_ = "/data";
  Open(mem_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"segment.bytes", "8192"}}));
  for (int i = 0; i < 30; ++i) ASSERT_OK(AppendBatch(i));
  ASSERT_OK(engine_->Flush());
  for (int i = 30; i < 60; ++i) ASSERT_OK(AppendBatch(i));
  engine_->SimulateCrashForTesting();
  mem_.DropUnsynced();
  Open(mem_);
  auto names = BatchNames();
  ASSERT_GE(names.size(), 30u);
  EXPECT_EQ(names, Names(0, static_cast<int>(names.size())));
}

}  // namespace
}  // namespace sluice::engine

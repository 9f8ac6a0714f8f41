// Failures injected through the file-system seam: failed writes and fsyncs, a full disk, torn
// writes, power loss. In every case the error is reported and nothing acknowledged is lost. A full
// disk (kNoSpace from a write or a reservation) is undone and writes resume by themselves when
// space returns; any failed fsync and other I/O errors poison the partition until it is reopened
// (engine/partition_log.h, "Errors").

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "segment/format.h"
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

template <typename T>
::testing::AssertionResult IsError(const Result<T>& r, ErrorCode code) {
  if (r.has_value()) return ::testing::AssertionFailure() << "succeeded, expected an error";
  if (r.error().code != code) {
    return ::testing::AssertionFailure()
           << "got " << r.error().ToString() << ", expected " << base::ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
}

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

// Writes refused for a full disk resume by themselves when space returns: no restart, no gap and
// no reused offset, and the shutdown afterwards is clean.
TEST_F(FaultTest, FullDiskWritesResumeWhenSpaceReturns) {
  for (const char* flush : {"none", "sync"}) {
    SCOPED_TRACE(std::string("flush=") + flush);
    Open(fs_);
    ASSERT_OK(engine_->CreateTopic("t", 1, {{"flush", flush}}));
    for (int i = 0; i < 10; ++i) ASSERT_OK(AppendBatch(i));
    fs_.Arm(Fault::FromNth(OpKind::kWrite).OnPath(".log").WithErrno(ENOSPC));
    for (int i = 10; i < 15; ++i) EXPECT_TRUE(IsError(AppendBatch(i), ErrorCode::kNoSpace)) << i;
    ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
    EXPECT_EQ(stats.high_watermark, Offset(50));
    fs_.DisarmAll();
    for (int i = 15; i < 20; ++i) {
      ASSERT_OK_AND_ASSIGN(AppendResult r, AppendBatch(i));
      EXPECT_EQ(r.base_offset, Offset(50 + 5 * (i - 15)));
    }
    std::vector<std::string> expected = Names(0, 10);
    for (const std::string& n : Names(15, 20)) expected.push_back(n);
    EXPECT_EQ(BatchNames(), expected);
    ASSERT_OK(engine_->Close());  // an undone write leaves nothing to refuse a clean close
    Open(fs_);
    EXPECT_TRUE(engine_->opened_after_clean_shutdown());
    EXPECT_EQ(BatchNames(), expected);
    ASSERT_OK_AND_ASSIGN(AppendResult next, AppendBatch(20));
    EXPECT_EQ(next.base_offset, Offset(75));
    ASSERT_OK(engine_->DeleteTopic("t"));
    ASSERT_OK(engine_->Close());
  }
}

// The same when the disk fills as a segment rolls: the old segment is sealed, the next one cannot
// be created; later appends create it.
TEST_F(FaultTest, FullDiskWhenRollingResumesWhenSpaceReturns) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"segment.bytes", "4096"}}));
  fs_.Arm(Fault::FromNth(OpKind::kAllocate).OnPath(".log").WithErrno(ENOSPC));
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
  ASSERT_GT(acked, 0);
  EXPECT_TRUE(IsError(AppendBatch(1000), ErrorCode::kNoSpace));
  fs_.DisarmAll();
  std::vector<std::string> expected = Names(0, acked);
  for (int i = 2000; i < 2040; ++i) {  // several more rolls
    ASSERT_OK_AND_ASSIGN(AppendResult r, AppendBatch(i));
    EXPECT_EQ(r.base_offset, Offset(5 * static_cast<int64_t>(expected.size())));
    expected.push_back("b" + std::to_string(i));
  }
  EXPECT_EQ(BatchNames(), expected);
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  EXPECT_GT(stats.segment_count, 2u);
  ASSERT_OK(engine_->Close());
  Open(fs_);
  EXPECT_EQ(BatchNames(), expected);
}

// A refused write may have written part of its data before the disk filled: here the first of its
// two batches, whole, and a piece of the second. The file is cut back, so that a crash cannot bring
// back a batch that was answered with an error (and whose offsets the next append takes).
TEST_F(FaultTest, RefusedWriteNeverReappearsAfterACrash) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"compression.type", "none"}}));
  for (int i = 0; i < 3; ++i) ASSERT_OK(AppendBatch(i));
  const std::string first = MakeBatch(5, "b3");
  const std::string second = MakeBatch(5, "b4");
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1)
              .OnPath(".log")
              .WithErrno(ENOSPC)
              .Torn(segment::format::kFramePrefixSize + first.size() + 20));
  const Bytes both[] = {base::AsBytes(first), base::AsBytes(second)};
  EXPECT_TRUE(IsError(engine_->AppendBatches("t", 0, both), ErrorCode::kNoSpace));
  EXPECT_EQ(BatchNames(), Names(0, 3));
  engine_->SimulateCrashForTesting();
  Open(fs_);
  EXPECT_EQ(BatchNames(), Names(0, 3));
  ASSERT_OK_AND_ASSIGN(AppendResult r, AppendBatch(5));
  EXPECT_EQ(r.base_offset, Offset(15));
}

// An idempotent producer's batch refused for a full disk is not remembered: its retry is stored
// (once), not answered as a duplicate of something that was never written, nor refused as out of
// order.
TEST_F(FaultTest, IdempotentRetryAfterAFullDiskIsStoredOnce) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  auto batch = [](int32_t seq, const std::string& name) {
    segment::BatchBuilder b;
    b.Add("k", name + "-0", 1000);
    auto built = b.Build(base::Codec::kNone, 0, segment::ProducerInfo{7, 0, seq});
    EXPECT_TRUE(built.has_value());
    return built.has_value() ? *built : std::string();
  };
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(batch(0, "b0"))));
  fs_.Arm(Fault::FromNth(OpKind::kWrite).OnPath(".log").WithErrno(ENOSPC));
  EXPECT_TRUE(IsError(engine_->Append("t", 0, base::AsBytes(batch(1, "b1"))), ErrorCode::kNoSpace));
  EXPECT_TRUE(IsError(engine_->Append("t", 0, base::AsBytes(batch(1, "b1"))), ErrorCode::kNoSpace));
  fs_.DisarmAll();
  ASSERT_OK_AND_ASSIGN(AppendResult stored, engine_->Append("t", 0, base::AsBytes(batch(1, "b1"))));
  EXPECT_FALSE(stored.duplicate);
  EXPECT_EQ(stored.base_offset, Offset(1));
  ASSERT_OK_AND_ASSIGN(AppendResult dup, engine_->Append("t", 0, base::AsBytes(batch(1, "b1"))));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.base_offset, Offset(1));
  EXPECT_EQ(BatchNames(), (std::vector<std::string>{"b0", "b1"}));
}

// Threads append while the disk fills and empties again (a window of failing writes): every
// acknowledged batch is stored once, at the offset it was given, with no gap, before and after a
// reopen; no refused batch is stored.
TEST_F(FaultTest, ConcurrentAppendsAcrossAFullDiskLeaveNoGapOrDuplicate) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"segment.bytes", "16384"}}));
  // Data writes number 30 to 59 fail: the disk is full for a while.
  for (uint64_t n = 30; n < 60; ++n) {
    fs_.Arm(Fault::Nth(OpKind::kWrite, n).OnPath(".log").WithErrno(ENOSPC));
  }
  constexpr int kThreads = 4;
  constexpr int kAcksPerThread = 60;
  std::mutex mu;
  std::map<int64_t, std::string> acked;  // base offset -> batch name
  int refused = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int attempt = 0;
      for (int done = 0; done < kAcksPerThread;) {
        const std::string name = "t" + std::to_string(t) + "x" + std::to_string(attempt++);
        auto r = engine_->Append("t", 0, base::AsBytes(MakeBatch(5, name)));
        std::lock_guard lock(mu);
        if (r) {
          EXPECT_TRUE(acked.emplace(r->base_offset.value(), name).second);
          ++done;
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::kNoSpace) << r.error().ToString();
          ++refused;
          if (r.error().code != ErrorCode::kNoSpace) return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(refused, 0);
  std::vector<std::string> expected;
  int64_t next = 0;
  for (const auto& [offset, name] : acked) {
    EXPECT_EQ(offset, next);
    next = offset + 5;
    expected.push_back(name);
  }
  ASSERT_EQ(expected.size(), static_cast<size_t>(kThreads * kAcksPerThread));
  EXPECT_EQ(BatchNames(), expected);
  ASSERT_OK(engine_->Close());
  Open(fs_);
  EXPECT_EQ(BatchNames(), expected);
}

// A failed fsync poisons even when its errno says the disk is full: the page cache no longer tells
// what reached the disk (never retry fsync).
TEST_F(FaultTest, FailedFsyncPoisonsEvenWhenTheDiskIsFull) {
  Open(fs_);
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"flush", "sync"}}));
  ASSERT_OK(AppendBatch(0));
  fs_.Arm(Fault::Nth(OpKind::kSync, 1).OnPath(".log").WithErrno(ENOSPC));
  EXPECT_TRUE(IsError(AppendBatch(1), ErrorCode::kNoSpace));
  EXPECT_TRUE(IsError(AppendBatch(2), ErrorCode::kPoisoned));
  EXPECT_EQ(BatchNames(), Names(0, 1));
  EXPECT_TRUE(IsError(engine_->Flush(), ErrorCode::kPoisoned));
  EXPECT_FALSE(engine_->Close().has_value());
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

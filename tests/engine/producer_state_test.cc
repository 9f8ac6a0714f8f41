// Idempotent producers: duplicate suppression, sequence and epoch checks, the state's rebuild at
// open, concurrency, and producer id allocation (Kafka semantics; engine/producer_state.h).

#include "engine/producer_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "segment/io/posix_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;

constexpr int32_t kMaxSeq = std::numeric_limits<int32_t>::max();

// A batch of `count` records "<prefix>-<i>" from producer (pid, epoch) starting at sequence `seq`.
std::string ProducerBatch(int64_t pid, int16_t epoch, int32_t seq, int count,
                          const std::string& prefix = "v") {
  segment::BatchBuilder builder;
  for (int i = 0; i < count; ++i) {
    builder.Add("k", prefix + "-" + std::to_string(i), 1000 + i);
  }
  auto batch = builder.Build(base::Codec::kNone, 0, segment::ProducerInfo{pid, epoch, seq});
  EXPECT_TRUE(batch.has_value());
  return batch.has_value() ? *batch : std::string();
}

template <typename T>
::testing::AssertionResult IsError(const Result<T>& r, ErrorCode code) {
  if (r.has_value()) return ::testing::AssertionFailure() << "succeeded, expected an error";
  if (r.error().code != code) {
    return ::testing::AssertionFailure()
           << "got " << r.error().ToString() << ", expected " << base::ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
}

class ProducerStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    ASSERT_OK(engine_->CreateTopic("t", 2, {}));
  }

  void Reopen() {
    engine_.reset();
    engine_ = testing::OpenTestEngine(testing::TestEngineOptions(dir_.path(), &fs_, &clock_));
    ASSERT_NE(engine_, nullptr);
  }

  Result<AppendResult> Send(int64_t pid, int16_t epoch, int32_t seq, int count,
                            const std::string& prefix = "v", int32_t partition = 0) {
    return engine_->Append("t", partition,
                           base::AsBytes(ProducerBatch(pid, epoch, seq, count, prefix)));
  }

  Offset HighWatermark(int32_t partition = 0) {
    auto stats = engine_->GetPartitionStats("t", partition);
    EXPECT_TRUE(stats.has_value());
    return stats.has_value() ? stats->high_watermark : Offset(-1);
  }

  std::vector<std::string> Values(int32_t partition = 0) {
    return testing::ReadValues(*engine_, "t", partition);
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ProducerStateTest, DuplicateReturnsTheOriginalOffsetsAndIsStoredOnce) {
  ASSERT_OK_AND_ASSIGN(AppendResult first, Send(1, 0, 0, 3, "a"));
  ASSERT_OK_AND_ASSIGN(AppendResult second, Send(1, 0, 3, 2, "b"));
  EXPECT_FALSE(first.duplicate);
  EXPECT_FALSE(second.duplicate);
  EXPECT_EQ(second.base_offset, Offset(3));

  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 0, 3, "a"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, Offset(0));
  EXPECT_EQ(retry.last_offset, Offset(2));
  ASSERT_OK_AND_ASSIGN(AppendResult retry2, Send(1, 0, 3, 2, "b"));
  EXPECT_TRUE(retry2.duplicate);
  EXPECT_EQ(retry2.base_offset, Offset(3));
  EXPECT_EQ(retry2.last_offset, Offset(4));

  EXPECT_EQ(HighWatermark(), Offset(5));
  EXPECT_EQ(Values(), (std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1"}));
  // The state is per partition: the same batch on partition 1 is new there.
  ASSERT_OK_AND_ASSIGN(AppendResult other, Send(1, 0, 0, 3, "a", 1));
  EXPECT_FALSE(other.duplicate);
}

TEST_F(ProducerStateTest, SequenceGapIsOutOfOrderAndStoresNothing) {
  ASSERT_OK(Send(1, 0, 0, 3));
  EXPECT_TRUE(IsError(Send(1, 0, 4, 1), ErrorCode::kOutOfOrderSequence));  // 3 was expected
  EXPECT_TRUE(IsError(Send(1, 0, 2, 1), ErrorCode::kOutOfOrderSequence));  // inside a batch
  EXPECT_EQ(HighWatermark(), Offset(3));
  EXPECT_EQ(Values().size(), 3u);
  // The rejected batches changed nothing: the expected sequence is still 3.
  ASSERT_OK_AND_ASSIGN(AppendResult next, Send(1, 0, 3, 1));
  EXPECT_FALSE(next.duplicate);
  EXPECT_EQ(next.base_offset, Offset(3));
}

TEST_F(ProducerStateTest, StaleEpochIsFenced) {
  ASSERT_OK(Send(1, 0, 0, 2));
  ASSERT_OK(Send(1, 1, 0, 2));
  EXPECT_TRUE(IsError(Send(1, 0, 2, 1), ErrorCode::kProducerFenced));
  // Even a retry of a batch the old epoch did append: a fenced producer learns it is fenced.
  EXPECT_TRUE(IsError(Send(1, 0, 0, 2), ErrorCode::kProducerFenced));
  EXPECT_EQ(HighWatermark(), Offset(4));
}

TEST_F(ProducerStateTest, NewerEpochMustStartAtSequenceZeroAndResetsTheState) {
  ASSERT_OK(Send(1, 0, 0, 5));
  EXPECT_TRUE(IsError(Send(1, 1, 5, 1), ErrorCode::kOutOfOrderSequence));
  ASSERT_OK_AND_ASSIGN(AppendResult bumped, Send(1, 1, 0, 2));
  EXPECT_FALSE(bumped.duplicate);
  EXPECT_EQ(bumped.base_offset, Offset(5));
  // The new epoch's sequence goes on from its own batches.
  EXPECT_TRUE(IsError(Send(1, 1, 5, 1), ErrorCode::kOutOfOrderSequence));
  ASSERT_OK(Send(1, 1, 2, 1));
  EXPECT_EQ(HighWatermark(), Offset(8));
}

TEST_F(ProducerStateTest, UnknownProducerMayStartAtAnySequence) {
  ASSERT_OK(Send(7, 3, 42, 2));
  ASSERT_OK(Send(7, 3, 44, 1));
  EXPECT_TRUE(IsError(Send(7, 3, 46, 1), ErrorCode::kOutOfOrderSequence));
}

TEST_F(ProducerStateTest, SequenceWrapsAroundAfterInt32Max) {
  ASSERT_OK(Send(1, 0, kMaxSeq - 1, 2));  // sequences INT32_MAX-1, INT32_MAX
  ASSERT_OK(Send(1, 0, 0, 1));
  // A batch that itself crosses the wrap: INT32_MAX, 0, 1.
  ASSERT_OK(Send(2, 0, kMaxSeq, 3));
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(2, 0, kMaxSeq, 3));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_TRUE(IsError(Send(2, 0, 0, 1), ErrorCode::kOutOfOrderSequence));
  ASSERT_OK(Send(2, 0, 2, 1));
}

// Only the last 5 batches are remembered. A retry of an older one is out of order, as in Kafka
// (which no longer answers DUPLICATE_SEQUENCE_NUMBER): it is refused and nothing is stored.
TEST_F(ProducerStateTest, RetryOfABatchOlderThanTheLastFiveIsOutOfOrder) {
  for (int32_t seq = 0; seq < 6; ++seq) ASSERT_OK(Send(1, 0, seq, 1, "s" + std::to_string(seq)));
  ASSERT_OK_AND_ASSIGN(AppendResult oldest_remembered, Send(1, 0, 1, 1, "s1"));
  EXPECT_TRUE(oldest_remembered.duplicate);
  EXPECT_EQ(oldest_remembered.base_offset, Offset(1));
  EXPECT_TRUE(IsError(Send(1, 0, 0, 1, "s0"), ErrorCode::kOutOfOrderSequence));
  EXPECT_EQ(HighWatermark(), Offset(6));
}

TEST_F(ProducerStateTest, BatchesWithoutProducerStateAreNotChecked) {
  const std::string plain = testing::MakeBatch(2);
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(plain)));
  ASSERT_OK_AND_ASSIGN(AppendResult again, engine_->Append("t", 0, base::AsBytes(plain)));
  EXPECT_FALSE(again.duplicate);
  // A producer id without a sequence (not idempotent) is not checked either.
  ASSERT_OK(Send(1, 0, -1, 1));
  ASSERT_OK(Send(1, 0, -1, 1));
  EXPECT_EQ(HighWatermark(), Offset(6));
}

TEST_F(ProducerStateTest, NegativeEpochOfAnIdempotentBatchIsInvalid) {
  EXPECT_TRUE(IsError(Send(1, -1, 0, 1), ErrorCode::kInvalidArgument));
}

TEST_F(ProducerStateTest, StateSurvivesCloseAndReopen) {
  ASSERT_OK(Send(1, 0, 0, 2, "a"));
  ASSERT_OK(Send(2, 4, 10, 1, "b"));
  ASSERT_OK(Send(1, 0, 2, 3, "c"));
  ASSERT_OK(engine_->Close());
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 2, 3, "c"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, Offset(3));
  EXPECT_EQ(retry.last_offset, Offset(5));
  EXPECT_TRUE(IsError(Send(1, 0, 6, 1), ErrorCode::kOutOfOrderSequence));
  EXPECT_TRUE(IsError(Send(2, 3, 11, 1), ErrorCode::kProducerFenced));
  ASSERT_OK(Send(1, 0, 5, 1, "d"));
  EXPECT_EQ(HighWatermark(), Offset(7));
}

TEST_F(ProducerStateTest, StateSurvivesACrash) {
  ASSERT_OK(Send(1, 0, 0, 2, "a"));
  ASSERT_OK(Send(1, 0, 2, 2, "b"));
  engine_->SimulateCrashForTesting();
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 2, 2, "b"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, Offset(2));
  EXPECT_TRUE(IsError(Send(1, 0, 5, 1), ErrorCode::kOutOfOrderSequence));
}

// Producer snapshots (Kafka's `<offset>.snapshot`): a producer whose last batch was rolled into a
// sealed segment is still known after a restart, so a retry of that batch is a duplicate.
TEST_F(ProducerStateTest, RetryOfABatchInASealedSegmentIsADuplicateAfterARestart) {
  ASSERT_OK(engine_->AlterTopicConfig("t", {{"segment.ms", "1000"}}));
  ASSERT_OK(Send(1, 0, 0, 2, "old"));
  clock_.AdvanceMs(1000);
  ASSERT_OK(Send(2, 0, 0, 1, "new"));  // rolls: producer 1's batch is sealed
  ASSERT_OK(Send(2, 0, 1, 1, "new2"));
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  ASSERT_EQ(stats.segment_count, 2u);
  ASSERT_OK(engine_->Close());
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 0, 2, "old"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, Offset(0));
  EXPECT_EQ(retry.last_offset, Offset(1));
  EXPECT_TRUE(IsError(Send(1, 0, 5, 1), ErrorCode::kOutOfOrderSequence));
  ASSERT_OK_AND_ASSIGN(AppendResult retry2, Send(2, 0, 1, 1, "new2"));
  EXPECT_TRUE(retry2.duplicate);
  EXPECT_EQ(retry2.base_offset, Offset(3));
  EXPECT_EQ(HighWatermark(), Offset(4));
  EXPECT_EQ(Values(), (std::vector<std::string>{"old-0", "old-1", "new-0", "new2-0"}));
}

// The same after a crash: the snapshot written at the roll is loaded and the active segment's
// batch headers are replayed after it.
TEST_F(ProducerStateTest, RetryOfABatchInASealedSegmentIsADuplicateAfterACrash) {
  ASSERT_OK(engine_->AlterTopicConfig("t", {{"segment.ms", "1000"}}));
  ASSERT_OK(Send(1, 0, 0, 2, "old"));
  clock_.AdvanceMs(1000);
  ASSERT_OK(Send(1, 0, 2, 1, "mid"));  // rolls
  clock_.AdvanceMs(1000);
  ASSERT_OK(Send(2, 0, 0, 1, "new"));  // rolls again
  engine_->SimulateCrashForTesting();
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 0, 2, "old"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, Offset(0));
  ASSERT_OK_AND_ASSIGN(AppendResult retry2, Send(1, 0, 2, 1, "mid"));
  EXPECT_TRUE(retry2.duplicate);
  EXPECT_EQ(retry2.base_offset, Offset(2));
  ASSERT_OK(Send(1, 0, 3, 1, "next"));
  EXPECT_EQ(HighWatermark(), Offset(5));
}

class ProducerSnapshotFilesTest : public ProducerStateTest {
 protected:
  std::string PartitionDir() const { return dir_.path() + "/t-0"; }
  // The producer snapshots in t-0, by name.
  std::vector<std::string> SnapshotFiles() {
    auto names = fs_.ListDir(PartitionDir());
    EXPECT_TRUE(names.has_value());
    std::vector<std::string> out;
    if (!names) return out;
    for (const auto& n : *names) {
      if (n.find(".snapshot") != std::string::npos) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  void Damage(const std::string& name) {
    const std::string path = PartitionDir() + "/" + name;
    ASSERT_OK_AND_ASSIGN(std::string bytes, fs_.ReadFile(path));
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);
    ASSERT_OK(io::WriteFileAtomic(fs_, path, base::AsBytes(bytes), io::Durability::kDurable));
  }
  // Producer 1's batch at offsets [0, 2), a roll, producer 2's at [2, 3), a roll, producer 3's at
  // [3, 4), and a clean close: snapshots at 2 and 3 (the rolls) and at 4 (the close).
  void ThreeSegmentsAndClose() {
    ASSERT_OK(engine_->AlterTopicConfig("t", {{"segment.ms", "1000"}}));
    ASSERT_OK(Send(1, 0, 0, 2, "a"));
    clock_.AdvanceMs(1000);
    ASSERT_OK(Send(2, 0, 0, 1, "b"));
    clock_.AdvanceMs(1000);
    ASSERT_OK(Send(3, 0, 0, 1, "c"));
    ASSERT_OK(engine_->Close());
    ASSERT_EQ(SnapshotFiles(), (std::vector<std::string>{ProducerSnapshotName(Offset(2)),
                                                         ProducerSnapshotName(Offset(3)),
                                                         ProducerSnapshotName(Offset(4))}));
  }
};

// A damaged snapshot is never deleted: open falls back to an older one and replays from there.
TEST_F(ProducerSnapshotFilesTest, DamagedSnapshotsAreKeptAndAnOlderOneIsUsed) {
  ThreeSegmentsAndClose();
  Damage(ProducerSnapshotName(Offset(4)));
  Damage(ProducerSnapshotName(Offset(3)));
  ASSERT_OK_AND_ASSIGN(std::string damaged,
                       fs_.ReadFile(PartitionDir() + "/" + ProducerSnapshotName(Offset(4))));
  Reopen();
  for (int64_t pid = 1; pid <= 3; ++pid) {
    const int count = pid == 1 ? 2 : 1;
    const std::string prefix(1, static_cast<char>('a' + pid - 1));
    ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(pid, 0, 0, count, prefix));
    EXPECT_TRUE(retry.duplicate) << "producer " << pid;
  }
  EXPECT_EQ(HighWatermark(), Offset(4));
  // The close does not write over the damaged snapshot at the log's end either.
  ASSERT_OK(engine_->Close());
  EXPECT_EQ(SnapshotFiles().size(), 3u);
  ASSERT_OK_AND_ASSIGN(std::string after,
                       fs_.ReadFile(PartitionDir() + "/" + ProducerSnapshotName(Offset(4))));
  EXPECT_EQ(after, damaged);
}

// With every snapshot damaged, the batch headers of the last segments are replayed.
TEST_F(ProducerSnapshotFilesTest, WithoutAUsableSnapshotTheLogIsReplayed) {
  ThreeSegmentsAndClose();
  for (const auto& name : SnapshotFiles()) Damage(name);
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 0, 2, "a"));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, Offset(0));
  EXPECT_EQ(HighWatermark(), Offset(4));
}

// A snapshot past the log's end describes batches the log no longer holds: it is moved aside,
// not used and not deleted.
TEST_F(ProducerSnapshotFilesTest, SnapshotPastTheLogEndIsMovedAside) {
  ThreeSegmentsAndClose();
  const std::string beyond = ProducerSnapshotName(Offset(100));
  ASSERT_OK(fs_.Rename(PartitionDir() + "/" + ProducerSnapshotName(Offset(4)),
                       PartitionDir() + "/" + beyond));
  Reopen();
  EXPECT_EQ(HighWatermark(), Offset(4));  // opens the partition (partitions open lazily)
  std::vector<std::string> files = SnapshotFiles();
  EXPECT_EQ(std::count(files.begin(), files.end(), beyond), 0);
  EXPECT_EQ(
      std::count_if(files.begin(), files.end(),
                    [&](const std::string& n) { return n.rfind(beyond + ".stale-", 0) == 0; }),
      1);
  // The snapshot at 3 and a replay of the last batch give the same state.
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 0, 2, "a"));
  EXPECT_TRUE(retry.duplicate);
}

// Retention removes the snapshots below the new log start with their segments, and keeps the one
// the remaining log starts from.
TEST_F(ProducerSnapshotFilesTest, SnapshotsBelowTheLogStartGoWithTheirSegments) {
  ThreeSegmentsAndClose();
  Reopen();
  ASSERT_OK(engine_->DeleteSegmentsBefore("t", 0, Offset(3)));
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("t", 0));
  ASSERT_EQ(stats.log_start_offset, Offset(3));
  EXPECT_EQ(SnapshotFiles(), (std::vector<std::string>{ProducerSnapshotName(Offset(3)),
                                                       ProducerSnapshotName(Offset(4))}));
  // Producer 1's batch is gone with its segment, but its state came with the snapshot at 3.
  ASSERT_OK_AND_ASSIGN(AppendResult retry, Send(1, 0, 0, 2, "a"));
  EXPECT_TRUE(retry.duplicate);
}

// A clean close's snapshot is superseded by the next one: opens remove the older ones, so they do
// not pile up.
TEST_F(ProducerSnapshotFilesTest, SnapshotsOfEarlierClosesDoNotPileUp) {
  ThreeSegmentsAndClose();
  for (int i = 0; i < 3; ++i) {
    Reopen();
    ASSERT_OK(Send(4, 0, i, 1, "d"));
    ASSERT_OK(engine_->Close());
  }
  Reopen();
  EXPECT_EQ(HighWatermark(), Offset(7));  // opens the partition (partitions open lazily)
  EXPECT_EQ(SnapshotFiles(), (std::vector<std::string>{ProducerSnapshotName(Offset(2)),
                                                       ProducerSnapshotName(Offset(3)),
                                                       ProducerSnapshotName(Offset(7))}));
}

TEST_F(ProducerStateTest, ConcurrentProducersEachKeepTheirOrder) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 200;
  std::vector<int64_t> pids;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_OK_AND_ASSIGN(int64_t pid, engine_->AllocateProducerId());
    pids.push_back(pid);
  }
  std::vector<std::vector<AppendResult>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int32_t seq = 0;
      for (int i = 0; i < kBatches; ++i) {
        const std::string batch = ProducerBatch(pids[static_cast<size_t>(t)], 0, seq, 2,
                                                "p" + std::to_string(t) + "." + std::to_string(i));
        auto r = engine_->Append("t", 0, base::AsBytes(batch));
        if (!r) {
          errors[static_cast<size_t>(t)] = r.error().ToString();
          return;
        }
        results[static_cast<size_t>(t)].push_back(*r);
        if (i % 10 == 0) {  // a retry, while other producers append
          auto dup = engine_->Append("t", 0, base::AsBytes(batch));
          if (!dup || !dup->duplicate || dup->base_offset != r->base_offset) {
            errors[static_cast<size_t>(t)] =
                "retry of batch " + std::to_string(i) + " was not a duplicate";
            return;
          }
        }
        seq += 2;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    const auto& rs = results[static_cast<size_t>(t)];
    EXPECT_EQ(errors[static_cast<size_t>(t)], "");
    ASSERT_EQ(rs.size(), static_cast<size_t>(kBatches));
    for (size_t i = 0; i < rs.size(); ++i) {
      EXPECT_FALSE(rs[i].duplicate);
      EXPECT_EQ(rs[i].last_offset, rs[i].base_offset + 1);
      if (i > 0) {
        EXPECT_GT(rs[i].base_offset, rs[i - 1].last_offset);
      }
    }
  }
  // Every batch is stored once, and each producer's records appear in its own order.
  const std::vector<std::string> values = Values();
  ASSERT_EQ(values.size(), static_cast<size_t>(kThreads * kBatches * 2));
  std::map<std::string, int> next_batch;
  for (size_t i = 0; i < values.size(); i += 2) {
    const std::string& v = values[i];
    const std::string producer = v.substr(0, v.find('.'));
    const int batch = std::stoi(v.substr(v.find('.') + 1));
    EXPECT_EQ(batch, next_batch[producer]) << v;
    next_batch[producer] = batch + 1;
    EXPECT_EQ(values[i + 1], v.substr(0, v.size() - 1) + "1");
  }
}

// A producer's retry racing its original: one is appended, the other is a duplicate that is
// answered only once the original is durable (flush=sync), with the original's offsets.
TEST_F(ProducerStateTest, DuplicateOfAnInFlightBatchIsAcknowledgedOnceTheOriginalIs) {
  ASSERT_OK(engine_->AlterTopicConfig("t", {{"flush", "sync"}}));
  for (int32_t seq = 0; seq < 50; ++seq) {
    const std::string batch = ProducerBatch(1, 0, seq, 1, "s" + std::to_string(seq));
    std::array<Result<AppendResult>, 2> results{base::Error{}, base::Error{}};
    std::array<Offset, 2> hw_after;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        results[t] = engine_->Append("t", 0, base::AsBytes(batch));
        hw_after[t] = HighWatermark();
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_OK(results[0]);
    ASSERT_OK(results[1]);
    EXPECT_NE(results[0]->duplicate, results[1]->duplicate);
    EXPECT_EQ(results[0]->base_offset, Offset(seq));
    EXPECT_EQ(results[1]->base_offset, Offset(seq));
    for (size_t t = 0; t < 2; ++t) EXPECT_GT(hw_after[t], Offset(seq));
  }
  EXPECT_EQ(Values().size(), 50u);
}

// producer.id.expiration.ms, by the engine's clock: a producer seen within it keeps its state; one
// idle that long is forgotten, and its next batch is accepted with any sequence, as in Kafka.
TEST_F(ProducerStateTest, IdleProducerIsForgottenAfterTheExpiration) {
  ASSERT_OK(engine_->AlterTopicConfig("t", {{"producer.id.expiration.ms", "60000"}}));
  ASSERT_OK(Send(1, 0, 0, 2, "a"));
  ASSERT_OK(Send(2, 0, 0, 2, "b"));
  clock_.AdvanceMs(59'999);
  EXPECT_TRUE(IsError(Send(1, 0, 7, 1), ErrorCode::kOutOfOrderSequence));  // still known
  ASSERT_OK(Send(2, 0, 2, 1, "b2"));  // producer 2 is seen again: its expiry starts over
  clock_.AdvanceMs(1);
  // Producer 1 was last recorded 60 s ago: forgotten. A retry of its first batch is no longer
  // recognised as a duplicate, and any sequence is accepted.
  ASSERT_OK_AND_ASSIGN(AppendResult fresh, Send(1, 0, 7, 1, "c"));
  EXPECT_FALSE(fresh.duplicate);
  ASSERT_OK(Send(1, 0, 8, 1, "d"));
  EXPECT_TRUE(IsError(Send(1, 0, 0, 2, "a"), ErrorCode::kOutOfOrderSequence));
  // Producer 2 was seen 1 ms ago.
  ASSERT_OK_AND_ASSIGN(AppendResult dup, Send(2, 0, 2, 1, "b2"));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(Values(), (std::vector<std::string>{"a-0", "a-1", "b-0", "b-1", "b2-0", "c-0", "d-0"}));
}

// A producer replayed from batch headers at open (here after a crash, with no snapshot) has no
// recorded last-seen time: its expiry counts from the open.
TEST_F(ProducerStateTest, ProducersReplayedAtOpenExpireCountingFromTheOpen) {
  ASSERT_OK(engine_->AlterTopicConfig("t", {{"producer.id.expiration.ms", "1000"}}));
  ASSERT_OK(Send(1, 0, 0, 1));
  clock_.AdvanceMs(5000);  // long idle, but the open has no record of it
  engine_->SimulateCrashForTesting();
  Reopen();
  EXPECT_TRUE(IsError(Send(1, 0, 5, 1), ErrorCode::kOutOfOrderSequence));
  clock_.AdvanceMs(1000);
  ASSERT_OK(Send(1, 0, 5, 1));
}

// A producer loaded from a snapshot keeps the time it was last seen (as in Kafka), so a restart
// does not make an idle producer live longer.
TEST_F(ProducerStateTest, ProducersLoadedFromASnapshotKeepTheirLastSeenTime) {
  ASSERT_OK(engine_->AlterTopicConfig("t", {{"producer.id.expiration.ms", "1000"}}));
  ASSERT_OK(Send(1, 0, 0, 1));
  ASSERT_OK(Send(2, 0, 0, 1));
  ASSERT_OK(engine_->Close());
  clock_.AdvanceMs(999);
  Reopen();
  ASSERT_OK(Send(2, 0, 1, 1));  // producer 2 seen again
  clock_.AdvanceMs(1);
  ASSERT_OK(Send(1, 0, 5, 1));  // producer 1 was seen 1000 ms ago: forgotten
  EXPECT_TRUE(IsError(Send(2, 0, 5, 1), ErrorCode::kOutOfOrderSequence));
}

TEST_F(ProducerStateTest, ExpirationIsAValidatedTopicConfig) {
  EXPECT_EQ(ConfigToMap(TopicConfig{}).at("producer.id.expiration.ms"), "86400000");
  for (const char* bad : {"0", "-5", "soon", ""}) {
    auto r = ApplyConfig(TopicConfig{}, {{"producer.id.expiration.ms", bad}});
    EXPECT_TRUE(IsError(r, ErrorCode::kInvalidArgument)) << bad;
  }
  ASSERT_OK_AND_ASSIGN(TopicConfig c,
                       ApplyConfig(TopicConfig{}, {{"producer.id.expiration.ms", "3600000"}}));
  EXPECT_EQ(c.producer_id_expiration_ms, 3'600'000);
  EXPECT_TRUE(IsError(engine_->CreateTopic("u", 1, {{"producer.id.expiration.ms", "0"}}),
                      ErrorCode::kInvalidArgument));
}

// The batches of one AppendBatches call are checked against each other: each must follow the one
// before it; a gap anywhere stores none of them.
TEST_F(ProducerStateTest, BatchesOfOneCallFollowEachOtherOrNoneIsStored) {
  const std::string a = ProducerBatch(1, 0, 0, 2, "a");
  const std::string b = ProducerBatch(1, 0, 2, 3, "b");
  const std::string gap = ProducerBatch(1, 0, 9, 1, "gap");
  const std::string c = ProducerBatch(1, 0, 5, 1, "c");
  const Bytes bad[] = {base::AsBytes(a), base::AsBytes(b), base::AsBytes(gap)};
  EXPECT_TRUE(IsError(engine_->AppendBatches("t", 0, bad), ErrorCode::kOutOfOrderSequence));
  EXPECT_EQ(HighWatermark(), Offset(0));
  // The refused call left no state behind: the producer still starts anywhere, here at 0.
  const Bytes good[] = {base::AsBytes(a), base::AsBytes(b), base::AsBytes(c)};
  ASSERT_OK_AND_ASSIGN(AppendResult r, engine_->AppendBatches("t", 0, good));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.base_offset, Offset(0));
  EXPECT_EQ(r.last_offset, Offset(5));
  // A retry of the whole call is a duplicate: nothing is stored again.
  ASSERT_OK_AND_ASSIGN(AppendResult retry, engine_->AppendBatches("t", 0, good));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(Values(), (std::vector<std::string>{"a-0", "a-1", "b-0", "b-1", "b-2", "c-0"}));
  ASSERT_OK(Send(1, 0, 6, 1, "d"));
}

TEST_F(ProducerStateTest, AllocatedProducerIdsAreUniqueAcrossReopen) {
  std::set<int64_t> seen;
  for (int i = 0; i < 1500; ++i) {  // crosses a block
    ASSERT_OK_AND_ASSIGN(int64_t pid, engine_->AllocateProducerId());
    EXPECT_GE(pid, 0);
    EXPECT_TRUE(seen.insert(pid).second) << pid;
  }
  ASSERT_OK(engine_->Close());
  EXPECT_TRUE(IsError(engine_->AllocateProducerId(), ErrorCode::kClosed));
  Reopen();
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(int64_t pid, engine_->AllocateProducerId());
    EXPECT_TRUE(seen.insert(pid).second) << pid;
  }
  engine_->SimulateCrashForTesting();
  Reopen();
  ASSERT_OK_AND_ASSIGN(int64_t pid, engine_->AllocateProducerId());
  EXPECT_TRUE(seen.insert(pid).second) << pid;
  EXPECT_GT(pid, *std::prev(seen.end(), 2));
}

TEST_F(ProducerStateTest, DamagedProducerIdsFileFailsAllocationNotOpening) {
  ASSERT_OK(engine_->AllocateProducerId());
  ASSERT_OK(engine_->Close());
  const std::string path = dir_.Join(ProducerIdAllocator::kFileName);
  std::string image = testing::ReadWholeFile(path);
  ASSERT_EQ(image.size(), 32u);
  image[16] = static_cast<char>(image[16] ^ 1);
  testing::WriteWholeFile(path, image);
  Reopen();
  auto pid = engine_->AllocateProducerId();
  ASSERT_FALSE(pid.has_value());
  EXPECT_EQ(pid.error().code, ErrorCode::kCorruption);
  EXPECT_NE(pid.error().context.find("producer-ids"), std::string::npos);
  ASSERT_OK(Send(1, 0, 0, 1));
}

// --- the table and file format alone ------------------------------------------------------------

TEST(ProducerStateTableTest, LastSequenceWrapsLikeKafka) {
  segment::BatchHeader h;
  h.base_sequence = 5;
  h.last_offset_delta = 3;
  EXPECT_EQ(ProducerStateTable::LastSequence(h), 8);
  h.base_sequence = kMaxSeq;
  h.last_offset_delta = 0;
  EXPECT_EQ(ProducerStateTable::LastSequence(h), kMaxSeq);
  h.last_offset_delta = 1;
  EXPECT_EQ(ProducerStateTable::LastSequence(h), 0);
  h.base_sequence = kMaxSeq - 2;
  h.last_offset_delta = 4;
  EXPECT_EQ(ProducerStateTable::LastSequence(h), 1);
}

segment::BatchHeader Header(int64_t pid, int32_t seq, int32_t count = 1) {
  segment::BatchHeader h;
  h.producer_id = pid;
  h.producer_epoch = 0;
  h.base_sequence = seq;
  h.last_offset_delta = count - 1;
  h.record_count = count;
  return h;
}

// True if the table still knows `pid` at sequence `last_seq` (its next batch must follow it).
bool Knows(const ProducerStateTable& table, int64_t pid, int32_t last_seq) {
  return !table.Check(Header(pid, last_seq + 5)).has_value();
}

TEST(ProducerStateTableTest, CapForgetsTheLeastRecentlyRecordedProducerFirst) {
  ProducerStateTable table(3);
  table.Record(Header(1, 0), Offset(0), Offset(0), 100);
  table.Record(Header(2, 0), Offset(1), Offset(1), 101);
  table.Record(Header(3, 0), Offset(2), Offset(2), 102);
  table.Record(Header(1, 1), Offset(3), Offset(3), 103);  // 1 is now the most recent
  table.Record(Header(4, 0), Offset(4), Offset(4), 104);  // over the cap: 2 goes
  EXPECT_EQ(table.producer_count(), 3u);
  EXPECT_FALSE(Knows(table, 2, 0));
  EXPECT_TRUE(Knows(table, 1, 1));
  EXPECT_TRUE(Knows(table, 3, 0));
  EXPECT_TRUE(Knows(table, 4, 0));
  table.Record(Header(5, 0), Offset(5), Offset(5), 105);  // then 3
  EXPECT_FALSE(Knows(table, 3, 0));
  EXPECT_TRUE(Knows(table, 1, 1));
  EXPECT_EQ(ProducerStateTable().max_producers(), ProducerStateTable::kDefaultMaxProducers);
}

TEST(ProducerStateTableTest, ExpireIdleForgetsExactlyTheProducersIdleThatLong) {
  ProducerStateTable table;
  table.Record(Header(1, 0), Offset(0), Offset(0), 1000);
  table.Record(Header(2, 0), Offset(1), Offset(1), 1500);
  table.Record(Header(3, 0), Offset(2), Offset(2), 2000);
  table.ExpireIdle(/*now_ms=*/1999, /*expiration_ms=*/1000);  // 1 idle 999 ms
  EXPECT_EQ(table.producer_count(), 3u);
  table.ExpireIdle(2500, 1000);  // 1 idle 1500 ms, 2 idle 1000 ms, 3 idle 500 ms
  EXPECT_EQ(table.producer_count(), 1u);
  EXPECT_TRUE(Knows(table, 3, 0));
  table.ExpireIdle(1000, 1000);  // a clock that went back forgets nothing
  EXPECT_EQ(table.producer_count(), 1u);
}

// A snapshot may hold any i64 as a last-seen time (found writing the producer_snapshot fuzz
// target): now minus INT64_MIN overflowed (undefined; in practice it wrapped negative), so that a
// producer idle for longer than any expiration was never forgotten.
TEST(ProducerStateTableTest, ProducerLastSeenAtTheEarliestTimeExpires) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  ProducerSnapshot snapshot;
  snapshot.offset = Offset(10);
  snapshot.producers.push_back({1, 0, kMin, {{0, 0, Offset(0), Offset(0)}}});
  snapshot.producers.push_back({2, 0, 1000, {{0, 0, Offset(1), Offset(1)}}});
  const std::string image = EncodeProducerSnapshot(snapshot);
  ASSERT_OK_AND_ASSIGN(ProducerSnapshot decoded,
                       DecodeProducerSnapshot(base::AsBytes(image), "s", Offset(10)));
  ProducerStateTable table;
  table.Load(decoded, /*now_ms=*/2000);
  table.ExpireIdle(2000, std::numeric_limits<int64_t>::max());  // 1 idle for more than that
  EXPECT_EQ(table.producer_count(), 1u);
  EXPECT_FALSE(Knows(table, 1, 0));
  EXPECT_TRUE(Knows(table, 2, 0));
  // A clock far behind a last-seen time (Record takes the clock as it is) forgets nothing.
  table.Record(Header(3, 0), Offset(2), Offset(2), std::numeric_limits<int64_t>::max());
  table.ExpireIdle(kMin, 1);
  EXPECT_TRUE(Knows(table, 3, 0));
}

TEST(ProducerStateTableTest, RestoreUndoesRecordsInReverse) {
  ProducerStateTable table;
  table.Record(Header(1, 0, 2), Offset(0), Offset(1), 10);
  auto before_1 = table.Save(1);
  table.Record(Header(1, 2, 3), Offset(2), Offset(4), 20);
  auto before_2 = table.Save(2);
  table.Record(Header(2, 0), Offset(5), Offset(5), 20);
  auto again_1 = table.Save(1);
  table.Record(Header(1, 5), Offset(6), Offset(6), 30);
  table.Restore(again_1);
  table.Restore(before_2);
  table.Restore(before_1);
  EXPECT_EQ(table.producer_count(), 1u);  // 2 was unknown before
  EXPECT_TRUE(Knows(table, 1, 1));        // 1 is back at its first batch
  auto dup = table.Check(Header(1, 0, 2));
  ASSERT_TRUE(dup.has_value());
  ASSERT_TRUE(dup->has_value());
  EXPECT_EQ((*dup)->base_offset, Offset(0));
  auto next = table.Check(Header(1, 2, 3));
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
}

TEST(ProducerStateTableTest, ProducerIdsFileRoundTripsAndRejectsDamage) {
  const std::string image = EncodeProducerIds(123000);
  ASSERT_OK_AND_ASSIGN(int64_t next, DecodeProducerIds(base::AsBytes(image)));
  EXPECT_EQ(next, 123000);
  for (size_t i = 0; i < image.size(); ++i) {
    std::string bad = image;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    auto r = DecodeProducerIds(base::AsBytes(bad));
    EXPECT_FALSE(r.has_value()) << "byte " << i;
  }
  EXPECT_FALSE(DecodeProducerIds(base::AsBytes(image.substr(0, 31))).has_value());
}

TEST(ProducerStateTableTest, SnapshotBelowLeavesOutLaterBatchesAndRoundTrips) {
  ProducerStateTable table;
  auto header = [](int64_t pid, int16_t epoch, int32_t seq, int32_t delta, int64_t base) {
    BatchHeader h;
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.last_offset_delta = delta;
    h.base_offset = base;
    return h;
  };
  table.Record(header(7, 1, 0, 1, 0), Offset(0), Offset(1), 100);
  table.Record(header(8, 0, 0, 0, 2), Offset(2), Offset(2), 200);
  table.Record(header(7, 1, 2, 0, 3), Offset(3), Offset(3), 300);  // at the snapshot's offset
  table.Record(header(9, 0, 0, 0, 4), Offset(4), Offset(4), 400);  // only above it
  const ProducerSnapshot snapshot = table.SnapshotBelow(Offset(3));
  ASSERT_EQ(snapshot.producers.size(), 2u);
  EXPECT_EQ(snapshot.producers[0].producer_id, 8);  // least recently recorded first
  EXPECT_EQ(snapshot.producers[1].producer_id, 7);
  ASSERT_EQ(snapshot.producers[1].batches.size(), 1u);
  EXPECT_EQ(snapshot.producers[1].batches[0].last_offset, Offset(1));
  EXPECT_EQ(snapshot.producers[1].last_seen_ms, 300);

  const std::string image = EncodeProducerSnapshot(snapshot);
  ASSERT_OK_AND_ASSIGN(ProducerSnapshot decoded,
                       DecodeProducerSnapshot(base::AsBytes(image), "s", Offset(3)));
  ProducerStateTable loaded;
  loaded.Load(decoded, 250);
  EXPECT_EQ(loaded.producer_count(), 2u);
  auto dup = loaded.Check(header(7, 1, 0, 1, 0));
  ASSERT_TRUE(dup.has_value());
  ASSERT_TRUE(dup->has_value());
  EXPECT_EQ((*dup)->base_offset, Offset(0));
  // Producer 7's last-seen time (300) was after the loader's clock (250): it counts as 250.
  loaded.ExpireIdle(250 + 50, 100);  // producer 8, last seen at 200, is due; 7 is not
  EXPECT_EQ(loaded.producer_count(), 1u);

  // The name must agree with the content, and every damaged byte is found.
  EXPECT_FALSE(DecodeProducerSnapshot(base::AsBytes(image), "s", Offset(4)).has_value());
  for (size_t i = 0; i < image.size(); ++i) {
    std::string bad = image;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    EXPECT_FALSE(DecodeProducerSnapshot(base::AsBytes(bad), "s", Offset(3)).has_value())
        << "byte " << i;
  }
  EXPECT_EQ(ProducerSnapshotName(Offset(42)), "00000000000000000042.snapshot");
  EXPECT_EQ(ParseProducerSnapshotName("00000000000000000042.snapshot"), Offset(42));
  EXPECT_FALSE(ParseProducerSnapshotName("00000000000000000042.snapshot.stale-1").has_value());
}

}  // namespace
}  // namespace sluice::engine

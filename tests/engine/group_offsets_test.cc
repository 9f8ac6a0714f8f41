// Committed consumer-group offsets (engine/group_offsets.h): commit/fetch, describe and lag,
// delete, reset, persistence across clean and unclean reopen, concurrency and compaction of
// __consumer_offsets. Real files in a TempDir, a ManualClock, BackgroundWork::kManual.

#include "engine/group_offsets.h"

#include <gtest/gtest.h>

#include <barrier>
#include <thread>
#include <tuple>

#include "segment/io/posix_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using testing::MakeBatch;

// Every committed offset of every group, in a comparable form:
// (group, topic, partition) -> (offset, metadata, commit time).
using Key = std::tuple<std::string, std::string, int32_t>;
using State = std::map<Key, std::tuple<int64_t, std::string, int64_t>>;

class GroupOffsetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    ASSERT_OK(engine_->CreateTopic("t", 3, {}));
  }

  void Reopen() {
    engine_.reset();
    auto o = testing::TestEngineOptions(dir_.path(), &fs_, &clock_);
    o.default_topic_config.segment_bytes = 1 << 20;
    engine_ = testing::OpenTestEngine(o);
    ASSERT_NE(engine_, nullptr);
  }

  // Reopens after a clean Close().
  void CloseAndReopen() {
    ASSERT_OK(engine_->Close());
    Reopen();
    ASSERT_TRUE(engine_->opened_after_clean_shutdown());
  }

  // Reopens as after a kill: no Close(), no clean-shutdown marker, so recovery runs.
  void CrashAndReopen() {
    engine_->SimulateCrashForTesting();
    Reopen();
    ASSERT_FALSE(engine_->opened_after_clean_shutdown());
  }

  GroupOffsetStore& store() { return *engine_->GroupOffsets().value(); }
  void RunConcurrentCommits(int compactions);

  Status Commit(const std::string& group, const std::string& topic, int32_t partition,
                int64_t offset, const std::string& metadata = "") {
    std::vector<OffsetCommit> c{{topic, partition, Offset(offset), metadata}};
    return store().Commit(group, c);
  }

  State AllOffsets() {
    State s;
    for (const std::string& g : store().ListGroups()) {
      for (const auto& [tp, c] : store().FetchAll(g)) {
        s[{g, tp.first, tp.second}] = {c.offset.value(), c.metadata, c.commit_time_ms};
      }
    }
    return s;
  }

  int64_t OffsetsHighWatermark() {
    store();  // the store creates __consumer_offsets when it first loads
    auto stats = engine_->GetPartitionStats(kConsumerOffsetsTopic, 0);
    EXPECT_TRUE(stats.has_value()) << stats.error().ToString();
    return stats ? stats->high_watermark.value() : -1;
  }

  // The committed offset of (group, t, partition), or -1 when there is none.
  int64_t Committed(const std::string& group, int32_t partition, const std::string& topic = "t") {
    auto c = store().Fetch(group, topic, partition);
    return c ? c->offset.value() : -1;
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(GroupOffsetsTest, FetchReturnsTheCommitWithMetadataAndCommitTime) {
  const int64_t t0 = clock_.NowMs();
  ASSERT_OK(Commit("g", "t", 1, 42, "first"));
  auto c = store().Fetch("g", "t", 1);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset.value(), 42);
  EXPECT_EQ(c->metadata, "first");
  EXPECT_EQ(c->commit_time_ms, t0);

  clock_.AdvanceMs(12'345);
  ASSERT_OK(Commit("g", "t", 1, 40, "second"));  // offsets may move backwards
  c = store().Fetch("g", "t", 1);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset.value(), 40);
  EXPECT_EQ(c->metadata, "second");
  EXPECT_EQ(c->commit_time_ms, t0 + 12'345);
  // Other partitions of the same group are untouched.
  EXPECT_FALSE(store().Fetch("g", "t", 0).has_value());
}

TEST_F(GroupOffsetsTest, CommitsSeveralPartitionsInOneBatch) {
  const int64_t hw_before = OffsetsHighWatermark();
  std::vector<OffsetCommit> commits{
      {"t", 0, Offset(10), "a"}, {"t", 1, Offset(11), "b"}, {"t", 2, Offset(12), "c"}};
  ASSERT_OK(store().Commit("g", commits));
  auto all = store().FetchAll("g");
  ASSERT_EQ(all.size(), 3u);
  for (int32_t p = 0; p < 3; ++p) {
    const CommittedOffset& c = all.at({"t", p});
    EXPECT_EQ(c.offset.value(), 10 + p);
    EXPECT_EQ(c.metadata, std::string(1, static_cast<char>('a' + p)));
  }
  // One batch of three records in __consumer_offsets: the commit is atomic.
  EXPECT_EQ(OffsetsHighWatermark(), hw_before + 3);
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Read(kConsumerOffsetsTopic, 0, Offset(hw_before), 1 << 20));
  ASSERT_EQ(r.batches.size(), 1u);
  EXPECT_EQ(r.batches[0].header.base_offset, hw_before);
  EXPECT_EQ(r.batches[0].header.record_count, 3);
}

TEST_F(GroupOffsetsTest, FetchOfAnUnknownKeyIsNullopt) {
  ASSERT_OK(Commit("g", "t", 0, 5));
  EXPECT_FALSE(store().Fetch("other", "t", 0).has_value());
  EXPECT_FALSE(store().Fetch("g", "t", 1).has_value());
  EXPECT_FALSE(store().Fetch("g", "nope", 0).has_value());
  EXPECT_FALSE(store().Fetch("g", "t", 99).has_value());
  EXPECT_FALSE(store().Fetch("", "t", 0).has_value());
  EXPECT_TRUE(store().FetchAll("other").empty());
}

TEST_F(GroupOffsetsTest, ListGroupsNamesEachGroupOnceInOrder) {
  EXPECT_TRUE(store().ListGroups().empty());
  ASSERT_OK(Commit("beta", "t", 0, 1));
  ASSERT_OK(Commit("alpha", "t", 2, 1));
  ASSERT_OK(Commit("beta", "t", 1, 1));
  ASSERT_OK(Commit("gamma", "t", 0, 1));
  EXPECT_EQ(store().ListGroups(), (std::vector<std::string>{"alpha", "beta", "gamma"}));
}

TEST_F(GroupOffsetsTest, DescribeReportsLogEndAndLagInRecordsAndTime) {
  const int64_t t0 = clock_.NowMs();
  // Partition 0: ten records with timestamps t0 .. t0+9; partition 1: five records, t0+100 ...
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(4, "a", t0))));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(6, "b", t0 + 4))));
  ASSERT_OK(engine_->Append("t", 1, base::AsBytes(MakeBatch(5, "c", t0 + 100))));
  // Consumed 6 of partition 0 (the next record, offset 6, is in the second batch, ts t0+6),
  // everything of partition 1, nothing of partition 2 (empty).
  std::vector<OffsetCommit> commits{
      {"t", 0, Offset(6), "m0"}, {"t", 1, Offset(5), "m1"}, {"t", 2, Offset(0), ""}};
  ASSERT_OK(store().Commit("g", commits));
  clock_.AdvanceMs(60'000);

  ASSERT_OK_AND_ASSIGN(auto status, store().Describe("g"));
  ASSERT_EQ(status.size(), 3u);
  EXPECT_EQ(status[0].topic, "t");
  EXPECT_EQ(status[0].partition, 0);
  EXPECT_EQ(status[0].committed.offset.value(), 6);
  EXPECT_EQ(status[0].committed.metadata, "m0");
  EXPECT_EQ(status[0].committed.commit_time_ms, t0);
  EXPECT_EQ(status[0].log_start_offset.value(), 0);
  EXPECT_EQ(status[0].log_end_offset.value(), 10);
  EXPECT_EQ(status[0].lag_records, 4);
  ASSERT_TRUE(status[0].lag_ms.has_value());
  EXPECT_EQ(*status[0].lag_ms, t0 + 60'000 - (t0 + 6));

  EXPECT_EQ(status[1].partition, 1);
  EXPECT_EQ(status[1].log_end_offset.value(), 5);
  EXPECT_EQ(status[1].lag_records, 0);
  EXPECT_FALSE(status[1].lag_ms.has_value());

  EXPECT_EQ(status[2].partition, 2);
  EXPECT_EQ(status[2].log_end_offset.value(), 0);
  EXPECT_EQ(status[2].lag_records, 0);
  EXPECT_FALSE(status[2].lag_ms.has_value());

  // Time lag grows with the clock; a commit at the first record's offset counts from it.
  ASSERT_OK(Commit("g", "t", 0, 0));
  clock_.AdvanceMs(1'000);
  ASSERT_OK_AND_ASSIGN(status, store().Describe("g"));
  EXPECT_EQ(status[0].lag_records, 10);
  ASSERT_TRUE(status[0].lag_ms.has_value());
  EXPECT_EQ(*status[0].lag_ms, t0 + 61'000 - t0);

  // New records make a fully consumed partition lag.
  ASSERT_OK(engine_->Append("t", 1, base::AsBytes(MakeBatch(3, "d", t0 + 50'000))));
  ASSERT_OK_AND_ASSIGN(status, store().Describe("g"));
  EXPECT_EQ(status[1].log_end_offset.value(), 8);
  EXPECT_EQ(status[1].lag_records, 3);
  ASSERT_TRUE(status[1].lag_ms.has_value());
  EXPECT_EQ(*status[1].lag_ms, t0 + 61'000 - (t0 + 50'000));

  EXPECT_EQ(store().Describe("nope").error().code, ErrorCode::kNotFound);
}

TEST_F(GroupOffsetsTest, DescribeReportsTheCommitAloneOnceItsTopicIsDeleted) {
  ASSERT_OK(engine_->CreateTopic("gone", 1, {}));
  ASSERT_OK(engine_->Append("gone", 0, base::AsBytes(MakeBatch(5))));
  ASSERT_OK(Commit("g", "gone", 0, 2, "m"));
  ASSERT_OK(engine_->DeleteTopic("gone"));
  ASSERT_OK_AND_ASSIGN(auto status, store().Describe("g"));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].topic, "gone");
  EXPECT_EQ(status[0].committed.offset.value(), 2);
  EXPECT_EQ(status[0].committed.metadata, "m");
  EXPECT_EQ(status[0].lag_records, 0);
  EXPECT_FALSE(status[0].lag_ms.has_value());
}

TEST_F(GroupOffsetsTest, DeleteGroupRemovesOnlyThatGroupDurably) {
  ASSERT_OK(Commit("g", "t", 0, 3));
  ASSERT_OK(Commit("g", "t", 2, 4));
  ASSERT_OK(Commit("h", "t", 0, 7));
  ASSERT_OK(store().DeleteGroup("g"));
  EXPECT_FALSE(store().Fetch("g", "t", 0).has_value());
  EXPECT_FALSE(store().Fetch("g", "t", 2).has_value());
  EXPECT_TRUE(store().FetchAll("g").empty());
  EXPECT_EQ(store().ListGroups(), std::vector<std::string>{"h"});
  EXPECT_EQ(store().Describe("g").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Committed("h", 0), 7);
  EXPECT_EQ(store().DeleteGroup("g").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().DeleteGroup("never").error().code, ErrorCode::kNotFound);

  CrashAndReopen();
  EXPECT_EQ(store().ListGroups(), std::vector<std::string>{"h"});
  EXPECT_FALSE(store().Fetch("g", "t", 0).has_value());
  CloseAndReopen();
  EXPECT_EQ(store().ListGroups(), std::vector<std::string>{"h"});
  EXPECT_EQ(Committed("h", 0), 7);

  // A deleted group can commit again.
  ASSERT_OK(Commit("g", "t", 1, 9));
  EXPECT_EQ(store().ListGroups(), (std::vector<std::string>{"g", "h"}));
  EXPECT_EQ(store().FetchAll("g").size(), 1u);
}

// A topic whose partition 0 no longer starts at 0: small segments, the oldest deleted.
class GroupOffsetsTrimmedLogTest : public GroupOffsetsTest {
 protected:
  void SetUp() override {
    GroupOffsetsTest::SetUp();
    ASSERT_OK(
        engine_->CreateTopic("r", 2, {{"segment.bytes", "4096"}, {"compression.type", "none"}}));
    t0_ = clock_.NowMs();
    // Partition 0: 400 records, timestamps t0 + 10 * offset. Partition 1: 30 records.
    for (int b = 0; b < 40; ++b) {
      segment::BatchBuilder builder;
      for (int i = 0; i < 10; ++i) {
        const int64_t offset = b * 10 + i;
        builder.Add("k", std::string(40, 'v') + std::to_string(offset), t0_ + 10 * offset);
      }
      ASSERT_OK_AND_ASSIGN(std::string batch, builder.Build());
      ASSERT_OK(engine_->Append("r", 0, base::AsBytes(batch)));
    }
    ASSERT_OK(engine_->Append("r", 1, base::AsBytes(MakeBatch(30, "p1", t0_))));
    ASSERT_OK(engine_->DeleteSegmentsBefore("r", 0, Offset(150)));
    ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("r", 0));
    start0_ = stats.log_start_offset.value();
    ASSERT_GT(start0_, 0) << "the fixture needs a log that does not start at 0; "
                          << stats.segment_count << " segments, " << stats.size_bytes << " bytes";
    ASSERT_LE(start0_, 150);
    ASSERT_EQ(stats.high_watermark.value(), 400);
    // The group has a commit on partition 0 only.
    ASSERT_OK(Commit("g", "r", 0, 200, "keep-me"));
  }

  // Checks the plan's shape and returns the targets by partition.
  std::vector<int64_t> Targets(const std::vector<ResetPlanEntry>& plan) {
    std::vector<int64_t> out;
    EXPECT_EQ(plan.size(), 2u);
    for (size_t p = 0; p < plan.size(); ++p) {
      EXPECT_EQ(plan[p].topic, "r");
      EXPECT_EQ(plan[p].partition, static_cast<int32_t>(p));
      out.push_back(plan[p].target.value());
    }
    return out;
  }

  int64_t t0_ = 0;
  int64_t start0_ = 0;
};

TEST_F(GroupOffsetsTrimmedLogTest, DescribeCountsLagFromTheLogStartForAnOlderCommit) {
  ASSERT_OK(Commit("g", "r", 0, start0_ - 1));
  clock_.AdvanceMs(100'000);
  ASSERT_OK_AND_ASSIGN(auto status, store().Describe("g"));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].committed.offset.value(), start0_ - 1);
  EXPECT_EQ(status[0].log_start_offset.value(), start0_);
  EXPECT_EQ(status[0].log_end_offset.value(), 400);
  EXPECT_EQ(status[0].lag_records, 400 - start0_);
  ASSERT_TRUE(status[0].lag_ms.has_value());
  EXPECT_EQ(*status[0].lag_ms, clock_.NowMs() - (t0_ + 10 * start0_));
}

TEST_F(GroupOffsetsTrimmedLogTest, ToEarliestUsesTheLogStart) {
  ASSERT_OK_AND_ASSIGN(auto plan,
                       store().ResetOffsets("g", "r", ResetTarget::Earliest(), DryRun::kNo));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{start0_, 0}));
  ASSERT_TRUE(plan[0].current.has_value());
  EXPECT_EQ(plan[0].current->value(), 200);
  EXPECT_FALSE(plan[1].current.has_value());
  EXPECT_EQ(Committed("g", 0, "r"), start0_);
  EXPECT_EQ(Committed("g", 1, "r"), 0);
  // The metadata of an existing commit is kept.
  EXPECT_EQ(store().Fetch("g", "r", 0)->metadata, "keep-me");
}

TEST_F(GroupOffsetsTrimmedLogTest, ToLatestUsesTheHighWatermark) {
  ASSERT_OK_AND_ASSIGN(auto plan,
                       store().ResetOffsets("g", "r", ResetTarget::Latest(), DryRun::kNo));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{400, 30}));
  EXPECT_EQ(Committed("g", 0, "r"), 400);
  EXPECT_EQ(Committed("g", 1, "r"), 30);
  ASSERT_OK_AND_ASSIGN(auto status, store().Describe("g"));
  for (const auto& s : status) {
    EXPECT_EQ(s.lag_records, 0) << s.partition;
    EXPECT_FALSE(s.lag_ms.has_value()) << s.partition;
  }
}

TEST_F(GroupOffsetsTrimmedLogTest, ToOffsetIsClampedIntoTheLog) {
  ASSERT_OK_AND_ASSIGN(auto plan,
                       store().ResetOffsets("g", "r", ResetTarget::ToOffset(25), DryRun::kNo));
  // 25 is below partition 0's log start and inside partition 1.
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{start0_, 25}));
  EXPECT_EQ(Committed("g", 0, "r"), start0_);
  EXPECT_EQ(Committed("g", 1, "r"), 25);

  ASSERT_OK_AND_ASSIGN(plan,
                       store().ResetOffsets("g", "r", ResetTarget::ToOffset(321), DryRun::kNo));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{321, 30}));
  ASSERT_TRUE(plan[1].current.has_value());
  EXPECT_EQ(plan[1].current->value(), 25);

  ASSERT_OK_AND_ASSIGN(plan,
                       store().ResetOffsets("g", "r", ResetTarget::ToOffset(-7), DryRun::kNo));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{start0_, 0}));
  ASSERT_OK_AND_ASSIGN(
      plan, store().ResetOffsets("g", "r", ResetTarget::ToOffset(1'000'000), DryRun::kNo));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{400, 30}));
  EXPECT_EQ(Committed("g", 0, "r"), 400);
  EXPECT_EQ(Committed("g", 1, "r"), 30);
}

TEST_F(GroupOffsetsTrimmedLogTest, ToTimestampUsesTheFirstRecordAtOrAfterIt) {
  // Partition 0: offset o has timestamp t0 + 10 o; t0 + 2505 -> offset 251.
  // Partition 1: offset o has timestamp t0 + o, all before t0 + 2505 -> the high watermark.
  ASSERT_OK_AND_ASSIGN(
      auto plan, store().ResetOffsets("g", "r", ResetTarget::ToTimestamp(t0_ + 2505), DryRun::kNo));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{251, 30}));
  EXPECT_EQ(Committed("g", 0, "r"), 251);
  EXPECT_EQ(Committed("g", 1, "r"), 30);

  ASSERT_OK_AND_ASSIGN(
      plan, store().ResetOffsets("g", "r", ResetTarget::ToTimestamp(t0_ + 12), DryRun::kNo));
  // Partition 0's oldest remaining record is the first at or after that time.
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{start0_, 12}));
  EXPECT_EQ(Committed("g", 1, "r"), 12);
}

TEST_F(GroupOffsetsTrimmedLogTest, DryRunReturnsThePlanAndChangesNothing) {
  const int64_t hw_before = OffsetsHighWatermark();
  ASSERT_OK_AND_ASSIGN(auto plan,
                       store().ResetOffsets("g", "r", ResetTarget::Latest(), DryRun::kYes));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{400, 30}));
  ASSERT_TRUE(plan[0].current.has_value());
  EXPECT_EQ(plan[0].current->value(), 200);
  EXPECT_FALSE(plan[1].current.has_value());
  ASSERT_OK_AND_ASSIGN(plan,
                       store().ResetOffsets("g", "r", ResetTarget::ToOffset(300), DryRun::kYes));
  EXPECT_EQ(Targets(plan), (std::vector<int64_t>{300, 30}));

  EXPECT_EQ(Committed("g", 0, "r"), 200);
  EXPECT_EQ(Committed("g", 1, "r"), -1);
  EXPECT_EQ(OffsetsHighWatermark(), hw_before);  // nothing was written
  CloseAndReopen();
  EXPECT_EQ(Committed("g", 0, "r"), 200);
  EXPECT_EQ(Committed("g", 1, "r"), -1);
  CrashAndReopen();
  EXPECT_EQ(Committed("g", 0, "r"), 200);
  EXPECT_EQ(store().FetchAll("g").size(), 1u);
}

TEST_F(GroupOffsetsTrimmedLogTest, ResetIsDurable) {
  ASSERT_OK(store().ResetOffsets("g", "r", ResetTarget::ToOffset(222), DryRun::kNo));
  CrashAndReopen();
  EXPECT_EQ(Committed("g", 0, "r"), 222);
  EXPECT_EQ(Committed("g", 1, "r"), 30);
}

TEST_F(GroupOffsetsTrimmedLogTest, RejectsBadInput) {
  EXPECT_EQ(store().ResetOffsets("g", "nope", ResetTarget::Latest(), DryRun::kNo).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(store().ResetOffsets("", "r", ResetTarget::Latest(), DryRun::kNo).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Committed("g", 0, "r"), 200);
}

TEST_F(GroupOffsetsTest, CommitsSurviveCleanReopenAndCrash) {
  auto rng = testing::SeededRng();
  State want;
  for (int i = 0; i < 60; ++i) {
    const std::string group = "g" + std::to_string(rng() % 5);
    const int32_t partition = static_cast<int32_t>(rng() % 3);
    const int64_t offset = static_cast<int64_t>(rng() % 100000);
    const std::string metadata = "m" + std::to_string(i);
    ASSERT_OK(Commit(group, "t", partition, offset, metadata));
    want[{group, "t", partition}] = {offset, metadata, clock_.NowMs()};
    clock_.AdvanceMs(static_cast<int64_t>(rng() % 1000));
  }
  ASSERT_EQ(AllOffsets(), want);
  CloseAndReopen();
  EXPECT_EQ(AllOffsets(), want);
  ASSERT_OK(Commit("late", "t", 2, 77, "after reopen"));
  want[{"late", "t", 2}] = {77, "after reopen", clock_.NowMs()};
  CrashAndReopen();
  EXPECT_EQ(AllOffsets(), want);
  CrashAndReopen();  // a second unclean open replays the same log again
  EXPECT_EQ(AllOffsets(), want);
}

TEST_F(GroupOffsetsTest, RejectsInvalidCommitsAndStoresNothing) {
  const int64_t hw_before = OffsetsHighWatermark();
  EXPECT_EQ(Commit("", "t", 0, 1).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Commit("g", "nope", 0, 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Commit("g", "t", 3, 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Commit("g", "t", -1, 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Commit("g", "t", 0, 1, std::string(4097, 'm')).error().code,
            ErrorCode::kInvalidArgument);
  // One bad commit fails the whole call: the valid ones are not stored either.
  std::vector<OffsetCommit> mixed{{"t", 0, Offset(5), ""}, {"t", 7, Offset(5), ""}};
  EXPECT_EQ(store().Commit("g", mixed).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store().ListGroups().empty());
  EXPECT_FALSE(store().Fetch("g", "t", 0).has_value());
  EXPECT_EQ(OffsetsHighWatermark(), hw_before);
  // The limits themselves are accepted.
  EXPECT_OK(Commit("g", "t", 0, 0, std::string(4096, 'm')));
}

// Kafka stores a negative committed offset as given and returns it (kafkajs's resetOffsets commits
// -2 for "earliest" and reads it back); consumers treat it as no position. So does sluice.
TEST_F(GroupOffsetsTest, NegativeOffsetsAreStoredAndFetchedBackAsKafkaDoes) {
  ASSERT_OK(Commit("g", "t", 0, -2));
  ASSERT_OK(Commit("g", "t", 1, -1));
  CloseAndReopen();
  ASSERT_TRUE(store().Fetch("g", "t", 0).has_value());
  EXPECT_EQ(store().Fetch("g", "t", 0)->offset, Offset(-2));
  EXPECT_EQ(store().Fetch("g", "t", 1)->offset, Offset(-1));
  // Lag counts from the log start, as for a group that starts at the earliest offset.
  ASSERT_OK_AND_ASSIGN(auto status, store().Describe("g"));
  ASSERT_EQ(status.size(), 2u);
  for (const auto& s : status) EXPECT_EQ(s.lag_records, s.log_end_offset - s.log_start_offset);
}

// Several threads commit to shared keys (both partitions in one call, all threads lined up on a
// barrier before each call so that their appends land in the same group commit) and to keys of
// their own; with `compactions`, another thread compacts meanwhile. After each round, checks the
// outcome and that a replay of the log (a reopen, unclean or clean) gives exactly the in-memory
// state: the order in which the commits return must not decide the state, the log's order does.
void GroupOffsetsTest::RunConcurrentCommits(int compactions) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 4;
  constexpr int kCallsPerRound = 40;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::barrier sync(kThreads);
    std::vector<std::thread> threads;
    std::vector<std::string> errors(kThreads + 1);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto rng = testing::SeededRng(static_cast<uint64_t>(round * kThreads + t) + 1);
        const std::string own_group = "own" + std::to_string(t);
        const std::string tag = "t" + std::to_string(t);
        bool failed = false;
        for (int i = 0; i < kCallsPerRound; ++i) {
          sync.arrive_and_wait();
          if (failed) continue;  // keep arriving so that the others are not blocked
          const int64_t n = round * kCallsPerRound + i;
          std::vector<OffsetCommit> commits{
              {"t", static_cast<int32_t>(rng() % 2), Offset(t * 1'000'000 + n), tag},
              {"t", 2, Offset(t * 1'000'000 + n), tag}};
          Status s = store().Commit("shared", commits);
          if (s) s = Commit(own_group, "t", static_cast<int32_t>(n % 3), n, std::to_string(n));
          if (!s) {
            errors[static_cast<size_t>(t)] = s.error().ToString();
            failed = true;
          }
        }
      });
    }
    if (compactions > 0) {
      store();  // creates __consumer_offsets
      // Small segments, so that the cleaner has sealed ones to clean while commits go on.
      ASSERT_OK(
          engine_->AlterInternalTopicConfig(kConsumerOffsetsTopic, {{"segment.bytes", "4096"}}));
    }
    threads.emplace_back([&] {
      for (int i = 0; i < compactions; ++i) {
        if (Status s = store().Compact(); !s) {
          errors[kThreads] = s.error().ToString();
          return;
        }
      }
    });
    for (auto& th : threads) th.join();
    for (const auto& e : errors) ASSERT_TRUE(e.empty()) << e;

    const State live = AllOffsets();
    // Each thread's own keys end at its last commit to them.
    for (int t = 0; t < kThreads; ++t) {
      const std::string own_group = "own" + std::to_string(t);
      for (int32_t p = 0; p < 3; ++p) {
        int64_t last = (round + 1) * kCallsPerRound - 1;
        while (last % 3 != p) --last;
        EXPECT_EQ(Committed(own_group, p), last) << own_group << " partition " << p;
      }
    }
    // The shared keys hold one writer's value, whole (offset and metadata of the same commit).
    for (int32_t p = 0; p < 3; ++p) {
      auto c = store().Fetch("shared", "t", p);
      ASSERT_TRUE(c.has_value()) << p;
      EXPECT_EQ("t" + std::to_string(c->offset.value() / 1'000'000), c->metadata);
    }
    if (round % 2 == 0) {
      CrashAndReopen();
    } else {
      CloseAndReopen();
    }
    ASSERT_EQ(AllOffsets(), live);
  }
}

TEST_F(GroupOffsetsTest, ConcurrentCommitsEndInTheStateAReplayGives) { RunConcurrentCommits(0); }

TEST_F(GroupOffsetsTest, ConcurrentCommitsAndCompactionsEndInTheStateAReplayGives) {
  RunConcurrentCommits(20);
}

TEST_F(GroupOffsetsTest, CompactionBoundsTheLogAndKeepsTheState) {
  // __consumer_offsets rolls at 8 MiB, and the log cleaner cleans only sealed segments: the
  // commits must fill several segments. Each record carries ~400 bytes of metadata (~450 bytes a
  // record), so 120,000 commits write ~54 MB (about 7 segments), and each call of 1000 commits is
  // a ~450 KB batch.
  store();
  ASSERT_OK_AND_ASSIGN(auto offsets_topic, engine_->DescribeTopic(kConsumerOffsetsTopic));
  ASSERT_EQ(offsets_topic.info.config.segment_bytes, 8 << 20) << "resize this test";
  constexpr int kCalls = 120;
  constexpr int kCommitsPerCall = 1000;
  const std::string padding(400, 'x');
  // Six keys: groups g0 and g1 (alternating calls) x partitions 0..2.
  State want;
  for (int call = 0; call < kCalls; ++call) {
    const std::string group = "g" + std::to_string(call % 2);
    std::vector<OffsetCommit> commits;
    for (int i = 0; i < kCommitsPerCall; ++i) {
      const int64_t n = int64_t{call} * kCommitsPerCall + i;
      commits.push_back({"t", static_cast<int32_t>(n % 3), Offset(n), padding + std::to_string(n)});
    }
    ASSERT_OK(store().Commit(group, commits));
    for (const auto& c : commits) {
      want[{group, "t", c.partition}] = {c.offset.value(), c.metadata, clock_.NowMs()};
    }
    clock_.AdvanceMs(1);
  }
  ASSERT_EQ(want.size(), 6u);
  EXPECT_EQ(AllOffsets(), want);
  ASSERT_OK_AND_ASSIGN(auto before, engine_->GetPartitionStats(kConsumerOffsetsTopic, 0));
  EXPECT_GE(before.segment_count, 6u);
  // The topic is compacted: a pass keeps one record per key in the sealed segments (each alone:
  // they were full), and the next one merges what shrank.
  ASSERT_OK(store().Compact());
  ASSERT_OK(store().Compact());
  EXPECT_EQ(AllOffsets(), want);
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats(kConsumerOffsetsTopic, 0));
  EXPECT_EQ(stats.high_watermark, before.high_watermark);
  EXPECT_GE(stats.high_watermark.value(), int64_t{kCalls} * kCommitsPerCall);
  // What is left is the active segment (at most 8 MiB) and a few cleaned records.
  EXPECT_LT(stats.size_bytes, 9ull << 20) << stats.segment_count << " segments";
  EXPECT_LT(stats.segment_count, before.segment_count);

  CloseAndReopen();
  EXPECT_EQ(AllOffsets(), want);
  // Open replays the cleaned records and the active segment (under 20,000 records), not all
  // 120,000 commits.
  const int64_t total = int64_t{kCalls} * kCommitsPerCall;
  EXPECT_LT(store().records_replayed_at_open(), total / 3);
  EXPECT_GT(store().records_replayed_at_open(), 0);
  CrashAndReopen();
  EXPECT_EQ(AllOffsets(), want);
  EXPECT_LT(store().records_replayed_at_open(), total / 3);
}

TEST_F(GroupOffsetsTest, ExplicitCompactionKeepsLiveOffsetsAndDeletions) {
  ASSERT_OK(Commit("a", "t", 0, 1, "x"));
  ASSERT_OK(Commit("a", "t", 0, 2, "y"));
  ASSERT_OK(Commit("b", "t", 1, 3));
  ASSERT_OK(Commit("c", "t", 2, 4));
  ASSERT_OK(store().DeleteGroup("b"));
  const State want = AllOffsets();
  ASSERT_EQ(want.size(), 2u);
  ASSERT_OK(store().Compact());
  EXPECT_EQ(AllOffsets(), want);
  // Committing after a compaction still wins over what the cleaner kept.
  ASSERT_OK(Commit("c", "t", 2, 5));
  State after = want;
  after[{"c", "t", 2}] = {5, "", clock_.NowMs()};
  EXPECT_EQ(AllOffsets(), after);
  CrashAndReopen();
  EXPECT_EQ(AllOffsets(), after);
  EXPECT_EQ(store().ListGroups(), (std::vector<std::string>{"a", "c"}));
}

}  // namespace
}  // namespace sluice::engine

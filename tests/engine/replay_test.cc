#include "engine/replay.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "segment/io/posix_fs.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = testing::OpenTestEngine(testing::TestEngineOptions(dir_.path(), &fs_, &clock_));
    ASSERT_NE(engine_, nullptr);
    ASSERT_OK(engine_->CreateTopic("ev", 3, {{"segment.bytes", "8192"}}));
  }

  // Appends one record "p<partition>.<i>" with timestamp `ts` to `partition`.
  void Put(int32_t partition, int i, int64_t ts) {
    segment::BatchBuilder b;
    b.Add(std::nullopt, "p" + std::to_string(partition) + "." + std::to_string(i), ts);
    auto batch = b.Build();
    ASSERT_OK(batch);
    ASSERT_OK(engine_->Append("ev", partition, base::AsBytes(*batch)));
  }

  struct Seen {
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    std::string value;
    bool operator==(const Seen&) const = default;
  };

  Result<std::vector<Seen>> Run(ReplayOptions o) {
    o.topic = "ev";
    std::vector<Seen> seen;
    auto stats = Replay(*engine_, o, [&](int32_t p, const segment::RecordView& r) {
      seen.push_back({p, r.offset, r.timestamp, std::string(r.value.value_or(""))});
      return base::Status();
    });
    if (!stats) return stats.error();
    stats_ = *stats;
    return seen;
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  ReplayStats stats_;
};

TEST_F(ReplayTest, DeliversEachPartitionInOffsetOrder) {
  for (int i = 0; i < 100; ++i) Put(i % 3, i, 1000 + i);
  ASSERT_OK_AND_ASSIGN(auto seen, Run({}));
  ASSERT_EQ(seen.size(), 100u);
  EXPECT_EQ(stats_.records, 100);
  int64_t prev_partition = -1;
  int64_t prev_offset = -1;
  for (const Seen& s : seen) {
    if (s.partition != prev_partition) {
      EXPECT_GT(s.partition, prev_partition);
      prev_partition = s.partition;
      prev_offset = -1;
    }
    EXPECT_EQ(s.offset, prev_offset + 1);
    prev_offset = s.offset;
  }
  EXPECT_EQ(stats_.end_offsets.at(0), Offset(34));
  EXPECT_EQ(stats_.end_offsets.at(2), Offset(33));
}

TEST_F(ReplayTest, MergesPartitionsByTimestampDeterministically) {
  auto rng = testing::SeededRng();
  std::vector<int64_t> next_ts(3, 0);
  for (int i = 0; i < 300; ++i) {
    const int p = static_cast<int>(rng() % 3);
    next_ts[static_cast<size_t>(p)] += static_cast<int64_t>(rng() % 4);  // ties across partitions
    Put(p, i, next_ts[static_cast<size_t>(p)]);
  }
  ReplayOptions o;
  o.order = ReplayOrder::kByTimestamp;
  ASSERT_OK_AND_ASSIGN(auto first, Run(o));
  ASSERT_EQ(first.size(), 300u);
  for (size_t i = 1; i < first.size(); ++i) {
    const Seen& a = first[i - 1];
    const Seen& b = first[i];
    EXPECT_TRUE(a.timestamp < b.timestamp ||
                (a.timestamp == b.timestamp && a.partition < b.partition) ||
                (a.timestamp == b.timestamp && a.partition == b.partition && a.offset < b.offset))
        << i;
  }
  ASSERT_OK_AND_ASSIGN(auto second, Run(o));
  EXPECT_EQ(first, second);
}

TEST_F(ReplayTest, StartsAndStopsAtOffsetsAndTimestamps) {
  for (int i = 0; i < 50; ++i) Put(0, i, 1000 + 10 * i);
  ReplayOptions o;
  o.partitions = {0};
  o.from = ReplayFrom::Offset(10);
  o.to = ReplayTo::Offset(20);
  ASSERT_OK_AND_ASSIGN(auto by_offset, Run(o));
  ASSERT_EQ(by_offset.size(), 10u);
  EXPECT_EQ(by_offset.front().offset, 10);
  EXPECT_EQ(by_offset.back().offset, 19);
  o.from = ReplayFrom::Timestamp(1095);  // first record at or after: offset 10 (ts 1100)
  o.to = ReplayTo::Timestamp(1300);      // stops before offset 30
  ASSERT_OK_AND_ASSIGN(auto by_time, Run(o));
  ASSERT_EQ(by_time.size(), 20u);
  EXPECT_EQ(by_time.front().offset, 10);
  EXPECT_EQ(by_time.back().offset, 29);
  o.from = ReplayFrom::Timestamp(99999);  // after everything: nothing
  o.to = ReplayTo::Now();
  ASSERT_OK_AND_ASSIGN(auto none, Run(o));
  EXPECT_TRUE(none.empty());
}

TEST_F(ReplayTest, ACutTakenAtTheStartIgnoresLaterAppends) {
  for (int i = 0; i < 30; ++i) Put(i % 3, i, 1000 + i);
  ReplayOptions o;
  int appended = 0;
  o.topic = "ev";
  std::vector<std::string> seen;
  auto stats = Replay(*engine_, o, [&](int32_t, const segment::RecordView& r) {
    seen.emplace_back(r.value.value_or(""));
    // Producers keep appending to every partition while the replay runs.
    for (int32_t p = 0; p < 3; ++p) Put(p, 1000 + appended++, 5000);
    return base::Status();
  });
  ASSERT_OK(stats);
  EXPECT_EQ(seen.size(), 30u);
  for (const auto& v : seen) EXPECT_LT(std::stoi(v.substr(v.find('.') + 1)), 1000) << v;
}

TEST_F(ReplayTest, FollowHandsOverToLiveRecordsWithoutGapOrDuplicate) {
  for (int i = 0; i < 40; ++i) Put(i % 3, i, 1000 + i);
  std::stop_source stop;
  ReplayOptions o;
  o.topic = "ev";
  o.to = ReplayTo::Follow();
  o.stop = stop.get_token();
  constexpr int kTotal = 240;
  std::atomic<int> delivered{0};
  std::vector<std::vector<int64_t>> offsets(3);
  std::thread producer([&] {
    for (int i = 40; i < kTotal; ++i) Put(i % 3, i, 2000 + i);
  });
  auto stats = Replay(*engine_, o, [&](int32_t p, const segment::RecordView& r) {
    offsets[static_cast<size_t>(p)].push_back(r.offset);
    if (++delivered == kTotal) stop.request_stop();
    return base::Status();
  });
  producer.join();
  ASSERT_OK(stats);
  EXPECT_EQ(delivered.load(), kTotal);
  for (int32_t p = 0; p < 3; ++p) {
    const auto& got = offsets[static_cast<size_t>(p)];
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<int64_t>(i)) << p;
    EXPECT_EQ(stats->end_offsets.at(p), Offset(static_cast<int64_t>(got.size())));
  }
}

// While the fold appends, a read near the cut returns records past it: the first of them must be
// handed to the follow phase, not dropped.
TEST_F(ReplayTest, FollowKeepsTheFirstRecordPastTheCutThatWasAlreadyRead) {
  for (int i = 0; i < 10; ++i) Put(0, i, 1000 + i);
  std::stop_source stop;
  ReplayOptions o;
  o.topic = "ev";
  o.partitions = {0};
  o.to = ReplayTo::Follow();
  o.stop = stop.get_token();
  // Reads of about three batches (reads at 0, 3, 6, 9): the one at offset 9 returns 9 and also 10
  // and 11, past the cut, which exist by then. Record 10 is decoded during the cut; 11 follows it.
  ASSERT_OK_AND_ASSIGN(auto first, engine_->Read("ev", 0, Offset(0), 1));
  o.read_bytes = first.batches.at(0).bytes.size() * 7 / 2;
  std::vector<int64_t> offsets;
  auto stats = Replay(*engine_, o, [&](int32_t, const segment::RecordView& r) {
    offsets.push_back(r.offset);
    if (offsets.size() <= 5) Put(0, 100 + static_cast<int>(offsets.size()), 2000);  // live appends
    // A gap means a lost record: stop at once (the assertions below report it).
    if (r.offset != static_cast<int64_t>(offsets.size()) - 1 || offsets.size() == 15) {
      stop.request_stop();
    }
    return base::Status();
  });
  ASSERT_OK(stats);
  ASSERT_EQ(offsets.size(), 15u);
  for (size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], static_cast<int64_t>(i));
}

TEST_F(ReplayTest, FoldErrorsEndTheReplay) {
  for (int i = 0; i < 10; ++i) Put(0, i, 1000 + i);
  ReplayOptions o;
  o.topic = "ev";
  int calls = 0;
  auto stats = Replay(*engine_, o, [&](int32_t, const segment::RecordView&) -> base::Status {
    if (++calls == 3) return base::MakeError(ErrorCode::kInvalidArgument, "bad event");
    return {};
  });
  ASSERT_FALSE(stats.has_value());
  EXPECT_EQ(stats.error().context, "bad event");
  EXPECT_EQ(calls, 3);
}

TEST_F(ReplayTest, HistoryDeletedByRetentionIsAnError) {
  ASSERT_OK(
      engine_->CreateTopic("short", 1, {{"segment.bytes", "4096"}, {"retention.bytes", "4096"}}));
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(engine_->Append("short", 0, base::AsBytes(testing::MakeBatch(2))));
  }
  ASSERT_OK(engine_->EnforceRetention());
  ReplayOptions o;
  o.topic = "short";
  o.from = ReplayFrom::Offset(0);
  auto r = Replay(*engine_, o, [](int32_t, const segment::RecordView&) { return base::Status(); });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfRange);
  o.from = ReplayFrom::Earliest();
  EXPECT_OK(
      Replay(*engine_, o, [](int32_t, const segment::RecordView&) { return base::Status(); }));
  o.topic = "missing";
  EXPECT_EQ(Replay(*engine_, o, [](int32_t, const segment::RecordView&) { return base::Status(); })
                .error()
                .code,
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace sluice::engine

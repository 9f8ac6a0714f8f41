// The worked example of docs/replay-example.md: an account-balance service rebuilt from its event
// history. For many random histories and snapshot points, the state rebuilt from a snapshot plus
// the tail must equal the state rebuilt from offset zero.

#include <gtest/gtest.h>

#include <charconv>
#include <sstream>

#include "engine/replay.h"
#include "engine/snapshot.h"
#include "segment/io/posix_fs.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

// --- the service ----------------------------------------------------------------------------

// Events are records keyed by account: "deposit <amount>" or "withdraw <amount>". A withdrawal
// that would overdraw the account is refused (and counted), so the state depends on event order
// within an account; accounts live in one partition each (key hash), so per-partition order is
// all the order there is.
class Accounts {
 public:
  Status Apply(const segment::RecordView& r) {
    if (!r.key || !r.value) return base::MakeError(base::ErrorCode::kInvalidArgument, "bad event");
    const std::string_view v = *r.value;
    const size_t space = v.find(' ');
    int64_t amount = 0;
    auto [p, ec] = std::from_chars(v.data() + space + 1, v.data() + v.size(), amount);
    if (space == std::string_view::npos || ec != std::errc()) {
      return base::MakeError(base::ErrorCode::kInvalidArgument, "bad amount");
    }
    int64_t& balance = balances_[std::string(*r.key)];
    if (v.substr(0, space) == "deposit") {
      balance += amount;
    } else if (balance >= amount) {
      balance -= amount;
    } else {
      ++refused_;
    }
    return {};
  }

  std::string Serialize() const {
    std::ostringstream out;
    out << refused_ << "\n";
    for (const auto& [account, balance] : balances_) out << account << " " << balance << "\n";
    return out.str();
  }

  Status Restore(base::Bytes blob) {
    std::istringstream in{std::string(base::AsString(blob))};
    balances_.clear();
    if (!(in >> refused_)) return base::MakeError(base::ErrorCode::kCorruption, "bad snapshot");
    std::string account;
    int64_t balance = 0;
    while (in >> account >> balance) balances_[account] = balance;
    return {};
  }

  bool operator==(const Accounts&) const = default;

 private:
  std::map<std::string, int64_t> balances_;
  int64_t refused_ = 0;
};

// --- the test -------------------------------------------------------------------------------

constexpr int32_t kPartitions = 3;

class AccountBalanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = testing::OpenTestEngine(testing::TestEngineOptions(dir_.path(), &fs_, nullptr));
    ASSERT_NE(engine_, nullptr);
  }

  // Appends `n` random events to `topic`, in batches of 1..20.
  void AppendHistory(const std::string& topic, int n, std::mt19937_64& rng) {
    std::vector<segment::BatchBuilder> builders(kPartitions);
    for (int i = 0; i < n; ++i) {
      const std::string account = "acct-" + std::to_string(rng() % 12);
      const auto p = static_cast<int32_t>(std::hash<std::string>()(account) % kPartitions);
      const std::string event =
          std::string(rng() % 3 == 0 ? "withdraw " : "deposit ") + std::to_string(rng() % 500);
      builders[static_cast<size_t>(p)].Add(account, event, 1000 + i);
      if (rng() % 20 == 0 || i + 1 == n) {
        for (int32_t q = 0; q < kPartitions; ++q) {
          auto& b = builders[static_cast<size_t>(q)];
          if (b.empty()) continue;
          auto batch = b.Build();
          ASSERT_OK(batch);
          ASSERT_OK(engine_->Append(topic, q, base::AsBytes(*batch)));
        }
      }
    }
  }

  Accounts RebuildFromZero(const std::string& topic, ReplayTo to) {
    Accounts state;
    ReplayOptions o;
    o.topic = topic;
    o.to = to;
    auto stats =
        Replay(*engine_, o, [&](int32_t, const segment::RecordView& r) { return state.Apply(r); });
    EXPECT_TRUE(stats.has_value()) << stats.error().ToString();
    return state;
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(AccountBalanceTest, SnapshotPlusTailEqualsReplayFromZero) {
  auto rng = testing::SeededRng();
  for (int history = 0; history < 12; ++history) {
    const std::string topic = "accounts-" + std::to_string(history);
    ASSERT_OK(engine_->CreateTopic(topic, kPartitions, {{"segment.bytes", "16384"}}));
    const int rounds = 2 + static_cast<int>(rng() % 4);
    for (int round = 0; round < rounds; ++round) {
      AppendHistory(topic, 50 + static_cast<int>(rng() % 400), rng);
      // Take a snapshot here: replay up to now and save the state with the cut it covers.
      Accounts state;
      ReplayOptions o;
      o.topic = topic;
      auto stats = Replay(*engine_, o,
                          [&](int32_t, const segment::RecordView& r) { return state.Apply(r); });
      ASSERT_OK(stats);
      const std::string blob = state.Serialize();
      ASSERT_OK(SaveSnapshot(*engine_, topic, topic, stats->end_offsets, base::AsBytes(blob), 2));
    }
    AppendHistory(topic, 100 + static_cast<int>(rng() % 300), rng);

    const Accounts from_zero = RebuildFromZero(topic, ReplayTo::Now());
    Accounts from_snapshot;
    ReplayOptions o;
    o.topic = topic;
    ASSERT_OK_AND_ASSIGN(
        RebuildResult rebuilt,
        Rebuild(
            *engine_, topic, o, [&](base::Bytes blob) { return from_snapshot.Restore(blob); },
            [&](int32_t, const segment::RecordView& r) { return from_snapshot.Apply(r); }));
    ASSERT_TRUE(rebuilt.snapshot.has_value());
    EXPECT_EQ(from_snapshot, from_zero) << "history " << history;
    // Only the tail was replayed.
    ASSERT_OK_AND_ASSIGN(auto all, engine_->DescribeTopic(topic));
    int64_t total = 0;
    for (const auto& p : all.partitions) total += p.high_watermark.value();
    EXPECT_LT(rebuilt.stats.records, total);

    // A rebuild to a point in the past uses an older snapshot (or none) and still agrees.
    const int64_t cut = static_cast<int64_t>(rng() % static_cast<uint64_t>(total / kPartitions));
    Accounts past_zero = RebuildFromZero(topic, ReplayTo::Offset(cut));
    Accounts past;
    o.to = ReplayTo::Offset(cut);
    ASSERT_OK(Rebuild(
        *engine_, topic, o, [&](base::Bytes blob) { return past.Restore(blob); },
        [&](int32_t, const segment::RecordView& r) { return past.Apply(r); }));
    EXPECT_EQ(past, past_zero) << "history " << history << " cut " << cut;
  }
}

TEST_F(AccountBalanceTest, CorruptNewestSnapshotFallsBackToAnOlderOne) {
  auto rng = testing::SeededRng(7);
  ASSERT_OK(engine_->CreateTopic("acc", kPartitions, {}));
  std::vector<SnapshotInfo> saved;
  for (int round = 0; round < 2; ++round) {
    AppendHistory("acc", 200, rng);
    Accounts state;
    ReplayOptions o;
    o.topic = "acc";
    auto stats =
        Replay(*engine_, o, [&](int32_t, const segment::RecordView& r) { return state.Apply(r); });
    ASSERT_OK(stats);
    const std::string blob = state.Serialize();
    ASSERT_OK_AND_ASSIGN(
        auto info, SaveSnapshot(*engine_, "acc", "acc", stats->end_offsets, base::AsBytes(blob)));
    saved.push_back(info);
  }
  AppendHistory("acc", 100, rng);
  // Damage the newest snapshot file.
  std::string bytes = testing::ReadWholeFile(saved.back().path);
  bytes[bytes.size() / 2] ^= 0x40;
  testing::WriteWholeFile(saved.back().path, bytes);

  Accounts rebuilt;
  ReplayOptions o;
  o.topic = "acc";
  ASSERT_OK_AND_ASSIGN(
      RebuildResult r,
      Rebuild(
          *engine_, "acc", o, [&](base::Bytes blob) { return rebuilt.Restore(blob); },
          [&](int32_t, const segment::RecordView& rec) { return rebuilt.Apply(rec); }));
  ASSERT_TRUE(r.snapshot.has_value());
  EXPECT_EQ(r.snapshot->sequence, saved.front().sequence);
  EXPECT_EQ(rebuilt, RebuildFromZero("acc", ReplayTo::Now()));
}

}  // namespace
}  // namespace sluice::engine

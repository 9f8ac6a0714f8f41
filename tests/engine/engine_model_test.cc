// Model test (redpanda's storage/opfuzz): random sequences of operations run against the engine
// (on MemFs) and against a plain in-memory model (topics, partitions, the records of each
// partition, the log start, committed group offsets), compared after every step (topics, log
// starts, high watermarks, and what the step read; every record and offset every tenth step) and
// in full after every reopen: a clean Close + Open, or a crash (MemFs::DropUnsynced) after which
// what was acknowledged as durable (flush=sync appends, everything before a Flush) must be there
// and the rest may be lost from the end only.
//
// The operations: create and delete topics, append (batch sizes 1..12, flush=sync and
// flush=none topics, three compression types), read from random offsets, offset for timestamp,
// rolls through a small segment.bytes, retention (DeleteSegmentsBefore, retention.bytes and
// retention.ms), commit and fetch group offsets, flush, reopen.
//
// The model does not know segment boundaries: where the engine deletes whole segments the model
// takes the new log start from the engine, after checking that it only moved forward, not past
// what was asked, and onto a batch boundary.
//
// Seeds: each run's seed comes from --gtest_random_seed and the run number, and is printed with
// the last operations when a check fails; rerun with the same --gtest_random_seed to reproduce.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/group_offsets.h"
#include "segment/base/log.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using io::testing::MemFs;

constexpr char kDataDir[] = "/model";
constexpr int kRuns = 16;
constexpr int kStepsPerRun = 600;

struct ModelRecord {
  int64_t timestamp = 0;
  std::string value;
};

struct ModelPartition {
  std::vector<ModelRecord> records;  // by offset, from 0 (records below log_start are kept)
  std::set<int64_t> batch_starts;    // base offset of every batch appended
  int64_t log_start = 0;
  int64_t durable_end = 0;  // records below this were acknowledged as durable

  int64_t hw() const { return static_cast<int64_t>(records.size()); }
};

struct ModelTopic {
  FlushMode flush = FlushMode::kNone;
  bool retention = false;  // retention.bytes or retention.ms is set
  std::vector<ModelPartition> partitions;
};

using GroupKey = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition

// What the runs did, printed at the end so that a reader sees the operations were exercised.
struct Coverage {
  int64_t appends = 0;
  int64_t reads = 0;
  int64_t timestamp_lookups = 0;
  int64_t segments_deleted = 0;  // operations that moved a log start
  int64_t clean_reopens = 0;
  int64_t crashes = 0;
  int64_t records_lost_in_crashes = 0;  // unflushed flush=none records
  int64_t commits = 0;
  int64_t topics_created = 0;
  int64_t topics_deleted = 0;
};

struct Model {
  std::map<std::string, ModelTopic> topics;
  std::map<GroupKey, int64_t> offsets;
};

// One run: a seeded sequence of operations against a fresh engine and model.
class ModelRun {
 public:
  ModelRun(uint64_t seed, Coverage& coverage) : seed_(seed), rng_(seed), coverage_(coverage) {}

  ~ModelRun() {
    if (engine_ != nullptr) engine_->SimulateCrashForTesting();
  }

  void Run(int steps) {
    Open();
    for (int step = 0; step < steps && !::testing::Test::HasFatalFailure(); ++step) {
      Step();
      // Topics and offsets after every step; every record every tenth step (and at each reopen).
      if (step % 10 == 9) {
        CompareAll();
      } else {
        CompareStats();
      }
      if (::testing::Test::HasFailure()) return;
    }
    CompareAll();
  }

  // What to print when a check fails: the seed and the operations that led there.
  std::string Trace() const {
    std::string out =
        "model run seed " + std::to_string(seed_) + " (rerun with --gtest_random_seed=" +
        std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "); last operations:";
    for (const std::string& op : history_) out += "\n  " + op;
    return out;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  int64_t Between(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));
  }
  void Note(std::string op) {
    history_.push_back(std::move(op));
    if (history_.size() > 30) history_.pop_front();
  }

  void Open() {
    auto opened = Engine::Open(testing::TestEngineOptions(kDataDir, &fs_, &clock_));
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    engine_ = std::move(opened).value();
  }

  // A random topic name from a small pool, so that operations often hit existing topics.
  std::string AnyTopic() { return std::string(1, static_cast<char>('a' + Pick(4))); }

  // An existing topic and partition, if any.
  std::optional<std::pair<std::string, int32_t>> AnyPartition() {
    if (model_.topics.empty()) return std::nullopt;
    auto it = model_.topics.begin();
    std::advance(it, Pick(static_cast<int>(model_.topics.size())));
    return std::pair{it->first, Pick(static_cast<int>(it->second.partitions.size()))};
  }

  void Step() {
    const int op = Pick(100);
    if (op < 6) return CreateTopic();
    if (op < 8) return DeleteTopic();
    if (op < 50) return Append();
    if (op < 62) return Read();
    if (op < 68) return OffsetForTimestamp();
    if (op < 72) return DeleteSegmentsBefore();
    if (op < 75) return EnforceRetention();
    if (op < 82) return Commit();
    if (op < 86) return FetchOffset();
    if (op < 90) return Flush();
    if (op < 95) return clock_.AdvanceMs(Between(1, 2000));
    if (op < 97) return ReopenClean();
    return ReopenAfterCrash();
  }

  void CreateTopic() {
    const std::string name = AnyTopic();
    const int32_t partitions = static_cast<int32_t>(Between(1, 3));
    std::map<std::string, std::string> config;
    const bool sync = Pick(2) == 0;
    config["flush"] = sync ? "sync" : "none";
    config["segment.bytes"] = Pick(2) == 0 ? "4096" : "16384";
    const char* codecs[] = {"none", "zstd", "lz4"};
    config["compression.type"] = codecs[Pick(3)];
    bool retention = false;
    if (Pick(3) == 0) {
      config["retention.bytes"] = std::to_string(Between(4096, 20000));
      retention = true;
    }
    if (Pick(3) == 0) {
      config["retention.ms"] = std::to_string(Between(1000, 10000));
      retention = true;
    }
    std::string described = "create " + name + " partitions=" + std::to_string(partitions);
    for (const auto& [key, value] : config) described += " " + key + "=" + value;
    Note(described);
    Status s = engine_->CreateTopic(name, partitions, config);
    if (model_.topics.count(name) != 0) {
      ASSERT_FALSE(s.has_value()) << "created " << name << " twice";
      EXPECT_EQ(s.error().code, ErrorCode::kAlreadyExists) << s.error().ToString();
      return;
    }
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    ++coverage_.topics_created;
    ModelTopic& t = model_.topics[name];
    t.flush = sync ? FlushMode::kSync : FlushMode::kNone;
    t.retention = retention;
    t.partitions.resize(static_cast<size_t>(partitions));
  }

  void DeleteTopic() {
    const std::string name = AnyTopic();
    Note("delete " + name);
    Status s = engine_->DeleteTopic(name);
    if (model_.topics.erase(name) == 0) {
      ASSERT_FALSE(s.has_value()) << "deleted " << name << ", which does not exist";
      EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().ToString();
      return;
    }
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    ++coverage_.topics_deleted;
  }

  void Append() {
    auto tp = AnyPartition();
    if (!tp) return;
    const auto& [topic, partition] = *tp;
    ModelTopic& t = model_.topics.at(topic);
    ModelPartition& p = t.partitions.at(static_cast<size_t>(partition));
    const int count = static_cast<int>(Between(1, 12));
    segment::BatchBuilder builder;
    std::vector<ModelRecord> records;
    int64_t ts = clock_.NowMs();
    for (int i = 0; i < count; ++i) {
      std::string value = topic + std::to_string(partition) + "@" + std::to_string(p.hw() + i) +
                          ":" + std::string(static_cast<size_t>(Between(0, 250)), 'x');
      ts += Between(0, 3);  // non-decreasing, with ties
      builder.Add(std::nullopt, value, ts);
      records.push_back({ts, std::move(value)});
    }
    auto batch = builder.Build();
    ASSERT_TRUE(batch.has_value()) << batch.error().ToString();
    Note("append " + topic + "-" + std::to_string(partition) + " " + std::to_string(count) +
         " records at " + std::to_string(p.hw()));
    auto r = engine_->Append(topic, partition, base::AsBytes(*batch));
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->base_offset.value(), p.hw());
    EXPECT_EQ(r->last_offset.value(), p.hw() + count - 1);
    ++coverage_.appends;
    p.batch_starts.insert(p.hw());
    for (auto& rec : records) p.records.push_back(std::move(rec));
    if (t.flush == FlushMode::kSync) p.durable_end = p.hw();
  }

  // Decodes a read's batches into (offset, record) pairs.
  static std::vector<std::pair<int64_t, ModelRecord>> Decode(const ReadResult& r) {
    std::vector<std::pair<int64_t, ModelRecord>> out;
    segment::RecordDecoder decoder;
    for (const StoredBatch& b : r.batches) {
      Status s = segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
        out.push_back({rec.offset, {rec.timestamp, std::string(rec.value.value_or("<null>"))}});
        return Status();
      });
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
    }
    return out;
  }

  void Read() {
    auto tp = AnyPartition();
    if (!tp) return;
    const auto& [topic, partition] = *tp;
    const ModelPartition& p = model_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    const int64_t from = Between(std::max<int64_t>(0, p.log_start - 2), p.hw() + 2);
    const size_t max_bytes = static_cast<size_t>(Between(1, 8000));
    Note("read " + topic + "-" + std::to_string(partition) + " from " + std::to_string(from) +
         " max " + std::to_string(max_bytes));
    auto r = engine_->Read(topic, partition, Offset(from), max_bytes);
    ++coverage_.reads;
    if (from < p.log_start || from > p.hw()) {
      ASSERT_FALSE(r.has_value()) << "read from " << from << " outside [" << p.log_start << ", "
                                  << p.hw() << "] succeeded";
      EXPECT_EQ(r.error().code, ErrorCode::kOutOfRange) << r.error().ToString();
      return;
    }
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->high_watermark.value(), p.hw());
    EXPECT_EQ(r->log_start_offset.value(), p.log_start);
    if (from == p.hw()) {
      EXPECT_TRUE(r->batches.empty());
      return;
    }
    ASSERT_FALSE(r->batches.empty()) << "read from " << from << " below " << p.hw() << " is empty";
    if (r->batches.size() > 1) {
      size_t total = 0;
      for (const StoredBatch& b : r->batches) total += b.bytes.size();
      EXPECT_LE(total, max_bytes) << "read returned more than max_bytes in several batches";
    }
    int64_t next = from;
    for (const auto& [offset, rec] : Decode(*r)) {
      if (offset < from) continue;
      ASSERT_EQ(offset, next) << "read from " << from << ": offsets not contiguous";
      ASSERT_LT(offset, p.hw());
      EXPECT_EQ(rec.value, p.records[static_cast<size_t>(offset)].value) << "offset " << offset;
      EXPECT_EQ(rec.timestamp, p.records[static_cast<size_t>(offset)].timestamp)
          << "offset " << offset;
      ++next;
    }
    EXPECT_GT(next, from) << "read from " << from << " returned no record at or after it";
  }

  void OffsetForTimestamp() {
    auto tp = AnyPartition();
    if (!tp) return;
    const auto& [topic, partition] = *tp;
    const ModelPartition& p = model_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    int64_t lo = clock_.NowMs() - 10;
    int64_t hi = clock_.NowMs() + 10;
    if (p.log_start < p.hw()) {
      lo = p.records[static_cast<size_t>(p.log_start)].timestamp - 5;
      hi = p.records.back().timestamp + 5;
    }
    const int64_t ts = Between(lo, hi);
    Note("offset for timestamp " + topic + "-" + std::to_string(partition) + " " +
         std::to_string(ts));
    auto r = engine_->OffsetForTimestamp(topic, partition, ts);
    ++coverage_.timestamp_lookups;
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    std::optional<TimestampOffset> want;
    for (int64_t o = p.log_start; o < p.hw(); ++o) {
      if (p.records[static_cast<size_t>(o)].timestamp >= ts) {
        want = TimestampOffset{Offset(o), p.records[static_cast<size_t>(o)].timestamp};
        break;
      }
    }
    ASSERT_EQ(r->has_value(), want.has_value()) << "timestamp " << ts;
    if (want) {
      EXPECT_EQ((*r)->offset, want->offset) << "timestamp " << ts;
      EXPECT_EQ((*r)->timestamp, want->timestamp) << "timestamp " << ts;
    }
  }

  // Checks a log start the engine chose after deleting segments, and takes it into the model.
  void TakeLogStart(const std::string& topic, int32_t partition, int64_t upper_bound) {
    ModelPartition& p = model_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    auto stats = engine_->GetPartitionStats(topic, partition);
    ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
    const int64_t start = stats->log_start_offset.value();
    EXPECT_GE(start, p.log_start) << topic << "-" << partition << ": the log start went back";
    EXPECT_LE(start, std::max(p.log_start, upper_bound))
        << topic << "-" << partition << ": deleted past what was asked";
    EXPECT_TRUE(start == p.hw() || p.batch_starts.count(start) != 0)
        << topic << "-" << partition << ": log start " << start << " is not a batch boundary";
    if (start != p.log_start) ++coverage_.segments_deleted;
    p.log_start = start;
  }

  void DeleteSegmentsBefore() {
    auto tp = AnyPartition();
    if (!tp) return;
    const auto& [topic, partition] = *tp;
    const ModelPartition& p = model_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    const int64_t before = Between(0, p.hw() + 3);
    Note("delete segments of " + topic + "-" + std::to_string(partition) + " before " +
         std::to_string(before));
    Status s = engine_->DeleteSegmentsBefore(topic, partition, Offset(before));
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    TakeLogStart(topic, partition, before);
  }

  void EnforceRetention() {
    Note("enforce retention");
    Status s = engine_->EnforceRetention();
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    for (auto& [name, t] : model_.topics) {
      for (int32_t i = 0; i < static_cast<int32_t>(t.partitions.size()); ++i) {
        const ModelPartition& p = t.partitions[static_cast<size_t>(i)];
        // Without retention configured nothing may go.
        TakeLogStart(name, i, t.retention ? p.hw() : p.log_start);
      }
    }
  }

  void Commit() {
    // Sometimes a topic or partition that does not exist: kNotFound, nothing stored.
    const std::string group = "g" + std::to_string(Pick(3));
    std::string topic = AnyTopic();
    int32_t partition = static_cast<int32_t>(Pick(4));
    auto tp = AnyPartition();
    if (tp && Pick(4) != 0) std::tie(topic, partition) = *tp;
    const auto t = model_.topics.find(topic);
    const bool exists =
        t != model_.topics.end() && partition < static_cast<int32_t>(t->second.partitions.size());
    const int64_t offset =
        exists ? Between(0, t->second.partitions[static_cast<size_t>(partition)].hw() + 5)
               : Between(0, 100);
    Note("commit " + group + " " + topic + "-" + std::to_string(partition) + " at " +
         std::to_string(offset));
    const OffsetCommit commit{topic, partition, Offset(offset), "meta"};
    Status s = engine_->GroupOffsets().value()->Commit(group, std::span(&commit, 1));
    if (!exists) {
      ASSERT_FALSE(s.has_value()) << "commit to a missing partition succeeded";
      EXPECT_EQ(s.error().code, ErrorCode::kNotFound) << s.error().ToString();
      return;
    }
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    ++coverage_.commits;
    model_.offsets[{group, topic, partition}] = offset;
  }

  void FetchOffset() {
    const GroupKey key{"g" + std::to_string(Pick(3)), AnyTopic(), static_cast<int32_t>(Pick(4))};
    Note("fetch " + std::get<0>(key) + " " + std::get<1>(key) + "-" +
         std::to_string(std::get<2>(key)));
    CompareOffset(key);
  }

  void CompareOffset(const GroupKey& key) {
    const auto& [group, topic, partition] = key;
    auto fetched = engine_->GroupOffsets().value()->Fetch(group, topic, partition);
    auto want = model_.offsets.find(key);
    if (want == model_.offsets.end()) {
      EXPECT_FALSE(fetched.has_value())
          << group << " " << topic << "-" << partition << " has an offset nobody committed";
    } else {
      ASSERT_TRUE(fetched.has_value()) << group << " " << topic << "-" << partition << " lost";
      EXPECT_EQ(fetched->offset.value(), want->second) << group << " " << topic << "-" << partition;
    }
  }

  void Flush() {
    Note("flush");
    Status s = engine_->Flush();
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    for (auto& [name, t] : model_.topics) {
      for (auto& p : t.partitions) p.durable_end = p.hw();
    }
  }

  void ReopenClean() {
    Note("close and reopen");
    Status s = engine_->Close();
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    engine_.reset();
    ASSERT_NO_FATAL_FAILURE(Open());
    ++coverage_.clean_reopens;
    for (auto& [name, t] : model_.topics) {
      for (auto& p : t.partitions) p.durable_end = p.hw();
    }
    CompareAll();
  }

  // Power loss: flush=sync appends and everything before a Flush survive; of the rest, a prefix
  // may. Deletions of segments may be undone (a deleted segment coming back is no loss).
  void ReopenAfterCrash() {
    Note("crash and reopen");
    engine_->SimulateCrashForTesting();
    engine_.reset();
    fs_.DropUnsynced();
    ASSERT_NO_FATAL_FAILURE(Open());
    ++coverage_.crashes;
    for (auto& [name, t] : model_.topics) {
      for (int32_t i = 0; i < static_cast<int32_t>(t.partitions.size()); ++i) {
        ModelPartition& p = t.partitions[static_cast<size_t>(i)];
        auto stats = engine_->GetPartitionStats(name, i);
        ASSERT_TRUE(stats.has_value()) << name << "-" << i << ": " << stats.error().ToString();
        const int64_t hw = stats->high_watermark.value();
        const int64_t start = stats->log_start_offset.value();
        ASSERT_GE(hw, p.durable_end) << name << "-" << i << ": acknowledged durable records lost";
        ASSERT_LE(hw, p.hw()) << name << "-" << i << ": records appeared from nowhere";
        EXPECT_LE(start, p.log_start) << name << "-" << i << ": log start moved by the crash";
        EXPECT_TRUE(hw == p.hw() || p.batch_starts.count(hw) != 0)
            << name << "-" << i << ": recovery cut the log inside a batch, at " << hw;
        EXPECT_TRUE(start == hw || p.batch_starts.count(start) != 0)
            << name << "-" << i << ": log start " << start << " is not a batch boundary";
        // The lost tail goes from the model too; its offsets are used again.
        coverage_.records_lost_in_crashes += p.hw() - hw;
        p.records.resize(static_cast<size_t>(hw));
        p.batch_starts.erase(p.batch_starts.lower_bound(hw), p.batch_starts.end());
        p.log_start = start;
        p.durable_end = hw;  // recovery made what it kept durable
      }
    }
    CompareAll();
  }

  // Topics, partition counts, log starts and high watermarks.
  void CompareStats() {
    std::set<std::string> names;
    for (const TopicInfo& info : engine_->ListTopics()) {
      if (info.name == kConsumerOffsetsTopic) continue;
      names.insert(info.name);
      auto t = model_.topics.find(info.name);
      ASSERT_NE(t, model_.topics.end()) << "topic " << info.name << " is not in the model";
      ASSERT_EQ(info.partitions, static_cast<int32_t>(t->second.partitions.size()));
    }
    ASSERT_EQ(names.size(), model_.topics.size()) << "topics missing from the engine";
    for (const auto& [name, t] : model_.topics) {
      for (int32_t i = 0; i < static_cast<int32_t>(t.partitions.size()); ++i) {
        auto stats = engine_->GetPartitionStats(name, i);
        ASSERT_TRUE(stats.has_value()) << stats.error().ToString();
        EXPECT_EQ(stats->high_watermark.value(), t.partitions[static_cast<size_t>(i)].hw())
            << name << "-" << i;
        EXPECT_EQ(stats->log_start_offset.value(), t.partitions[static_cast<size_t>(i)].log_start)
            << name << "-" << i;
      }
    }
  }

  // Everything: stats, every record of every partition, every committed offset.
  void CompareAll() {
    ASSERT_NO_FATAL_FAILURE(CompareStats());
    for (const auto& [name, t] : model_.topics) {
      for (int32_t i = 0; i < static_cast<int32_t>(t.partitions.size()); ++i) {
        const ModelPartition& p = t.partitions[static_cast<size_t>(i)];
        int64_t next = p.log_start;
        while (next < p.hw()) {
          auto r = engine_->Read(name, i, Offset(next), 64 * 1024);
          ASSERT_TRUE(r.has_value()) << name << "-" << i << ": " << r.error().ToString();
          ASSERT_FALSE(r->batches.empty()) << name << "-" << i << ": nothing at " << next;
          for (const auto& [offset, rec] : Decode(*r)) {
            if (offset < next) continue;
            ASSERT_EQ(offset, next) << name << "-" << i << ": offsets not contiguous";
            ASSERT_EQ(rec.value, p.records[static_cast<size_t>(offset)].value)
                << name << "-" << i << " offset " << offset;
            ++next;
          }
        }
      }
    }
    std::set<std::string> groups;
    for (const auto& [key, offset] : model_.offsets) groups.insert(std::get<0>(key));
    for (const std::string& group : engine_->GroupOffsets().value()->ListGroups()) {
      EXPECT_EQ(groups.count(group), 1u) << "group " << group << " is not in the model";
    }
    for (const auto& [key, offset] : model_.offsets) CompareOffset(key);
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  Coverage& coverage_;
  std::deque<std::string> history_;
  MemFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  Model model_;
};

class EngineModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base::SetLogSink([](base::LogLevel, std::string_view) {});  // recovery warnings are expected
  }
  void TearDown() override { base::SetLogSink(nullptr); }
};

TEST_F(EngineModelTest, RandomOperationsMatchTheModelAcrossReopensAndCrashes) {
  Coverage c;
  for (int run = 0; run < kRuns; ++run) {
    const uint64_t seed = testing::SeededRng(static_cast<uint64_t>(run))();
    ModelRun model(seed, c);
    model.Run(kStepsPerRun);
    if (HasFailure()) {
      ADD_FAILURE() << model.Trace();
      return;
    }
  }
  std::printf(
      "model test: %d runs x %d steps: %lld appends, %lld reads, %lld timestamp lookups, %lld "
      "commits, %lld topics created, %lld deleted, %lld log-start moves, %lld clean reopens, "
      "%lld crashes (%lld unflushed records lost)\n",
      kRuns, kStepsPerRun, static_cast<long long>(c.appends), static_cast<long long>(c.reads),
      static_cast<long long>(c.timestamp_lookups), static_cast<long long>(c.commits),
      static_cast<long long>(c.topics_created), static_cast<long long>(c.topics_deleted),
      static_cast<long long>(c.segments_deleted), static_cast<long long>(c.clean_reopens),
      static_cast<long long>(c.crashes), static_cast<long long>(c.records_lost_in_crashes));
  // The mix must have reached the interesting paths, or the comparisons above prove little.
  EXPECT_GT(c.crashes, 0);
  EXPECT_GT(c.records_lost_in_crashes, 0);
  EXPECT_GT(c.segments_deleted, 0);
  EXPECT_GT(c.topics_deleted, 0);
}

}  // namespace
}  // namespace sluice::engine

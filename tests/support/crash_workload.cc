#include "tests/support/crash_workload.h"

#include <algorithm>
#include <span>

#include "engine/group_offsets.h"
#include "engine/snapshot.h"
#include "segment/dictionary.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine::crash_sweep {
namespace {

using base::Offset;

constexpr int kRounds = 72;

}  // namespace

// The script itself; Workload forwards to it.
class Workload::Script {
 public:
  Script(io::FileSystem& fs, base::ManualClock& clock, Ledger& ledger)
      : fs_(fs), clock_(clock), ledger_(ledger) {}

  Status Run() {
    RETURN_IF_ERROR(OpenEngine());
    RETURN_IF_ERROR(Create("sync", 2, FlushMode::kSync, {{"segment.ms", "1000"}}));
    RETURN_IF_ERROR(Create("none", 1, FlushMode::kNone, {{"retention.bytes", "8192"}}));
    RETURN_IF_ERROR(Create("doomed", 1, FlushMode::kSync, {}));
    // Compacted, compressed by the broker with a dictionary it trains from the first records.
    RETURN_IF_ERROR(Create("dict", 1, FlushMode::kSync,
                           {{"cleanup.policy", "compact"},
                            {"compression.type", "zstd"},
                            {"compression.zstd.dictionary", "auto"},
                            {"segment.ms", "1000"}}));
    for (int round = 0; round < kRounds; ++round) {
      clock_.AdvanceMs(10);
      RETURN_IF_ERROR(Produce("sync", round % 2, 1 + round % 4));
      RETURN_IF_ERROR(Produce("none", 0, 1 + round % 3));
      if (round % 3 == 2) RETURN_IF_ERROR(Produce("sync", (round + 1) % 2, 2));
      if (round % 7 == 3) RETURN_IF_ERROR(ProducePipelined(round % 2 == 0 ? "sync" : "none", 0, 3));
      if (Live("doomed")) RETURN_IF_ERROR(Produce("doomed", round % Partitions("doomed"), 2));
      // Every other round, and a pass every 18: enough to train a dictionary and clean with it
      // four times, while the sweeps (which rerun the workload per crash point) stay affordable
      // under the sanitizers.
      if (round % 2 == 0) RETURN_IF_ERROR(ProduceKeyed("dict", 0, 6));
      if (round % 18 == 16) RETURN_IF_ERROR(Compact("dict"));
      if (round % 4 == 3) RETURN_IF_ERROR(FlushAll());
      if (round % 5 == 4) {
        RETURN_IF_ERROR(CommitAtHighWatermark(kSweepGroup, "sync", round % 2));
        RETURN_IF_ERROR(CommitAtHighWatermark(kSweepGroup, "none", 0));
      }
      if (round % 16 == 5) RETURN_IF_ERROR(CommitAtHighWatermark(kSweepOtherGroup, "sync", 0));
      if (round % 16 == 9) RETURN_IF_ERROR(ResetToEarliest(kSweepOtherGroup, "sync"));
      if (round % 16 == 13) RETURN_IF_ERROR(DeleteGroup(kSweepOtherGroup));
      // Time passes: segment.ms rolls the active segments of "sync" now and then.
      if (round % 10 == 5) clock_.AdvanceMs(1500);
      if (round == kRounds / 4) RETURN_IF_ERROR(Alter("none", {{"retention.bytes", "6000"}}));
      if (round % 10 == 9) RETURN_IF_ERROR(Snapshot(round));
      if (round % 12 == 11) RETURN_IF_ERROR(DeleteBeforeHalf("sync", 0));
      if (round % 8 == 7) RETURN_IF_ERROR(Retention());
      if (round % 15 == 14) RETURN_IF_ERROR(AllocateProducerId());
      if (round % 3 == 0) RETURN_IF_ERROR(ProduceIdempotent("sync", 1, round / 3));
      if (round % 20 == 19) RETURN_IF_ERROR(CompactGroupOffsets());
      if (round == kRounds / 3) RETURN_IF_ERROR(Delete("doomed"));
      // The same name again, with another partition count: none of the old data may show.
      if (round == kRounds / 3 + 4) {
        RETURN_IF_ERROR(Create("doomed", 2, FlushMode::kNone, {}));
      }
      if (round == kRounds / 2) {
        RETURN_IF_ERROR(CloseEngine());
        RETURN_IF_ERROR(OpenEngine());
      }
      if (round == 2 * kRounds / 3) RETURN_IF_ERROR(RebuildCatalog());
    }
    RETURN_IF_ERROR(CheckCovered("dict"));
    return CloseEngine();
  }

  // After a failed Run: stop the engine as a killed process would.
  void Abandon() {
    if (engine_ != nullptr) engine_->SimulateCrashForTesting();
    engine_.reset();
  }

 private:
  bool Live(const std::string& topic) const {
    auto it = ledger_.topics.find(topic);
    return it != ledger_.topics.end() && it->second.state == TopicState::kLive;
  }
  int32_t Partitions(const std::string& topic) const {
    return static_cast<int32_t>(ledger_.topics.at(topic).partitions.size());
  }

  Status OpenEngine() {
    ledger_.op = "open";
    EngineOptions options = testing::TestEngineOptions(kSweepDataDir, &fs_, &clock_);
    // Asynchronous appends are written when ProducePipelined runs the held writer tasks, on this
    // thread: the same operations in the same order every run.
    options.run_writer = [this](std::function<void()> task) {
      held_writers_.push_back(std::move(task));
    };
    // Small enough that "dict" trains its dictionary a few rounds in, on the append that fills
    // the sample (not on a thread of its own: the same operations in the same order every run).
    options.dictionary.sample_bytes = 8 << 10;
    options.dictionary.dictionary_bytes = 2 << 10;
    options.dictionary.train_in_background = false;
    ASSIGN_OR_RETURN(engine_, Engine::Open(options));
    return {};
  }

  // A clean shutdown: everything appended so far is durable once it returns.
  Status CloseEngine() {
    ledger_.op = "close";
    Status s = engine_->Close();
    engine_.reset();
    RETURN_IF_ERROR(s);
    MarkAllDurable();
    return {};
  }

  Status Create(const std::string& name, int32_t partitions, FlushMode flush,
                std::map<std::string, std::string> changes) {
    ledger_.op = "create topic " + name;
    changes["flush"] = flush == FlushMode::kSync ? "sync" : "none";
    changes["segment.bytes"] = "4096";
    changes.try_emplace("compression.type", "none");
    TopicLedger& t = ledger_.topics[name];
    t = TopicLedger{};
    t.flush = flush;
    t.retention = changes.count("retention.bytes") != 0;
    t.compacted = changes.count("cleanup.policy") != 0 &&
                  changes.at("cleanup.policy").find("compact") != std::string::npos;
    t.config = changes;
    t.partitions.resize(static_cast<size_t>(partitions));
    RETURN_IF_ERROR(engine_->CreateTopic(name, partitions, changes));
    t.state = TopicState::kLive;
    return {};
  }

  Status Alter(const std::string& name, const std::map<std::string, std::string>& changes) {
    ledger_.op = "alter topic " + name;
    TopicLedger& t = ledger_.topics.at(name);
    t.config_in_flight = changes;
    RETURN_IF_ERROR(engine_->AlterTopicConfig(name, changes));
    for (const auto& [key, value] : changes) t.config[key] = value;
    t.config_in_flight.clear();
    return {};
  }

  Status Delete(const std::string& name) {
    ledger_.op = "delete topic " + name;
    TopicLedger& t = ledger_.topics.at(name);
    t.state = TopicState::kDeleting;
    RETURN_IF_ERROR(engine_->DeleteTopic(name));
    t.state = TopicState::kDeleted;
    return {};
  }

  // One batch of `count` records, each value naming its topic, partition and sequence (padded so
  // that 4 KiB segments roll every few batches).
  Status Produce(const std::string& topic, int32_t partition, int count) {
    PartitionLedger& p = ledger_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    ledger_.op = "append to " + topic + "-" + std::to_string(partition) + " at offset " +
                 std::to_string(p.acked.size());
    segment::BatchBuilder builder;
    std::vector<std::string> values;
    for (int i = 0; i < count; ++i) {
      std::string v = topic + "/" + std::to_string(partition) + "/" + std::to_string(serial_++);
      v.resize(120, '.');
      builder.Add(std::nullopt, v, clock_.NowMs());
      values.push_back(std::move(v));
    }
    ASSIGN_OR_RETURN(std::string batch, builder.Build());
    p.in_flight = values;
    ASSIGN_OR_RETURN(AppendResult r, engine_->Append(topic, partition, base::AsBytes(batch)));
    p.in_flight.clear();
    if (r.base_offset.value() != static_cast<int64_t>(p.acked.size())) {
      return base::MakeError(base::ErrorCode::kInternal, ledger_.op + ": appended at offset " +
                                                             std::to_string(r.base_offset.value()));
    }
    for (auto& v : values) p.acked.push_back(std::move(v));
    if (ledger_.topics.at(topic).flush == FlushMode::kSync) p.durable = p.acked.size();
    return {};
  }

  // One batch of `count` keyed records (nine keys, each overwritten every few rounds) of
  // telemetry-like values that name their topic, partition and sequence, appended uncompressed
  // (the topic compresses them).
  Status ProduceKeyed(const std::string& topic, int32_t partition, int count) {
    PartitionLedger& p = ledger_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    ledger_.op = "append to " + topic + "-" + std::to_string(partition) + " at offset " +
                 std::to_string(p.acked.size());
    segment::BatchBuilder builder;
    std::vector<std::string> values;
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) {
      const int64_t n = serial_++;
      std::string v = topic + "/" + std::to_string(partition) + "/" + std::to_string(n) +
                      ".{\"host\":\"web-" + std::to_string(n % 16) + "\",\"metric\":\"m" +
                      std::to_string(n % 5) + "\",\"value\":" + std::to_string(n * 7919 % 1000) +
                      "}";
      v.resize(120, '.');
      keys.push_back("key" + std::to_string(n % 9));
      builder.Add(keys.back(), v, clock_.NowMs());
      values.push_back(std::move(v));
    }
    ASSIGN_OR_RETURN(std::string batch, builder.Build());
    p.in_flight = values;
    ASSIGN_OR_RETURN(AppendResult r, engine_->Append(topic, partition, base::AsBytes(batch)));
    p.in_flight.clear();
    if (r.base_offset.value() != static_cast<int64_t>(p.acked.size())) {
      return base::MakeError(base::ErrorCode::kInternal, ledger_.op + ": appended at offset " +
                                                             std::to_string(r.base_offset.value()));
    }
    for (auto& v : values) p.acked.push_back(std::move(v));
    for (auto& k : keys) p.keys.push_back(std::move(k));
    if (ledger_.topics.at(topic).flush == FlushMode::kSync) p.durable = p.acked.size();
    return {};
  }

  // One pass of the log cleaner over a compacted topic (`sluice topic compact`).
  Status Compact(const std::string& topic) {
    ledger_.op = "compact " + topic;
    ASSIGN_OR_RETURN(auto done, engine_->CompactTopic(topic));
    for (const auto& [partition, stats] : done) passes_cleaned_ += stats.cleaned ? 1 : 0;
    return {};
  }

  // That the sweep covers what it is meant to: passes that rewrote segments of `topic`, whose
  // partition trained a dictionary (else this workload is not what the sweep checks).
  Status CheckCovered(const std::string& topic) {
    ledger_.op = "list the dictionaries of " + topic;
    ASSIGN_OR_RETURN(
        std::vector<uint32_t> ids,
        segment::ListDictionaryIds(fs_, std::string(kSweepDataDir) + "/" + topic + "-0"));
    if (ids.empty() || passes_cleaned_ == 0) {
      return base::MakeError(base::ErrorCode::kInternal,
                             topic + ": " + std::to_string(ids.size()) + " zstd dictionaries, " +
                                 std::to_string(passes_cleaned_) +
                                 " cleaning passes: the workload does not cover the cleaner on "
                                 "dictionary batches");
    }
    return {};
  }

  // `batches` batches of 2 records appended asynchronously (a pipelining connection's Produces):
  // all queued first, then written as one group (one write and, on flush=sync, one fdatasync)
  // when the writer task runs.
  Status ProducePipelined(const std::string& topic, int32_t partition, int batches) {
    PartitionLedger& p = ledger_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    const bool sync = ledger_.topics.at(topic).flush == FlushMode::kSync;
    ledger_.op = "pipelined appends to " + topic + "-" + std::to_string(partition) + " at offset " +
                 std::to_string(p.acked.size());
    std::vector<std::string> encoded;
    std::vector<std::vector<std::string>> values(static_cast<size_t>(batches));
    for (auto& vs : values) {
      segment::BatchBuilder builder;
      for (int i = 0; i < 2; ++i) {
        std::string v = topic + "/" + std::to_string(partition) + "/" + std::to_string(serial_++);
        v.resize(120, '.');
        builder.Add(std::nullopt, v, clock_.NowMs());
        vs.push_back(v);
        p.in_flight.push_back(std::move(v));
      }
      ASSIGN_OR_RETURN(std::string batch, builder.Build());
      encoded.push_back(std::move(batch));
    }
    Status failed;
    for (size_t b = 0; b < encoded.size(); ++b) {
      const Bytes bytes = base::AsBytes(encoded[b]);
      engine_->AppendBatchesAsync(
          topic, partition, std::span<const Bytes>(&bytes, 1), [&, b](Result<AppendResult> r) {
            if (!r) {
              if (failed) failed = std::move(r).error();
              return;
            }
            if (r->base_offset.value() != static_cast<int64_t>(p.acked.size())) {
              failed = base::MakeError(base::ErrorCode::kInternal,
                                       ledger_.op + ": batch " + std::to_string(b) +
                                           " appended at offset " +
                                           std::to_string(r->base_offset.value()));
              return;
            }
            // Acknowledged in queue order: move its values from in flight to acknowledged.
            for (auto& v : values[b]) {
              p.acked.push_back(std::move(v));
              p.in_flight.erase(p.in_flight.begin());
            }
            if (sync) p.durable = p.acked.size();
          });
    }
    while (!held_writers_.empty()) {
      std::function<void()> task = std::move(held_writers_.front());
      held_writers_.erase(held_writers_.begin());
      task();
    }
    return failed;  // on failure what was not acknowledged stays in flight: it may be on disk
  }

  // One batch of 2 records from an idempotent producer (id from AllocateProducerId at its first
  // batch, epoch 0, sequence 2 * n).
  Status ProduceIdempotent(const std::string& topic, int32_t partition, int n) {
    if (producer_id_ < 0) {
      RETURN_IF_ERROR(AllocateProducerId());
      producer_id_ = ledger_.max_producer_id;
    }
    PartitionLedger& p = ledger_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    ledger_.op = "idempotent append to " + topic + "-" + std::to_string(partition) + " at offset " +
                 std::to_string(p.acked.size());
    segment::BatchBuilder builder;
    std::vector<std::string> values;
    for (int i = 0; i < 2; ++i) {
      std::string v = topic + "/" + std::to_string(partition) + "/" + std::to_string(serial_++);
      v.resize(120, '.');
      builder.Add(std::nullopt, v, clock_.NowMs());
      values.push_back(std::move(v));
    }
    ASSIGN_OR_RETURN(
        std::string batch,
        builder.Build(base::Codec::kNone, 0, segment::ProducerInfo{producer_id_, 0, 2 * n}));
    p.in_flight = values;
    ASSIGN_OR_RETURN(AppendResult r, engine_->Append(topic, partition, base::AsBytes(batch)));
    p.in_flight.clear();
    if (r.duplicate || r.base_offset.value() != static_cast<int64_t>(p.acked.size())) {
      return base::MakeError(base::ErrorCode::kInternal, ledger_.op + ": appended at offset " +
                                                             std::to_string(r.base_offset.value()));
    }
    for (auto& v : values) p.acked.push_back(std::move(v));
    if (ledger_.topics.at(topic).flush == FlushMode::kSync) p.durable = p.acked.size();
    ledger_.idempotent_batch = std::move(batch);
    ledger_.idempotent_partition = {topic, partition};
    ledger_.idempotent_offset = r.base_offset.value();
    return {};
  }

  // Runs the log cleaner over __consumer_offsets (a compacted topic).
  Status CompactGroupOffsets() {
    ledger_.op = "compact group offsets";
    ASSIGN_OR_RETURN(GroupOffsetStore * store, engine_->GroupOffsets());
    return store->Compact();
  }

  Status FlushAll() {
    ledger_.op = "flush";
    RETURN_IF_ERROR(engine_->Flush());
    MarkAllDurable();
    return {};
  }

  void MarkAllDurable() {
    for (auto& [name, t] : ledger_.topics) {
      for (auto& p : t.partitions) p.durable = p.acked.size();
    }
  }

  Status CommitAtHighWatermark(const std::string& group, const std::string& topic,
                               int32_t partition) {
    ledger_.op = "commit " + group + " " + topic + "-" + std::to_string(partition);
    ASSIGN_OR_RETURN(PartitionStats stats, engine_->GetPartitionStats(topic, partition));
    ledger_.commit_in_flight = {{{group, topic, partition}, stats.high_watermark.value()}};
    const OffsetCommit commit{topic, partition, stats.high_watermark, "m"};
    ASSIGN_OR_RETURN(GroupOffsetStore * store, engine_->GroupOffsets());
    if (!offsets_roll_by_time_) {
      // __consumer_offsets rolls its active segment by time here, so that the log cleaner
      // (CompactGroupOffsets) has sealed segments to clean under the sweep.
      RETURN_IF_ERROR(
          engine_->AlterInternalTopicConfig(kConsumerOffsetsTopic, {{"segment.ms", "1000"}}));
      offsets_roll_by_time_ = true;
    }
    RETURN_IF_ERROR(store->Commit(group, std::span(&commit, 1)));
    return AckGroupChange();
  }

  // Moves the group's offsets of every partition of `topic` back to the log start.
  Status ResetToEarliest(const std::string& group, const std::string& topic) {
    ledger_.op = "reset offsets of " + group + " on " + topic;
    ledger_.commit_in_flight.clear();
    for (int32_t p = 0; p < Partitions(topic); ++p) {
      ASSIGN_OR_RETURN(PartitionStats stats, engine_->GetPartitionStats(topic, p));
      ledger_.commit_in_flight[{group, topic, p}] = stats.log_start_offset.value();
    }
    ASSIGN_OR_RETURN(GroupOffsetStore * store, engine_->GroupOffsets());
    RETURN_IF_ERROR(store->ResetOffsets(group, topic, ResetTarget::Earliest(), DryRun::kNo));
    return AckGroupChange();
  }

  Status DeleteGroup(const std::string& group) {
    ledger_.op = "delete group " + group;
    ledger_.commit_in_flight.clear();
    for (const auto& [key, value] : ledger_.committed) {
      if (std::get<0>(key) == group && value) ledger_.commit_in_flight[key] = std::nullopt;
    }
    ASSIGN_OR_RETURN(GroupOffsetStore * store, engine_->GroupOffsets());
    RETURN_IF_ERROR(store->DeleteGroup(group));
    return AckGroupChange();
  }

  Status AckGroupChange() {
    for (const auto& [key, value] : ledger_.commit_in_flight) ledger_.committed[key] = value;
    ledger_.commit_in_flight.clear();
    return {};
  }

  Status Snapshot(int round) {
    ledger_.op = "save snapshot";
    std::map<int32_t, Offset> offsets;
    for (int32_t p = 0; p < 2; ++p) {
      ASSIGN_OR_RETURN(PartitionStats stats, engine_->GetPartitionStats("sync", p));
      offsets[p] = stats.high_watermark;
    }
    std::string blob = "state after round " + std::to_string(round);
    ledger_.snapshot_in_flight = blob;
    ASSIGN_OR_RETURN(SnapshotInfo info, SaveSnapshot(*engine_, kSweepSnapshotName, "sync", offsets,
                                                     base::AsBytes(blob), /*keep=*/2));
    ledger_.snapshots[info.sequence] = std::move(blob);
    ledger_.snapshot_in_flight.reset();
    return {};
  }

  Status DeleteBeforeHalf(const std::string& topic, int32_t partition) {
    ledger_.op = "delete segments of " + topic + "-" + std::to_string(partition);
    PartitionLedger& p = ledger_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    const int64_t before = static_cast<int64_t>(p.acked.size()) / 2;
    p.deletable_below = std::max(p.deletable_below, before);
    RETURN_IF_ERROR(engine_->DeleteSegmentsBefore(topic, partition, Offset(before)));
    return CheckLogStart(topic, partition);
  }

  // The log start the engine reports is not above what the workload allowed deleting.
  Status CheckLogStart(const std::string& topic, int32_t partition) {
    const PartitionLedger& p =
        ledger_.topics.at(topic).partitions.at(static_cast<size_t>(partition));
    ASSIGN_OR_RETURN(PartitionStats stats, engine_->GetPartitionStats(topic, partition));
    if (stats.log_start_offset.value() > p.deletable_below) {
      return base::MakeError(
          base::ErrorCode::kInternal,
          ledger_.op + ": log start " + std::to_string(stats.log_start_offset.value()) +
              " but only records below " + std::to_string(p.deletable_below) + " could go");
    }
    return {};
  }

  // Retention deletes whole segments of the topics with retention.bytes; how far it may go
  // depends on segment sizes, which the ledger does not know, so it allows anything below the end
  // (a weak bound: that it keeps retention.bytes is the model test's and engine_test's to check).
  // Topics without retention lose nothing: CheckLogStart holds them to their own deletes.
  Status Retention() {
    ledger_.op = "enforce retention";
    for (auto& [name, t] : ledger_.topics) {
      if (!t.retention || t.state != TopicState::kLive) continue;
      for (auto& p : t.partitions) p.deletable_below = static_cast<int64_t>(p.acked.size());
    }
    RETURN_IF_ERROR(engine_->EnforceRetention());
    for (const auto& [name, t] : ledger_.topics) {
      if (t.state != TopicState::kLive) continue;
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        RETURN_IF_ERROR(CheckLogStart(name, static_cast<int32_t>(i)));
      }
    }
    return {};
  }

  Status AllocateProducerId() {
    ledger_.op = "allocate producer id";
    ASSIGN_OR_RETURN(int64_t id, engine_->AllocateProducerId());
    ledger_.max_producer_id = std::max(ledger_.max_producer_id, id);
    return {};
  }

  // Hook for the step "rebuild the catalog from the partition directories" (issue 10): it lands
  // with the catalog rework. Until then the step does nothing and issues no operation.
  Status RebuildCatalog() {
    ledger_.op = "rebuild catalog";
    return {};
  }

  io::FileSystem& fs_;
  base::ManualClock& clock_;
  Ledger& ledger_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::function<void()>> held_writers_;  // writer tasks, run by ProducePipelined
  int64_t serial_ = 0;                               // makes every record value unique
  int64_t producer_id_ = -1;
  bool offsets_roll_by_time_ = false;  // __consumer_offsets' segment.ms was set
  int passes_cleaned_ = 0;             // cleaning passes of Compact that rewrote segments
};

Workload::Workload(io::FileSystem& fs, base::ManualClock& clock, Ledger& ledger)
    : script_(std::make_unique<Script>(fs, clock, ledger)) {}

Workload::~Workload() { Abandon(); }

Status Workload::Run() { return script_->Run(); }

void Workload::Abandon() { script_->Abandon(); }

}  // namespace sluice::engine::crash_sweep

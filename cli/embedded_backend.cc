// The backend of --data-dir: every operation straight on the embedded engine.

#include <algorithm>

#include "cli/backend.h"

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::MakeError;

constexpr size_t kReadBytes = 1 << 20;

// Produces through per-partition batch builders; appends a partition's batch when it is full.
//
// Partitioning: SinkOptions::partition puts every record there. Otherwise a record with a key goes
// to murmur2(key) % partitions, and records without a key go round robin, one batch at a time
// (Kafka's "sticky" partitioner): the partition changes whenever a batch is sent.
class EmbeddedSink : public RecordSink {
 public:
  EmbeddedSink(engine::Engine& engine, std::string topic, int32_t partitions,
               const SinkOptions& options, size_t batch_limit_bytes)
      : engine_(engine),
        topic_(std::move(topic)),
        options_(options),
        limit_bytes_(batch_limit_bytes),
        pending_(static_cast<size_t>(partitions)) {}

  Status Add(const InputRecord& r, int64_t line_no) override {
    const int32_t p = ChoosePartition(r.key);
    Pending& pending = pending_[static_cast<size_t>(p)];
    size_t size = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0) + 32;
    headers_.clear();
    for (const auto& [k, v] : r.headers) {
      headers_.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
      size += k.size() + (v ? v->size() : 0) + 8;
    }
    if (!pending.builder.empty() && pending.builder.records_bytes() + size > limit_bytes_) {
      RETURN_IF_ERROR(Send(p));
    }
    if (pending.builder.empty()) pending.first_line = line_no;
    pending.last_line = line_no;
    auto view = [](const std::optional<std::string>& s) {
      return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    pending.builder.Add(view(r.key), view(r.value), r.timestamp.value_or(engine_.clock().NowMs()),
                        headers_);
    pending.records++;
    pending.bytes += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    if (pending.builder.record_count() >= options_.batch_records ||
        pending.builder.records_bytes() >= limit_bytes_) {
      RETURN_IF_ERROR(Send(p));
    }
    return {};
  }

  Status Flush() override {
    for (size_t p = 0; p < pending_.size(); ++p) RETURN_IF_ERROR(Send(static_cast<int32_t>(p)));
    return {};
  }

  int64_t records() const override { return records_; }
  uint64_t bytes() const override { return bytes_; }

 private:
  struct Pending {
    segment::BatchBuilder builder;
    int64_t records = 0;
    uint64_t bytes = 0;
    int64_t first_line = 0;
    int64_t last_line = 0;
  };

  int32_t ChoosePartition(const std::optional<std::string>& key) const {
    const auto n = static_cast<uint32_t>(pending_.size());
    if (options_.partition >= 0) return options_.partition;
    if (key) return static_cast<int32_t>((Murmur2(*key) & 0x7fffffffu) % n);
    return sticky_;
  }

  Status Send(int32_t p) {
    Pending& pending = pending_[static_cast<size_t>(p)];
    if (pending.builder.empty()) return {};
    auto fail = [&](const base::Error& e) {
      std::string lines = "line " + std::to_string(pending.first_line);
      if (pending.last_line != pending.first_line) {
        lines = "lines " + std::to_string(pending.first_line) + ".." +
                std::to_string(pending.last_line);
      }
      return MakeError(
          e.code, lines + ": append to " + topic_ + "-" + std::to_string(p) + ": " + e.ToString());
    };
    auto batch = pending.builder.Build(options_.compression);
    if (!batch) return fail(batch.error());
    if (auto r = engine_.Append(topic_, p, base::AsBytes(*batch)); !r) return fail(r.error());
    records_ += pending.records;
    bytes_ += pending.bytes;
    pending.records = 0;
    pending.bytes = 0;
    if (p == sticky_) sticky_ = (sticky_ + 1) % static_cast<int32_t>(pending_.size());
    return {};
  }

  engine::Engine& engine_;
  const std::string topic_;
  const SinkOptions options_;
  const size_t limit_bytes_;
  std::vector<Pending> pending_;
  std::vector<segment::RecordHeader> headers_;  // scratch
  int32_t sticky_ = 0;                          // partition for records without a key
  int64_t records_ = 0;                         // appended
  uint64_t bytes_ = 0;                          // of keys and values appended
};

class EmbeddedReader : public RecordReader {
 public:
  EmbeddedReader(engine::Engine& engine, std::string topic)
      : engine_(engine), topic_(std::move(topic)) {}

  Status Assign(const std::vector<std::pair<int32_t, Offset>>&) override { return {}; }

  Status Read(int32_t partition, Offset from, const RecordFn& fn) override {
    ASSIGN_OR_RETURN(engine::ReadResult read, engine_.Read(topic_, partition, from, kReadBytes));
    decoder_.set_dictionaries(read.dictionaries.get());
    for (const auto& batch : read.batches) {
      RETURN_IF_ERROR(decoder_.Reset(batch.bytes, batch.header));
      for (;;) {
        ASSIGN_OR_RETURN(auto rec, decoder_.Next());
        if (!rec) break;
        if (rec->offset < from.value()) continue;
        if (!fn(*rec)) return {};
      }
    }
    return {};
  }

  Status Wait(int32_t partition, Offset from, int64_t timeout_ms) override {
    ASSIGN_OR_RETURN(Offset hw, engine_.WaitForData(topic_, partition, from, timeout_ms));
    (void)hw;
    return {};
  }

 private:
  engine::Engine& engine_;
  const std::string topic_;
  segment::RecordDecoder decoder_;
};

class EmbeddedBackend : public Backend {
 public:
  explicit EmbeddedBackend(engine::Engine& engine) : engine_(engine) {}

  Status CreateTopic(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& config) override {
    return engine_.CreateTopic(name, partitions, config);
  }

  Result<std::vector<TopicSummary>> ListTopics(IncludeInternal internal) override {
    std::vector<TopicSummary> out;
    for (const auto& t : engine_.ListTopics()) {
      if (internal == IncludeInternal::kNo && engine::IsInternalTopic(t.name)) continue;
      ASSIGN_OR_RETURN(engine::TopicDescription d, engine_.DescribeTopic(t.name));
      TopicSummary s{t.name, t.partitions, 0, uint64_t{0}, 0};
      for (const auto& p : d.partitions) {
        s.records += p.high_watermark - p.log_start_offset;
        *s.size_bytes += p.size_bytes;
        if (p.offline) ++s.offline_partitions;
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<TopicDetails> DescribeTopic(const std::string& name) override {
    ASSIGN_OR_RETURN(engine::TopicDescription d, engine_.DescribeTopic(name));
    TopicDetails out;
    out.name = name;
    out.partitions = ToSummaries(d);
    out.config = engine::ConfigToMap(d.info.config);
    return out;
  }

  Status DeleteTopic(const std::string& name) override { return engine_.DeleteTopic(name); }

  Status AlterTopicConfig(const std::string& name,
                          const std::map<std::string, std::string>& config) override {
    return engine_.AlterTopicConfig(name, config);
  }

  Status AddPartitions(const std::string& name, int32_t count) override {
    return engine_.CreatePartitions(name, count);
  }

  Result<std::vector<PartitionSummary>> Partitions(const std::string& topic) override {
    ASSIGN_OR_RETURN(engine::TopicDescription d, engine_.DescribeTopic(topic));
    return ToSummaries(d);
  }

  Result<std::optional<Offset>> OffsetForTimestamp(const std::string& topic, int32_t partition,
                                                   int64_t timestamp_ms) override {
    ASSIGN_OR_RETURN(auto found, engine_.OffsetForTimestamp(topic, partition, timestamp_ms));
    if (!found) return std::optional<Offset>();
    return std::optional<Offset>(found->offset);
  }

  Result<std::map<int32_t, engine::CommittedOffset>> FetchCommitted(
      const std::string& group, const std::string& topic) override {
    std::map<int32_t, engine::CommittedOffset> out;
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    for (const auto& [tp, c] : store->FetchAll(group)) {
      // A negative committed offset (kafkajs's reset to earliest) is no position, as over Kafka.
      if (tp.first == topic && c.offset >= Offset(0)) out[tp.second] = c;
    }
    return out;
  }

  Status Commit(const std::string& group, std::span<const engine::OffsetCommit> commits) override {
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    return store->Commit(group, commits);
  }

  Result<std::vector<GroupSummary>> ListGroups() override {
    std::vector<GroupSummary> out;
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    for (const std::string& g : store->ListGroups()) {
      GroupSummary s;
      s.group = g;
      const auto committed = store->FetchAll(g);
      for (const auto& [tp, c] : committed) s.topics.insert(tp.first);
      s.partitions = committed.size();
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<std::vector<GroupPartitionLag>> DescribeGroup(const std::string& group) override {
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    ASSIGN_OR_RETURN(auto status, store->Describe(group));
    std::vector<GroupPartitionLag> out;
    for (const auto& s : status) {
      GroupPartitionLag l;
      l.topic = s.topic;
      l.partition = s.partition;
      l.committed = s.committed.offset;
      l.metadata = s.committed.metadata;
      l.commit_time_ms = s.committed.commit_time_ms;
      // A partition whose topic was deleted after the commit has no end offset or lag.
      l.topic_exists = engine_.GetPartitionStats(s.topic, s.partition).has_value();
      l.log_start_offset = s.log_start_offset;
      l.end_offset = s.log_end_offset;
      l.lag_records = s.lag_records;
      l.lag_ms = s.lag_ms;
      out.push_back(std::move(l));
    }
    return out;
  }

  Result<GroupState> DescribeGroupState(const std::string& group) override {
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    GroupState out;
    out.state = store->FetchAll(group).empty() ? "Dead" : "Empty";
    return out;
  }

  Result<std::vector<engine::ResetPlanEntry>> ResetOffsets(const std::string& group,
                                                           const std::string& topic,
                                                           engine::ResetTarget target,
                                                           engine::DryRun dry_run) override {
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    return store->ResetOffsets(group, topic, target, dry_run);
  }

  Status DeleteGroup(const std::string& group) override {
    ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine_.GroupOffsets());
    return store->DeleteGroup(group);
  }

  Result<std::unique_ptr<RecordSink>> OpenSink(const std::string& topic,
                                               const SinkOptions& options) override {
    ASSIGN_OR_RETURN(engine::TopicDescription desc, engine_.DescribeTopic(topic));
    // A batch must stay below the topic's limits (checked on the uncompressed batch).
    const int64_t cap =
        std::min(desc.info.config.max_message_bytes, desc.info.config.segment_bytes);
    const auto limit =
        static_cast<size_t>(std::max<int64_t>(1, std::min(options.batch_bytes, cap - 4096)));
    // Batches are compressed here only where the topic stores them as sent (compression.type
    // producer); a topic that names a codec gets it from the engine, as a Kafka broker would.
    SinkOptions sink_options = options;
    if (desc.info.config.compression != engine::CompressionPolicy::kProducer) {
      sink_options.compression = base::Codec::kNone;
    }
    return std::unique_ptr<RecordSink>(
        new EmbeddedSink(engine_, topic, desc.info.partitions, sink_options, limit));
  }

  Result<std::unique_ptr<RecordReader>> OpenReader(const std::string& topic) override {
    return std::unique_ptr<RecordReader>(new EmbeddedReader(engine_, topic));
  }

 private:
  static std::vector<PartitionSummary> ToSummaries(const engine::TopicDescription& d) {
    std::vector<PartitionSummary> out;
    for (size_t p = 0; p < d.partitions.size(); ++p) {
      const auto& s = d.partitions[p];
      PartitionSummary summary{static_cast<int32_t>(p),   s.log_start_offset, s.high_watermark,
                               uint64_t{s.segment_count}, s.size_bytes,       std::nullopt};
      if (s.offline) summary.offline = s.offline->context;
      out.push_back(std::move(summary));
    }
    return out;
  }

  engine::Engine& engine_;
};

}  // namespace

std::unique_ptr<Backend> NewEmbeddedBackend(engine::Engine& engine) {
  return std::make_unique<EmbeddedBackend>(engine);
}

}  // namespace sluice::cli

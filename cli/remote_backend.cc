// The backend of --broker: a running `sluice serve` over the Kafka protocol, through
// cli/kafka_client.h. It composes Kafka requests into the answers the embedded engine gives
// directly: watermarks from ListOffsets, lag from OffsetFetch plus ListOffsets plus a fetch of the
// oldest unconsumed record, offset resets from ListOffsets plus a simple-consumer OffsetCommit.

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "cli/backend.h"
#include "cli/kafka_client.h"
#include "engine/catalog.h"

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::MakeError;

constexpr size_t kReadBytes = 1 << 20;

base::Error TopicNotFound(const std::string& name) {
  return MakeError(ErrorCode::kNotFound, "topic '" + name + "' does not exist");
}

base::Error GroupNotFound(const std::string& group) {
  return MakeError(ErrorCode::kNotFound, "group '" + group + "' has no committed offsets");
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Produces through librdkafka, choosing partitions as the embedded sink does: --partition, else
// murmur2 of the key, else round robin that moves on after a batch's worth of records.
class RemoteSink : public RecordSink {
 public:
  RemoteSink(std::unique_ptr<kafka::Producer> producer, std::string topic, int32_t partitions,
             const SinkOptions& options, int64_t batch_limit_bytes)
      : producer_(std::move(producer)),
        topic_(std::move(topic)),
        partitions_(partitions),
        options_(options),
        limit_bytes_(batch_limit_bytes) {}

  Status Add(const InputRecord& r, int64_t line_no) override {
    int32_t p = options_.partition;
    const uint64_t size = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    if (p < 0 && r.key) {
      p = static_cast<int32_t>((Murmur2(*r.key) & 0x7fffffffu) %
                               static_cast<uint32_t>(partitions_));
    } else if (p < 0) {
      p = sticky_;
      sticky_records_++;
      sticky_bytes_ += static_cast<int64_t>(size);
      if (sticky_records_ >= options_.batch_records || sticky_bytes_ >= limit_bytes_) {
        sticky_ = (sticky_ + 1) % partitions_;
        sticky_records_ = 0;
        sticky_bytes_ = 0;
      }
    }
    headers_.clear();
    for (const auto& [k, v] : r.headers) {
      headers_.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    }
    auto view = [](const std::optional<std::string>& s) {
      return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    if (auto s =
            producer_->Send(topic_, p, view(r.key), view(r.value), headers_, r.timestamp, line_no);
        !s) {
      return Located(s.error());
    }
    bytes_ += size;
    return {};
  }

  Status Flush() override {
    if (auto s = producer_->Flush(); !s) return Located(s.error());
    return {};
  }

  int64_t records() const override { return producer_->delivered(); }
  uint64_t bytes() const override { return bytes_; }

 private:
  // Names the input line of the first record that failed.
  base::Error Located(const base::Error& e) const {
    if (auto line = producer_->first_failed_tag()) {
      return MakeError(e.code, "line " + std::to_string(*line) + ": " + e.context);
    }
    return e;
  }

  std::unique_ptr<kafka::Producer> producer_;
  const std::string topic_;
  const int32_t partitions_;
  const SinkOptions options_;
  const int64_t limit_bytes_;
  std::vector<segment::RecordHeader> headers_;  // scratch
  int32_t sticky_ = 0;                          // partition for records without a key
  int32_t sticky_records_ = 0;                  // sent to it since it was chosen
  int64_t sticky_bytes_ = 0;
  uint64_t bytes_ = 0;  // of keys and values sent
};

class RemoteReader : public RecordReader {
 public:
  explicit RemoteReader(std::unique_ptr<kafka::Consumer> consumer)
      : consumer_(std::move(consumer)) {}

  Status Assign(const std::vector<std::pair<int32_t, Offset>>& starts) override {
    for (const auto& [p, offset] : starts) RETURN_IF_ERROR(consumer_->Start(p, offset.value()));
    return {};
  }

  Status Read(int32_t partition, Offset from, const RecordFn& fn) override {
    size_t bytes = 0;
    while (bytes < kReadBytes) {
      ASSIGN_OR_RETURN(const segment::RecordView* rec, consumer_->Peek(partition, 0));
      if (rec == nullptr) return {};
      if (rec->offset >= from.value()) {
        if (!fn(*rec)) return {};
        bytes += (rec->key ? rec->key->size() : 0) + (rec->value ? rec->value->size() : 0) + 16;
      }
      consumer_->Pop(partition);
    }
    return {};
  }

  Status Wait(int32_t partition, Offset, int64_t timeout_ms) override {
    ASSIGN_OR_RETURN(const segment::RecordView* rec, consumer_->Peek(partition, timeout_ms));
    (void)rec;
    return {};
  }

 private:
  std::unique_ptr<kafka::Consumer> consumer_;
};

class RemoteBackend : public Backend {
 public:
  RemoteBackend(kafka::ClientConfig config, std::unique_ptr<kafka::AdminClient> admin)
      : config_(std::move(config)), admin_(std::move(admin)) {}

  Status CreateTopic(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& config) override {
    return admin_->CreateTopic(name, partitions, config);
  }

  Result<std::vector<TopicSummary>> ListTopics(IncludeInternal) override {
    // The broker lists no internal topics.
    ASSIGN_OR_RETURN(auto topics, admin_->ListTopics());
    std::sort(topics.begin(), topics.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    std::vector<TopicSummary> out;
    for (const auto& t : topics) {
      ASSIGN_OR_RETURN(auto parts, Watermarks(t));
      TopicSummary s{t.name, t.partitions, 0, std::nullopt, 0};
      for (const auto& p : parts) {
        s.records += p.high_watermark - p.log_start_offset;
        if (p.offline) ++s.offline_partitions;
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<TopicDetails> DescribeTopic(const std::string& name) override {
    TopicDetails out;
    out.name = name;
    ASSIGN_OR_RETURN(out.partitions, Partitions(name));
    ASSIGN_OR_RETURN(out.config, admin_->DescribeTopicConfig(name));
    return out;
  }

  Status DeleteTopic(const std::string& name) override {
    if (engine::IsInternalTopic(name)) {
      // Metadata hides internal topics, so ask the broker itself: it refuses them
      // (INVALID_TOPIC_EXCEPTION, net/PROTOCOL.md), and DeleteTopics v1-3 carry no message, so
      // say here why, in the embedded engine's words.
      Status s = admin_->DeleteTopic(name);
      if (s || s.error().code != ErrorCode::kInvalidArgument) return s;
      return MakeError(
          ErrorCode::kRefused,
          "topic '" + name + "' is internal and cannot be deleted (" + s.error().context + ")");
    }
    ASSIGN_OR_RETURN(int32_t partitions, PartitionCount(name));
    (void)partitions;
    return admin_->DeleteTopic(name);
  }

  // AlterConfigs replaces a topic's whole configuration: read it, change it, write it back.
  Status AlterTopicConfig(const std::string& name,
                          const std::map<std::string, std::string>& changes) override {
    if (engine::IsInternalTopic(name)) {
      // DescribeConfigs hides internal topics (unknown topic), so ask the broker itself with the
      // changes alone: it refuses (INVALID_TOPIC_EXCEPTION, net/PROTOCOL.md), and the refusal is
      // reported as the embedded engine's.
      Status s = admin_->ReplaceTopicConfig(name, changes);
      if (s || s.error().code != ErrorCode::kInvalidArgument) return s;
      return MakeError(ErrorCode::kRefused, "topic '" + name +
                                                "' is internal and its configuration cannot be "
                                                "changed (" +
                                                s.error().context + ")");
    }
    ASSIGN_OR_RETURN(auto config, admin_->DescribeTopicConfig(name));
    for (const auto& [key, value] : changes) config[key] = value;
    return admin_->ReplaceTopicConfig(name, config);
  }

  Status AddPartitions(const std::string& name, int32_t count) override {
    return admin_->CreatePartitions(name, count);
  }

  Result<std::vector<PartitionSummary>> Partitions(const std::string& topic) override {
    ASSIGN_OR_RETURN(kafka::TopicMetadata meta, TopicMeta(topic));
    return Watermarks(meta);
  }

  Result<std::optional<Offset>> OffsetForTimestamp(const std::string& topic, int32_t partition,
                                                   int64_t timestamp_ms) override {
    ASSIGN_OR_RETURN(auto offsets, admin_->ListOffsets(topic, {{partition, timestamp_ms}}));
    if (offsets.empty() || offsets[0] < 0) return std::optional<Offset>();
    return std::optional<Offset>(Offset(offsets[0]));
  }

  Result<std::map<int32_t, engine::CommittedOffset>> FetchCommitted(
      const std::string& group, const std::string& topic) override {
    std::vector<std::pair<std::string, int32_t>> partitions;
    ASSIGN_OR_RETURN(auto topics, admin_->ListTopics());
    for (const auto& t : topics) {
      if (t.name != topic) continue;
      for (int32_t p = 0; p < t.partitions; ++p) partitions.emplace_back(topic, p);
    }
    ASSIGN_OR_RETURN(auto offsets, admin_->ListGroupOffsets(group, partitions));
    std::map<int32_t, engine::CommittedOffset> out;
    for (const auto& o : offsets) {
      if (o.topic == topic && o.offset >= 0) out[o.partition] = {Offset(o.offset), o.metadata, 0};
    }
    return out;
  }

  Status Commit(const std::string& group, std::span<const engine::OffsetCommit> commits) override {
    std::vector<kafka::GroupOffset> offsets;
    for (const auto& c : commits) {
      offsets.push_back({c.topic, c.partition, c.offset.value(), c.metadata});
    }
    return admin_->AlterGroupOffsets(group, offsets);
  }

  Result<std::vector<GroupSummary>> ListGroups() override {
    ASSIGN_OR_RETURN(auto groups, admin_->ListGroups());
    std::sort(groups.begin(), groups.end());
    ASSIGN_OR_RETURN(auto everything, EveryPartition());
    std::vector<GroupSummary> out;
    for (const std::string& g : groups) {
      ASSIGN_OR_RETURN(auto offsets, admin_->ListGroupOffsets(g, everything));
      GroupSummary s;
      s.group = g;
      for (const auto& o : offsets) {
        if (o.offset < 0) continue;
        s.topics.insert(o.topic);
        s.partitions++;
      }
      // Like the embedded store, list only groups with committed offsets.
      if (s.partitions > 0) out.push_back(std::move(s));
    }
    return out;
  }

  Result<std::vector<GroupPartitionLag>> DescribeGroup(const std::string& group) override {
    ASSIGN_OR_RETURN(auto everything, EveryPartition());
    ASSIGN_OR_RETURN(auto offsets, admin_->ListGroupOffsets(group, everything));
    std::erase_if(offsets, [](const kafka::GroupOffset& o) { return o.offset < 0; });
    if (offsets.empty()) return GroupNotFound(group);
    std::sort(offsets.begin(), offsets.end(), [](const auto& a, const auto& b) {
      return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
    });
    ASSIGN_OR_RETURN(auto topics, admin_->ListTopics());
    const int64_t now = NowMs();
    std::map<std::string, std::vector<PartitionSummary>> watermarks;
    std::vector<GroupPartitionLag> out;
    for (const auto& o : offsets) {
      GroupPartitionLag l;
      l.topic = o.topic;
      l.partition = o.partition;
      l.committed = Offset(o.offset);
      l.metadata = o.metadata;
      auto t = std::find_if(topics.begin(), topics.end(),
                            [&](const auto& m) { return m.name == o.topic; });
      l.topic_exists = t != topics.end() && o.partition < t->partitions;
      if (l.topic_exists) {
        if (!watermarks.contains(o.topic)) {
          ASSIGN_OR_RETURN(watermarks[o.topic], Watermarks(*t));
        }
        const PartitionSummary& w = watermarks[o.topic][static_cast<size_t>(o.partition)];
        if (w.offline) {
          // Offline on the server: its offsets are unknown, so no lag is claimed.
          l.log_start_offset = l.end_offset = l.committed;
          out.push_back(std::move(l));
          continue;
        }
        l.log_start_offset = w.log_start_offset;
        l.end_offset = w.high_watermark;
        const Offset consumed_to = std::max(l.committed, w.log_start_offset);
        l.lag_records = std::max<int64_t>(0, w.high_watermark - consumed_to);
        if (l.lag_records > 0) {
          // The oldest unconsumed record is the one at the committed offset.
          ASSIGN_OR_RETURN(auto ts, TimestampAt(o.topic, o.partition, consumed_to));
          if (ts) l.lag_ms = std::max<int64_t>(0, now - *ts);
        }
      }
      out.push_back(std::move(l));
    }
    return out;
  }

  Result<GroupState> DescribeGroupState(const std::string& group) override {
    ASSIGN_OR_RETURN(auto d, admin_->DescribeGroup(group));
    GroupState out;
    out.state = d.state;
    out.assignor = d.assignor;
    for (auto& m : d.members) {
      out.members.push_back({m.member_id, m.client_id, m.host, std::move(m.assignment)});
    }
    return out;
  }

  Result<std::vector<engine::ResetPlanEntry>> ResetOffsets(const std::string& group,
                                                           const std::string& topic,
                                                           engine::ResetTarget target,
                                                           engine::DryRun dry_run) override {
    if (group.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty group id");
    ASSIGN_OR_RETURN(auto parts, Partitions(topic));
    for (const auto& p : parts) {
      // Its offsets are unknown: no reset target can be computed (the embedded engine refuses
      // the same way).
      if (p.offline) {
        return MakeError(ErrorCode::kOffline,
                         topic + "-" + std::to_string(p.partition) + " is offline: " + *p.offline);
      }
    }
    ASSIGN_OR_RETURN(auto committed, FetchCommitted(group, topic));
    std::vector<int64_t> by_time;
    if (target.kind == engine::ResetTarget::Kind::kTimestamp) {
      std::vector<std::pair<int32_t, int64_t>> queries;
      for (const auto& p : parts) queries.emplace_back(p.partition, target.value);
      ASSIGN_OR_RETURN(by_time, admin_->ListOffsets(topic, queries));
    }
    std::vector<engine::ResetPlanEntry> plan;
    for (const auto& p : parts) {
      engine::ResetPlanEntry e;
      e.topic = topic;
      e.partition = p.partition;
      if (auto c = committed.find(p.partition); c != committed.end()) e.current = c->second.offset;
      switch (target.kind) {
        case engine::ResetTarget::Kind::kEarliest:
          e.target = p.log_start_offset;
          break;
        case engine::ResetTarget::Kind::kLatest:
          e.target = p.high_watermark;
          break;
        case engine::ResetTarget::Kind::kOffset:
          e.target = std::clamp(Offset(target.value), p.log_start_offset, p.high_watermark);
          break;
        case engine::ResetTarget::Kind::kTimestamp: {
          const int64_t found = by_time[static_cast<size_t>(p.partition)];
          e.target = found >= 0 ? Offset(found) : p.high_watermark;
          break;
        }
      }
      plan.push_back(std::move(e));
    }
    if (dry_run == engine::DryRun::kYes) return plan;
    std::vector<engine::OffsetCommit> commits;
    for (const auto& e : plan) {
      std::string metadata;
      if (auto c = committed.find(e.partition); c != committed.end()) metadata = c->second.metadata;
      commits.push_back({topic, e.partition, e.target, metadata});
    }
    RETURN_IF_ERROR(Commit(group, commits));
    return plan;
  }

  Status DeleteGroup(const std::string& group) override {
    auto s = admin_->DeleteGroup(group);
    if (!s && s.error().code == ErrorCode::kNotFound) return GroupNotFound(group);
    return s;
  }

  Result<std::unique_ptr<RecordSink>> OpenSink(const std::string& topic,
                                               const SinkOptions& options) override {
    ASSIGN_OR_RETURN(int32_t partitions, PartitionCount(topic));
    ASSIGN_OR_RETURN(auto config, admin_->DescribeTopicConfig(topic));
    // A batch must stay below the topic's limits, as in the embedded sink.
    auto number = [&config](const char* key) -> std::optional<int64_t> {
      auto it = config.find(key);
      if (it == config.end()) return std::nullopt;
      return std::strtoll(it->second.c_str(), nullptr, 10);
    };
    int64_t cap = number("max.message.bytes").value_or(1'000'000);
    if (auto segment = number("segment.bytes")) cap = std::min(cap, *segment);
    const int64_t limit = std::max<int64_t>(1000, cap - 4096);
    kafka::ProducerOptions producer_options;
    producer_options.batch_records = options.batch_records;
    producer_options.batch_bytes = std::min(options.batch_bytes, limit);
    producer_options.max_message_bytes = limit;
    producer_options.compression = std::string(base::CodecName(options.compression));
    ASSIGN_OR_RETURN(auto producer, kafka::Producer::Create(config_, producer_options));
    return std::unique_ptr<RecordSink>(new RemoteSink(std::move(producer), topic, partitions,
                                                      options, producer_options.batch_bytes));
  }

  Result<std::unique_ptr<RecordReader>> OpenReader(const std::string& topic) override {
    ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(config_, topic));
    return std::unique_ptr<RecordReader>(new RemoteReader(std::move(consumer)));
  }

 private:
  Result<kafka::TopicMetadata> TopicMeta(const std::string& topic) {
    ASSIGN_OR_RETURN(auto topics, admin_->ListTopics());
    for (auto& t : topics) {
      if (t.name == topic) return std::move(t);
    }
    return TopicNotFound(topic);
  }
  Result<int32_t> PartitionCount(const std::string& topic) {
    ASSIGN_OR_RETURN(kafka::TopicMetadata meta, TopicMeta(topic));
    return meta.partitions;
  }

  // Every partition of every topic: what a group's committed offsets are asked for (a group's
  // commits on a deleted topic are therefore not seen remotely).
  Result<std::vector<std::pair<std::string, int32_t>>> EveryPartition() {
    ASSIGN_OR_RETURN(auto topics, admin_->ListTopics());
    std::vector<std::pair<std::string, int32_t>> out;
    for (const auto& t : topics) {
      for (int32_t p = 0; p < t.partitions; ++p) out.emplace_back(t.name, p);
    }
    return out;
  }

  // Log start offsets and high watermarks of partitions 0..partitions-1: two ListOffsets.
  // The start and end of each partition of `topic`. Partitions the broker reports without a leader
  // (offline: damaged or missing data on the server) are not asked for (there is no leader to
  // answer) and are marked offline, as the embedded backend marks them.
  Result<std::vector<PartitionSummary>> Watermarks(const kafka::TopicMetadata& topic) {
    std::vector<std::pair<int32_t, int64_t>> earliest, latest;
    for (int32_t p = 0; p < topic.partitions; ++p) {
      if (topic.offline.count(p) != 0) continue;
      earliest.emplace_back(p, kafka::kEarliest);
      latest.emplace_back(p, kafka::kLatest);
    }
    std::vector<int64_t> starts, ends;
    if (!earliest.empty()) {
      ASSIGN_OR_RETURN(starts, admin_->ListOffsets(topic.name, earliest));
      ASSIGN_OR_RETURN(ends, admin_->ListOffsets(topic.name, latest));
    }
    std::vector<PartitionSummary> out;
    size_t i = 0;
    for (int32_t p = 0; p < topic.partitions; ++p) {
      if (auto it = topic.offline.find(p); it != topic.offline.end()) {
        out.push_back({p, Offset(0), Offset(0), std::nullopt, std::nullopt,
                       "the broker reports no leader (" + it->second +
                           "): its data on the server is damaged or missing; `sluice verify` on "
                           "the server's data directory says why"});
        continue;
      }
      out.push_back(
          {p, Offset(starts[i]), Offset(ends[i]), std::nullopt, std::nullopt, std::nullopt});
      ++i;
    }
    return out;
  }

  // The timestamp of the record at `offset` (or the first after it); nullopt if none arrives.
  Result<std::optional<int64_t>> TimestampAt(const std::string& topic, int32_t partition,
                                             Offset offset) {
    ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(config_, topic));
    RETURN_IF_ERROR(consumer->Start(partition, offset.value()));
    ASSIGN_OR_RETURN(const segment::RecordView* rec, consumer->Peek(partition, config_.timeout_ms));
    if (rec == nullptr) return std::optional<int64_t>();
    return std::optional<int64_t>(rec->timestamp);
  }

  const kafka::ClientConfig config_;
  std::unique_ptr<kafka::AdminClient> admin_;
};

// "host:port" with a non-empty host and a port in 1..65535.
bool ValidAddress(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  const std::string port = address.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  const int v = std::atoi(port.c_str());
  return v >= 1 && v <= 65535;
}

}  // namespace

Result<std::unique_ptr<Backend>> ConnectRemoteBackend(const kafka::ClientConfig& client) {
  if (!ValidAddress(client.bootstrap)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--broker: '" + client.bootstrap + "' is not HOST:PORT");
  }
  kafka::ClientConfig config = client;
  ASSIGN_OR_RETURN(auto admin, kafka::AdminClient::Connect(config));
  return std::unique_ptr<Backend>(new RemoteBackend(std::move(config), std::move(admin)));
}

}  // namespace sluice::cli

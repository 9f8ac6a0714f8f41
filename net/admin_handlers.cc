// The admin listener's endpoints (net/admin_http.h): GET /livez, /readyz and /metrics (the
// Prometheus page); the console and the JSON API are in console_handlers.cc. README "Operating
// sluice" lists the metrics.

#include <map>
#include <set>

#include "engine/group_offsets.h"
#include "engine/writer_stats.h"
#include "net/broker_impl.h"
#include "net/prometheus.h"
#include "segment/base/log.h"

namespace sluice::net {

void Broker::Impl::SetNotReady(std::string why) {
  std::lock_guard lock(admin_mu_);
  ready_.store(false, std::memory_order_release);
  not_ready_why_ = std::move(why);
}

void Broker::Impl::SetReady() {
  std::lock_guard lock(admin_mu_);
  not_ready_why_.clear();
  ready_.store(true, std::memory_order_release);
}

HttpResponse Broker::Impl::HandleAdmin(const HttpRequest& request) {
  if (request.path == "/livez") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (request.path == "/readyz") {
    std::lock_guard lock(admin_mu_);
    if (ready_.load(std::memory_order_acquire))
      return {200, "text/plain; charset=utf-8", "ready\n"};
    return {503, "text/plain; charset=utf-8", "not ready: " + not_ready_why_ + "\n"};
  }
  if (request.path == "/metrics") {
    std::lock_guard lock(admin_mu_);
    return {200, kPrometheusContentType, RenderMetricsLocked()};
  }
  if (auto console = HandleConsole(request)) return std::move(*console);  // console_handlers.cc
  return {404, "text/plain; charset=utf-8",
          "no such endpoint: " + request.path +
              " (there are /, /livez, /readyz, /metrics and /api/v1/...)\n"};
}

namespace {

constexpr double kNsPerSecond = 1e9;

// One partition's offsets, for the partition and the consumer-group families.
struct PartitionOffsets {
  int64_t log_start = 0;
  int64_t high_watermark = 0;
  uint64_t size_bytes = 0;
  uint64_t segments = 0;
};

struct GroupRow {
  std::string group;
  std::string topic;
  std::string partition;
  int64_t committed = 0;
  int64_t lag = 0;
  std::optional<double> lag_seconds;
};

}  // namespace

std::string Broker::Impl::RenderMetricsLocked() {
  PrometheusWriter w;
  const bool ready = ready_.load(std::memory_order_acquire);
  w.Family("sluice_ready", "1 once recovery has finished and the Kafka listeners are up",
           MetricType::kGauge);
  w.Sample("sluice_ready", {}, int64_t{ready ? 1 : 0});

  // --- requests --------------------------------------------------------------------------------
  const auto apis = requests_.Read();
  w.Family("sluice_requests_total", "Kafka requests answered (or closed), by API",
           MetricType::kCounter);
  for (const auto& a : apis) {
    w.Sample("sluice_requests_total", {{"api", ApiKeyName(static_cast<ApiKey>(a.api_key))}},
             a.requests);
  }
  w.Family("sluice_request_errors_total",
           "Error codes in responses, by API and Kafka error (one per partition, topic or group "
           "that has it)",
           MetricType::kCounter);
  for (const auto& a : apis) {
    for (const auto& [code, n] : a.errors) {
      const std::string code_text = std::to_string(code);
      w.Sample("sluice_request_errors_total",
               {{"api", ApiKeyName(static_cast<ApiKey>(a.api_key))},
                {"error", KafkaErrorName(static_cast<KafkaError>(code))},
                {"code", code_text}},
               n);
    }
  }
  w.Family("sluice_request_duration_seconds",
           "Time from a request's dispatch to its response being queued (or the connection "
           "closed), by API",
           MetricType::kHistogram);
  for (const auto& a : apis) {
    w.Histogram("sluice_request_duration_seconds",
                {{"api", ApiKeyName(static_cast<ApiKey>(a.api_key))}}, a.latency_ns, kNsPerSecond);
  }

  // --- writer (group commit, fsync) ------------------------------------------------------------
  auto& writer = engine::WriterStats::Global();
  w.Family("sluice_fsync_duration_seconds",
           "fdatasync of a partition's active segment: a flush=sync group's write and sync (one "
           "submission), or a background or explicit flush",
           MetricType::kHistogram);
  w.Histogram("sluice_fsync_duration_seconds", {}, writer.sync_ns.Read(), kNsPerSecond);
  w.Family("sluice_write_group_appends",
           "Appends (partitions of Produce requests) written by one group commit",
           MetricType::kHistogram);
  w.Histogram("sluice_write_group_appends", {}, writer.group_appends.Read());

  // --- log cleaner (compacted topics) ----------------------------------------------------------
  const engine::CleanerTotals cleaner = engine::CleanerTotalsNow();
  w.Family("sluice_cleaner_passes_total",
           "Log cleaner passes that rewrote segments of a compacted topic", MetricType::kCounter);
  w.Sample("sluice_cleaner_passes_total", {}, cleaner.passes);
  w.Family("sluice_cleaner_read_bytes_total", "Segment bytes the log cleaner rewrote",
           MetricType::kCounter);
  w.Sample("sluice_cleaner_read_bytes_total", {}, cleaner.bytes_read);
  w.Family("sluice_cleaner_written_bytes_total",
           "Segment bytes the log cleaner wrote in their place", MetricType::kCounter);
  w.Sample("sluice_cleaner_written_bytes_total", {}, cleaner.bytes_written);
  w.Family("sluice_cleaner_removed_records_total",
           "Records the log cleaner removed (overwritten, expired tombstones, keyless)",
           MetricType::kCounter);
  w.Sample("sluice_cleaner_removed_records_total", {}, cleaner.records_removed);
  w.Family("sluice_cleaner_failed_passes_total",
           "Log cleaner passes that stopped with an error and changed nothing (a damaged segment, "
           "a missing or damaged zstd dictionary, an I/O error): the log says which",
           MetricType::kCounter);
  w.Sample("sluice_cleaner_failed_passes_total", {}, cleaner.failed_passes);

  // --- connections and memory ----------------------------------------------------------------
  if (server_ && ready) {
    const ConnectionCounts c = server_->connection_counts();
    w.Family("sluice_connections", "Kafka client connections open", MetricType::kGauge);
    w.Sample("sluice_connections", {}, int64_t{c.open});
    w.Family("sluice_connections_accepted_total", "Kafka client connections accepted",
             MetricType::kCounter);
    w.Sample("sluice_connections_accepted_total", {}, c.accepted);
    w.Family("sluice_connections_refused_total",
             "Connections refused by max.connections or max.connections.per.ip",
             MetricType::kCounter);
    w.Sample("sluice_connections_refused_total", {}, c.refused);
    MemoryBudget& budget = server_->budget();
    w.Family("sluice_memory_budget_used_bytes",
             "Bytes of the memory budget in use (requests, decompressed and transcoded batches)",
             MetricType::kGauge);
    w.Sample("sluice_memory_budget_used_bytes", {}, static_cast<uint64_t>(budget.used_lock_free()));
    w.Family("sluice_memory_budget_capacity_bytes",
             "The memory budget (--queued-max-request-bytes)", MetricType::kGauge);
    w.Sample("sluice_memory_budget_capacity_bytes", {}, static_cast<uint64_t>(budget.capacity()));
  }
  if (!ready) return w.Take();

  // --- partitions ------------------------------------------------------------------------------
  std::map<std::pair<std::string, int32_t>, PartitionOffsets> offsets;
  std::map<std::string, int32_t> partition_counts;
  for (const auto& topic : engine_->ListTopics()) {
    partition_counts[topic.name] = topic.partitions;
    for (int32_t p = 0; p < topic.partitions; ++p) {
      auto stats = engine_->GetPartitionStats(topic.name, p);
      if (!stats || stats->offline) continue;
      offsets[{topic.name, p}] = {stats->log_start_offset.value(), stats->high_watermark.value(),
                                  stats->size_bytes, stats->segment_count};
    }
  }
  const auto traffic = traffic_.Read();
  struct Family {
    const char* name;
    const char* help;
    MetricType type;
  };
  auto per_partition = [&](const Family& f, auto value) {
    w.Family(f.name, f.help, f.type);
    for (const auto& [tp, o] : offsets) {
      const std::string partition = std::to_string(tp.second);
      w.Sample(f.name, {{"topic", tp.first}, {"partition", partition}}, value(o));
    }
  };
  per_partition(
      {"sluice_partition_log_start_offset", "A partition's first offset", MetricType::kGauge},
      [](const PartitionOffsets& o) { return o.log_start; });
  per_partition(
      {"sluice_partition_high_watermark",
       "A partition's log end offset (the next offset to be written)", MetricType::kGauge},
      [](const PartitionOffsets& o) { return o.high_watermark; });
  per_partition({"sluice_partition_size_bytes", "Bytes of a partition's segments on disk",
                 MetricType::kGauge},
                [](const PartitionOffsets& o) { return o.size_bytes; });
  per_partition({"sluice_partition_segments", "Segments of a partition", MetricType::kGauge},
                [](const PartitionOffsets& o) { return o.segments; });
  // kafka_exporter's names and labels, so that its dashboards work unchanged.
  per_partition({"kafka_topic_partition_current_offset",
                 "Current Offset of a Broker at Topic/Partition", MetricType::kGauge},
                [](const PartitionOffsets& o) { return o.high_watermark; });
  per_partition({"kafka_topic_partition_oldest_offset",
                 "Oldest Offset of a Broker at Topic/Partition", MetricType::kGauge},
                [](const PartitionOffsets& o) { return o.log_start; });
  w.Family("kafka_topic_partitions", "Number of partitions for this Topic", MetricType::kGauge);
  for (const auto& [topic, n] : partition_counts) {
    w.Sample("kafka_topic_partitions", {{"topic", topic}}, int64_t{n});
  }
  w.Family("kafka_brokers", "Number of Brokers in the Kafka Cluster.", MetricType::kGauge);
  w.Sample("kafka_brokers", {}, int64_t{1});

  auto per_traffic = [&](const char* name, const char* help, auto value) {
    w.Family(name, help, MetricType::kCounter);
    for (const auto& e : traffic) {
      const std::string partition = std::to_string(e.partition);
      w.Sample(name, {{"topic", e.topic}, {"partition", partition}}, value(e));
    }
  };
  using Entry = TrafficMetrics::Entry;
  per_traffic("sluice_partition_records_in_total",
              "Records appended by Produce requests since the broker started (duplicates of an "
              "idempotent producer not counted)",
              [](const Entry& e) { return e.records_in; });
  per_traffic("sluice_partition_bytes_in_total", "Bytes of the record batches appended by Produce",
              [](const Entry& e) { return e.bytes_in; });
  per_traffic("sluice_partition_records_out_total",
              "Records in the batches sent to Fetch requests (a batch is sent whole, so records "
              "before the fetch offset are included)",
              [](const Entry& e) { return e.records_out; });
  per_traffic("sluice_partition_bytes_out_total", "Bytes of the record batches sent to Fetch",
              [](const Entry& e) { return e.bytes_out; });

  // --- consumer groups -------------------------------------------------------------------------
  std::vector<GroupRow> rows;
  std::set<std::string> group_ids;
  if (auto store = engine_->GroupOffsets(); store) {
    for (const std::string& group : (*store)->ListGroups()) {
      group_ids.insert(group);
      auto described = (*store)->Describe(group);
      if (described) {
        for (const auto& s : *described) {
          if (!offsets.contains({s.topic, s.partition})) continue;  // topic gone, or offline
          GroupRow row{
              group,         s.topic,     std::to_string(s.partition), s.committed.offset.value(),
              s.lag_records, std::nullopt};
          if (s.lag_ms) {
            row.lag_seconds = static_cast<double>(*s.lag_ms) / 1000.0;
          } else if (s.lag_records == 0) {
            row.lag_seconds = 0.0;
          }
          rows.push_back(std::move(row));
        }
      } else {
        // The lag in time needs a record read; without it, offsets alone.
        for (const auto& [tp, c] : (*store)->FetchAll(group)) {
          auto it = offsets.find(tp);
          if (it == offsets.end()) continue;
          const int64_t from = std::max(c.offset.value(), it->second.log_start);
          rows.push_back({group, tp.first, std::to_string(tp.second), c.offset.value(),
                          std::max<int64_t>(0, it->second.high_watermark - from), std::nullopt});
        }
      }
    }
  }
  auto per_group_partition = [&](const char* name, const char* help, const char* group_label,
                                 auto value) {
    w.Family(name, help, MetricType::kGauge);
    for (const auto& r : rows) {
      auto v = value(r);
      if (!v) continue;
      w.Sample(name, {{group_label, r.group}, {"topic", r.topic}, {"partition", r.partition}}, *v);
    }
  };
  per_group_partition("sluice_consumergroup_committed_offset",
                      "A consumer group's committed offset of a partition", "group",
                      [](const GroupRow& r) { return std::optional<int64_t>(r.committed); });
  per_group_partition(
      "sluice_consumergroup_lag_records",
      "Records after a group's committed offset: high watermark - committed (from the log start "
      "when the commit is older)",
      "group", [](const GroupRow& r) { return std::optional<int64_t>(r.lag); });
  per_group_partition("sluice_consumergroup_lag_seconds",
                      "Age of the oldest record the group has not consumed (0 when none)", "group",
                      [](const GroupRow& r) { return r.lag_seconds; });
  per_group_partition("kafka_consumergroup_current_offset",
                      "Current Offset of a ConsumerGroup at Topic/Partition", "consumergroup",
                      [](const GroupRow& r) { return std::optional<int64_t>(r.committed); });
  per_group_partition(
      "kafka_consumergroup_lag", "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
      "consumergroup", [](const GroupRow& r) { return std::optional<int64_t>(r.lag); });
  std::map<std::pair<std::string, std::string>, int64_t> lag_sums;
  for (const auto& r : rows) lag_sums[{r.group, r.topic}] += r.lag;
  w.Family("kafka_consumergroup_lag_sum",
           "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
           MetricType::kGauge);
  for (const auto& [gt, lag] : lag_sums) {
    w.Sample("kafka_consumergroup_lag_sum", {{"consumergroup", gt.first}, {"topic", gt.second}},
             lag);
  }

  // Membership (the coordinator): groups with members and groups with commits.
  std::map<std::string, std::string> states;
  for (const auto& g : groups_->List()) {
    states[g.group_id] = g.state;
    group_ids.insert(g.group_id);
  }
  w.Family("sluice_consumergroup_members", "Members of a consumer group", MetricType::kGauge);
  std::map<std::string, size_t> members;
  for (const std::string& g : group_ids) {
    const DescribedGroup d = groups_->Describe(g);
    members[g] = d.members.size();
    if (!states.contains(g)) states[g] = d.state == "Dead" ? "Empty" : d.state;
    w.Sample("sluice_consumergroup_members", {{"group", g}},
             static_cast<uint64_t>(d.members.size()));
  }
  w.Family("kafka_consumergroup_members", "Amount of members in a consumer group",
           MetricType::kGauge);
  for (const auto& [g, n] : members) {
    w.Sample("kafka_consumergroup_members", {{"consumergroup", g}}, static_cast<uint64_t>(n));
  }
  static constexpr const char* kStates[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                            "Stable", "Dead"};
  w.Family("sluice_consumergroup_state",
           "1 for a consumer group's state (Empty, PreparingRebalance, CompletingRebalance, "
           "Stable, Dead), 0 for the others",
           MetricType::kGauge);
  for (const auto& [g, state] : states) {
    for (const char* s : kStates) {
      w.Sample("sluice_consumergroup_state", {{"group", g}, {"state", s}},
               int64_t{state == s ? 1 : 0});
    }
  }
  w.Family("sluice_group_state_bytes", "Memory consumer groups' membership state holds",
           MetricType::kGauge);
  w.Sample("sluice_group_state_bytes", {}, static_cast<uint64_t>(groups_->state_bytes()));
  return w.Take();
}

}  // namespace sluice::net

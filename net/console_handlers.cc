// The admin listener's JSON API (GET /api/v1/...) and the built-in web console (GET /, its
// script and style sheet, net/console/), on the admin listener's thread. Read-only. README
// "Operating sluice" lists the endpoints and what they return.

#include <algorithm>
#include <map>
#include <set>

#include "engine/group_offsets.h"
#include "net/admin_api.h"
#include "net/broker_impl.h"
#include "net/console_assets.h"
#include "segment/base/log.h"
#include "segment/record_batch.h"

namespace sluice::net {

namespace {

using nlohmann::json;

constexpr int64_t kThroughputDefaultMinutes = 5;
constexpr int64_t kRecordsDefaultLimit = 50;
constexpr int64_t kRecordsMaxLimit = 1000;
constexpr int64_t kRecordsDefaultMaxBytes = 1 << 20;
constexpr int64_t kRecordsMaxMaxBytes = 16 << 20;
constexpr size_t kReadChunkBytes = 1 << 20;
// A compressed batch of the record browser may decompress to at most this.
constexpr size_t kMaxDecompressedBytes = 64 << 20;

json RatesJson(const ThroughputHistory::Rates& r) {
  return {{"records_in_per_sec", r.records_in},
          {"bytes_in_per_sec", r.bytes_in},
          {"records_out_per_sec", r.records_out},
          {"bytes_out_per_sec", r.bytes_out}};
}

json TotalsJson(const TrafficMetrics::Entry& e) {
  return {{"records_in", e.records_in},
          {"bytes_in", e.bytes_in},
          {"records_out", e.records_out},
          {"bytes_out", e.bytes_out}};
}

void AddTo(ThroughputHistory::Rates& sum, const ThroughputHistory::Rates& r) {
  sum.records_in += r.records_in;
  sum.bytes_in += r.bytes_in;
  sum.records_out += r.records_out;
  sum.bytes_out += r.bytes_out;
}

void AddTo(TrafficMetrics::Entry& sum, const TrafficMetrics::Entry& e) {
  sum.records_in += e.records_in;
  sum.bytes_in += e.bytes_in;
  sum.records_out += e.records_out;
  sum.bytes_out += e.bytes_out;
}

// Splits "/api/v1/a/b" into {"a", "b"} (percent-decoded); nullopt for a bad escape.
std::optional<std::vector<std::string>> ApiPathSegments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    if (seg.empty()) continue;
    auto decoded = PercentDecode(seg, false);
    if (!decoded) return std::nullopt;
    out.push_back(std::move(*decoded));
  }
  return out;
}

// Checks that `params` has only names in `allowed`.
std::optional<std::string> UnknownParam(const std::map<std::string, std::string>& params,
                                        std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : params) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string known;
      for (std::string_view a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      return "unknown query parameter '" + name + "' (known: " + (known.empty() ? "none" : known) +
             ")";
    }
  }
  return std::nullopt;
}

}  // namespace

void Broker::Impl::SampleThroughput() {
  base::SystemClock& clock = base::SystemClock::Instance();
  throughput_.Add(clock.MonotonicNs() / 1'000'000, clock.NowMs(), traffic_.Read());
}

std::optional<HttpResponse> Broker::Impl::HandleConsole(const HttpRequest& request) {
  if (const ConsoleAsset* asset = FindConsoleAsset(request.path)) {
    return HttpResponse{200, std::string(asset->content_type), std::string(asset->body)};
  }
  if (request.path != "/api/v1" && !request.path.starts_with("/api/v1/")) return std::nullopt;
  std::lock_guard lock(admin_mu_);
  if (!ready_.load(std::memory_order_acquire)) {
    return JsonError(503, "not ready: " + not_ready_why_);
  }
  return HandleApiLocked(request);
}

HttpResponse Broker::Impl::HandleApiLocked(const HttpRequest& request) {
  auto segments = ApiPathSegments(std::string_view(request.path).substr(7));  // after "/api/v1"
  if (!segments) return JsonError(400, "bad %-escape in the path");
  auto params = ParseQueryString(request.query);
  if (!params) return JsonError(400, params.error().context);
  const auto& s = *segments;
  if (s.size() == 1 && s[0] == "topics") return ApiTopicsLocked(*params);
  if (s.size() == 2 && s[0] == "topics") return ApiTopicLocked(s[1], *params);
  if (s.size() == 1 && s[0] == "groups") return ApiGroupsLocked(*params);
  if (s.size() == 2 && s[0] == "groups") return ApiGroupLocked(s[1], *params);
  if (s.size() == 1 && s[0] == "throughput") return ApiThroughputLocked(*params);
  if (s.size() == 1 && s[0] == "records") return ApiRecordsLocked(*params);
  return JsonError(404, "no such endpoint: " + request.path +
                            " (there are /api/v1/topics, /api/v1/topics/{topic}, /api/v1/groups, "
                            "/api/v1/groups/{group}, /api/v1/throughput and /api/v1/records)");
}

HttpResponse Broker::Impl::ApiTopicsLocked(const std::map<std::string, std::string>& params) {
  if (auto why = UnknownParam(params, {})) return JsonError(400, *why);
  const auto rates = throughput_.PartitionRates();
  std::map<std::string, TrafficMetrics::Entry> totals;
  for (const auto& e : traffic_.Read()) AddTo(totals[e.topic], e);
  json topics = json::array();
  for (const auto& topic : engine_->ListTopics()) {
    if (!VisibleTopic(topic.name)) continue;
    uint64_t size_bytes = 0;
    int64_t records = 0;
    int32_t offline = 0;
    ThroughputHistory::Rates rate;
    for (int32_t p = 0; p < topic.partitions; ++p) {
      auto stats = engine_->GetPartitionStats(topic.name, p);
      if (!stats || stats->offline) {
        ++offline;
        continue;
      }
      size_bytes += stats->size_bytes;
      records += stats->high_watermark.value() - stats->log_start_offset.value();
      if (auto it = rates.find({topic.name, p}); it != rates.end()) AddTo(rate, it->second);
    }
    topics.push_back({{"name", topic.name},
                      {"partitions", topic.partitions},
                      {"offline_partitions", offline},
                      {"size_bytes", size_bytes},
                      {"records", records},
                      {"rates", RatesJson(rate)},
                      {"totals", TotalsJson(totals[topic.name])}});
  }
  return JsonResponse(
      200, {{"topics", std::move(topics)}, {"rate_window_ms", throughput_.PartitionWindowMs()}});
}

HttpResponse Broker::Impl::ApiTopicLocked(const std::string& name,
                                          const std::map<std::string, std::string>& params) {
  if (auto why = UnknownParam(params, {})) return JsonError(400, *why);
  std::optional<engine::TopicInfo> info;
  for (auto& t : engine_->ListTopics()) {
    if (t.name == name && VisibleTopic(t.name)) info = std::move(t);
  }
  if (!info) return JsonError(404, "no such topic: " + name);
  const auto rates = throughput_.PartitionRates();
  std::map<int32_t, TrafficMetrics::Entry> totals;
  for (const auto& e : traffic_.Read()) {
    if (e.topic == name) totals[e.partition] = e;
  }
  json partitions = json::array();
  for (int32_t p = 0; p < info->partitions; ++p) {
    json part = {{"partition", p}};
    auto stats = engine_->GetPartitionStats(name, p);
    if (!stats || stats->offline) {
      part["offline"] = stats ? stats->offline->ToString() : stats.error().ToString();
    } else {
      part["offline"] = nullptr;
      part["log_start_offset"] = stats->log_start_offset.value();
      part["high_watermark"] = stats->high_watermark.value();
      part["records"] = stats->high_watermark.value() - stats->log_start_offset.value();
      part["size_bytes"] = stats->size_bytes;
      part["segments"] = stats->segment_count;
    }
    auto it = rates.find({name, p});
    part["rates"] = RatesJson(it == rates.end() ? ThroughputHistory::Rates{} : it->second);
    part["totals"] = TotalsJson(totals[p]);
    partitions.push_back(std::move(part));
  }
  return JsonResponse(200, {{"name", name},
                            {"partitions", std::move(partitions)},
                            {"rate_window_ms", throughput_.PartitionWindowMs()}});
}

// One group's committed partitions (with lag) and its membership.
struct Broker::Impl::GroupView {
  std::string group;
  std::string state;
  DescribedGroup described;
  std::vector<engine::GroupPartitionStatus> offsets;
  std::optional<std::string> offsets_error;  // why offsets are missing
};

Broker::Impl::GroupView Broker::Impl::ViewGroupLocked(const std::string& group) {
  GroupView v;
  v.group = group;
  v.described = groups_->Describe(group);
  v.state = v.described.state == "Dead" ? "Empty" : v.described.state;
  auto store = engine_->GroupOffsets();
  if (!store) {
    v.offsets_error = store.error().ToString();
    return v;
  }
  auto described = (*store)->Describe(group);
  if (!described) {
    v.offsets_error = described.error().ToString();
    return v;
  }
  for (auto& s : *described) {
    if (VisibleTopic(s.topic)) v.offsets.push_back(std::move(s));
  }
  return v;
}

std::set<std::string> Broker::Impl::GroupIdsLocked() {
  std::set<std::string> ids;
  if (auto store = engine_->GroupOffsets(); store) {
    for (std::string& g : (*store)->ListGroups()) ids.insert(std::move(g));
  }
  for (auto& g : groups_->List()) ids.insert(std::move(g.group_id));
  return ids;
}

namespace {

json LagSeconds(const engine::GroupPartitionStatus& s) {
  if (s.lag_ms) return static_cast<double>(*s.lag_ms) / 1000.0;
  if (s.lag_records == 0) return 0.0;
  return nullptr;  // unknown: the oldest unconsumed record could not be read
}

}  // namespace

HttpResponse Broker::Impl::ApiGroupsLocked(const std::map<std::string, std::string>& params) {
  if (auto why = UnknownParam(params, {})) return JsonError(400, *why);
  json groups = json::array();
  for (const std::string& id : GroupIdsLocked()) {
    const GroupView v = ViewGroupLocked(id);
    int64_t lag = 0;
    std::optional<double> max_lag_seconds;
    std::set<std::string> topics;
    for (const auto& s : v.offsets) {
      lag += s.lag_records;
      topics.insert(s.topic);
      json secs = LagSeconds(s);
      if (secs.is_number()) {
        max_lag_seconds = std::max(max_lag_seconds.value_or(0.0), secs.get<double>());
      }
    }
    groups.push_back({{"group", id},
                      {"state", v.state},
                      {"protocol_type", v.described.protocol_type},
                      {"members", v.described.members.size()},
                      {"topics", topics},
                      {"lag_records", lag},
                      {"lag_seconds", max_lag_seconds ? json(*max_lag_seconds) : json(nullptr)}});
  }
  return JsonResponse(200, {{"groups", std::move(groups)}});
}

HttpResponse Broker::Impl::ApiGroupLocked(const std::string& group,
                                          const std::map<std::string, std::string>& params) {
  if (auto why = UnknownParam(params, {})) return JsonError(400, *why);
  if (!GroupIdsLocked().contains(group)) return JsonError(404, "no such group: " + group);
  const GroupView v = ViewGroupLocked(group);
  json members = json::array();
  for (const auto& m : v.described.members) {
    json member = {
        {"member_id", m.member_id},
        {"group_instance_id", m.group_instance_id ? json(*m.group_instance_id) : json(nullptr)},
        {"client_id", m.client_id},
        {"client_host", m.client_host}};
    json assignment = nullptr;
    if (v.described.protocol_type == "consumer" && !m.assignment.empty()) {
      if (auto a = DecodeConsumerAssignment(m.assignment)) {
        assignment = json::array();
        for (const auto& [topic, partitions] : *a) {
          assignment.push_back({{"topic", topic}, {"partitions", partitions}});
        }
      }
    }
    member["assignment"] = std::move(assignment);
    members.push_back(std::move(member));
  }
  json offsets = json::array();
  int64_t lag = 0;
  for (const auto& s : v.offsets) {
    lag += s.lag_records;
    offsets.push_back({{"topic", s.topic},
                       {"partition", s.partition},
                       {"committed_offset", s.committed.offset.value()},
                       {"commit_time", FormatTimeMs(s.committed.commit_time_ms)},
                       {"log_start_offset", s.log_start_offset.value()},
                       {"log_end_offset", s.log_end_offset.value()},
                       {"lag_records", s.lag_records},
                       {"lag_seconds", LagSeconds(s)}});
  }
  json out = {{"group", group},
              {"state", v.state},
              {"protocol_type", v.described.protocol_type},
              {"protocol", v.described.protocol},
              {"members", std::move(members)},
              {"offsets", std::move(offsets)},
              {"lag_records", lag}};
  if (v.offsets_error) out["offsets_error"] = *v.offsets_error;
  return JsonResponse(200, out);
}

HttpResponse Broker::Impl::ApiThroughputLocked(const std::map<std::string, std::string>& params) {
  if (auto why = UnknownParam(params, {"minutes"})) return JsonError(400, *why);
  int64_t minutes = kThroughputDefaultMinutes;
  if (auto it = params.find("minutes"); it != params.end()) {
    auto m = ParseIntParam("minutes", it->second, 1, kThroughputMaxMinutes);
    if (!m) return JsonError(400, m.error().context);
    minutes = *m;
  }
  json topics = json::array();
  for (const auto& [topic, points] : throughput_.TopicSeries(minutes * 60'000)) {
    if (!VisibleTopic(topic)) continue;
    json series = json::array();
    for (const auto& p : points) {
      json point = RatesJson(p.rates);
      point["time_ms"] = p.wall_ms;
      series.push_back(std::move(point));
    }
    topics.push_back({{"topic", topic}, {"points", std::move(series)}});
  }
  return JsonResponse(200, {{"interval_ms", kThroughputIntervalMs},
                            {"minutes", minutes},
                            {"topics", std::move(topics)}});
}

HttpResponse Broker::Impl::ApiRecordsLocked(const std::map<std::string, std::string>& params) {
  if (auto why =
          UnknownParam(params, {"topic", "partition", "offset", "time", "limit", "max_bytes"})) {
    return JsonError(400, *why);
  }
  auto get = [&](const char* name) -> std::optional<std::string> {
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return it->second;
  };
  const auto topic = get("topic");
  if (!topic || topic->empty()) return JsonError(400, "topic is required");
  int64_t partition = 0;
  if (auto p = get("partition")) {
    auto v = ParseIntParam("partition", *p, 0, INT32_MAX);
    if (!v) return JsonError(400, v.error().context);
    partition = *v;
  }
  int64_t limit = kRecordsDefaultLimit;
  if (auto l = get("limit")) {
    auto v = ParseIntParam("limit", *l, 1, kRecordsMaxLimit);
    if (!v) return JsonError(400, v.error().context);
    limit = *v;
  }
  int64_t max_bytes = kRecordsDefaultMaxBytes;
  if (auto m = get("max_bytes")) {
    auto v = ParseIntParam("max_bytes", *m, 1, kRecordsMaxMaxBytes);
    if (!v) return JsonError(400, v.error().context);
    max_bytes = *v;
  }
  const auto offset_param = get("offset");
  const auto time_param = get("time");
  if (offset_param && time_param) return JsonError(400, "give offset or time, not both");
  std::optional<int64_t> from_offset;
  std::optional<int64_t> from_time;
  if (offset_param) {
    auto v = ParseIntParam("offset", *offset_param, 0, INT64_MAX);
    if (!v) return JsonError(400, v.error().context);
    from_offset = *v;
  }
  if (time_param) {
    auto v = ParseTimeMs(*time_param);
    if (!v) return JsonError(400, v.error().context);
    from_time = *v;
  }

  int32_t partitions = -1;
  for (const auto& t : engine_->ListTopics()) {
    if (t.name == *topic && VisibleTopic(t.name)) partitions = t.partitions;
  }
  if (partitions < 0) return JsonError(404, "no such topic: " + *topic);
  const auto p = static_cast<int32_t>(partition);
  if (p >= partitions) {
    return JsonError(404, "topic " + *topic + " has no partition " + std::to_string(p) +
                              " (it has " + std::to_string(partitions) + ")");
  }
  auto stats = engine_->GetPartitionStats(*topic, p);
  if (!stats) return JsonError(500, stats.error().ToString());
  if (stats->offline) return JsonError(503, "partition offline: " + stats->offline->ToString());
  const int64_t log_start = stats->log_start_offset.value();
  const int64_t hw = stats->high_watermark.value();

  int64_t next = 0;
  if (from_offset) {
    next = std::max(*from_offset, log_start);
  } else if (from_time) {
    auto found = engine_->OffsetForTimestamp(*topic, p, *from_time);
    if (!found) return JsonError(500, found.error().ToString());
    next = *found ? std::max((*found)->offset.value(), log_start) : hw;
  } else {
    next = std::max(log_start, hw - limit);  // the newest records
  }
  const int64_t start = next;

  json records = json::array();
  size_t bytes = 0;
  bool stopped = false;  // the byte budget ran out
  segment::RecordDecoder decoder(kMaxDecompressedBytes);
  while (!stopped && next < hw && static_cast<int64_t>(records.size()) < limit) {
    auto read = engine_->Read(*topic, p, base::Offset(next), kReadChunkBytes);
    if (!read) return JsonError(500, read.error().ToString());
    if (read->batches.empty()) break;
    decoder.set_dictionaries(read->dictionaries.get());
    const int64_t before = next;
    for (const auto& batch : read->batches) {
      if (stopped || static_cast<int64_t>(records.size()) >= limit || next >= hw) break;
      if (batch.header.last_offset() < next) continue;
      if (batch.header.control()) {  // transaction markers: no user records
        next = batch.header.last_offset() + 1;
        continue;
      }
      if (Status st = decoder.Reset(batch.bytes, batch.header); !st) {
        return JsonError(500, "cannot decode the batch at offset " +
                                  std::to_string(batch.header.base_offset) + ": " +
                                  st.error().ToString());
      }
      segment::RecordView rec;
      for (;;) {
        auto more = decoder.Next(rec);
        if (!more) {
          return JsonError(500, "cannot decode the batch at offset " +
                                    std::to_string(batch.header.base_offset) + ": " +
                                    more.error().ToString());
        }
        if (!*more) break;
        if (rec.offset < next) continue;
        if (rec.offset >= hw || static_cast<int64_t>(records.size()) >= limit) break;
        const size_t size = RecordPayloadBytes(rec);
        if (!records.empty() && bytes + size > static_cast<size_t>(max_bytes)) {
          stopped = true;
          break;
        }
        bytes += size;
        records.push_back(RecordJson(rec, static_cast<size_t>(max_bytes)));
        next = rec.offset + 1;
      }
      if (!stopped && static_cast<int64_t>(records.size()) < limit) {
        next = std::min(std::max(next, batch.header.last_offset() + 1), hw);
      }
    }
    if (next == before) break;  // nothing new in this read: do not spin
  }
  return JsonResponse(200, {{"topic", *topic},
                            {"partition", p},
                            {"log_start_offset", log_start},
                            {"high_watermark", hw},
                            {"start_offset", start},
                            {"next_offset", next},
                            {"records", std::move(records)}});
}

}  // namespace sluice::net

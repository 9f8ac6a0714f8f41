#include "net/broker_metrics.h"

#include <algorithm>
#include <mutex>

namespace sluice::net {

RequestMetrics::RequestMetrics(const base::Clock& clock) : clock_(clock) {
  apis_.reserve(kApiKeys);
  for (int16_t i = 0; i < kApiKeys; ++i) apis_.push_back(std::make_unique<PerApi>());
}

void RequestMetrics::RequestDone(int16_t api_key, int64_t start_ns) {
  if (api_key < 0 || api_key >= kApiKeys) return;
  PerApi& api = *apis_[static_cast<size_t>(api_key)];
  api.latency_ns.Record(NowNs() - start_ns);
}

void RequestMetrics::RequestError(int16_t api_key, int16_t error_code) {
  if (api_key < 0 || api_key >= kApiKeys || error_code < -1 || error_code >= kErrorCodes - 1) {
    return;
  }
  apis_[static_cast<size_t>(api_key)]->errors[static_cast<size_t>(error_code + 1)].fetch_add(
      1, std::memory_order_relaxed);
}

std::vector<RequestMetrics::ApiSnapshot> RequestMetrics::Read() const {
  std::vector<ApiSnapshot> out;
  for (int16_t key = 0; key < kApiKeys; ++key) {
    const PerApi& api = *apis_[static_cast<size_t>(key)];
    ApiSnapshot s;
    s.api_key = key;
    s.latency_ns = api.latency_ns.Read();
    // The request count is the histogram's, so that _count and the request counter agree.
    s.requests = s.latency_ns.count;
    if (s.requests == 0) continue;
    for (int16_t code = -1; code < kErrorCodes - 1; ++code) {
      const uint64_t n = api.errors[static_cast<size_t>(code + 1)].load(std::memory_order_relaxed);
      if (n > 0) s.errors.emplace_back(code, n);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<PartitionTraffic> TrafficMetrics::For(std::string_view topic, int32_t partition) {
  if (partition < 0) return std::make_shared<PartitionTraffic>();  // counted nowhere
  const auto index = static_cast<size_t>(partition);
  {
    std::shared_lock lock(mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end() && index < it->second.size() && it->second[index]) {
      return it->second[index];
    }
  }
  std::unique_lock lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) it = topics_.emplace(std::string(topic), 0).first;
  auto& parts = it->second;
  if (index >= parts.size()) parts.resize(index + 1);
  if (!parts[index]) parts[index] = std::make_shared<PartitionTraffic>();
  return parts[index];
}

void TrafficMetrics::Forget(std::string_view topic) {
  std::unique_lock lock(mu_);
  if (auto it = topics_.find(topic); it != topics_.end()) topics_.erase(it);
}

std::vector<TrafficMetrics::Entry> TrafficMetrics::Read() const {
  std::vector<Entry> out;
  std::shared_lock lock(mu_);
  for (const auto& [topic, parts] : topics_) {
    for (size_t p = 0; p < parts.size(); ++p) {
      if (!parts[p]) continue;
      const PartitionTraffic& t = *parts[p];
      out.push_back({topic, static_cast<int32_t>(p), t.records_in.load(std::memory_order_relaxed),
                     t.bytes_in.load(std::memory_order_relaxed),
                     t.records_out.load(std::memory_order_relaxed),
                     t.bytes_out.load(std::memory_order_relaxed)});
    }
  }
  return out;
}

ThroughputHistory::ThroughputHistory(size_t topic_samples, size_t partition_samples)
    : topic_samples_(std::max<size_t>(2, topic_samples)),
      partition_samples_(std::max<size_t>(2, partition_samples)) {}

void ThroughputHistory::Add(int64_t monotonic_ms, int64_t wall_ms,
                            const std::vector<TrafficMetrics::Entry>& now) {
  TopicSample t{monotonic_ms, wall_ms, {}};
  PartitionSample p{monotonic_ms, {}};
  for (const auto& e : now) {
    Totals& sum = t.topics[e.topic];
    sum.records_in += e.records_in;
    sum.bytes_in += e.bytes_in;
    sum.records_out += e.records_out;
    sum.bytes_out += e.bytes_out;
    p.partitions[{e.topic, e.partition}] = {e.records_in, e.bytes_in, e.records_out, e.bytes_out};
  }
  std::lock_guard lock(mu_);
  if (!topics_.empty() && topics_.back().monotonic_ms >= monotonic_ms) return;
  topics_.push_back(std::move(t));
  while (topics_.size() > topic_samples_) topics_.pop_front();
  partitions_.push_back(std::move(p));
  while (partitions_.size() > partition_samples_) partitions_.pop_front();
}

ThroughputHistory::Rates ThroughputHistory::RateBetween(const Totals& before, const Totals& after,
                                                        int64_t ms) {
  if (ms <= 0) return {};
  const double seconds = static_cast<double>(ms) / 1000.0;
  // A counter below its earlier value was restarted (topic made again): all of it is new.
  auto delta = [&](uint64_t b, uint64_t a) {
    return static_cast<double>(a >= b ? a - b : a) / seconds;
  };
  return {delta(before.records_in, after.records_in), delta(before.bytes_in, after.bytes_in),
          delta(before.records_out, after.records_out), delta(before.bytes_out, after.bytes_out)};
}

std::map<std::string, std::vector<ThroughputHistory::Point>, std::less<>>
ThroughputHistory::TopicSeries(int64_t window_ms) const {
  std::map<std::string, std::vector<Point>, std::less<>> out;
  std::lock_guard lock(mu_);
  if (topics_.size() < 2) return out;
  const int64_t newest = topics_.back().monotonic_ms;
  for (size_t i = 1; i < topics_.size(); ++i) {
    const TopicSample& before = topics_[i - 1];
    const TopicSample& after = topics_[i];
    if (newest - after.monotonic_ms > window_ms) continue;
    for (const auto& [topic, totals] : after.topics) {
      auto it = before.topics.find(topic);
      const Totals zero;
      out[topic].push_back(
          {after.wall_ms, RateBetween(it == before.topics.end() ? zero : it->second, totals,
                                      after.monotonic_ms - before.monotonic_ms)});
    }
  }
  return out;
}

std::map<std::pair<std::string, int32_t>, ThroughputHistory::Rates>
ThroughputHistory::PartitionRates() const {
  std::map<std::pair<std::string, int32_t>, Rates> out;
  std::lock_guard lock(mu_);
  if (partitions_.size() < 2) return out;
  const PartitionSample& first = partitions_.front();
  const PartitionSample& last = partitions_.back();
  for (const auto& [tp, totals] : last.partitions) {
    auto it = first.partitions.find(tp);
    const Totals zero;
    out[tp] = RateBetween(it == first.partitions.end() ? zero : it->second, totals,
                          last.monotonic_ms - first.monotonic_ms);
  }
  return out;
}

int64_t ThroughputHistory::PartitionWindowMs() const {
  std::lock_guard lock(mu_);
  if (partitions_.size() < 2) return 0;
  return partitions_.back().monotonic_ms - partitions_.front().monotonic_ms;
}

}  // namespace sluice::net

#include "net/broker_metrics.h"

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

}  // namespace sluice::net

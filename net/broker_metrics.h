#pragma once

// The broker's own counters for /metrics (net/admin_http.h): requests, latencies and errors per
// API (RequestMetrics, fed by the Responder's completion: net/server.h RequestObserver) and
// records and bytes produced and fetched per topic partition (TrafficMetrics). Not part of net/'s
// public API.
//
// Cost on the request path: relaxed atomic increments, plus, per topic of a Produce or Fetch, one
// shared (reader) lock of TrafficMetrics' map to find the topic's counters; a scrape takes the
// same reader lock, so it never blocks a request. The writer lock is taken only to add a topic's
// counters (its first produce or fetch) or drop them (topic deleted).
//
// Thread-safety: every member, any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/server.h"
#include "segment/base/clock.h"
#include "segment/base/histogram.h"

namespace sluice::net {

class RequestMetrics final : public RequestObserver {
 public:
  static constexpr int16_t kApiKeys = 128;     // API keys 0..127 are counted
  static constexpr int16_t kErrorCodes = 130;  // error codes -1..128
  // Request latency upper bounds, in ns: 100 us .. 30 s.
  static constexpr std::array<int64_t, 17> kLatencyBoundsNs = {
      100'000,       250'000,       500'000,       1'000'000,      2'500'000,     5'000'000,
      10'000'000,    25'000'000,    50'000'000,    100'000'000,    250'000'000,   500'000'000,
      1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000};

  // `clock` (monotonic time) must outlive this.
  explicit RequestMetrics(const base::Clock& clock);

  int64_t NowNs() const { return clock_.MonotonicNs(); }
  void RequestDone(int16_t api_key, int64_t start_ns) override;
  void RequestError(int16_t api_key, int16_t error_code) override;

  struct ApiSnapshot {
    int16_t api_key = 0;
    uint64_t requests = 0;
    base::AtomicHistogram::Snapshot latency_ns;
    std::vector<std::pair<int16_t, uint64_t>> errors;  // (code, count), counts > 0 only
  };
  // The APIs that have seen a request, by key.
  std::vector<ApiSnapshot> Read() const;

 private:
  struct PerApi {
    base::AtomicHistogram latency_ns{kLatencyBoundsNs};
    std::array<std::atomic<uint64_t>, kErrorCodes> errors{};
  };
  const base::Clock& clock_;
  std::vector<std::unique_ptr<PerApi>> apis_;  // kApiKeys entries, made once
};

// Records and bytes in and out of one partition (since the broker started).
struct PartitionTraffic {
  std::atomic<uint64_t> records_in{0};   // records appended (Produce), duplicates not counted
  std::atomic<uint64_t> bytes_in{0};     // their batches' bytes, as received
  std::atomic<uint64_t> records_out{0};  // records in the batches sent to Fetch requests
  std::atomic<uint64_t> bytes_out{0};    // those batches' bytes, as sent
};

class TrafficMetrics {
 public:
  // The counters of `topic`'s `partition` (made on first use). The pointer stays valid while
  // held, even after Forget (the counts then go nowhere).
  std::shared_ptr<PartitionTraffic> For(std::string_view topic, int32_t partition);
  // Drops a deleted topic's counters (a topic made again under its name starts from zero).
  void Forget(std::string_view topic);

  struct Entry {
    std::string topic;
    int32_t partition = 0;
    uint64_t records_in = 0, bytes_in = 0, records_out = 0, bytes_out = 0;
  };
  std::vector<Entry> Read() const;

 private:
  mutable std::shared_mutex mu_;
  // Guarded by mu_: per topic, counters by partition (null where none was asked for).
  std::map<std::string, std::vector<std::shared_ptr<PartitionTraffic>>, std::less<>> topics_;
};

// Recent throughput for the JSON API (/api/v1/throughput, the console's chart): samples of
// TrafficMetrics' counters taken by the admin listener's tick (once a second), turned into rates.
// Per topic for the last `topic_samples` samples; per partition for the last `partition_samples`
// (the rates the topic pages show), so that memory stays small with many partitions. Sampling
// reads the counters the request path increments (TrafficMetrics::Read: a reader lock and
// relaxed loads), so it adds no lock the hot path waits on.
//
// A counter that went down (a topic deleted and made again) counts as a restart from zero.
//
// Thread-safety: every member, any thread (mu_ guards the samples).
class ThroughputHistory {
 public:
  ThroughputHistory(size_t topic_samples, size_t partition_samples);

  // Records the counters as they are at `monotonic_ms` (wall clock `wall_ms`, for the series'
  // times). Samples must come in increasing monotonic_ms; one not after the last is dropped.
  void Add(int64_t monotonic_ms, int64_t wall_ms, const std::vector<TrafficMetrics::Entry>& now);

  struct Rates {  // per second
    double records_in = 0, bytes_in = 0, records_out = 0, bytes_out = 0;
  };
  struct Point {
    int64_t wall_ms = 0;  // the end of the interval
    Rates rates;          // over the interval since the sample before
  };
  // Per topic, one point per pair of consecutive samples whose newer one is at most `window_ms`
  // older than the newest sample, oldest first.
  std::map<std::string, std::vector<Point>, std::less<>> TopicSeries(int64_t window_ms) const;
  // Per partition, the rate from the oldest partition sample to the newest (zero with fewer than
  // two samples).
  std::map<std::pair<std::string, int32_t>, Rates> PartitionRates() const;
  // Milliseconds the partition rates span (0 with fewer than two samples).
  int64_t PartitionWindowMs() const;

 private:
  struct Totals {
    uint64_t records_in = 0, bytes_in = 0, records_out = 0, bytes_out = 0;
  };
  struct TopicSample {
    int64_t monotonic_ms = 0;
    int64_t wall_ms = 0;
    std::map<std::string, Totals, std::less<>> topics;
  };
  struct PartitionSample {
    int64_t monotonic_ms = 0;
    std::map<std::pair<std::string, int32_t>, Totals> partitions;
  };
  static Rates RateBetween(const Totals& before, const Totals& after, int64_t ms);

  const size_t topic_samples_;
  const size_t partition_samples_;
  mutable std::mutex mu_;
  std::deque<TopicSample> topics_;          // guarded by mu_; oldest first
  std::deque<PartitionSample> partitions_;  // guarded by mu_; oldest first
};

}  // namespace sluice::net

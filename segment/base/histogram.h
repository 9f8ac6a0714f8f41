#pragma once

// AtomicHistogram: counts of values in fixed buckets, for metrics (Prometheus histograms). Record
// is lock-free and wait-free (relaxed atomic increments), so it may sit on a hot path; Read may run
// concurrently with Records.
//
// Thread-safety: every member may be called from any thread. A Read concurrent with Records may
// miss the records in flight, and its sum may include a value whose bucket it has not counted
// yet; its count is always the sum of its bucket counts (so the +Inf bucket equals the count).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

namespace sluice::base {

class AtomicHistogram {
 public:
  // `bounds`: ascending inclusive upper bounds (Prometheus's `le`); a value above the last one is
  // counted in the implicit +Inf bucket. The span must outlive the histogram (a static array).
  explicit AtomicHistogram(std::span<const int64_t> bounds)
      : bounds_(bounds), counts_(bounds.size() + 1) {}
  AtomicHistogram(const AtomicHistogram&) = delete;
  AtomicHistogram& operator=(const AtomicHistogram&) = delete;

  void Record(int64_t value) {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    counts_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::span<const int64_t> bounds;
    std::vector<uint64_t> counts;  // per bucket, not cumulative; counts.back() is the +Inf bucket
    uint64_t count = 0;            // the sum of `counts`
    int64_t sum = 0;
  };
  Snapshot Read() const {
    Snapshot s;
    s.bounds = bounds_;
    s.counts.reserve(counts_.size());
    for (const auto& c : counts_) {
      s.counts.push_back(c.load(std::memory_order_relaxed));
      s.count += s.counts.back();
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  const std::span<const int64_t> bounds_;
  std::vector<std::atomic<uint64_t>> counts_;  // bounds_.size() + 1 buckets
  std::atomic<int64_t> sum_{0};
};

}  // namespace sluice::base

#pragma once

// FetchWaiters: Fetch requests parked until data arrives (Kafka's long poll: max_wait_ms,
// min_bytes). A parked fetch holds no thread: it is a callback fired once, either when one of its
// partitions gets new data (Notify, called from the engine's on_data hook) or at its deadline.
//
// Lost wake-ups are excluded by a data version: a fetch reads version() before it reads the log,
// and Park refuses (returns false) if any data arrived since, so the caller reads again.
//
// Thread-safety: every method may be called from any thread. Callbacks run on the notifying
// thread or the timer thread, without the lock held; they must be quick (post work elsewhere).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::net {

class FetchWaiters {
 public:
  using Clock = std::chrono::steady_clock;
  // Fired once: `timed_out` is false when data arrived, true at the deadline or on Stop.
  using Callback = std::function<void(bool timed_out)>;

  FetchWaiters();
  ~FetchWaiters();
  FetchWaiters(const FetchWaiters&) = delete;
  FetchWaiters& operator=(const FetchWaiters&) = delete;

  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Data arrived on topic-partition.
  void Notify(const std::string& topic, int32_t partition);

  // Parks `fire` on `partitions` until `deadline`. Returns false (and does not park) if data
  // arrived anywhere since `seen_version` or the waiters are stopped.
  bool Park(uint64_t seen_version, const std::vector<std::pair<std::string, int32_t>>& partitions,
            Clock::time_point deadline, Callback fire);

  // Fires every parked callback (timed out) and refuses new ones. Idempotent.
  void Stop();

  size_t parked_for_testing() const;

 private:
  struct Waiter {
    std::vector<std::string> keys;
    Clock::time_point deadline;
    Callback fire;
  };
  static std::string Key(const std::string& topic, int32_t partition);
  // Removes waiter `id` and returns its callback. Requires mu_.
  Callback RemoveLocked(uint64_t id);
  void TimerLoop();

  std::atomic<uint64_t> version_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Waiter> waiters_;
  std::unordered_multimap<std::string, uint64_t> by_partition_;
  std::multimap<Clock::time_point, uint64_t> by_deadline_;
  std::thread timer_;
};

}  // namespace sluice::net

#include "net/fetch_waiters.h"

namespace sluice::net {

FetchWaiters::FetchWaiters() : timer_([this] { TimerLoop(); }) {}

FetchWaiters::~FetchWaiters() { Stop(); }

std::string FetchWaiters::Key(const std::string& topic, int32_t partition) {
  std::string key = topic;
  key.push_back('\0');
  key += std::to_string(partition);
  return key;
}

FetchWaiters::Callback FetchWaiters::RemoveLocked(uint64_t id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return nullptr;
  Waiter w = std::move(it->second);
  waiters_.erase(it);
  for (const std::string& key : w.keys) {
    auto [b, e] = by_partition_.equal_range(key);
    for (auto p = b; p != e; ++p) {
      if (p->second == id) {
        by_partition_.erase(p);
        break;
      }
    }
  }
  auto [b, e] = by_deadline_.equal_range(w.deadline);
  for (auto p = b; p != e; ++p) {
    if (p->second == id) {
      by_deadline_.erase(p);
      break;
    }
  }
  return std::move(w.fire);
}

void FetchWaiters::Notify(const std::string& topic, int32_t partition) {
  version_.fetch_add(1, std::memory_order_acq_rel);
  std::vector<Callback> fire;
  {
    std::lock_guard lock(mu_);
    if (by_partition_.empty()) return;
    const std::string key = Key(topic, partition);
    std::vector<uint64_t> ids;
    auto [b, e] = by_partition_.equal_range(key);
    for (auto p = b; p != e; ++p) ids.push_back(p->second);
    for (uint64_t id : ids) {
      if (Callback cb = RemoveLocked(id)) fire.push_back(std::move(cb));
    }
  }
  for (auto& cb : fire) cb(false);
}

bool FetchWaiters::Park(uint64_t seen_version,
                        const std::vector<std::pair<std::string, int32_t>>& partitions,
                        Clock::time_point deadline, Callback fire) {
  std::lock_guard lock(mu_);
  // Notify bumps the version before taking mu_, so a notification that this check misses will
  // find the waiter registered below.
  if (stopped_ || version_.load(std::memory_order_acquire) != seen_version) return false;
  const uint64_t id = next_id_++;
  Waiter w{{}, deadline, std::move(fire)};
  for (const auto& [topic, partition] : partitions) {
    w.keys.push_back(Key(topic, partition));
    by_partition_.emplace(w.keys.back(), id);
  }
  const bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
  by_deadline_.emplace(deadline, id);
  waiters_.emplace(id, std::move(w));
  if (earliest) cv_.notify_one();
  return true;
}

void FetchWaiters::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!stopped_) {
    if (by_deadline_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto next = by_deadline_.begin()->first;
    if (Clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    std::vector<Callback> fire;
    const auto now = Clock::now();
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      if (Callback cb = RemoveLocked(by_deadline_.begin()->second)) fire.push_back(std::move(cb));
    }
    lock.unlock();
    for (auto& cb : fire) cb(true);
    lock.lock();
  }
}

void FetchWaiters::Stop() {
  std::vector<Callback> fire;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    while (!waiters_.empty()) {
      if (Callback cb = RemoveLocked(waiters_.begin()->first)) fire.push_back(std::move(cb));
    }
  }
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (auto& cb : fire) cb(true);
}

size_t FetchWaiters::parked_for_testing() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

}  // namespace sluice::net

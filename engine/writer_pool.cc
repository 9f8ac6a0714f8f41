#include "engine/writer_pool.h"

#include <utility>

namespace sluice::engine {

void WriterPool::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      if (threads_.empty()) {
        for (int i = 0; i < threads_wanted_; ++i) threads_.emplace_back([this] { Loop(); });
      }
      tasks_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task();
}

void WriterPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads = std::exchange(threads_, {});
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void WriterPool::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and nothing is left
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace sluice::engine

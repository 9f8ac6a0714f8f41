#include "net/memory_budget.h"

#include <algorithm>

namespace sluice::net {

MemoryBudget::Lease& MemoryBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool MemoryBudget::Lease::TryGrow(size_t n) {
  if (budget_ == nullptr || !budget_->TryTake(n)) return false;
  bytes_ += n;
  return true;
}

void MemoryBudget::Lease::ShrinkTo(size_t keep) {
  if (budget_ == nullptr || keep >= bytes_) return;
  const size_t give = bytes_ - keep;
  bytes_ = keep;
  budget_->Give(give);
}

MemoryBudget::Lease MemoryBudget::TryReserve(size_t n) {
  if (!TryTake(n)) return Lease();
  return Lease(this, n);
}

MemoryBudget::Lease MemoryBudget::ReserveAnyway(size_t n) {
  std::lock_guard lock(mu_);
  used_ += n;
  used_published_.store(used_, std::memory_order_relaxed);
  peak_ = std::max(peak_, used_);
  return Lease(this, n);
}

bool MemoryBudget::TryTake(size_t n) {
  std::lock_guard lock(mu_);
  if (n > 0 && used_ > 0 && (used_ >= capacity_ || n > capacity_ - used_)) {
    ++refused_;
    return false;
  }
  used_ += n;
  used_published_.store(used_, std::memory_order_relaxed);
  peak_ = std::max(peak_, used_);
  return true;
}

void MemoryBudget::Give(size_t n) {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    used_ -= std::min(n, used_);
    used_published_.store(used_, std::memory_order_relaxed);
    ++released_;
    wake.swap(waiters_);
  }
  for (auto& fn : wake) fn();
}

void MemoryBudget::WakeWhenReleased(uint64_t releases_seen, std::function<void()> wake) {
  {
    std::lock_guard lock(mu_);
    if (released_ == releases_seen) {
      waiters_.push_back(std::move(wake));
      return;
    }
  }
  wake();
}

size_t MemoryBudget::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

size_t MemoryBudget::peak() const {
  std::lock_guard lock(mu_);
  return peak_;
}

uint64_t MemoryBudget::releases() const {
  std::lock_guard lock(mu_);
  return released_;
}

uint64_t MemoryBudget::refusals() const {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace sluice::net

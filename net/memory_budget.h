#pragma once

// MemoryBudget: the broker's one account of the memory that clients make it hold (Kafka's
// queued.max.request.bytes, widened): bytes of requests being received or waiting for a handler,
// decompressed batches being checked, and transcoded batches in responses being built or sent.
//
// Two ways to take memory, because there are two kinds of work:
// - TryReserve, for work not yet accepted (reading a request off a socket). It succeeds only when
//   the bytes fit under the capacity, or when nothing at all is reserved (so that one request
//   larger than the whole budget still gets in, alone, and no connection waits forever). A reader
//   refused here stops reading that socket (back-pressure) and asks to be woken with
//   WakeWhenReleased.
// - ReserveAnyway, for work already accepted (a received request being handled must finish for its
//   bytes to come back). It never fails and may take the total over the capacity; until the total
//   is back under it, every TryReserve fails, so reading stops. What bounds it is the work already
//   admitted: a bounded number of worker threads, each decompressing at most a topic's
//   max.message.bytes.
//
// Nothing here allocates; it only counts. A Lease returns its bytes when destroyed, so a frame, a
// decompression buffer or a response pin carries its own charge and cannot leak it.
//
// Thread-safety: every member may be called from any thread. Wake callbacks run on the thread that
// released the bytes (or the caller of WakeWhenReleased), outside the budget's lock, and must only
// post work: they run once each. Waiters are few (one per event loop, which keeps its own queue of
// connections waiting for memory), so every release wakes them all.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace sluice::net {

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t capacity) : capacity_(capacity) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Bytes reserved and not yet released.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Reset(); }

    size_t bytes() const { return bytes_; }
    explicit operator bool() const { return budget_ != nullptr; }
    // Takes `n` more bytes with TryReserve's rule; false (and nothing taken) when they do not fit.
    bool TryGrow(size_t n);
    // Gives back all but `keep` bytes.
    void ShrinkTo(size_t keep);
    void Reset() { ShrinkTo(0); }

   private:
    friend class MemoryBudget;
    Lease(MemoryBudget* budget, size_t bytes) : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    size_t bytes_ = 0;
  };

  // An empty lease on this budget, to grow later.
  Lease Empty() { return Lease(this, 0); }
  // `n` bytes if they fit under the capacity or nothing is reserved; else an empty (false) lease.
  Lease TryReserve(size_t n);
  // `n` bytes, over the capacity if need be.
  Lease ReserveAnyway(size_t n);

  // Runs `wake` once, after the next release of any bytes, or now if something was released since
  // `releases_seen` (a releases() value read before the refused TryReserve), so that a waiter is
  // not forgotten when the release happened between its refusal and this call.
  void WakeWhenReleased(uint64_t releases_seen, std::function<void()> wake);
  // How many releases have happened: read before a TryReserve, passed to WakeWhenReleased.
  uint64_t releases() const;

  size_t capacity() const { return capacity_; }
  size_t used() const;
  // used() without the lock, for metrics (the value after the last change).
  size_t used_lock_free() const { return used_published_.load(std::memory_order_relaxed); }
  // The most ever reserved at once.
  size_t peak() const;
  // How many TryReserve calls were refused (each one a reader that stopped reading).
  uint64_t refusals() const;

 private:
  bool TryTake(size_t n);
  void Give(size_t n);

  const size_t capacity_;
  mutable std::mutex mu_;
  size_t used_ = 0;                             // guarded by mu_
  size_t peak_ = 0;                             // guarded by mu_
  uint64_t refused_ = 0;                        // guarded by mu_
  uint64_t released_ = 0;                       // guarded by mu_: Give calls
  std::atomic<size_t> used_published_{0};       // used_, stored under mu_ at each change
  std::vector<std::function<void()>> waiters_;  // guarded by mu_
};

}  // namespace sluice::net

#pragma once

// WriterStats: what PartitionLog's writer did, counted for metrics (`sluice serve`'s /metrics):
// how long fdatasyncs took and how many appends each group commit wrote. Process-wide (every
// engine in the process counts into the one instance), lock-free to record.
//
// Thread-safety: any thread; see base::AtomicHistogram.

#include <array>
#include <cstdint>

#include "segment/base/histogram.h"

namespace sluice::engine {

struct WriterStats {
  // Upper bounds, in ns: 50 us .. 10 s.
  static constexpr std::array<int64_t, 16> kSyncBoundsNs = {
      50'000,      100'000,       250'000,       500'000,       1'000'000,   2'500'000,
      5'000'000,   10'000'000,    25'000'000,    50'000'000,    100'000'000, 250'000'000,
      500'000'000, 1'000'000'000, 2'500'000'000, 10'000'000'000};
  // Upper bounds of a group's size, in appends (one append = one partition of one Produce).
  static constexpr std::array<int64_t, 11> kGroupBounds = {1,  2,   4,   8,   16,  32,
                                                           64, 128, 256, 512, 1024};

  // A flush=sync group's gathered write and its fdatasync (one submission), and each background
  // or explicit Flush's fdatasync.
  base::AtomicHistogram sync_ns{kSyncBoundsNs};
  // Appends written per group (group commit), every group, synced or not.
  base::AtomicHistogram group_appends{kGroupBounds};

  static WriterStats& Global() {
    static WriterStats stats;
    return stats;
  }
};

}  // namespace sluice::engine

#pragma once

// The sparse index of one segment: (offset, position, max timestamp before) every
// index.interval.bytes. Layout: segment/FORMAT.md, "Sparse index".
//
// Thread-safety: one writer appends entries; any number of readers search the entries published so
// far without locking (entries never move and are published with a release store of the count).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "segment/base/coding.h"
#include "segment/base/result.h"
#include "segment/base/strong_int.h"

namespace sluice::segment {

using base::Bytes;
using base::FilePos;
using base::Offset;
using base::Result;

// Trivially constructible on purpose: an index reserves room for every entry its segment could
// need, and that room must stay untouched (unbacked) memory until entries are written.
struct IndexEntry {
  uint32_t relative_offset;
  uint32_t position;
  int64_t max_timestamp_before;
};
static_assert(std::is_trivially_default_constructible_v<IndexEntry>);

// Where a segment ends and what is known at that point.
struct SegmentTail {
  FilePos end;                 // first byte after the last frame
  Offset next_offset;          // offset of the next record to be appended
  int64_t max_timestamp = -1;  // largest record timestamp in the segment, -1 if none
};

class SegmentIndex {
 public:
  // An index that can hold `capacity` entries.
  SegmentIndex(Offset base, size_t capacity);

  Offset base_offset() const { return base_; }
  size_t capacity() const { return capacity_; }
  size_t size() const { return count_.load(std::memory_order_acquire); }
  const IndexEntry& at(size_t i) const { return entries_[i]; }

  // Writer: appends an entry (strictly after the last one) and publishes it.
  void Add(const IndexEntry& e);
  // Writer, before the index is shared: keeps the first `count` entries.
  void Truncate(size_t count);

  // The last entry whose offset is <= `offset`, or nullopt if `offset` is before the first.
  std::optional<IndexEntry> FloorByOffset(Offset offset) const;
  // The last entry whose max_timestamp_before is < `timestamp` (nothing before it can match).
  std::optional<IndexEntry> FloorByTime(int64_t timestamp) const;

  // The file image of the entries at positions before `tail.end`.
  std::string Encode(const SegmentTail& tail) const;

  // A parsed index file.
  struct Decoded {
    std::unique_ptr<SegmentIndex> index;
    SegmentTail tail;  // covered_bytes, next_offset, max_timestamp from the header
  };
  // Parses and validates an index file for the segment at `base`; `extra_capacity` entries of room
  // are left for appends. kCorruption / kUnsupportedVersion when it must be rebuilt.
  static Result<Decoded> Decode(Bytes file, Offset base, size_t extra_capacity);

 private:
  Offset base_;
  size_t capacity_;
  std::unique_ptr<IndexEntry[]> entries_;
  std::atomic<size_t> count_{0};
};

}  // namespace sluice::segment

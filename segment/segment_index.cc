#include "segment/segment_index.h"

#include "segment/base/checksum.h"
#include "segment/format.h"

namespace sluice::segment {

using base::ErrorCode;
using base::LoadLE;
using base::MakeError;
using base::StoreLE;

SegmentIndex::SegmentIndex(Offset base, size_t capacity)
    : base_(base), capacity_(capacity), entries_(new IndexEntry[capacity]) {}

void SegmentIndex::Add(const IndexEntry& e) {
  size_t n = count_.load(std::memory_order_relaxed);
  SLUICE_CHECK(n < capacity_, "segment index is full");
  SLUICE_DCHECK(n == 0 || (e.relative_offset > entries_[n - 1].relative_offset &&
                           e.position > entries_[n - 1].position),
                "index entries must increase");
  entries_[n] = e;
  count_.store(n + 1, std::memory_order_release);
}

void SegmentIndex::Truncate(size_t count) {
  if (count < size()) count_.store(count, std::memory_order_release);
}

std::optional<IndexEntry> SegmentIndex::FloorByOffset(Offset offset) const {
  const int64_t rel = offset - base_;
  size_t lo = 0;
  size_t hi = size();
  // First entry with relative_offset > rel.
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (static_cast<int64_t>(entries_[mid].relative_offset) <= rel) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return std::nullopt;
  return entries_[lo - 1];
}

std::optional<IndexEntry> SegmentIndex::FloorByTime(int64_t timestamp) const {
  size_t lo = 0;
  size_t hi = size();
  // First entry with max_timestamp_before >= timestamp.
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (entries_[mid].max_timestamp_before < timestamp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return std::nullopt;
  return entries_[lo - 1];
}

std::string SegmentIndex::Encode(const SegmentTail& tail) const {
  size_t n = size();
  while (n > 0 && entries_[n - 1].position >= tail.end.value()) --n;
  std::string out(format::kIndexHeaderSize + n * format::kIndexEntrySize, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  std::memcpy(p, format::kIndexMagic.data(), 8);
  StoreLE<uint16_t>(p + 8, format::kIndexCurrentVersion);
  StoreLE<uint16_t>(p + 10, 0);
  StoreLE<uint32_t>(p + 12, static_cast<uint32_t>(n));
  StoreLE<int64_t>(p + 16, base_.value());
  StoreLE<uint64_t>(p + 24, tail.end.value());
  StoreLE<int64_t>(p + 32, tail.next_offset.value());
  StoreLE<int64_t>(p + 40, tail.max_timestamp);
  std::byte* e = p + format::kIndexHeaderSize;
  for (size_t i = 0; i < n; ++i, e += format::kIndexEntrySize) {
    StoreLE<uint32_t>(e, entries_[i].relative_offset);
    StoreLE<uint32_t>(e + 4, entries_[i].position);
    StoreLE<int64_t>(e + 8, entries_[i].max_timestamp_before);
  }
  base::Xxh3Stream h;
  h.Update(Bytes(p, 48));
  h.Update(Bytes(p + format::kIndexHeaderSize, n * format::kIndexEntrySize));
  StoreLE<uint64_t>(p + 48, h.Digest());
  return out;
}

Result<SegmentIndex::Decoded> SegmentIndex::Decode(Bytes file, Offset base, size_t extra_capacity) {
  auto bad = [](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, "index: " + why);
  };
  if (file.size() < format::kIndexHeaderSize) return bad("shorter than its header");
  const std::byte* p = file.data();
  if (std::memcmp(p, format::kIndexMagic.data(), 8) != 0) return bad("bad magic");
  auto version = LoadLE<uint16_t>(p + 8);
  if (version < format::kIndexMinReadableVersion || version > format::kIndexCurrentVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion, "index version " + std::to_string(version));
  }
  if (LoadLE<uint16_t>(p + 10) != 0) return bad("unknown flags");
  auto count = LoadLE<uint32_t>(p + 12);
  if (file.size() != format::kIndexHeaderSize + uint64_t{count} * format::kIndexEntrySize) {
    return bad("size does not match its entry count");
  }
  base::Xxh3Stream h;
  h.Update(file.first(48));
  h.Update(file.subspan(format::kIndexHeaderSize));
  if (h.Digest() != LoadLE<uint64_t>(p + 48)) return bad("checksum mismatch");
  if (LoadLE<int64_t>(p + 16) != base.value()) return bad("base offset does not match");
  if (base.value() < 0) return bad("negative base offset");
  Decoded d;
  d.tail.end = FilePos(LoadLE<uint64_t>(p + 24));
  d.tail.next_offset = Offset(LoadLE<int64_t>(p + 32));
  d.tail.max_timestamp = LoadLE<int64_t>(p + 40);
  if (d.tail.next_offset < base || d.tail.end.value() < format::kSegmentHeaderSize) {
    return bad("header describes an impossible tail");
  }
  d.index = std::make_unique<SegmentIndex>(base, count + extra_capacity);
  const std::byte* e = p + format::kIndexHeaderSize;
  for (uint32_t i = 0; i < count; ++i, e += format::kIndexEntrySize) {
    IndexEntry entry{LoadLE<uint32_t>(e), LoadLE<uint32_t>(e + 4), LoadLE<int64_t>(e + 8)};
    if (i > 0) {
      const IndexEntry& prev = d.index->at(i - 1);
      if (entry.relative_offset <= prev.relative_offset || entry.position <= prev.position ||
          entry.max_timestamp_before < prev.max_timestamp_before) {
        return bad("entries out of order");
      }
    } else if (entry.position != format::kSegmentHeaderSize) {
      // The first frame of a compacted segment may start above the base (FORMAT.md).
      return bad("first entry is not the first frame");
    }
    // next_offset >= base >= 0, so the distance fits; adding the entry to the base could overflow.
    if (entry.position >= d.tail.end.value() ||
        uint64_t{entry.relative_offset} >= static_cast<uint64_t>(d.tail.next_offset - base)) {
      return bad("entry beyond the covered range");
    }
    d.index->Add(entry);
  }
  if (count == 0 && d.tail.end.value() != format::kSegmentHeaderSize) {
    return bad("no entries for a non-empty segment");
  }
  return d;
}

}  // namespace sluice::segment

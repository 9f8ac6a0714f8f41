#include "engine/log_cleaner.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "engine/partition_log.h"
#include "segment/base/checksum.h"
#include "segment/base/log.h"
#include "segment/dictionary.h"
#include "segment/format.h"
#include "segment/frame.h"
#include "segment/small_file.h"

namespace sluice::engine {

using base::ErrorCode;
using base::FilePos;
using base::MakeError;
using segment::BatchHeader;
using segment::Frame;
using segment::Segment;

namespace {

namespace f = segment::format;
namespace bf = segment::batch_field;

// Kafka's attribute bit 6 (KIP-534): the batch's base timestamp is the deadline after which its
// tombstones may be removed.
constexpr int16_t kDeleteHorizonBit = 0x40;
// The cleaner writes its output in pieces of about this size.
constexpr size_t kWriteChunkBytes = 1 << 20;
// An offset map entry: a 128-bit hash of the key and the latest offset seen for it.
constexpr uint64_t kMapEntryBytes = 24;

std::atomic<uint64_t> g_passes{0};
std::atomic<uint64_t> g_bytes_read{0};
std::atomic<uint64_t> g_bytes_written{0};
std::atomic<uint64_t> g_records_removed{0};
std::atomic<uint64_t> g_failed_passes{0};

const segment::SmallFileKind& SwapKind() {
  static const segment::SmallFileKind kind{f::kCleanerSwapMagic, f::kCleanerSwapMinReadableVersion,
                                           f::kCleanerSwapCurrentVersion};
  return kind;
}

std::string CleanedPath(const std::string& dir, Offset base) {
  char name[40];
  std::snprintf(name, sizeof(name), "%020" PRId64 "%s", base.value(), kCleanedSuffix);
  return io::JoinPath(dir, name);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status IgnoreNotFound(Status s) {
  if (!s && s.error().code == ErrorCode::kNotFound) return {};
  return s;
}

// A swap: the segments being replaced (`olds`, base offsets ascending) and the cleaned files
// replacing them (`news`, each the base of the first old segment it replaces).
struct SwapPlan {
  std::vector<Offset> olds;
  std::vector<Offset> news;
};

std::string EncodeSwap(const SwapPlan& plan) {
  std::string out(8 + 8 * (plan.olds.size() + plan.news.size()), '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  base::StoreLE<uint32_t>(p, static_cast<uint32_t>(plan.olds.size()));
  base::StoreLE<uint32_t>(p + 4, static_cast<uint32_t>(plan.news.size()));
  p += 8;
  for (const auto* v : {&plan.olds, &plan.news}) {
    for (Offset o : *v) {
      base::StoreLE<int64_t>(p, o.value());
      p += 8;
    }
  }
  return out;
}

Result<SwapPlan> DecodeSwap(const std::string& payload, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kOffline, path + ": damaged cleaner swap manifest (" + why +
                                              "); nothing was changed: move it aside only after "
                                              "checking which segments are whole");
  };
  if (payload.size() < 8) return bad("shorter than its counts");
  const auto* p = reinterpret_cast<const std::byte*>(payload.data());
  const uint64_t olds = base::LoadLE<uint32_t>(p);
  const uint64_t news = base::LoadLE<uint32_t>(p + 4);
  if (payload.size() != 8 + 8 * (olds + news)) return bad("size does not match its counts");
  SwapPlan plan;
  p += 8;
  for (uint64_t i = 0; i < olds + news; ++i, p += 8) {
    const Offset o(base::LoadLE<int64_t>(p));
    auto& v = i < olds ? plan.olds : plan.news;
    if (o.value() < 0 || (!v.empty() && o <= v.back())) return bad("offsets out of order");
    v.push_back(o);
  }
  for (Offset n : plan.news) {
    if (!std::binary_search(plan.olds.begin(), plan.olds.end(), n)) {
      return bad("a new segment replaces no old one");
    }
  }
  return plan;
}

// A new segment found already renamed when a swap is finished: before the old segments it
// replaces are removed, it must be the cleaned file and not the old segment of the same name (its
// .cleaned file lost some other way), or removing them would lose their records. The cleaned file
// reaches past every old segment of its group (its last batch ends where the next kept segment
// begins); the old one ends where the next old segment begins.
Status CheckRenamedSegmentCovers(io::FileSystem& fs, const std::string& dir, const SwapPlan& plan,
                                 size_t i) {
  const Offset b = plan.news[i];
  const Offset group_end =
      i + 1 < plan.news.size() ? plan.news[i + 1] : Offset(std::numeric_limits<int64_t>::max());
  // The last old segment of the group that goes (not replaced by a file of its own name).
  std::optional<Offset> last_removed;
  for (Offset o : plan.olds) {
    if (o > b && o < group_end) last_removed = o;
  }
  if (!last_removed) return {};  // a one-for-one replacement removes nothing else
  ASSIGN_OR_RETURN(bool present, fs.Exists(Segment::LogPath(dir, b)));
  if (!present) return {};  // ApplySwap refuses it, naming both files
  ASSIGN_OR_RETURN(auto seg, Segment::OpenSealed(fs, dir, b, segment::SegmentOptions{},
                                                 segment::IndexRepair::kNo));
  if (seg->tail().next_offset > *last_removed) return {};
  return MakeError(ErrorCode::kOffline,
                   Segment::LogPath(dir, b) + " ends at offset " +
                       std::to_string(seg->tail().next_offset.value()) + ", short of segment " +
                       std::to_string(last_removed->value()) + " that the swap in " +
                       io::JoinPath(dir, kCleanerSwapFile) + " would remove: its " +
                       CleanedPath(dir, b) +
                       " is missing. Nothing was removed; restore the .cleaned file, or move the "
                       "manifest aside to keep the old segments");
}

// Puts the cleaned files of `plan` in place of the old segments. Every step is idempotent, so a
// crash at any point is finished by running it again (FinishCleanerSwap).
Status ApplySwap(io::FileSystem& fs, const std::string& dir, const SwapPlan& plan) {
  // Before anything changes: a new segment already in place must really be the cleaned file.
  for (size_t i = 0; i < plan.news.size(); ++i) {
    ASSIGN_OR_RETURN(bool scratch, fs.Exists(CleanedPath(dir, plan.news[i])));
    if (!scratch) RETURN_IF_ERROR(CheckRenamedSegmentCovers(fs, dir, plan, i));
  }
  // The index beside a new segment's name describes the old file: it goes first, durably, so
  // that it can never be taken for the new file's (it is derived data; open rebuilds it).
  for (Offset b : plan.news) RETURN_IF_ERROR(IgnoreNotFound(fs.Remove(Segment::IndexPath(dir, b))));
  RETURN_IF_ERROR(fs.SyncDir(dir));
  for (Offset b : plan.news) {
    const std::string cleaned = CleanedPath(dir, b);
    ASSIGN_OR_RETURN(bool scratch, fs.Exists(cleaned));
    if (scratch) {
      RETURN_IF_ERROR(fs.Rename(cleaned, Segment::LogPath(dir, b)));
      continue;
    }
    // Renamed by the swap a crash interrupted; the file must be there.
    ASSIGN_OR_RETURN(bool renamed, fs.Exists(Segment::LogPath(dir, b)));
    if (!renamed) {
      return MakeError(ErrorCode::kOffline, cleaned +
                                                ": missing, and so is the segment it was "
                                                "to become; the swap in " +
                                                io::JoinPath(dir, kCleanerSwapFile) +
                                                " cannot be finished");
    }
  }
  // Every new segment is in place before any old one goes.
  RETURN_IF_ERROR(fs.SyncDir(dir));
  for (Offset b : plan.olds) {
    if (std::binary_search(plan.news.begin(), plan.news.end(), b)) continue;
    RETURN_IF_ERROR(IgnoreNotFound(fs.Remove(Segment::LogPath(dir, b))));
    RETURN_IF_ERROR(IgnoreNotFound(fs.Remove(Segment::IndexPath(dir, b))));
  }
  RETURN_IF_ERROR(fs.SyncDir(dir));
  RETURN_IF_ERROR(fs.Remove(io::JoinPath(dir, kCleanerSwapFile)));
  return fs.SyncDir(dir);
}

// The offset map: 128-bit key hash -> latest offset, open addressing (linear probing) in a table
// allocated once. Lookups are cache misses in a table of tens of MiB: callers hash a batch's keys
// first and Prefetch their slots, so that the misses of a batch overlap; and the table lives in
// anonymous memory the kernel may back with huge pages (MADV_HUGEPAGE), because with 4 KiB pages
// nearly every probe also misses the TLB (the profile showed the probes' stalls as most of the
// offset map's time). The pages are zero until touched: a zero slot is empty.
class OffsetMap {
 public:
  using Hash = base::Hash128;
  static Hash HashKey(std::string_view key) { return base::Xxh3_128(base::AsBytes(key)); }

  static Result<OffsetMap> Create(size_t slots) {
    slots = std::max<size_t>(slots, 16);
    const size_t bytes = slots * sizeof(Slot);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return base::MakeError(ErrorCode::kIoError, "the cleaner's offset map (" +
                                                      std::to_string(bytes) +
                                                      " bytes): " + std::strerror(errno));
    }
    madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without it the map works, only slower
    return OffsetMap(static_cast<Slot*>(p), slots);
  }
  OffsetMap(OffsetMap&& o) noexcept
      : table_(std::exchange(o.table_, nullptr)),
        slots_(o.slots_),
        limit_(o.limit_),
        count_(o.count_) {}
  OffsetMap& operator=(OffsetMap&&) = delete;
  ~OffsetMap() {
    if (table_ != nullptr) munmap(table_, slots_ * sizeof(Slot));
  }

  // Records `offset` as the latest of the key. Returns the key's previous latest offset (-1 when
  // the key is new), or nullopt when the key is new and the map is full.
  std::optional<int64_t> Put(const Hash& h, int64_t offset) {
    Slot& s = table_[Find(h)];
    if (s.end == 0) {
      if (count_ >= limit_) return std::nullopt;
      ++count_;
      s.hash = h;
    }
    const int64_t previous = s.end - 1;
    s.end = std::max(s.end, offset + 1);
    return previous;
  }
  // The latest offset of the key; -1 if it is not in the map.
  int64_t Get(const Hash& h) const { return table_[Find(h)].end - 1; }
  void Prefetch(const Hash& h) const { __builtin_prefetch(&table_[Home(h)]); }
  size_t size() const { return count_; }

 private:
  struct Slot {
    Hash hash;
    int64_t end;  // the latest offset + 1; 0: the slot is empty
  };
  OffsetMap(Slot* table, size_t slots) : table_(table), slots_(slots), limit_(slots / 10 * 9) {}
  // The first slot to probe: the hash scaled to the table (no division).
  size_t Home(const Hash& h) const {
    __extension__ using Wide = unsigned __int128;
    return static_cast<size_t>((static_cast<Wide>(h.low) * slots_) >> 64);
  }
  // The slot of the key, or the empty one where it would go. Never full (limit_ < slots_), so
  // the probe ends.
  size_t Find(const Hash& h) const {
    for (size_t i = Home(h);; i = i + 1 == slots_ ? 0 : i + 1) {
      const Slot& s = table_[i];
      if (s.end == 0 || (s.hash.low == h.low && s.hash.high == h.high)) return i;
    }
  }
  Slot* table_;
  size_t slots_;
  size_t limit_;
  size_t count_ = 0;
};

// The records of the dirty range that a later record of the same key replaces: a bit per offset,
// set while the offset map is built (a Put that finds its key marks the key's previous offset).
// The rewrite decides the dirty range's records by these bits alone, without hashing their keys
// or probing the map (a cache miss each in a table of tens of MiB); only the records of segments
// cleaned before, which the map phase does not read, are looked up in the map. A record is
// marked exactly when the map ends up holding a later offset for its key, so both ways decide
// alike. Offsets in the dirty range are dense (a segment is dirty until its first cleaning). The
// bits cover at most as many offsets as the dedupe buffer has bytes (an eighth more memory);
// batches beyond them are decided through the map.
class Superseded {
 public:
  // Offsets [base, end).
  Superseded(int64_t base, int64_t end)
      : base_(base), end_(end), bits_(static_cast<size_t>((end - base + 63) / 64)) {}
  // Whether the bits decide every record of offsets [first, last].
  bool Covers(int64_t first, int64_t last) const { return first >= base_ && last < end_; }
  void Mark(int64_t offset) {
    const auto i = static_cast<uint64_t>(offset - base_);
    if (offset >= base_ && i / 64 < bits_.size()) bits_[i / 64] |= uint64_t{1} << (i % 64);
  }
  bool Test(int64_t offset) const {
    const auto i = static_cast<uint64_t>(offset - base_);
    return offset >= base_ && i / 64 < bits_.size() && (bits_[i / 64] >> (i % 64) & 1) != 0;
  }

 private:
  int64_t base_;
  int64_t end_;
  std::vector<uint64_t> bits_;
};

// The pass's I/O pace (CleanerOptions::io_max_bytes_per_second): after each step's bytes, the
// pass sleeps while it is ahead of the rate since the pace was anchored. A pass that falls behind
// it (bound by its CPU, or waiting for the disk) re-anchors instead of saving up credit for a
// burst later: at most kCredit's worth.
class Pace {
 public:
  using Clock = std::chrono::steady_clock;
  Pace(uint64_t bytes_per_second, std::function<bool()> stopping)
      : rate_(static_cast<double>(bytes_per_second)), stopping_(std::move(stopping)) {}

  // Counts `bytes` read or written; returns once the pass is back within the pace (or stopping).
  void Add(uint64_t bytes) {
    if (rate_ == 0) return;
    bytes_ += static_cast<double>(bytes);
    for (;;) {
      const std::chrono::duration<double> since = Clock::now() - anchor_;
      const double ahead = bytes_ / rate_ - since.count();
      if (ahead < -kCredit) {
        anchor_ = Clock::now();
        bytes_ = 0;
        return;
      }
      if (ahead <= 0 || stopping_()) return;
      // In short sleeps, so that a close is not kept waiting.
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(ahead, 0.01)));
    }
  }

 private:
  static constexpr double kCredit = 0.1;  // seconds
  const double rate_;
  const std::function<bool()> stopping_;
  Clock::time_point anchor_ = Clock::now();
  double bytes_ = 0;
};

// One record of a batch as the pass sees it: what the map and the rules need, and its encoded
// bytes (valid until the decoder's next Reset).
struct KeyedRecord {
  OffsetMap::Hash hash;  // of the key, when it has one
  int64_t offset = 0;
  int64_t timestamp = 0;
  Bytes bytes;
  bool has_key = false;
  bool tombstone = false;  // a null value
};

// Decodes the records of `frame` into `out`; with a `map`, hashes their keys and prefetches
// their slots.
Status DecodeKeyed(const Frame& frame, const OffsetMap* map, segment::RecordDecoder& decoder,
                   std::vector<KeyedRecord>& out) {
  out.clear();
  RETURN_IF_ERROR(decoder.Reset(frame.batch, frame.header));
  segment::RecordView rec;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, decoder.Next(rec));
    if (!more) return {};
    KeyedRecord& k = out.emplace_back();
    k.offset = rec.offset;
    k.timestamp = rec.timestamp;
    k.bytes = decoder.record_bytes();
    k.has_key = rec.key.has_value();
    k.tombstone = !rec.value.has_value();
    if (k.has_key && map != nullptr) {
      k.hash = OffsetMap::HashKey(*rec.key);
      map->Prefetch(k.hash);
    }
  }
}

void PutNullable(std::string& out, std::optional<std::string_view> v) {
  if (!v) {
    base::PutVarint(out, -1);
    return;
  }
  base::PutVarint(out, static_cast<int64_t>(v->size()));
  out.append(*v);
}

// Appends `r` to a records section whose batch has `base_offset` and `base_ts`.
Status EncodeRecord(std::string& out, std::string& scratch, const segment::RecordView& r,
                    int64_t base_offset, int64_t base_ts) {
  int64_t ts_delta = 0;
  if (__builtin_sub_overflow(r.timestamp, base_ts, &ts_delta)) {
    return MakeError(ErrorCode::kOutOfRange, "record timestamp " + std::to_string(r.timestamp) +
                                                 " cannot be rebased on " +
                                                 std::to_string(base_ts));
  }
  scratch.clear();
  scratch.push_back('\0');  // attributes: unused
  base::PutVarint(scratch, ts_delta);
  base::PutVarint(scratch, r.offset - base_offset);
  PutNullable(scratch, r.key);
  PutNullable(scratch, r.value);
  base::PutVarint(scratch, static_cast<int64_t>(r.headers.size()));
  for (const segment::RecordHeader& h : r.headers) {
    base::PutVarint(scratch, static_cast<int64_t>(h.key.size()));
    scratch.append(h.key);
    PutNullable(scratch, h.value);
  }
  base::PutVarint(out, static_cast<int64_t>(scratch.size()));
  out += scratch;
  return {};
}

// Sets the header fields of a rebuilt batch `out` (its first 61 bytes copied from the original)
// and its CRC-32C.
void FinishBatch(std::string& out, int16_t attributes, int64_t base_ts, int64_t max_ts,
                 int32_t records) {
  auto* p = reinterpret_cast<std::byte*>(out.data());
  base::StoreBE<int32_t>(p + bf::kBatchLength, static_cast<int32_t>(out.size() - 12));
  base::StoreBE<int16_t>(p + bf::kAttributes, attributes);
  base::StoreBE<int64_t>(p + bf::kBaseTimestamp, base_ts);
  base::StoreBE<int64_t>(p + bf::kMaxTimestamp, max_ts);
  base::StoreBE<int32_t>(p + bf::kRecordCount, records);
  segment::UpdateBatchCrc({p, out.size()});
}

// The partition's zstd dictionaries as the pass compresses with them: a rewritten batch whose
// source named a dictionary is compressed again with that same dictionary (at the topic's level),
// so that every batch names the dictionary it named before, at the same offsets, and the rule by
// which PartitionDictionary::Collect removes dictionaries (the last offset written with each)
// holds for cleaned segments unchanged. One pass's; not thread-safe.
class PassDictionaries {
 public:
  // `store` (the partition's, which decoding uses too) must outlive this object.
  PassDictionaries(const segment::DictionaryStore& store, int level)
      : store_(store), level_(level == 0 ? 3 : level) {}

  // Dictionary `id` prepared for compressing at the topic's level; the store's error (naming the
  // file and the repair) when it cannot be loaded.
  Result<std::shared_ptr<const base::ZstdDictionary>> ForCompressing(uint32_t id) {
    auto it = prepared_.find(id);
    if (it != prepared_.end()) return it->second;
    ASSIGN_OR_RETURN(std::shared_ptr<const base::ZstdDictionary> dict, store_.Find(id));
    if (dict->level() != level_) {
      ASSIGN_OR_RETURN(dict, base::ZstdDictionary::Load(dict->content(), level_));
    }
    return prepared_.emplace(id, std::move(dict)).first->second;
  }

 private:
  const segment::DictionaryStore& store_;
  const int level_;
  std::map<uint32_t, std::shared_ptr<const base::ZstdDictionary>> prepared_;
};

// What the pass decides for each record and batch.
struct Rules {
  const OffsetMap* map = nullptr;
  const Superseded* superseded = nullptr;  // decides the records of the batches it covers
  int64_t now_ms = 0;
  int64_t delete_retention_ms = 0;
  int compression_level = 0;
  PassDictionaries* dictionaries = nullptr;
};

struct BatchOutcome {
  enum class Kind : uint8_t { kCopy, kDrop, kRewrite };
  Kind kind = Kind::kCopy;
  std::string batch;  // kRewrite: the new batch
  int64_t kept = 0;
  int64_t tombstones_dropped = 0;
  int64_t keyless = 0;
};

// FilterBatch's buffers, kept across the batches of a pass: the kept records, and one record
// encoded again.
struct FilterScratch {
  std::string kept;
  std::string record;
};

// Filters the records of one batch. `must_keep`: the batch stays, empty if need be (the last of
// its group, or one its idempotent producer still remembers).
Result<BatchOutcome> FilterBatch(const Frame& frame, const Rules& rules, bool must_keep,
                                 segment::RecordDecoder& decoder, std::vector<KeyedRecord>& records,
                                 std::vector<bool>& keep, FilterScratch& scratch) {
  const BatchHeader& h = frame.header;
  BatchOutcome out;
  if (h.control() || h.transactional()) {
    // Never appended (Append refuses them); kept as they are if some older tool wrote one.
    out.kept = h.record_count;
    return out;
  }
  const bool horizon_set = (h.attributes & kDeleteHorizonBit) != 0;
  const bool horizon_passed = horizon_set && rules.now_ms >= h.base_timestamp;
  const Superseded* bits =
      rules.superseded != nullptr && rules.superseded->Covers(h.base_offset, h.last_offset())
          ? rules.superseded
          : nullptr;
  RETURN_IF_ERROR(DecodeKeyed(frame, bits != nullptr ? nullptr : rules.map, decoder, records));
  keep.assign(records.size(), false);
  bool kept_tombstone = false;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = -1;
  for (size_t i = 0; i < records.size(); ++i) {
    const KeyedRecord& rec = records[i];
    if (!rec.has_key) {
      ++out.keyless;
      continue;
    }
    // A later record of the key is cleaned.
    if (bits != nullptr ? bits->Test(rec.offset) : rules.map->Get(rec.hash) > rec.offset) continue;
    if (rec.tombstone && horizon_passed) {
      ++out.tombstones_dropped;
      continue;
    }
    keep[i] = true;
    ++out.kept;
    kept_tombstone |= rec.tombstone;
    min_ts = std::min(min_ts, rec.timestamp);
    max_ts = std::max(max_ts, rec.timestamp);
  }
  const bool all_kept = out.kept == static_cast<int64_t>(records.size());
  if (all_kept && (!kept_tombstone || horizon_set)) return out;  // kCopy
  if (out.kept == 0 && !must_keep) {
    out.kind = BatchOutcome::Kind::kDrop;
    return out;
  }
  out.kind = BatchOutcome::Kind::kRewrite;
  out.batch.assign(base::AsString(frame.batch.first(segment::kBatchHeaderSize)));
  auto attributes = static_cast<int16_t>(h.attributes & ~kDeleteHorizonBit);
  if (out.kept == 0) {
    // An empty batch: same offsets and producer fields, no records (as Kafka keeps them).
    attributes = static_cast<int16_t>(attributes & ~0x7);
    FinishBatch(out.batch, attributes, h.max_timestamp, h.max_timestamp, 0);
    return out;
  }
  // The tombstones' deadline: set by the first pass that keeps them, then carried along.
  std::optional<int64_t> horizon;
  if (kept_tombstone) {
    if (horizon_set) {
      horizon = h.base_timestamp;
    } else {
      int64_t deadline = 0;
      if (__builtin_add_overflow(rules.now_ms, rules.delete_retention_ms, &deadline)) {
        deadline = INT64_MAX;
      }
      horizon = deadline;
    }
    attributes = static_cast<int16_t>(attributes | kDeleteHorizonBit);
  }
  const int64_t base_ts = horizon ? *horizon : horizon_set ? min_ts : h.base_timestamp;
  if (h.log_append_time()) max_ts = h.max_timestamp;
  std::string& kept = scratch.kept;
  kept.clear();
  if (base_ts == h.base_timestamp) {
    // Same base offset and base timestamp: the kept records' bytes are what encoding them again
    // would give.
    for (size_t i = 0; i < records.size(); ++i) {
      if (keep[i]) kept.append(base::AsString(records[i].bytes));
    }
  } else {
    // The timestamps are rebased: every kept record is encoded again.
    std::string& record = scratch.record;
    RETURN_IF_ERROR(decoder.Reset(frame.batch, h));
    for (size_t i = 0;; ++i) {
      ASSIGN_OR_RETURN(auto rec, decoder.Next());
      if (!rec) break;
      if (keep[i]) RETURN_IF_ERROR(EncodeRecord(kept, record, *rec, h.base_offset, base_ts));
    }
  }
  if (const uint32_t id = segment::BatchDictionaryId(frame.batch, h); id != 0) {
    // Decoded above with this dictionary, so it loads (or is already loaded).
    ASSIGN_OR_RETURN(auto dict, rules.dictionaries->ForCompressing(id));
    RETURN_IF_ERROR(dict->Compress(base::AsBytes(kept), out.batch));
  } else {
    const int level = h.codec() == base::Codec::kZstd ? rules.compression_level : 0;
    RETURN_IF_ERROR(base::Compress(h.codec(), level, base::AsBytes(kept), out.batch));
  }
  FinishBatch(out.batch, attributes, base_ts, max_ts, static_cast<int32_t>(out.kept));
  return out;
}

// Appends a frame holding `batch` to `out`.
std::string Millis(double seconds) {
  return std::to_string(static_cast<int64_t>(seconds * 1000 + 0.5)) + " ms";
}

void AppendFrame(std::string& out, Bytes batch) {
  const auto length = static_cast<uint32_t>(batch.size());
  segment::FramePrefix prefix;
  segment::EncodeFramePrefix(
      prefix, length, base::Xxh3(batch, segment::FrameSeed(length, f::kFrameTypeRecordBatchV2)));
  out.append(base::AsString(Bytes(prefix)));
  out.append(base::AsString(batch));
}

}  // namespace

CleanerTotals CleanerTotalsNow() {
  return {g_passes.load(), g_bytes_read.load(), g_bytes_written.load(), g_records_removed.load(),
          g_failed_passes.load()};
}

void AddCleanerTotals(const CleanStats& stats) {
  if (!stats.cleaned) return;
  g_passes.fetch_add(1);
  g_bytes_read.fetch_add(stats.bytes_before);
  g_bytes_written.fetch_add(stats.bytes_after);
  g_records_removed.fetch_add(static_cast<uint64_t>(stats.records_before - stats.records_after));
}

Status FinishCleanerSwap(io::FileSystem& fs, const std::string& dir) {
  const std::string manifest = io::JoinPath(dir, kCleanerSwapFile);
  auto file = segment::ReadSmallFile(fs, manifest, SwapKind());
  if (file) {
    ASSIGN_OR_RETURN(SwapPlan plan, DecodeSwap(file->payload, manifest));
    base::LogWarning(dir + ": finishing a cleaner swap a stop interrupted (" +
                     std::to_string(plan.olds.size()) + " segments become " +
                     std::to_string(plan.news.size()) + ")");
    return ApplySwap(fs, dir, plan);
  }
  if (file.error().code != ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kOffline,
                     file.error().ToString() +
                         "; the cleaner swap it describes cannot be finished, and nothing was "
                         "changed");
  }
  // No manifest: the scratch files of a pass that stopped before its swap. They are copies of
  // records the segments still hold (the swap starts only once the manifest is durable), never
  // the only copy of anything.
  ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  for (const std::string& name : names) {
    if (!EndsWith(name, kCleanedSuffix)) continue;
    base::LogInfo(dir + ": removing " + name + ", left by a cleaning pass that did not finish");
    RETURN_IF_ERROR(IgnoreNotFound(fs.Remove(io::JoinPath(dir, name))));
  }
  return {};
}

Result<bool> CleanerLeftovers(io::FileSystem& fs, const std::string& dir) {
  ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  for (const std::string& name : names) {
    if (name == kCleanerSwapFile || EndsWith(name, kCleanedSuffix)) return true;
  }
  return false;
}

Result<CleanStats> PartitionLog::Clean(const CleanerOptions& options, CleanTrigger trigger) {
  auto stats = CleanPass(options, trigger);
  const bool closing = cleaner_stop_.load() || (options.stop != nullptr && options.stop->load());
  if (!stats && stats.error().code == ErrorCode::kClosed && !closing) {
    // It stopped for a deletion of segments (DeleteSegmentsBefore), having changed nothing.
    CleanStats yielded;
    yielded.why = "the pass stopped for a deletion of records; the next one cleans";
    return yielded;
  }
  // A pass stopped by a close is no failure; nor is one refused after a failed swap (that
  // failure was counted).
  if (!stats && stats.error().code != ErrorCode::kClosed &&
      stats.error().code != ErrorCode::kRefused) {
    g_failed_passes.fetch_add(1);
  }
  return stats;
}

Result<CleanStats> PartitionLog::CleanPass(const CleanerOptions& options, CleanTrigger trigger) {
  std::lock_guard cleaner_lock(cleaner_mu_);
  CleanStats stats;
  TopicConfig config;
  std::set<std::pair<int64_t, int64_t>> remembered;  // (producer id, base offset)
  {
    std::lock_guard lock(mu_);
    if (closed_) return MakeError(ErrorCode::kClosed, dir_ + " is closed");
    if (poisoned_) return PoisonError();
    config = config_;
    const ProducerSnapshot producers = producers_.SnapshotBelow(Offset(hw_.load()));
    for (const auto& p : producers.producers) {
      for (const auto& b : p.batches) remembered.insert({p.producer_id, b.base_offset.value()});
    }
  }
  if (cleaner_broken_) {
    return MakeError(ErrorCode::kRefused,
                     dir_ +
                         ": a cleaning pass failed part way through its swap; the partition is "
                         "cleaned again once reopened (opening finishes that swap)");
  }
  if (!config.cleanup_compact) {
    stats.why = "cleanup.policy does not include compact";
    return stats;
  }
  const int64_t now_ms = clock_.NowMs();
  const std::shared_ptr<const SegmentList> list = Snapshot();
  auto stopping = [&] {
    return cleaner_stop_.load() || cleaner_yield_.load() > 0 ||
           (options.stop != nullptr && options.stop->load());
  };

  // 1. What may be cleaned: sealed segments whose records are all older than the minimum lag.
  size_t cleanable = 0;
  for (; cleanable + 1 < list->size(); ++cleanable) {
    const Segment& seg = *(*list)[cleanable];
    if (config.min_compaction_lag_ms > 0 &&
        seg.tail().max_timestamp > now_ms - config.min_compaction_lag_ms) {
      break;
    }
  }
  if (cleanable == 0) {
    stats.why =
        "no sealed segment is older than min.compaction.lag.ms (the active segment is "
        "never cleaned: it rolls by segment.bytes or segment.ms)";
    return stats;
  }
  size_t first_dirty = cleanable;
  uint64_t dirty_bytes = 0;
  uint64_t cleanable_bytes = 0;
  for (size_t i = 0; i < cleanable; ++i) {
    const Segment& seg = *(*list)[i];
    cleanable_bytes += seg.size_bytes();
    if (first_dirty == cleanable && !seg.compacted()) first_dirty = i;
    if (i >= first_dirty) dirty_bytes += seg.size_bytes();
  }
  if (trigger == CleanTrigger::kIfDue) {
    if (dirty_bytes == 0) {
      stats.why = "nothing new since the last pass";
      return stats;
    }
    const double ratio = static_cast<double>(dirty_bytes) / static_cast<double>(cleanable_bytes);
    bool due = ratio >= config.min_cleanable_dirty_ratio;
    if (!due && config.max_compaction_lag_ms < INT64_MAX) {
      auto first = (*list)[first_dirty]->FrameAt(FilePos(f::kSegmentHeaderSize),
                                                 segment::FrameVerify::kHeaderOnly);
      if (first && *first && (*first)->header.base_timestamp >= 0 &&
          (*first)->header.base_timestamp <= now_ms - config.max_compaction_lag_ms) {
        due = true;
      }
    }
    if (!due) {
      stats.why = "dirty ratio " + std::to_string(ratio) + " is below min.cleanable.dirty.ratio";
      return stats;
    }
  }

  // 2. The offset map over the dirty segments, sized to their records (read from the batch
  // headers), up to the dedupe buffer.
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  const Clock::time_point map_start = Clock::now();
  int64_t dirty_records = 0;
  for (size_t i = first_dirty; i < cleanable; ++i) {
    FilePos pos(f::kSegmentHeaderSize);
    for (;;) {
      ASSIGN_OR_RETURN(auto frame, (*list)[i]->FrameAt(pos, segment::FrameVerify::kHeaderOnly));
      if (!frame) break;
      dirty_records += frame->header.record_count;
      pos = frame->end();
    }
  }
  const uint64_t max_slots = std::max<uint64_t>(options.dedupe_buffer_bytes / kMapEntryBytes, 16);
  ASSIGN_OR_RETURN(OffsetMap map,
                   OffsetMap::Create(static_cast<size_t>(std::min<uint64_t>(
                       max_slots, static_cast<uint64_t>(dirty_records) / 9 * 10 + 16))));
  // Batches that name a zstd dictionary are decoded with it, as every reader does. One that is
  // missing or damaged stops the pass with the store's error (the file and its repair), before
  // anything is written: such a batch's records cannot be read, so nothing may be decided about
  // them, nor about the records their keys would overwrite.
  // A bit per offset of the dirty range, up to the dedupe buffer's size in bits. Its offsets are
  // dense (assigned one by one); a range far sparser than its records, never seen, is decided
  // through the map alone.
  std::optional<Superseded> superseded;
  const int64_t dirty_base = (*list)[first_dirty]->base_offset().value();
  const int64_t dirty_end = (*list)[cleanable - 1]->tail().next_offset.value();
  if (dirty_end - dirty_base <= 4 * dirty_records + 64) {
    const auto most = static_cast<int64_t>(
        std::min<uint64_t>(std::max<uint64_t>(options.dedupe_buffer_bytes, 64), uint64_t{1} << 40));
    superseded.emplace(dirty_base, dirty_end - dirty_base > most ? dirty_base + most : dirty_end);
  }
  const std::shared_ptr<const segment::DictionaryStore> store = dict_->store();
  segment::RecordDecoder decoder;
  decoder.set_dictionaries(store.get());
  std::vector<KeyedRecord> keyed;  // one batch's records
  auto undecodable = [&](const Segment& seg, FilePos at, const Error& e) {
    return MakeError(e.code, seg.log_path() + " at position " + std::to_string(at.value()) +
                                 ": the cleaning pass stopped and changed nothing: " + e.context);
  };
  Pace pace(options.io_max_bytes_per_second, stopping);
  size_t end = first_dirty;  // segments [0, end) are rewritten
  for (size_t i = first_dirty; i < cleanable && !stats.map_full; ++i) {
    const Segment& seg = *(*list)[i];
    FilePos pos(f::kSegmentHeaderSize);
    for (;;) {
      if (stopping()) return MakeError(ErrorCode::kClosed, dir_ + " is closing");
      ASSIGN_OR_RETURN(auto frame, seg.FrameAt(pos));
      if (!frame) break;
      pace.Add(static_cast<uint64_t>(frame->end().value() - frame->pos.value()));
      pos = frame->end();
      if (frame->header.control()) continue;
      if (Status s = DecodeKeyed(*frame, &map, decoder, keyed); !s) {
        return undecodable(seg, frame->pos, s.error());
      }
      for (const KeyedRecord& rec : keyed) {
        if (!rec.has_key) continue;
        const std::optional<int64_t> previous = map.Put(rec.hash, rec.offset);
        if (!previous) {
          stats.map_full = true;
          break;
        }
        if (superseded) superseded->Mark(*previous);
      }
      if (stats.map_full) break;
    }
    // A segment the map covers whole is cleaned. When even the first dirty one does not fit, it
    // is cleaned with what the map holds (a record whose key is not in it is kept), so that the
    // cleaner always moves on.
    if (!stats.map_full || i == first_dirty) end = i + 1;
  }
  if (stats.map_full) {
    base::LogWarning(dir_ + ": the cleaner's offset map (" + std::to_string(map.size()) +
                     " keys) filled; this pass cleans up to segment " +
                     std::to_string((*list)[end]->base_offset().value()) +
                     " (raise the dedupe buffer to clean more at once)");
  }
  stats.cleaned_up_to = (*list)[end]->base_offset();

  stats.map_seconds = seconds_since(map_start);

  // 3. The rewrite, in groups of consecutive segments that fit segment.bytes together.
  const Clock::time_point rewrite_start = Clock::now();
  struct Group {
    size_t first = 0;
    size_t last = 0;  // exclusive
    bool changed = false;
    uint64_t bytes = 0;
  };
  std::vector<Group> groups;
  for (size_t g = 0; g < end;) {
    size_t h = g + 1;
    uint64_t bytes = (*list)[g]->size_bytes();
    while (h < end &&
           bytes + (*list)[h]->size_bytes() - f::kSegmentHeaderSize <=
               static_cast<uint64_t>(config.segment_bytes) &&
           (*list)[h]->tail().next_offset - (*list)[g]->base_offset() <=
               static_cast<int64_t>(UINT32_MAX)) {
      bytes += (*list)[h]->size_bytes() - f::kSegmentHeaderSize;
      ++h;
    }
    groups.push_back({g, h, false, 0});
    g = h;
  }
  std::vector<std::string> scratch_paths;
  std::vector<std::unique_ptr<io::WritableFile>> written_files;  // synced once all are written
  auto discard = [&](Error e) -> Error {
    for (auto& f : written_files) {
      if (f) f->Close().IgnoreError();
    }
    for (const auto& p : scratch_paths) fs_.Remove(p).IgnoreError();
    return e;
  };
  PassDictionaries dictionaries(*store, config.compression_level);
  const Rules rules{&map,
                    superseded ? &*superseded : nullptr,
                    now_ms,
                    config.delete_retention_ms,
                    config.compression_level,
                    &dictionaries};
  std::vector<bool> keep;
  FilterScratch filter_scratch;
  for (Group& g : groups) {
    const Offset base = (*list)[g.first]->base_offset();
    const std::string path = CleanedPath(dir_, base);
    auto file = fs_.OpenWritable(path, io::OpenMode::kCreateOrTruncate);
    if (!file) return discard(std::move(file).error());
    scratch_paths.push_back(path);
    std::unique_ptr<io::WritableFile> out = std::move(*file);
    std::string buf;
    const auto header = segment::EncodeSegmentHeader(base, f::kSegmentFlagCompacted);
    buf.append(base::AsString(Bytes(header)));
    uint64_t written = 0;
    auto flush = [&]() -> Status {
      if (buf.empty()) return {};
      pace.Add(buf.size());
      const Bytes pieces[] = {base::AsBytes(buf)};
      RETURN_IF_ERROR(out->WriteAt(FilePos(written), pieces));
      // Written back as it goes, never a file's worth of dirty pages at once: those would make
      // the next fdatasync of a flush=sync partition wait for them (ext4 journal commits write an
      // inode's dirty data first), and appends' latency with it.
      RETURN_IF_ERROR(out->StartWriteback(FilePos(written), buf.size()));
      written += buf.size();
      buf.clear();
      return {};
    };
    g.changed = g.last - g.first > 1 || !(*list)[g.first]->compacted();
    Offset next = base;  // the offset after the last batch written
    Status s;
    for (size_t i = g.first; i < g.last && s; ++i) {
      const Segment& seg = *(*list)[i];
      stats.bytes_before += seg.size_bytes();
      const FilePos seg_end = seg.tail().end;
      FilePos pos(f::kSegmentHeaderSize);
      while (s) {
        if (stopping()) {
          s = MakeError(ErrorCode::kClosed, dir_ + " is closing");
          break;
        }
        auto frame = seg.FrameAt(pos);
        if (!frame) {
          s = std::move(frame).error();
          break;
        }
        if (!*frame) break;
        const Frame& fr = **frame;
        pace.Add(static_cast<uint64_t>(fr.end().value() - fr.pos.value()));
        pos = fr.end();
        const BatchHeader& h = fr.header;
        stats.records_before += h.record_count;
        const bool must_keep =
            (i + 1 == g.last && fr.end() == seg_end) ||
            (h.producer_id >= 0 && remembered.count({h.producer_id, h.base_offset}) != 0);
        auto outcome = FilterBatch(fr, rules, must_keep, decoder, keyed, keep, filter_scratch);
        if (!outcome) {
          s = undecodable(seg, fr.pos, outcome.error());
          break;
        }
        stats.records_after += outcome->kept;
        stats.tombstones_dropped += outcome->tombstones_dropped;
        stats.keyless_dropped += outcome->keyless;
        switch (outcome->kind) {
          case BatchOutcome::Kind::kCopy:
            AppendFrame(buf, fr.batch);
            next = Offset(h.last_offset() + 1);
            break;
          case BatchOutcome::Kind::kRewrite:
            g.changed = true;
            AppendFrame(buf, base::AsBytes(outcome->batch));
            next = Offset(h.last_offset() + 1);
            break;
          case BatchOutcome::Kind::kDrop:
            g.changed = true;
            break;
        }
        if (buf.size() >= kWriteChunkBytes) s = flush();
      }
    }
    if (s) s = flush();
    if (!s) {
      out->Close().IgnoreError();
      return discard(std::move(s).error());
    }
    g.bytes = written;
    // The file must end where the segments it replaces end (its last batch is always kept), so
    // that the next segment joins it; a group whose last segment holds no batch is left as is.
    if (next != (*list)[g.last - 1]->tail().next_offset) g.changed = false;
    if (g.changed) {
      written_files.push_back(std::move(out));
    } else {
      out->Close().IgnoreError();
      fs_.Remove(path).IgnoreError();
      scratch_paths.pop_back();
    }
  }
  // The files are made durable together, after the last is written: the first fdatasync's journal
  // commit carries the others' metadata too, where one fdatasync a file as it was finished cost a
  // commit each. (Their data is already written back, StartWriteback above.)
  for (auto& out : written_files) {
    Status s = out->Sync();
    Status closed = out->Close();
    out.reset();
    if (!s) return discard(std::move(s).error());
    if (!closed) return discard(std::move(closed).error());
  }

  stats.rewrite_seconds = seconds_since(rewrite_start);
  const Clock::time_point swap_start = Clock::now();

  SwapPlan plan;
  for (const Group& g : groups) {
    if (g.changed) {
      plan.news.push_back((*list)[g.first]->base_offset());
      for (size_t i = g.first; i < g.last; ++i) plan.olds.push_back((*list)[i]->base_offset());
      stats.bytes_after += g.bytes;
      ++stats.segments_after;
    } else {
      for (size_t i = g.first; i < g.last; ++i) stats.bytes_after += (*list)[i]->size_bytes();
      stats.segments_after += g.last - g.first;
    }
  }
  stats.segments_before = end;
  if (plan.news.empty()) {
    stats.why = "nothing to remove";
    return stats;
  }
  {
    std::lock_guard lock(mu_);
    if (closed_) return discard(MakeError(ErrorCode::kClosed, dir_ + " is closed"));
  }
  // 4. The swap. The scratch files (synced above) and their names are durable before the manifest
  // names them.
  if (Status s = fs_.SyncDir(dir_); !s) return discard(std::move(s).error());
  const std::string manifest = EncodeSwap(plan);
  if (Status s = segment::WriteSmallFile(fs_, io::JoinPath(dir_, kCleanerSwapFile), SwapKind(),
                                         base::AsBytes(manifest));
      !s) {
    // The manifest may be on disk or not: the next open decides (rolls it forward, or removes
    // the scratch files). Until then this partition is not cleaned again.
    cleaner_broken_ = true;
    return std::move(s).error();
  }
  if (Status s = ApplySwap(fs_, dir_, plan); !s) {
    cleaner_broken_ = true;
    return MakeError(s.error().code,
                     s.error().context + " (cleaner swap; the partition's next open finishes it)");
  }
  // The files are in place; the old segments' mappings stay valid for readers holding them.
  std::vector<std::shared_ptr<Segment>> fresh;
  for (Offset b : plan.news) {
    auto seg = Segment::OpenSealed(fs_, dir_, b, SegmentOptionsFor(config));
    if (!seg) {
      // The segments in memory (the old ones) still read correctly; the next open reads the new.
      cleaner_broken_ = true;
      return std::move(seg).error();
    }
    fresh.push_back(std::move(*seg));
  }
  {
    std::lock_guard lock(segments_mu_);
    const SegmentList& cur = *segments_;
    // Retention and deletion wait for cleaner_mu_ and rolls only append: the cleaned range is
    // still the front of the list.
    SLUICE_CHECK(
        cur.size() >= end &&
            std::equal(list->begin(), list->begin() + static_cast<ptrdiff_t>(end), cur.begin()),
        "the segment list changed under the cleaner");
    auto next = std::make_shared<SegmentList>();
    size_t k = 0;
    for (const Group& g : groups) {
      if (g.changed) {
        next->push_back(fresh[k++]);
      } else {
        for (size_t i = g.first; i < g.last; ++i) next->push_back(cur[i]);
      }
    }
    next->insert(next->end(), cur.begin() + static_cast<ptrdiff_t>(end), cur.end());
    segments_ = std::move(next);
  }
  stats.cleaned = true;
  stats.swap_seconds = seconds_since(swap_start);
  AddCleanerTotals(stats);
  base::LogInfo(dir_ + ": cleaned " + std::to_string(stats.segments_before) + " segments into " +
                std::to_string(stats.segments_after) + ", records " +
                std::to_string(stats.records_before) + " -> " +
                std::to_string(stats.records_after) + ", bytes " +
                std::to_string(stats.bytes_before) + " -> " + std::to_string(stats.bytes_after) +
                " in " + Millis(stats.map_seconds + stats.rewrite_seconds + stats.swap_seconds) +
                " (offset map " + Millis(stats.map_seconds) + ", rewrite " +
                Millis(stats.rewrite_seconds) + ", swap " + Millis(stats.swap_seconds) + ")");
  return stats;
}

}  // namespace sluice::engine

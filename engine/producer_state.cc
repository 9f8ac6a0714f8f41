#include "engine/producer_state.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>

#include "segment/base/checksum.h"
#include "segment/base/coding.h"
#include "segment/format.h"
#include "segment/small_file.h"

namespace sluice::engine {

using base::ErrorCode;
using base::MakeError;

namespace {

constexpr int32_t kMaxSeq = std::numeric_limits<int32_t>::max();

bool InSequence(int32_t last_seq, int32_t next_seq) {
  return (last_seq != kMaxSeq && next_seq == last_seq + 1) ||
         (last_seq == kMaxSeq && next_seq == 0);
}

// How long before `now_ms` a batch recorded at `last_seen_ms` was, saturating at the ends of i64:
// a last-seen time loaded from a snapshot may be any i64, and so may the owner's clock.
int64_t IdleMs(int64_t now_ms, int64_t last_seen_ms) {
  int64_t idle_ms = 0;
  if (__builtin_sub_overflow(now_ms, last_seen_ms, &idle_ms)) {
    return now_ms < last_seen_ms ? std::numeric_limits<int64_t>::min()
                                 : std::numeric_limits<int64_t>::max();
  }
  return idle_ms;
}

std::string Describe(const BatchHeader& h) {
  return "producer " + std::to_string(h.producer_id) + " epoch " +
         std::to_string(h.producer_epoch) + " sequence " + std::to_string(h.base_sequence);
}

}  // namespace

int32_t ProducerStateTable::LastSequence(const BatchHeader& header) {
  const int32_t base = header.base_sequence;
  const int32_t delta = header.last_offset_delta;
  if (base > kMaxSeq - delta) return delta - (kMaxSeq - base) - 1;
  return base + delta;
}

void ProducerStateTable::Entry::Push(const ProducerBatch& b) {
  if (count < kRememberedBatches) {
    batches[(head + count) % kRememberedBatches] = b;
    ++count;
  } else {
    batches[head] = b;
    head = static_cast<uint8_t>((head + 1) % kRememberedBatches);
  }
}

ProducerStateTable::ProducerStateTable(size_t max_producers)
    : max_producers_(std::max<size_t>(1, max_producers)) {}

Result<std::optional<ProducerBatch>> ProducerStateTable::Check(const BatchHeader& header) const {
  auto it = producers_.find(header.producer_id);
  if (it == producers_.end()) return std::optional<ProducerBatch>();
  const Entry& e = it->second.entry;
  if (header.producer_epoch < e.epoch) {
    return MakeError(ErrorCode::kProducerFenced,
                     Describe(header) + ": epoch " + std::to_string(e.epoch) + " is current");
  }
  if (header.producer_epoch > e.epoch) {
    if (header.base_sequence != 0) {
      return MakeError(ErrorCode::kOutOfOrderSequence,
                       Describe(header) + ": a new epoch must start at sequence 0");
    }
    return std::optional<ProducerBatch>();
  }
  const int32_t last_seq = LastSequence(header);
  for (size_t i = 0; i < e.count; ++i) {
    const ProducerBatch& b = e.At(i);
    if (b.first_seq == header.base_sequence && b.last_seq == last_seq) {
      return std::optional<ProducerBatch>(b);
    }
  }
  if (e.count > 0 && !InSequence(e.Last().last_seq, header.base_sequence)) {
    return MakeError(ErrorCode::kOutOfOrderSequence,
                     Describe(header) + ": expected sequence " +
                         std::to_string(e.Last().last_seq == kMaxSeq ? 0 : e.Last().last_seq + 1));
  }
  return std::optional<ProducerBatch>();
}

void ProducerStateTable::Record(const BatchHeader& header, Offset base_offset, Offset last_offset,
                                int64_t now_ms) {
  const ProducerBatch b{header.base_sequence, LastSequence(header), base_offset, last_offset};
  auto it = producers_.find(header.producer_id);
  Entry e;
  if (it == producers_.end() || header.producer_epoch > it->second.entry.epoch) {
    e.epoch = header.producer_epoch;
  } else if (header.producer_epoch < it->second.entry.epoch) {
    return;
  } else {
    e = it->second.entry;
  }
  e.last_seen_ms = now_ms;
  e.Push(b);
  Put(header.producer_id, e);
}

void ProducerStateTable::ExpireIdle(int64_t now_ms, int64_t expiration_ms) {
  // recency_ is in Record order, which is last-seen order unless the clock went back or a Restore
  // put back an older entry: then a due producer may wait behind one that is not yet due, which
  // only delays its expiry.
  while (!recency_.empty()) {
    auto it = producers_.find(recency_.front());
    if (IdleMs(now_ms, it->second.entry.last_seen_ms) < expiration_ms) return;
    Forget(it);
  }
}

ProducerStateTable::Saved ProducerStateTable::Save(int64_t producer_id) const {
  Saved saved;
  saved.producer_id_ = producer_id;
  if (auto it = producers_.find(producer_id); it != producers_.end()) {
    saved.entry_ = it->second.entry;
  }
  return saved;
}

void ProducerStateTable::Restore(Saved saved) {
  if (saved.entry_.has_value()) {
    Put(saved.producer_id_, *saved.entry_);
  } else if (auto it = producers_.find(saved.producer_id_); it != producers_.end()) {
    Forget(it);
  }
}

ProducerSnapshot ProducerStateTable::SnapshotBelow(Offset end) const {
  ProducerSnapshot out;
  out.offset = end;
  out.producers.reserve(producers_.size());
  for (int64_t id : recency_) {
    const Entry& e = producers_.at(id).entry;
    ProducerSnapshotEntry s{id, e.epoch, e.last_seen_ms, {}};
    for (size_t i = 0; i < e.count; ++i) {
      // Batches are in offset order: the ones at or above `end` are the newest.
      if (e.At(i).last_offset >= end) break;
      s.batches.push_back(e.At(i));
    }
    if (!s.batches.empty()) out.producers.push_back(std::move(s));
  }
  return out;
}

void ProducerStateTable::Load(const ProducerSnapshot& snapshot, int64_t now_ms) {
  Clear();
  for (const ProducerSnapshotEntry& s : snapshot.producers) {
    Entry e;
    e.epoch = s.epoch;
    e.last_seen_ms = std::min(s.last_seen_ms, now_ms);
    for (const ProducerBatch& b : s.batches) e.Push(b);
    Put(s.producer_id, e);
  }
}

void ProducerStateTable::Clear() {
  producers_.clear();
  recency_.clear();
}

void ProducerStateTable::Put(int64_t producer_id, const Entry& entry) {
  auto [it, inserted] = producers_.try_emplace(producer_id);
  it->second.entry = entry;
  if (inserted) {
    it->second.recency = recency_.insert(recency_.end(), producer_id);
  } else {
    recency_.splice(recency_.end(), recency_, it->second.recency);
  }
  while (producers_.size() > max_producers_) Forget(producers_.find(recency_.front()));
}

void ProducerStateTable::Forget(std::unordered_map<int64_t, Node>::iterator it) {
  recency_.erase(it->second.recency);
  producers_.erase(it);
}

// --- producer-state snapshots -------------------------------------------------------------------

namespace {

const segment::SmallFileKind& ProducerSnapshotKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{f::kProducerSnapshotMagic,
                                           f::kProducerSnapshotMinReadableVersion,
                                           f::kProducerSnapshotCurrentVersion};
  return kind;
}

constexpr std::string_view kSnapshotSuffix = ".snapshot";
constexpr size_t kOffsetDigits = 20;

}  // namespace

std::string ProducerSnapshotName(Offset offset) {
  std::string digits = std::to_string(offset.value());
  return std::string(kOffsetDigits - std::min(kOffsetDigits, digits.size()), '0') + digits +
         std::string(kSnapshotSuffix);
}

std::optional<Offset> ParseProducerSnapshotName(const std::string& name) {
  if (name.size() != kOffsetDigits + kSnapshotSuffix.size() ||
      name.compare(kOffsetDigits, kSnapshotSuffix.size(), kSnapshotSuffix) != 0) {
    return std::nullopt;
  }
  int64_t v = 0;
  for (size_t i = 0; i < kOffsetDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    const int digit = name[i] - '0';
    if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return Offset(v);
}

std::string EncodeProducerSnapshot(const ProducerSnapshot& snapshot) {
  namespace f = segment::format;
  size_t size = f::kProducerSnapshotHeaderSize;
  for (const auto& p : snapshot.producers) {
    SLUICE_CHECK(!p.batches.empty() && p.batches.size() <= ProducerStateTable::kRememberedBatches,
                 "snapshot entry without batches");
    size += f::kProducerSnapshotEntrySize + p.batches.size() * f::kProducerSnapshotBatchSize;
  }
  std::string payload(size, '\0');
  auto* out = reinterpret_cast<std::byte*>(payload.data());
  base::StoreLE<int64_t>(out, snapshot.offset.value());
  base::StoreLE<uint32_t>(out + 8, static_cast<uint32_t>(snapshot.producers.size()));
  std::byte* q = out + f::kProducerSnapshotHeaderSize;
  for (const auto& p : snapshot.producers) {
    base::StoreLE<int64_t>(q, p.producer_id);
    base::StoreLE<int16_t>(q + 8, p.epoch);
    base::StoreLE<uint8_t>(q + 10, static_cast<uint8_t>(p.batches.size()));
    // q + 11 (u8) and q + 12 (u32) are reserved and zero.
    base::StoreLE<int64_t>(q + 16, p.last_seen_ms);
    q += f::kProducerSnapshotEntrySize;
    for (const ProducerBatch& b : p.batches) {
      base::StoreLE<int32_t>(q, b.first_seq);
      base::StoreLE<int32_t>(q + 4, b.last_seq);
      base::StoreLE<int64_t>(q + 8, b.base_offset.value());
      base::StoreLE<int64_t>(q + 16, b.last_offset.value());
      q += f::kProducerSnapshotBatchSize;
    }
  }
  return segment::EncodeSmallFile(ProducerSnapshotKind(), base::AsBytes(payload));
}

namespace {

Result<ProducerSnapshot> DecodeProducerSnapshotPayload(base::Bytes payload, const std::string& path,
                                                       Offset expected_offset) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  namespace f = segment::format;
  base::ByteReader r(payload);
  const auto offset = r.LE<int64_t>();
  const auto count = r.LE<uint32_t>();
  if (!offset || !count) return bad("payload too short");
  if (*offset != expected_offset.value()) {
    return bad("holds the state as of offset " + std::to_string(*offset) + ", its name says " +
               std::to_string(expected_offset.value()));
  }
  ProducerSnapshot out;
  out.offset = Offset(*offset);
  // Each entry takes at least one entry and one batch: a count the payload cannot hold is damage,
  // caught before anything is reserved for it.
  if (*count > r.remaining() / (f::kProducerSnapshotEntrySize + f::kProducerSnapshotBatchSize)) {
    return bad("producer count " + std::to_string(*count) + " does not fit the payload");
  }
  out.producers.reserve(*count);
  std::set<int64_t> seen;
  for (uint32_t i = 0; i < *count; ++i) {
    const std::string which = "producer entry " + std::to_string(i);
    ProducerSnapshotEntry e;
    const auto id = r.LE<int64_t>();
    const auto epoch = r.LE<int16_t>();
    const auto batches = r.LE<uint8_t>();
    const auto reserved8 = r.LE<uint8_t>();
    const auto reserved32 = r.LE<uint32_t>();
    const auto last_seen = r.LE<int64_t>();
    if (r.failed()) return bad(which + " is cut short");
    if (*id < 0 || *epoch < 0 || *reserved8 != 0 || *reserved32 != 0) {
      return bad(which + ": invalid id, epoch or reserved bytes");
    }
    if (*batches == 0 || *batches > ProducerStateTable::kRememberedBatches) {
      return bad(which + ": " + std::to_string(*batches) + " batches");
    }
    if (!seen.insert(*id).second)
      return bad(which + ": producer " + std::to_string(*id) + " twice");
    e.producer_id = *id;
    e.epoch = *epoch;
    e.last_seen_ms = *last_seen;
    Offset next(-1);  // the batches are in offset order, all below the snapshot's offset
    for (uint8_t j = 0; j < *batches; ++j) {
      const auto first_seq = r.LE<int32_t>();
      const auto last_seq = r.LE<int32_t>();
      const auto first = r.LE<int64_t>();
      const auto last = r.LE<int64_t>();
      if (r.failed()) return bad(which + " is cut short");
      if (*first_seq < 0 || *last_seq < 0 || *first <= next.value() || *last < *first ||
          *last >= *offset) {
        return bad(which + ": batch " + std::to_string(j) +
                   " is out of order or not below offset " + std::to_string(*offset));
      }
      next = Offset(*last);
      e.batches.push_back({*first_seq, *last_seq, Offset(*first), Offset(*last)});
    }
    out.producers.push_back(std::move(e));
  }
  if (r.remaining() != 0) return bad(std::to_string(r.remaining()) + " bytes after the entries");
  return out;
}

}  // namespace

Result<ProducerSnapshot> DecodeProducerSnapshot(base::Bytes image, const std::string& path,
                                                Offset expected_offset) {
  ASSIGN_OR_RETURN(auto file, segment::DecodeSmallFile(ProducerSnapshotKind(), image, path));
  return DecodeProducerSnapshotPayload(base::AsBytes(file.payload), path, expected_offset);
}

// --- producer ids -------------------------------------------------------------------------------

const segment::SmallFileKind& ProducerIdsKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{f::kProducerIdsMagic, f::kProducerIdsMinReadableVersion,
                                           f::kProducerIdsCurrentVersion};
  return kind;
}

std::string EncodeProducerIds(int64_t next_free) {
  std::array<std::byte, 8> payload;
  base::StoreLE<int64_t>(payload.data(), next_free);
  return segment::EncodeSmallFile(ProducerIdsKind(), payload);
}

Result<int64_t> DecodeProducerIds(base::Bytes b) {
  namespace f = segment::format;
  ASSIGN_OR_RETURN(auto file, segment::DecodeSmallFile(ProducerIdsKind(), b, "producer ids",
                                                       f::kProducerIdsPayloadSize));
  if (file.payload.size() != f::kProducerIdsPayloadSize) {
    return MakeError(ErrorCode::kCorruption,
                     "producer ids: payload of " + std::to_string(file.payload.size()) + " bytes");
  }
  const auto next_free = base::LoadLE<int64_t>(base::AsBytes(file.payload).data());
  if (next_free < 0) return MakeError(ErrorCode::kCorruption, "producer ids: negative next id");
  return next_free;
}

ProducerIdAllocator::ProducerIdAllocator(io::FileSystem& fs, std::string data_dir)
    : fs_(fs), path_(io::JoinPath(data_dir, kFileName)) {}

Result<int64_t> ProducerIdAllocator::Allocate() {
  std::lock_guard lock(mu_);
  if (closed_) return MakeError(ErrorCode::kClosed, path_ + ": engine is closed");
  if (!loaded_) {
    auto image = fs_.ReadFile(path_);
    if (image) {
      auto next = DecodeProducerIds(base::AsBytes(*image));
      if (!next) return MakeError(next.error().code, path_ + ": " + next.error().context);
      next_ = limit_ = *next;
    } else if (image.error().code != ErrorCode::kNotFound) {
      return std::move(image).error();
    }
    loaded_ = true;
  }
  if (next_ == limit_) {
    if (limit_ > std::numeric_limits<int64_t>::max() - kBlockSize) {
      return MakeError(ErrorCode::kOutOfRange, path_ + ": producer ids are exhausted");
    }
    // The block is reserved durably before any id of it is handed out, so that no id is handed
    // out twice, whatever crashes. A failed write hands out nothing; the next call writes again
    // (a whole new file: nothing depends on what the failed attempt left).
    const int64_t limit = limit_ + kBlockSize;
    const std::string image = EncodeProducerIds(limit);
    RETURN_IF_ERROR(
        io::WriteFileAtomic(fs_, path_, base::AsBytes(image), io::Durability::kDurable));
    limit_ = limit;
  }
  return next_++;
}

void ProducerIdAllocator::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

}  // namespace sluice::engine

#include "engine/partition_log.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "engine/writer_stats.h"
#include "segment/base/checksum.h"
#include "segment/base/log.h"
#include "segment/format.h"
#include "segment/small_file.h"

namespace sluice::engine {

using base::ErrorCode;
using base::FilePos;
using base::MakeError;
using segment::Frame;
using segment::FrameMeta;
using segment::Segment;
using segment::SegmentTail;

namespace {

// The batch bytes that sluice rewrites on append: baseOffset, batchLength, partitionLeaderEpoch,
// magic. None of them is covered by the batch's CRC-32C.
constexpr size_t kPatchedHead = segment::batch_field::kCrc;
// sluice is a single node; it stamps leader epoch 0 in every stored batch.
constexpr int32_t kLeaderEpoch = 0;

// At most this many segments' batch headers are replayed at open to rebuild producer state: from
// the newest usable producer snapshot among them, or from the first of them when none is usable (a
// damaged snapshot, or a log written before snapshots existed). It bounds the cost of opening a
// partition whose snapshots are damaged; a producer idle since before them is then forgotten, as
// after its expiration.
constexpr size_t kMaxProducerReplaySegments = 8;

const segment::SmallFileKind& RecoveryPointKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{
      f::kRecoveryPointMagic, f::kRecoveryPointMinReadableVersion, f::kRecoveryPointCurrentVersion};
  return kind;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string EncodeRecoveryPoint(const RecoveryPoint& rp) {
  std::array<std::byte, segment::format::kRecoveryPointPayloadSize> p;
  base::StoreLE<int64_t>(p.data() + 0, rp.segment_base.value());
  base::StoreLE<uint64_t>(p.data() + 8, rp.tail.end.value());
  base::StoreLE<int64_t>(p.data() + 16, rp.tail.next_offset.value());
  base::StoreLE<int64_t>(p.data() + 24, rp.tail.max_timestamp);
  return segment::EncodeSmallFile(RecoveryPointKind(), p);
}

Result<RecoveryPoint> DecodeRecoveryPoint(Bytes b, const std::string& path) {
  namespace f = segment::format;
  ASSIGN_OR_RETURN(auto file, segment::DecodeSmallFile(RecoveryPointKind(), b, path,
                                                       f::kRecoveryPointPayloadSize));
  if (file.payload.size() != f::kRecoveryPointPayloadSize) {
    return MakeError(ErrorCode::kCorruption,
                     path + ": payload of " + std::to_string(file.payload.size()) + " bytes");
  }
  const std::byte* p = base::AsBytes(file.payload).data();
  RecoveryPoint rp;
  rp.segment_base = Offset(base::LoadLE<int64_t>(p + 0));
  rp.tail.end = FilePos(base::LoadLE<uint64_t>(p + 8));
  rp.tail.next_offset = Offset(base::LoadLE<int64_t>(p + 16));
  rp.tail.max_timestamp = base::LoadLE<int64_t>(p + 24);
  if (rp.segment_base.value() < 0 || rp.tail.next_offset < rp.segment_base ||
      rp.tail.end.value() < f::kSegmentHeaderSize) {
    return MakeError(ErrorCode::kCorruption, path + ": inconsistent fields");
  }
  return rp;
}

Result<std::optional<RecoveryPoint>> ReadRecoveryPointFile(io::FileSystem& fs,
                                                           const std::string& dir) {
  const std::string path = io::JoinPath(dir, kRecoveryPointFile);
  auto text = fs.ReadFile(path);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) return std::optional<RecoveryPoint>();
    return std::move(text).error();
  }
  ASSIGN_OR_RETURN(RecoveryPoint rp, DecodeRecoveryPoint(base::AsBytes(*text), path));
  return std::optional<RecoveryPoint>(rp);
}

Status WriteRecoveryPointFile(io::FileSystem& fs, const std::string& dir, const RecoveryPoint& rp) {
  const std::string image = EncodeRecoveryPoint(rp);
  return io::WriteFileAtomic(fs, io::JoinPath(dir, kRecoveryPointFile), base::AsBytes(image),
                             io::Durability::kDurable);
}

namespace {

segment::SmallFileKind LogStartKind() {
  namespace f = segment::format;
  return {f::kLogStartMagic, f::kLogStartMinReadableVersion, f::kLogStartCurrentVersion};
}

}  // namespace

Result<std::optional<Offset>> ReadLogStartFile(io::FileSystem& fs, const std::string& dir) {
  const std::string path = io::JoinPath(dir, kLogStartFile);
  auto file = segment::ReadSmallFile(fs, path, LogStartKind());
  if (!file) {
    if (file.error().code == ErrorCode::kNotFound) return std::optional<Offset>();
    return std::move(file).error();
  }
  if (file->payload.size() != segment::format::kLogStartPayloadSize) {
    return MakeError(ErrorCode::kCorruption,
                     path + ": payload of " + std::to_string(file->payload.size()) + " bytes");
  }
  const auto value = base::LoadLE<int64_t>(base::AsBytes(file->payload).data());
  if (value < 0) {
    return MakeError(ErrorCode::kCorruption,
                     path + ": negative log start " + std::to_string(value));
  }
  return std::optional<Offset>(Offset(value));
}

Status WriteLogStartFile(io::FileSystem& fs, const std::string& dir, Offset log_start) {
  std::array<std::byte, segment::format::kLogStartPayloadSize> payload{};
  base::StoreLE<int64_t>(payload.data(), log_start.value());
  return segment::WriteSmallFile(fs, io::JoinPath(dir, kLogStartFile), LogStartKind(), payload);
}

// One batch of an append, prepared for writing.
struct PartitionLog::PendingFrame {
  // The frame prefix followed by the batch's first bytes with base offset and leader epoch set.
  std::array<std::byte, segment::format::kFramePrefixSize + kPatchedHead> head{};
  Bytes rest;           // the batch after `head`'s part of it (borrowed from the caller)
  uint32_t length = 0;  // of the batch
  FrameMeta meta;
};

// One append waiting in the queue: its frames go into one group and one segment, and the HW
// moves over all of them or none. A blocked appender's (AppendBatches) lives on its stack until
// `done`, and the appender learns the outcome from `done`/`result` (woken through `cv`, which
// also hands it the writer role: `lead`). An asynchronous one's (AppendBatchesAsync) is owned by
// the queue and then by the writer that finishes it, which calls `callback` and deletes it.
struct PartitionLog::Pending {
  std::span<PendingFrame> frames;          // not empty
  std::vector<PendingFrame> owned_frames;  // where `frames` are, unless the appender holds them
  uint64_t size_bytes = 0;                 // of all frames
  // The state of each producer this append recorded, saved before the Record, in Record order
  // (UndoLocked restores them in reverse).
  std::vector<ProducerStateTable::Saved> saved;
  AppendCallback callback;  // set for an asynchronous append
  bool done = false;
  bool lead = false;  // this (blocked) appender is to act as the writer
  Status result;
  std::condition_variable cv;  // signalled when `done` or `lead` is set

  Offset base_offset() const { return frames.front().meta.base_offset; }
  Offset last_offset() const { return frames.back().meta.last_offset; }
};

PartitionLog::PartitionLog(io::FileSystem& fs, std::string dir, const TopicConfig& config,
                           const base::Clock& clock)
    : fs_(fs), dir_(std::move(dir)), clock_(clock), config_(config) {}

PartitionLog::~PartitionLog() {
  bool closed;
  {
    std::lock_guard lock(mu_);
    closed = closed_;
  }
  // A log whose Open failed part way has no segments to close (their own destructors close files).
  if (!closed && Snapshot() != nullptr) Close().IgnoreError();
}

segment::SegmentOptions PartitionLog::SegmentOptionsFor(const TopicConfig& config) const {
  segment::SegmentOptions o;
  o.capacity_bytes = static_cast<uint64_t>(config.segment_bytes);
  o.index_interval_bytes = static_cast<uint32_t>(config.index_interval_bytes);
  return o;
}

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(
    io::FileSystem& fs, std::string dir, const TopicConfig& config, const base::Clock& clock,
    std::vector<segment::RecoveryReport>* reports, PartitionLogHooks hooks, PartitionOpen mode,
    const DictionaryOptions& dictionary) {
  std::unique_ptr<PartitionLog> log(new PartitionLog(fs, std::move(dir), config, clock));
  log->hooks_ = std::move(hooks);
  const std::string& d = log->dir_;
  ASSIGN_OR_RETURN(bool existed, fs.Exists(d));
  if (!existed) {
    if (mode == PartitionOpen::kExisting) {
      return MakeError(ErrorCode::kOffline, d + ": the partition directory is missing");
    }
    // The new directory's entry in its parent must be durable before any data in it can be.
    RETURN_IF_ERROR(fs.CreateDir(d));
    RETURN_IF_ERROR(fs.SyncDir(io::DirName(d)));
  }
  // A cleaning pass a stop interrupted: its swap is finished, or its scratch files removed.
  RETURN_IF_ERROR(FinishCleanerSwap(fs, d));
  ASSIGN_OR_RETURN(auto names, fs.ListDir(d));
  std::vector<Offset> bases;
  std::vector<Offset> snapshots;
  for (const std::string& name : names) {
    if (EndsWith(name, ".tmp")) {
      // Leftover of a replacement that did not finish; the old file (if any) is intact.
      fs.Remove(io::JoinPath(d, name)).IgnoreError();
    } else if (auto base = Segment::ParseLogName(name)) {
      bases.push_back(*base);
    } else if (auto at = ParseProducerSnapshotName(name)) {
      snapshots.push_back(*at);
    }
  }
  std::sort(bases.begin(), bases.end());
  std::sort(snapshots.begin(), snapshots.end());

  // The recovery point says how far the log was durable. Without it (missing or damaged), no
  // invalid frame can be told from a torn write, so none is cut.
  std::optional<RecoveryPoint> rp;
  segment::TornTail torn_tail = segment::TornTail::kTruncate;
  const std::string rp_path = io::JoinPath(d, kRecoveryPointFile);
  if (auto text = fs.ReadFile(rp_path)) {
    auto decoded = DecodeRecoveryPoint(base::AsBytes(*text), rp_path);
    if (decoded) {
      rp = *decoded;
    } else {
      base::LogWarning(decoded.error().ToString() +
                       "; recovery will verify the last segment and cut nothing");
      torn_tail = segment::TornTail::kRefuse;
    }
  } else if (text.error().code != ErrorCode::kNotFound) {
    return std::move(text).error();
  } else if (!bases.empty()) {
    torn_tail = segment::TornTail::kRefuse;
  }
  if (rp && (bases.empty() || rp->segment_base > bases.back())) {
    return MakeError(
        ErrorCode::kOffline,
        rp_path + " is in segment " + std::to_string(rp->segment_base.value()) + ", whose file " +
            Segment::LogPath(d, rp->segment_base).substr(d.size() + 1) +
            " is missing; offsets below " + std::to_string(rp->tail.next_offset.value()) +
            " were acknowledged as durable");
  }

  const segment::SegmentOptions options = log->SegmentOptionsFor(config);
  auto list = std::make_shared<SegmentList>();
  bool recovered = bases.empty();  // a new log has a recovery point to write
  if (bases.empty()) {
    ASSIGN_OR_RETURN(auto seg, Segment::Create(fs, d, Offset(0), options));
    list->push_back(std::move(seg));
  } else {
    for (size_t i = 0; i + 1 < bases.size(); ++i) {
      ASSIGN_OR_RETURN(auto seg, Segment::OpenSealed(fs, d, bases[i], options));
      list->push_back(std::move(seg));
    }
    std::optional<SegmentTail> durable;
    if (rp && rp->segment_base == bases.back()) durable = rp->tail;
    segment::RecoveryReport report;
    ASSIGN_OR_RETURN(auto active, Segment::OpenActive(fs, d, bases.back(), options, durable,
                                                      &report, torn_tail));
    if (report.truncated || report.scanned_bytes > 0) {
      reports->push_back(report);
      recovered = true;
    }
    if (report.truncated) {
      base::LogWarning(report.path + ": recovery truncated the log at position " +
                       std::to_string(report.truncated_at.value()) + " (offset " +
                       std::to_string(report.first_lost_offset.value()) + " on lost, " +
                       std::to_string(report.dropped_bytes) + " bytes dropped): " + report.reason);
    }
    list->push_back(std::move(active));
    for (size_t i = 0; i + 1 < list->size(); ++i) {
      Offset next = (*list)[i]->tail().next_offset;
      if (next != (*list)[i + 1]->base_offset()) {
        return MakeError(ErrorCode::kOffline,
                         (*list)[i]->log_path() + " ends at offset " +
                             std::to_string(next.value()) + " but the next segment starts at " +
                             std::to_string((*list)[i + 1]->base_offset().value()));
      }
    }
  }
  const auto& active = list->back();
  const SegmentTail tail = active->tail();
  log->next_offset_ = tail.next_offset;
  log->hw_.store(tail.next_offset.value());
  log->last_flush_ms_ = log->active_created_ms_ = clock.NowMs();
  log->segments_ = list;
  // The log start DeleteRecords set. A damaged file takes the partition offline (as a damaged
  // recovery point does) rather than expose deleted records. One above the HW (the log lost a
  // tail in a crash after the deletion, or repair cut it) becomes the HW, on disk too, so that
  // records appended from there on are never taken for deleted ones at a later open.
  ASSIGN_OR_RETURN(std::optional<Offset> log_start, ReadLogStartFile(fs, d));
  if (log_start && *log_start > tail.next_offset) {
    base::LogWarning(d + ": the log start " + std::to_string(log_start->value()) +
                     " is past the log's end at " + std::to_string(tail.next_offset.value()) +
                     "; it moves back to the end");
    RETURN_IF_ERROR(WriteLogStartFile(fs, d, tail.next_offset));
    log_start = tail.next_offset;
  }
  if (log_start) log->deleted_below_.store(log_start->value());
  ASSIGN_OR_RETURN(log->dict_,
                   PartitionDictionary::Open(fs, d, clock, tail.next_offset, dictionary));
  RETURN_IF_ERROR(log->LoadProducerState(snapshots));
  if (recovered || !rp || rp->segment_base != active->base_offset()) {
    // Everything recovery accepted is now made durable, so that the recovery point can cover it.
    RETURN_IF_ERROR(active->Sync());
    RETURN_IF_ERROR(log->WriteRecoveryPoint(active->base_offset(), tail));
  } else {
    // Nothing was recovered: what is on disk was synced when it was written (or at the clean
    // close), and the recovery point on disk is still right. Opening costs no fsync.
    log->rp_written_ = std::pair{rp->segment_base, rp->tail.end.value()};
  }
  // Segments wholly below the log start that a crash during DeleteRecords left.
  if (Offset start(log->deleted_below_.load()); start > list->front()->base_offset()) {
    if (Status s = log->DeleteSegmentsBefore(start); !s) {
      base::LogWarning(d + ": segments below the log start " + std::to_string(start.value()) +
                       " stay until the next deletion: " + s.error().ToString());
    }
  }
  return log;
}

std::shared_ptr<const PartitionLog::SegmentList> PartitionLog::Snapshot() const {
  std::lock_guard lock(segments_mu_);
  return segments_;
}

base::Error PartitionLog::PoisonError() const {
  return MakeError(ErrorCode::kPoisoned, dir_ + ": " + poisoned_->ToString());
}

Status PartitionLog::LoadProducerState(const std::vector<Offset>& snapshots) {
  const SegmentList& list = *segments_;
  const Offset end = list.back()->tail().next_offset;
  const size_t window =
      list.size() > kMaxProducerReplaySegments ? list.size() - kMaxProducerReplaySegments : 0;
  const Offset window_start = list[window]->base_offset();
  const int64_t now_ms = clock_.NowMs();
  std::optional<Offset> loaded;
  std::vector<std::string> unusable;  // never deleted: `sluice verify` names them
  std::set<Offset> unusable_at;
  for (auto it = snapshots.rbegin(); it != snapshots.rend() && !loaded; ++it) {
    const Offset at = *it;
    const std::string path = io::JoinPath(dir_, ProducerSnapshotName(at));
    if (at > end) {
      // It describes batches the log no longer holds (the log lost a tail that was durable when
      // the snapshot was written, or `sluice repair` cut it). It is not used, and it is moved
      // aside rather than left: once the log grows past its offset again, a later open would
      // take other batches for those producers'. Never deleted.
      const std::string aside = path + ".stale-" + std::to_string(now_ms);
      base::LogWarning(path + ": producer snapshot at offset " + std::to_string(at.value()) +
                       " is past the log's end at " + std::to_string(end.value()) +
                       "; moved aside to " + aside);
      RETURN_IF_ERROR(fs_.Rename(path, aside));
      RETURN_IF_ERROR(fs_.SyncDir(dir_));
      continue;
    }
    if (at < window_start) break;
    auto image = fs_.ReadFile(path);
    auto snapshot = image ? DecodeProducerSnapshot(base::AsBytes(*image), path, at)
                          : Result<ProducerSnapshot>(std::move(image).error());
    std::optional<std::pair<size_t, FilePos>> start;
    if (snapshot) {
      auto located = LocateBatch(at);
      if (located) {
        start = *located;
      } else {
        snapshot = std::move(located).error();
      }
    }
    if (!snapshot) {
      unusable.push_back(snapshot.error().ToString());
      unusable_at.insert(at);
      continue;
    }
    producers_.Load(*snapshot, now_ms);
    loaded = at;
    ReplayProducerBatches(start->first, start->second, now_ms);
  }
  if (!loaded) {
    producers_.Clear();
    ReplayProducerBatches(window, FilePos(segment::format::kSegmentHeaderSize), now_ms);
  }
  for (const std::string& why : unusable) {
    base::LogWarning(
        dir_ + ": producer snapshot not used: " + why + "; producer state rebuilt " +
        (loaded ? "from the snapshot at offset " + std::to_string(loaded->value())
                : "from the batch headers from offset " + std::to_string(window_start.value())) +
        " on; the damaged file is kept (`sluice verify` names it)");
  }
  {
    std::lock_guard lock(rp_mu_);
    snapshot_at_ = loaded;
    unusable_snapshots_ = unusable_at;
  }
  if (!loaded) return {};
  // Snapshots of clean closes (at an offset where no segment starts) that the loaded one
  // supersedes: the next close writes another, so without this they would pile up. Those at a
  // segment's base go with their segment (retention), and none that was found unusable is touched.
  std::set<Offset> segment_bases;
  for (const auto& seg : list) segment_bases.insert(seg->base_offset());
  for (const Offset at : snapshots) {
    if (at >= *loaded) break;
    if (segment_bases.count(at) != 0 || at < window_start) continue;
    fs_.Remove(io::JoinPath(dir_, ProducerSnapshotName(at))).IgnoreError();
  }
  return {};
}

Result<std::pair<size_t, FilePos>> PartitionLog::LocateBatch(Offset at) const {
  const SegmentList& list = *segments_;
  auto it = std::upper_bound(list.begin(), list.end(), at,
                             [](Offset o, const auto& seg) { return o < seg->base_offset(); });
  const size_t i = static_cast<size_t>(it - list.begin()) - 1;
  if (at == list[i]->base_offset())
    return std::pair{i, FilePos(segment::format::kSegmentHeaderSize)};
  ASSIGN_OR_RETURN(std::optional<Frame> frame, list[i]->FindByOffset(at));
  if (at == list.back()->tail().next_offset && !frame) {
    return std::pair{list.size() - 1, list.back()->tail().end};
  }
  if (!frame || Offset(frame->header.base_offset) != at) {
    return MakeError(ErrorCode::kCorruption,
                     dir_ + ": no batch of the log starts at offset " + std::to_string(at.value()));
  }
  return std::pair{i, frame->pos};
}

void PartitionLog::ReplayProducerBatches(size_t segment, FilePos pos, int64_t now_ms) {
  // Batch headers only: every published frame was verified by recovery or written by this log, and
  // skipping the payload checksums keeps the walk to one page per batch. Idempotent batches are
  // recorded in log order, so each producer ends with its last kRememberedBatches batches.
  const SegmentList& list = *segments_;
  for (size_t i = segment; i < list.size();) {
    auto frame = list[i]->FrameAt(pos, segment::FrameVerify::kHeaderOnly);
    if (!frame) {
      // Partial state could make a producer's next batch look out of order; no state makes it
      // look new. Reads of the damaged frame report the damage.
      base::LogWarning(dir_ + ": rebuilding producer state: " + frame.error().ToString() +
                       "; every producer's next batch is accepted as from an unknown producer");
      producers_.Clear();
      return;
    }
    if (!*frame) {
      ++i;
      pos = FilePos(segment::format::kSegmentHeaderSize);
      continue;
    }
    const BatchHeader& h = (*frame)->header;
    if (ProducerStateTable::IsIdempotent(h)) {
      // A producer found here counts as seen now: its expiry starts at the open (the log has no
      // record of when it was last seen, and remembering too long is the safe side).
      producers_.Record(h, Offset(h.base_offset), Offset(h.last_offset()), now_ms);
    }
    pos = (*frame)->end();
  }
}

Status PartitionLog::WriteProducerSnapshot(Offset at) {
  ProducerSnapshot snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = producers_.SnapshotBelow(at);
  }
  const std::string image = EncodeProducerSnapshot(snapshot);
  std::lock_guard lock(rp_mu_);
  if (unusable_snapshots_.count(at) != 0) {
    return MakeError(ErrorCode::kRefused,
                     dir_ + ": the damaged " + ProducerSnapshotName(at) + " is not written over");
  }
  RETURN_IF_ERROR(io::WriteFileAtomic(fs_, io::JoinPath(dir_, ProducerSnapshotName(at)),
                                      base::AsBytes(image), io::Durability::kDurable));
  snapshot_at_ = at;
  return {};
}

Result<AppendResult> PartitionLog::Append(Bytes batch, const BatchHeader& header) {
  const BatchToAppend one[] = {{batch, header}};
  return AppendBatches(one);
}

void PartitionLog::PrepareFrames(std::span<const BatchToAppend> batches, Pending& w) {
  namespace f = segment::format;
  SLUICE_CHECK(!batches.empty(), "AppendBatches of no batch");
  for (size_t i = 0; i < batches.size(); ++i) {
    const Bytes batch = batches[i].bytes;
    SLUICE_CHECK(batch.size() >= segment::kBatchHeaderSize, "Append of an unparsed batch");
    PendingFrame& fr = w.frames[i];
    std::memcpy(fr.head.data() + f::kFramePrefixSize, batch.data(), kPatchedHead);
    base::StoreBE<int32_t>(
        fr.head.data() + f::kFramePrefixSize + segment::batch_field::kLeaderEpoch, kLeaderEpoch);
    fr.rest = batch.subspan(kPatchedHead);
    fr.length = static_cast<uint32_t>(batch.size());
    fr.meta.max_timestamp = batches[i].header.max_timestamp;
    fr.meta.size_bytes = f::kFramePrefixSize + batch.size();
    w.size_bytes += fr.meta.size_bytes;
  }
}

Result<std::optional<AppendResult>> PartitionLog::AdmitLocked(
    std::unique_lock<std::mutex>& lock, std::span<const BatchToAppend> batches, Pending& w) {
  namespace f = segment::format;
  const int64_t now_ms = clock_.NowMs();
  for (;;) {
    if (closed_) return MakeError(ErrorCode::kClosed, dir_ + " is closed");
    if (poisoned_) return PoisonError();
    producers_.ExpireIdle(now_ms, config_.producer_id_expiration_ms);
    // Each idempotent batch is checked against the state the call's earlier batches leave, so
    // they are recorded as they pass, at the offsets they will get; on any refusal the Records
    // are undone and nothing of the call is queued.
    std::optional<ProducerBatch> dup;
    std::optional<Error> refused;
    Offset next = next_offset_;
    for (const BatchToAppend& b : batches) {
      const BatchHeader& h = b.header;
      const Offset base = next;
      next = base + h.last_offset_delta + 1;
      if (!ProducerStateTable::IsIdempotent(h)) continue;
      auto check = producers_.Check(h);
      if (!check) {
        refused = MakeError(check.error().code, dir_ + ": " + check.error().context);
        break;
      }
      if (check->has_value()) {
        dup = **check;
        break;
      }
      w.saved.push_back(producers_.Save(h.producer_id));
      producers_.Record(h, base, next - 1, now_ms);
    }
    if (!refused && !dup) break;
    for (auto it = w.saved.rbegin(); it != w.saved.rend(); ++it) producers_.Restore(*it);
    w.saved.clear();
    if (refused) return *std::move(refused);
    // A retry of a batch this log holds or is writing. It is acknowledged as the original would
    // be: once the original is below the HW (readable, or durable with flush=sync). If the
    // original's write is undone meanwhile, the call is checked again from the start.
    const uint64_t undo_count = undo_count_;
    cv_.wait(lock, [&] {
      return hw_.load() > dup->last_offset.value() || poisoned_ || undo_count_ != undo_count ||
             (closed_ && !writer_active_);
    });
    if (undo_count_ != undo_count) continue;
    if (hw_.load() > dup->last_offset.value()) {
      return std::optional(AppendResult{dup->base_offset, dup->last_offset, /*duplicate=*/true});
    }
    if (poisoned_) return PoisonError();
    return MakeError(ErrorCode::kClosed, dir_ + " is closed");
  }
  // The producer state moved above, not when the write completes, so that a producer's next
  // batch, queued behind these, is checked against them. If the write fails, UndoLocked puts it
  // back (or the log is poisoned, and reopening rebuilds it from what is on disk).
  for (size_t i = 0; i < batches.size(); ++i) {
    PendingFrame& fr = w.frames[i];
    fr.meta.base_offset = next_offset_;
    fr.meta.last_offset = next_offset_ + batches[i].header.last_offset_delta;
    next_offset_ = fr.meta.last_offset + 1;
    base::StoreBE<int64_t>(fr.head.data() + f::kFramePrefixSize, fr.meta.base_offset.value());
    // Which records a dictionary holds, for its removal (PartitionDictionary::Collect).
    if (uint32_t id = segment::BatchDictionaryId(batches[i].bytes, batches[i].header); id != 0) {
      dict_->NoteWritten(id, fr.meta.last_offset);
    }
  }
  return std::optional<AppendResult>();
}

Result<AppendResult> PartitionLog::AppendBatches(std::span<const BatchToAppend> batches) {
  // The frames live here until the write is done; one batch (the common case) needs no vector.
  PendingFrame one;
  Pending w;
  if (batches.size() > 1) w.owned_frames.resize(batches.size());
  w.frames = batches.size() == 1 ? std::span<PendingFrame>(&one, 1) : std::span(w.owned_frames);
  PrepareFrames(batches, w);

  std::unique_lock lock(mu_);
  ASSIGN_OR_RETURN(std::optional<AppendResult> dup, AdmitLocked(lock, batches, w));
  if (dup) return *dup;
  queue_.push_back(&w);
  if (!writer_active_) {
    writer_active_ = true;
    w.lead = true;
  }
  w.cv.wait(lock, [&] { return w.done || w.lead; });
  if (w.done) {
    lock.unlock();
  } else {
    // This appender has the writer role: its own append is queued, so the group it writes (or
    // the failure of it) finishes it.
    WriterRound round;
    WriteQueuedGroupLocked(lock, round);
    SLUICE_CHECK(w.done, "the writer's own append was not in its group");
    w.lead = false;
    PassWriterRoleLocked(round);
    lock.unlock();
    FinishRound(round);
  }
  if (!w.result) return std::move(w.result).error();
  return AppendResult{w.base_offset(), w.last_offset()};
}

void PartitionLog::AppendBatchesAsync(std::span<const BatchToAppend> batches, AppendCallback done) {
  auto w = std::make_unique<Pending>();
  w->owned_frames.resize(batches.size());
  w->frames = std::span(w->owned_frames);
  PrepareFrames(batches, *w);

  std::unique_lock lock(mu_);
  auto admitted = AdmitLocked(lock, batches, *w);
  if (!admitted || admitted->has_value()) {
    lock.unlock();
    if (!admitted) {
      done(std::move(admitted).error());
    } else {
      done(**admitted);
    }
    return;
  }
  w->callback = std::move(done);
  queue_.push_back(w.release());
  if (writer_active_) return;  // the writer takes it with its next group
  writer_active_ = true;
  lock.unlock();
  StartWriter();
}

void PartitionLog::StartWriter() {
  if (hooks_.run_writer) {
    hooks_.run_writer([this] { RunWriter(); });
  } else {
    RunWriter();
  }
}

void PartitionLog::RunWriter() {
  for (;;) {
    WriterRound round;
    {
      std::unique_lock lock(mu_);
      WriteQueuedGroupLocked(lock, round);
      PassWriterRoleLocked(round);
    }
    // With no writer threads this thread keeps the role: a loop, not a call per group.
    const bool again = round.start_writer && !hooks_.run_writer;
    if (again) round.start_writer = false;
    FinishRound(round);
    if (!again) return;
  }
}

void PartitionLog::FinishLocked(Pending* p, Status result, WriterRound& round) {
  p->done = true;
  p->result = std::move(result);
  if (p->callback) {
    round.finished.push_back(p);  // called by FinishRound, without mu_
  } else {
    p->cv.notify_one();
  }
}

void PartitionLog::FinishRound(WriterRound& round) {
  // The next group first, so that it is being written while these appends are told.
  const bool write_here = round.start_writer && !hooks_.run_writer;
  if (round.start_writer && hooks_.run_writer) hooks_.run_writer([this] { RunWriter(); });
  round.start_writer = false;
  // Acknowledgements before the readers' wake-up: they are what producers wait for.
  for (Pending* p : round.finished) {
    std::unique_ptr<Pending> owned(p);
    if (!p->result) {
      p->callback(std::move(p->result).error());
    } else {
      p->callback(AppendResult{p->base_offset(), p->last_offset()});
    }
  }
  round.finished.clear();
  if (round.advanced && hooks_.publish_hw) hooks_.publish_hw(high_watermark());
  if (round.advanced && hooks_.on_data) hooks_.on_data();
  round.advanced = false;
  {
    std::lock_guard lock(mu_);
    if (--finishing_ == 0) cv_.notify_all();  // Close may destroy the log now
  }
  if (write_here) RunWriter();  // no writer threads: this thread takes the role
}

void PartitionLog::WriteQueuedGroupLocked(std::unique_lock<std::mutex>& lock, WriterRound& round) {
  // Everything queued is one group: one gathered write and, with flush=sync, one fdatasync.
  std::vector<Pending*> group(queue_.begin(), queue_.end());
  queue_.clear();
  const TopicConfig config = config_;
  lock.unlock();
  GroupOutcome out = WriteGroup(group, config);
  WriterStats::Global().group_appends.Record(static_cast<int64_t>(group.size()));
  lock.lock();
  if (out.written > 0) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < out.written; ++i) bytes += group[i]->size_bytes;
    hw_.store(group[out.written - 1]->last_offset().value() + 1, std::memory_order_release);
    unflushed_bytes_ += bytes;
    round.advanced = true;
  }
  for (size_t i = 0; i < out.written; ++i) FinishLocked(group[i], {}, round);
  if (!out.status) {
    const Error& error = out.status.error();
    std::vector<Pending*> failed(group.begin() + static_cast<ptrdiff_t>(out.written), group.end());
    if (out.retryable && !poisoned_) {
      static base::RateLimitedLog log(base::LogLevel::kWarning);
      log.Log(dir_ +
              ": write failed and was undone; appends fail until it succeeds: " + error.ToString());
      failed.insert(failed.end(), queue_.begin(), queue_.end());
      queue_.clear();
      UndoLocked(failed, error, round);
    } else {
      if (!poisoned_) {
        base::LogError(dir_ + ": write failed, refusing writes until the partition is reopened " +
                       "(restart): " + error.ToString());
        poisoned_ = error;
      }
      for (Pending* p : failed) FinishLocked(p, error, round);
      for (Pending* p : queue_) FinishLocked(p, PoisonError(), round);
      queue_.clear();
    }
  }
  // Readers waiting for data, duplicates waiting for their original, and Close waiting for the
  // writer.
  cv_.notify_all();
}

void PartitionLog::PassWriterRoleLocked(WriterRound& round) {
  ++finishing_;  // until FinishRound is done with this log
  if (queue_.empty()) {
    writer_active_ = false;
    cv_.notify_all();  // Close waits for the writer to go idle
  } else if (!queue_.front()->callback) {
    // A blocked appender is next: it writes the next group on its own thread.
    queue_.front()->lead = true;
    queue_.front()->cv.notify_one();
  } else {
    round.start_writer = true;  // a writer thread takes the next group (FinishRound)
  }
}

void PartitionLog::UndoLocked(std::span<Pending* const> failed, const Error& error,
                              WriterRound& round) {
  // Later Records first, so that each producer ends with the state it had before the first failed
  // append: the state as of the HW.
  for (auto p = failed.rbegin(); p != failed.rend(); ++p) {
    for (auto it = (*p)->saved.rbegin(); it != (*p)->saved.rend(); ++it) producers_.Restore(*it);
  }
  // No offset at or above the HW was acknowledged: they are handed out again.
  next_offset_ = Offset(hw_.load());
  ++undo_count_;
  for (Pending* p : failed) FinishLocked(p, error, round);
}

PartitionLog::GroupOutcome PartitionLog::WriteGroup(std::vector<Pending*>& group,
                                                    const TopicConfig& config) {
  namespace f = segment::format;
  GroupOutcome out;
  // A failure leaves the appends before `out.written` stored: they were written into a segment
  // that a roll then sealed (and synced). It is undone if it is a full disk and `undone` says the
  // failed step is one that leaves nothing behind (Errors, in the header).
  auto fail = [&](Status s, bool undone) {
    out.retryable = undone && s.error().code == ErrorCode::kNoSpace;
    out.status = std::move(s);
    return out;
  };
  std::shared_ptr<Segment> active = Snapshot()->back();
  if (active->sealed()) {
    // A roll sealed it but could not create the next segment (a full disk): create it now.
    if (Status s = CreateNextSegment(group.front()->base_offset(), config); !s) {
      return fail(std::move(s), true);
    }
    active = Snapshot()->back();
  } else if (active->tail().end.value() > f::kSegmentHeaderSize &&
             clock_.NowMs() - active_created_ms_ >= config.segment_ms) {
    // Roll: a failed seal (its fsync) poisons; a failed creation leaves the sealed segment last.
    if (Status s = active->Seal(); !s) return fail(std::move(s), false);
    if (Status s = CreateNextSegment(group.front()->base_offset(), config); !s) {
      return fail(std::move(s), true);
    }
    active = Snapshot()->back();
  }
  // The frame checksums cover the base offsets, so they are computed now that the offsets are
  // known, by the writer, outside the partition's lock.
  for (Pending* p : group) {
    for (PendingFrame& fr : p->frames) {
      base::Xxh3Stream hash(segment::FrameSeed(fr.length, f::kFrameTypeRecordBatchV2));
      hash.Update(Bytes(fr.head).subspan(f::kFramePrefixSize));
      hash.Update(fr.rest);
      segment::FramePrefix prefix;
      segment::EncodeFramePrefix(prefix, fr.length, hash.Digest());
      std::memcpy(fr.head.data(), prefix.data(), prefix.size());
    }
  }
  std::vector<Bytes> pieces;
  std::vector<FrameMeta> metas;
  uint64_t pending_bytes = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    Pending* p = group[i];
    // An append's frames all go into one segment: the roll comes before it when they do not fit.
    if (!metas.empty() && !active->HasRoomFor(pending_bytes + p->size_bytes, p->last_offset())) {
      if (Status s = active->Append(pieces, metas); !s) return fail(std::move(s), true);
      pieces.clear();
      metas.clear();
      pending_bytes = 0;
    }
    if (metas.empty() && !active->HasRoomFor(p->size_bytes, p->last_offset())) {
      if (Status s = active->Seal(); !s) return fail(std::move(s), false);
      out.written = i;  // the seal synced everything before this append
      if (Status s = CreateNextSegment(p->base_offset(), config); !s) {
        return fail(std::move(s), true);
      }
      active = Snapshot()->back();
    }
    for (PendingFrame& fr : p->frames) {
      pieces.push_back(Bytes(fr.head));
      pieces.push_back(fr.rest);
      metas.push_back(fr.meta);
    }
    pending_bytes += p->size_bytes;
  }
  // With flush=sync the group's fdatasync goes with its write (one io_uring submission).
  const bool sync = config.flush == FlushMode::kSync;
  Status synced;
  const int64_t append_start_ns = sync ? clock_.MonotonicNs() : 0;
  if (Status s = active->Append(pieces, metas, sync ? &synced : nullptr); !s) {
    return fail(std::move(s), true);
  }
  if (sync) WriterStats::Global().sync_ns.Record(clock_.MonotonicNs() - append_start_ns);
  if (!synced) return fail(std::move(synced), false);
  out.written = group.size();
  return out;
}

Status PartitionLog::CreateNextSegment(Offset next_base, const TopicConfig& config) {
  ASSIGN_OR_RETURN(std::shared_ptr<Segment> next,
                   Segment::Create(fs_, dir_, next_base, SegmentOptionsFor(config)));
  {
    std::lock_guard lock(segments_mu_);
    auto list = std::make_shared<SegmentList>(*segments_);
    list->push_back(next);
    segments_ = std::move(list);
  }
  active_created_ms_ = clock_.NowMs();
  // The producer state as of the new segment's base (Kafka's snapshot at a roll): the batches below
  // it are sealed and synced, so the snapshot never covers a batch a crash could take back. If it
  // cannot be written, the next open replays from an older one (bounded), which is safe.
  if (Status s = WriteProducerSnapshot(next_base); !s) {
    static base::RateLimitedLog log(base::LogLevel::kWarning);
    log.Log(dir_ + ": producer snapshot not written at a roll: " + s.error().ToString());
  }
  // Everything before the new segment is sealed and synced: the recovery point moves past it. If
  // it cannot be written, the old one stays, which is safe (recovery then scans the whole new
  // segment); the next flush or roll writes it.
  if (Status s = WriteRecoveryPoint(next_base, next->tail()); !s) {
    static base::RateLimitedLog log(base::LogLevel::kWarning);
    log.Log(dir_ + ": recovery point not moved at a roll: " + s.error().ToString());
  }
  return {};
}

Status PartitionLog::WriteRecoveryPoint(Offset segment_base, const SegmentTail& tail) {
  std::lock_guard lock(rp_mu_);
  std::pair<Offset, uint64_t> at{segment_base, tail.end.value()};
  if (rp_written_ && at <= *rp_written_) return {};
  RETURN_IF_ERROR(WriteRecoveryPointFile(fs_, dir_, {segment_base, tail}));
  rp_written_ = at;
  return {};
}

Status PartitionLog::Flush() {
  std::shared_ptr<Segment> active = Snapshot()->back();
  uint64_t flushing;
  {
    std::lock_guard lock(mu_);
    if (poisoned_) return PoisonError();
    flushing = unflushed_bytes_;
  }
  const SegmentTail tail = active->tail();  // before the sync: all of it is covered
  const int64_t sync_start_ns = clock_.MonotonicNs();
  Status synced = active->Sync();
  WriterStats::Global().sync_ns.Record(clock_.MonotonicNs() - sync_start_ns);
  if (Status s = std::move(synced); !s) {
    std::lock_guard lock(mu_);
    if (!poisoned_) {
      base::LogError(dir_ +
                     ": fdatasync failed, refusing writes until reopened: " + s.error().ToString());
      poisoned_ = s.error();
    }
    return s;
  }
  {
    // The data is durable: the flush is done even if the files below cannot be written (a full
    // disk), so that it is not retried at every tick of the background loop.
    std::lock_guard lock(mu_);
    unflushed_bytes_ -= std::min(unflushed_bytes_, flushing);
    last_flush_ms_ = clock_.NowMs();
  }
  if (Status s = active->WriteIndexCheckpoint(tail); !s) {
    static base::RateLimitedLog log(base::LogLevel::kWarning);
    log.Log(dir_ + ": index checkpoint: " + s.error().ToString());
  }
  return WriteRecoveryPoint(active->base_offset(), tail);
}

bool PartitionLog::FlushDue(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  if (closed_ || poisoned_ || unflushed_bytes_ == 0) return false;
  return unflushed_bytes_ >= static_cast<uint64_t>(config_.flush_bytes) ||
         now_ms - last_flush_ms_ >= config_.flush_ms;
}

void PartitionLog::SetConfig(const TopicConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
}

template <typename Pred>
Status PartitionLog::DropOldestSegments(Pred doomed) {
  std::vector<std::shared_ptr<Segment>> dropped;
  Offset start;  // the first remaining segment's base
  {
    std::lock_guard lock(segments_mu_);
    const SegmentList& list = *segments_;
    uint64_t total = 0;
    for (const auto& seg : list) total += seg->size_bytes();
    size_t n = 0;
    for (; n + 1 < list.size(); ++n) {  // the active segment is never deleted
      if (!doomed(*list[n], total)) break;
      total -= list[n]->size_bytes();
    }
    if (n == 0) return {};
    dropped.assign(list.begin(), list.begin() + static_cast<ptrdiff_t>(n));
    start = list[n]->base_offset();
    segments_ = std::make_shared<SegmentList>(list.begin() + static_cast<ptrdiff_t>(n), list.end());
  }
  // Readers still holding a snapshot keep their mappings; the files go now.
  Status result;
  for (const auto& seg : dropped) {
    base::LogInfo("deleting segment " + seg->log_path());
    if (Status s = seg->RemoveFiles(); !s && result) result = s;
  }
  // Producer snapshots below the new log start go with the segments they describe (the one at the
  // log start stays: it is the state the remaining log starts from). Removed after the segments,
  // so a crash in between leaves a snapshot below the log start, which open ignores and the next
  // retention removes.
  if (auto names = fs_.ListDir(dir_)) {
    for (const std::string& name : *names) {
      auto at = ParseProducerSnapshotName(name);
      if (!at || *at >= start) continue;
      Status s = fs_.Remove(io::JoinPath(dir_, name));
      if (!s && s.error().code != ErrorCode::kNotFound && result) result = s;
    }
  } else if (result) {
    result = std::move(names).error();
  }
  // Dictionaries only the deleted segments needed go after them.
  if (Status s = dict_->Collect(start); !s && result) result = s;
  return result;
}

Status PartitionLog::EnforceRetention(int64_t now_ms) {
  TopicConfig config;
  {
    std::lock_guard lock(mu_);
    config = config_;
  }
  // cleanup.policy=compact alone keeps every segment (the cleaner bounds the log), as in Kafka.
  if (!config.cleanup_delete) return {};
  if (config.retention_bytes < 0 && config.retention_ms < 0) return {};
  // Retention comes round again; a cleaning pass in progress is not waited for.
  std::unique_lock cleaner(cleaner_mu_, std::try_to_lock);
  if (!cleaner.owns_lock()) return {};
  return DropOldestSegments([&](const Segment& seg, uint64_t total) {
    const bool by_size = config.retention_bytes >= 0 &&
                         total - seg.size_bytes() >= static_cast<uint64_t>(config.retention_bytes);
    const int64_t max_ts = seg.tail().max_timestamp;
    const bool by_time =
        config.retention_ms >= 0 && max_ts >= 0 && max_ts < now_ms - config.retention_ms;
    return by_size || by_time;
  });
}

Status PartitionLog::DeleteSegmentsBefore(Offset offset) {
  cleaner_yield_.fetch_add(1);  // a pass in progress stops rather than keep this waiting
  std::lock_guard cleaner(cleaner_mu_);
  cleaner_yield_.fetch_sub(1);
  return DropOldestSegments(
      [&](const Segment& seg, uint64_t) { return seg.tail().next_offset <= offset; });
}

Offset PartitionLog::high_watermark() const { return Offset(hw_.load(std::memory_order_acquire)); }

Offset PartitionLog::LogStartOf(const SegmentList& list) const {
  return std::max(list.front()->base_offset(), Offset(deleted_below_.load()));
}

Offset PartitionLog::log_start_offset() const { return LogStartOf(*Snapshot()); }

PartitionStats PartitionLog::Stats() const {
  PartitionStats s;
  s.high_watermark = high_watermark();
  auto list = Snapshot();
  s.log_start_offset = LogStartOf(*list);
  s.segment_count = list->size();
  for (const auto& seg : *list) s.size_bytes += seg->size_bytes();
  return s;
}

Offset PartitionLog::WaitForData(Offset offset, int64_t timeout_ms) const {
  std::unique_lock lock(mu_);
  ++waiting_readers_;
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return hw_.load() > offset.value() || closed_; });
  --waiting_readers_;
  return high_watermark();
}

int PartitionLog::WaitingReadersForTesting() const {
  std::lock_guard lock(mu_);
  return waiting_readers_;
}

size_t PartitionLog::QueuedAppendsForTesting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

Result<ReadResult> PartitionLog::Read(Offset from, size_t max_bytes) const {
  const Offset hw = high_watermark();
  auto list = Snapshot();
  const Offset log_start = LogStartOf(*list);
  return ReadSegments(std::move(list), log_start, hw, from, max_bytes, dir_, dict_->store());
}

Result<ReadResult> ReadSegments(
    std::shared_ptr<const std::vector<std::shared_ptr<Segment>>> segments, Offset log_start,
    Offset hw, Offset from, size_t max_bytes, const std::string& dir,
    std::shared_ptr<const base::ZstdDictionaries> dictionaries) {
  const auto& list = segments;
  ReadResult out;
  out.dictionaries = std::move(dictionaries);
  out.high_watermark = hw;
  out.log_start_offset = log_start;
  if (from < out.log_start_offset || from > hw) {
    return MakeError(ErrorCode::kOutOfRange, dir + ": offset " + std::to_string(from.value()) +
                                                 " is outside [" +
                                                 std::to_string(out.log_start_offset.value()) +
                                                 ", " + std::to_string(hw.value()) + "]");
  }
  out.pin = segments;
  if (from == hw) return out;
  // The last segment whose base is <= from.
  auto it = std::upper_bound(list->begin(), list->end(), from,
                             [](Offset o, const auto& seg) { return o < seg->base_offset(); });
  size_t i = static_cast<size_t>(it - list->begin()) - 1;
  ASSIGN_OR_RETURN(std::optional<Frame> frame, (*list)[i]->FindByOffset(from));
  size_t total = 0;
  for (;;) {
    if (!frame) {
      if (++i == list->size()) break;
      ASSIGN_OR_RETURN(frame, (*list)[i]->FrameAt(FilePos(segment::format::kSegmentHeaderSize)));
      continue;
    }
    if (Offset(frame->header.base_offset) >= hw) break;
    if (!out.batches.empty() && total + frame->batch.size() > max_bytes) break;
    out.batches.push_back({frame->batch, frame->header});
    total += frame->batch.size();
    ASSIGN_OR_RETURN(frame, (*list)[i]->FrameAt(frame->end()));
  }
  return out;
}

Result<std::optional<TimestampOffset>> PartitionLog::OffsetForTimestamp(int64_t timestamp) const {
  const Offset hw = high_watermark();
  auto list = Snapshot();
  const Offset start = LogStartOf(*list);
  segment::RecordDecoder decoder;
  decoder.set_dictionaries(dict_->store().get());
  for (const auto& seg : *list) {
    if (seg->tail().max_timestamp < timestamp) continue;
    ASSIGN_OR_RETURN(std::optional<Frame> frame, seg->FindByTime(timestamp));
    while (frame) {
      if (Offset(frame->header.base_offset) >= hw) return std::optional<TimestampOffset>();
      if (frame->header.max_timestamp >= timestamp) {
        RETURN_IF_ERROR(decoder.Reset(frame->batch, frame->header));
        for (;;) {
          ASSIGN_OR_RETURN(auto rec, decoder.Next());
          if (!rec) break;
          if (rec->timestamp >= timestamp && Offset(rec->offset) >= start) {
            return std::optional<TimestampOffset>(
                TimestampOffset{Offset(rec->offset), rec->timestamp});
          }
        }
      }
      ASSIGN_OR_RETURN(frame, seg->FrameAt(frame->end()));
    }
  }
  return std::optional<TimestampOffset>();
}

Result<Offset> PartitionLog::DeleteRecordsBefore(Offset offset) {
  {
    std::lock_guard rp_lock(rp_mu_);  // serialises log-start writes with the other small files
    const Offset hw = high_watermark();
    if (offset == kLatest) offset = hw;
    if (offset < Offset(0) || offset > hw) {
      return MakeError(ErrorCode::kOutOfRange, dir_ + ": cannot delete records before offset " +
                                                   std::to_string(offset.value()) +
                                                   ": the high watermark is " +
                                                   std::to_string(hw.value()));
    }
    const Offset start = log_start_offset();
    if (offset <= start) return start;
    RETURN_IF_ERROR(WriteLogStartFile(fs_, dir_, offset));
    deleted_below_.store(offset.value());
  }
  base::LogInfo(dir_ + ": log start moved to " + std::to_string(offset.value()) +
                " (DeleteRecords)");
  // The records are gone for readers now; the files follow (or, after a crash, at the next open).
  RETURN_IF_ERROR(DeleteSegmentsBefore(offset));
  return offset;
}

Result<std::optional<TimestampOffset>> PartitionLog::OffsetForMaxTimestamp() const {
  const Offset hw = high_watermark();
  auto list = Snapshot();
  const Offset start = LogStartOf(*list);
  std::optional<TimestampOffset> best;
  segment::RecordDecoder decoder;
  decoder.set_dictionaries(dict_->store().get());
  for (const auto& seg : *list) {
    if (seg->tail().next_offset <= start) continue;
    if (best && seg->tail().max_timestamp <= best->timestamp) continue;  // nothing larger here
    ASSIGN_OR_RETURN(std::optional<Frame> frame,
                     seg->FrameAt(FilePos(segment::format::kSegmentHeaderSize)));
    while (frame) {
      if (Offset(frame->header.base_offset) >= hw) break;
      if (Offset(frame->header.last_offset()) >= start &&
          (!best || frame->header.max_timestamp > best->timestamp)) {
        // The batch holds a larger timestamp: the first of its records that has it.
        RETURN_IF_ERROR(decoder.Reset(frame->batch, frame->header));
        for (;;) {
          ASSIGN_OR_RETURN(auto rec, decoder.Next());
          if (!rec) break;
          const int64_t ts =
              frame->header.log_append_time() ? frame->header.max_timestamp : rec->timestamp;
          if (Offset(rec->offset) >= start && (!best || ts > best->timestamp)) {
            best = TimestampOffset{Offset(rec->offset), ts};
          }
        }
      }
      ASSIGN_OR_RETURN(frame, seg->FrameAt(frame->end()));
    }
  }
  return best;
}

ProducerSnapshot PartitionLog::Producers() const {
  std::lock_guard lock(mu_);
  return producers_.SnapshotBelow(high_watermark());
}

Status PartitionLog::Close() {
  // A cleaning pass in progress stops (its scratch files are removed) before the log closes.
  cleaner_stop_.store(true);
  std::lock_guard cleaner(cleaner_mu_);
  std::unique_lock lock(mu_);
  if (closed_) return {};
  closed_ = true;
  cv_.wait(lock, [&] { return !writer_active_ && finishing_ == 0; });
  cv_.notify_all();
  const bool poisoned = poisoned_.has_value();
  Error poison = poisoned ? PoisonError() : Error{};
  lock.unlock();
  std::shared_ptr<Segment> active = Snapshot()->back();
  if (poisoned) {
    active->CloseAbandoned().IgnoreError();
    return poison;
  }
  RETURN_IF_ERROR(active->Sync());
  const SegmentTail tail = active->tail();
  // Trimming first gives the preallocated blocks back, so that on a disk that is still full the
  // small files (index, recovery point, and the engine's clean-shutdown marker) have room. Until
  // the recovery point is written the one on disk is older, which is safe.
  RETURN_IF_ERROR(active->CloseClean());
  // The producer state as of the log's end, so that the next open replays nothing (unless the
  // snapshot loaded at open is already there: no append since). A failure costs the next open a
  // bounded replay, not the close.
  bool write_snapshot;
  {
    std::lock_guard rp_lock(rp_mu_);
    // An empty log needs none (opening it replays nothing): creating a topic of many partitions
    // costs no snapshot fsyncs.
    const bool empty = Snapshot()->size() == 1 && tail.next_offset == active->base_offset();
    write_snapshot = snapshot_at_ != tail.next_offset && !empty;
    if (unusable_snapshots_.count(tail.next_offset) != 0) {
      // A damaged snapshot is never written over (nor deleted): `sluice verify` names it and
      // `sluice repair` moves it aside. The next open falls back again, which is safe.
      base::LogWarning(dir_ + ": producer snapshot not written at close: the damaged " +
                       ProducerSnapshotName(tail.next_offset) + " is in its place");
      write_snapshot = false;
    }
  }
  if (write_snapshot) {
    if (Status s = WriteProducerSnapshot(tail.next_offset); !s) {
      base::LogWarning(dir_ + ": producer snapshot not written at close: " + s.error().ToString());
    }
  }
  return WriteRecoveryPoint(active->base_offset(), tail);
}

}  // namespace sluice::engine

namespace sluice::engine {

bool PartitionLog::CleanerBusyForTesting() {
  if (!cleaner_mu_.try_lock()) return true;
  cleaner_mu_.unlock();
  return false;
}

void PartitionLog::AbandonForTesting() {
  cleaner_stop_.store(true);
  std::lock_guard cleaner(cleaner_mu_);
  {
    std::unique_lock lock(mu_);
    if (closed_) return;
    closed_ = true;
    cv_.wait(lock, [&] { return !writer_active_ && finishing_ == 0; });
    cv_.notify_all();
  }
  Snapshot()->back()->CloseAbandoned().IgnoreError();
}

}  // namespace sluice::engine

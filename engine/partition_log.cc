#include "engine/partition_log.h"

#include <algorithm>
#include <cstring>

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

// One append waiting in the queue. Lives on the appender's stack until `done`.
struct PartitionLog::Pending {
  // The frame prefix followed by the batch's first bytes with base offset and leader epoch set.
  std::array<std::byte, segment::format::kFramePrefixSize + kPatchedHead> head{};
  Bytes rest;           // the batch after `head`'s part of it (borrowed from the caller)
  uint32_t length = 0;  // of the batch
  FrameMeta meta;
  bool done = false;
  bool lead = false;  // this appender is to act as the writer
  Status result;
  std::condition_variable cv;  // signalled when `done` or `lead` is set
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
    std::vector<segment::RecoveryReport>* reports, std::function<void()> on_data,
    PartitionOpen mode) {
  std::unique_ptr<PartitionLog> log(new PartitionLog(fs, std::move(dir), config, clock));
  log->on_data_ = std::move(on_data);
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
  ASSIGN_OR_RETURN(auto names, fs.ListDir(d));
  std::vector<Offset> bases;
  for (const std::string& name : names) {
    if (EndsWith(name, ".tmp")) {
      // Leftover of a replacement that did not finish; the old file (if any) is intact.
      fs.Remove(io::JoinPath(d, name)).IgnoreError();
    } else if (auto base = Segment::ParseLogName(name)) {
      bases.push_back(*base);
    }
  }
  std::sort(bases.begin(), bases.end());

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
                       "; verifying the whole last segment, and cutting nothing");
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
  log->RebuildProducerState(*active);
  if (recovered || !rp || rp->segment_base != active->base_offset()) {
    // Everything recovery accepted is now made durable, so that the recovery point can cover it.
    RETURN_IF_ERROR(active->Sync());
    RETURN_IF_ERROR(log->WriteRecoveryPoint(active->base_offset(), tail));
  } else {
    // Nothing was recovered: what is on disk was synced when it was written (or at the clean
    // close), and the recovery point on disk is still right. Opening costs no fsync.
    log->rp_written_ = std::pair{rp->segment_base, rp->tail.end.value()};
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

void PartitionLog::RebuildProducerState(const Segment& active) {
  // Batch headers only: every published frame was verified by recovery or written by this log, and
  // skipping the payload checksums keeps the walk to one page per batch. Idempotent batches are
  // recorded in log order, so each producer ends with its last kRememberedBatches batches.
  FilePos pos(segment::format::kSegmentHeaderSize);
  for (;;) {
    auto frame = active.FrameAt(pos, segment::FrameVerify::kHeaderOnly);
    if (!frame) {
      // Partial state could make a producer's next batch look out of order; no state makes it
      // look new. Reads of the damaged frame report the damage.
      base::LogWarning(dir_ + ": rebuilding producer state: " + frame.error().ToString() +
                       "; every producer's next batch is accepted as from an unknown producer");
      producers_.Clear();
      return;
    }
    if (!*frame) return;
    const BatchHeader& h = (*frame)->header;
    if (ProducerStateTable::IsIdempotent(h)) {
      producers_.Record(h, Offset(h.base_offset), Offset(h.last_offset()));
    }
    pos = (*frame)->end();
  }
}

Result<AppendResult> PartitionLog::Append(Bytes batch, const BatchHeader& header) {
  namespace f = segment::format;
  SLUICE_CHECK(batch.size() >= segment::kBatchHeaderSize, "Append of an unparsed batch");
  Pending w;
  std::memcpy(w.head.data() + f::kFramePrefixSize, batch.data(), kPatchedHead);
  base::StoreBE<int32_t>(w.head.data() + f::kFramePrefixSize + segment::batch_field::kLeaderEpoch,
                         kLeaderEpoch);
  w.rest = batch.subspan(kPatchedHead);

  w.length = static_cast<uint32_t>(batch.size());

  std::unique_lock lock(mu_);
  if (closed_) return MakeError(ErrorCode::kClosed, dir_ + " is closed");
  if (poisoned_) return PoisonError();
  const bool idempotent = ProducerStateTable::IsIdempotent(header);
  if (idempotent) {
    auto check = producers_.Check(header);
    if (!check) return MakeError(check.error().code, dir_ + ": " + check.error().context);
    if (check->has_value()) {
      // A retry of a batch this log holds or is writing. It is acknowledged as the original
      // would be: once the original is below the HW (readable, or durable with flush=sync).
      const ProducerBatch dup = **check;
      cv_.wait(lock, [&] {
        return hw_.load() > dup.last_offset.value() || poisoned_ || (closed_ && !writer_active_);
      });
      if (hw_.load() > dup.last_offset.value()) {
        return AppendResult{dup.base_offset, dup.last_offset, /*duplicate=*/true};
      }
      if (poisoned_) return PoisonError();
      return MakeError(ErrorCode::kClosed, dir_ + " is closed");
    }
  }
  w.meta.base_offset = next_offset_;
  w.meta.last_offset = next_offset_ + header.last_offset_delta;
  w.meta.max_timestamp = header.max_timestamp;
  w.meta.size_bytes = f::kFramePrefixSize + batch.size();
  next_offset_ = w.meta.last_offset + 1;
  base::StoreBE<int64_t>(w.head.data() + f::kFramePrefixSize, w.meta.base_offset.value());
  // The state moves now, not when the write completes, so that the producer's next batch, queued
  // behind this one, is checked against it. If the write fails the log is poisoned, and reopening
  // rebuilds the state from what is on disk.
  if (idempotent) producers_.Record(header, w.meta.base_offset, w.meta.last_offset);

  queue_.push_back(&w);
  if (!writer_active_) {
    writer_active_ = true;
    w.lead = true;
  }
  w.cv.wait(lock, [&] { return w.done || w.lead; });
  bool advanced = false;  // this thread wrote a group and moved the HW over it
  while (!w.done) {
    // This appender is the writer: take everything queued and write it as one group.
    std::vector<Pending*> group(queue_.begin(), queue_.end());
    queue_.clear();
    const TopicConfig config = config_;
    lock.unlock();
    Status s = WriteGroup(group, config);
    lock.lock();
    uint64_t bytes = 0;
    for (Pending* p : group) bytes += p->meta.size_bytes;
    if (s) {
      hw_.store(group.back()->meta.last_offset.value() + 1, std::memory_order_release);
      unflushed_bytes_ += bytes;
      advanced = true;
    } else if (!poisoned_) {
      base::LogError(dir_ +
                     ": write failed, refusing writes until reopened: " + s.error().ToString());
      poisoned_ = s.error();
    }
    for (Pending* p : group) {
      p->done = true;
      p->result = s;
      p->cv.notify_one();
    }
    if (poisoned_) {
      for (Pending* p : queue_) {
        p->done = true;
        p->result = PoisonError();
        p->cv.notify_one();
      }
      queue_.clear();
    }
    w.lead = false;
    if (queue_.empty()) {
      writer_active_ = false;
    } else {
      queue_.front()->lead = true;
      queue_.front()->cv.notify_one();
    }
    // Readers waiting for data, duplicates waiting for their original, and Close waiting for the
    // writer.
    cv_.notify_all();
  }
  lock.unlock();
  if (advanced && on_data_) on_data_();
  if (!w.result) return std::move(w.result).error();
  return AppendResult{w.meta.base_offset, w.meta.last_offset};
}

Status PartitionLog::WriteGroup(std::vector<Pending*>& group, const TopicConfig& config) {
  std::shared_ptr<Segment> active = Snapshot()->back();
  if (active->tail().end.value() > segment::format::kSegmentHeaderSize &&
      clock_.NowMs() - active_created_ms_ >= config.segment_ms) {
    RETURN_IF_ERROR(Roll(group.front()->meta.base_offset, config));
    active = Snapshot()->back();
  }
  // The frame checksums cover the base offsets, so they are computed now that the offsets are
  // known, by the writer, outside the partition's lock.
  for (Pending* p : group) {
    namespace f = segment::format;
    base::Xxh3Stream hash(segment::FrameSeed(p->length, f::kFrameTypeRecordBatchV2));
    hash.Update(Bytes(p->head).subspan(f::kFramePrefixSize));
    hash.Update(p->rest);
    segment::FramePrefix prefix;
    segment::EncodeFramePrefix(prefix, p->length, hash.Digest());
    std::memcpy(p->head.data(), prefix.data(), prefix.size());
  }
  std::vector<Bytes> pieces;
  std::vector<FrameMeta> metas;
  pieces.reserve(group.size() * 2);
  metas.reserve(group.size());
  uint64_t pending_bytes = 0;
  for (Pending* p : group) {
    if (!metas.empty() &&
        !active->HasRoomFor(pending_bytes + p->meta.size_bytes, p->meta.last_offset)) {
      RETURN_IF_ERROR(active->Append(pieces, metas));
      pieces.clear();
      metas.clear();
      pending_bytes = 0;
    }
    if (metas.empty() && !active->HasRoomFor(p->meta.size_bytes, p->meta.last_offset)) {
      RETURN_IF_ERROR(Roll(p->meta.base_offset, config));
      active = Snapshot()->back();
    }
    pieces.push_back(Bytes(p->head));
    pieces.push_back(p->rest);
    metas.push_back(p->meta);
    pending_bytes += p->meta.size_bytes;
  }
  RETURN_IF_ERROR(active->Append(pieces, metas));
  if (config.flush == FlushMode::kSync) RETURN_IF_ERROR(active->Sync());
  return {};
}

Status PartitionLog::Roll(Offset next_base, const TopicConfig& config) {
  std::shared_ptr<Segment> old = Snapshot()->back();
  RETURN_IF_ERROR(old->Seal());
  ASSIGN_OR_RETURN(std::shared_ptr<Segment> next,
                   Segment::Create(fs_, dir_, next_base, SegmentOptionsFor(config)));
  {
    std::lock_guard lock(segments_mu_);
    auto list = std::make_shared<SegmentList>(*segments_);
    list->push_back(next);
    segments_ = std::move(list);
  }
  active_created_ms_ = clock_.NowMs();
  // Everything before the new segment is sealed and synced: the recovery point moves past it.
  return WriteRecoveryPoint(next_base, next->tail());
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
  if (Status s = active->Sync(); !s) {
    std::lock_guard lock(mu_);
    if (!poisoned_) {
      base::LogError(dir_ +
                     ": fdatasync failed, refusing writes until reopened: " + s.error().ToString());
      poisoned_ = s.error();
    }
    return s;
  }
  if (Status s = active->WriteIndexCheckpoint(tail); !s) {
    base::LogWarning(dir_ + ": index checkpoint: " + s.error().ToString());
  }
  RETURN_IF_ERROR(WriteRecoveryPoint(active->base_offset(), tail));
  std::lock_guard lock(mu_);
  unflushed_bytes_ -= std::min(unflushed_bytes_, flushing);
  last_flush_ms_ = clock_.NowMs();
  return {};
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
    segments_ = std::make_shared<SegmentList>(list.begin() + static_cast<ptrdiff_t>(n), list.end());
  }
  // Readers still holding a snapshot keep their mappings; the files go now.
  Status result;
  for (const auto& seg : dropped) {
    base::LogInfo("deleting segment " + seg->log_path());
    if (Status s = seg->RemoveFiles(); !s && result) result = s;
  }
  return result;
}

Status PartitionLog::EnforceRetention(int64_t now_ms) {
  TopicConfig config;
  {
    std::lock_guard lock(mu_);
    config = config_;
  }
  if (config.retention_bytes < 0 && config.retention_ms < 0) return {};
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
  return DropOldestSegments(
      [&](const Segment& seg, uint64_t) { return seg.tail().next_offset <= offset; });
}

Offset PartitionLog::high_watermark() const { return Offset(hw_.load(std::memory_order_acquire)); }

Offset PartitionLog::log_start_offset() const { return Snapshot()->front()->base_offset(); }

PartitionStats PartitionLog::Stats() const {
  PartitionStats s;
  s.high_watermark = high_watermark();
  auto list = Snapshot();
  s.log_start_offset = list->front()->base_offset();
  s.segment_count = list->size();
  for (const auto& seg : *list) s.size_bytes += seg->size_bytes();
  return s;
}

Offset PartitionLog::WaitForData(Offset offset, int64_t timeout_ms) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return hw_.load() > offset.value() || closed_; });
  return high_watermark();
}

Result<ReadResult> PartitionLog::Read(Offset from, size_t max_bytes) const {
  const Offset hw = high_watermark();
  auto list = Snapshot();
  ReadResult out;
  out.high_watermark = hw;
  out.log_start_offset = list->front()->base_offset();
  out.pin = list;
  if (from < out.log_start_offset || from > hw) {
    return MakeError(ErrorCode::kOutOfRange, dir_ + ": offset " + std::to_string(from.value()) +
                                                 " is outside [" +
                                                 std::to_string(out.log_start_offset.value()) +
                                                 ", " + std::to_string(hw.value()) + "]");
  }
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
  segment::RecordDecoder decoder;
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
          if (rec->timestamp >= timestamp) {
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

Status PartitionLog::Close() {
  std::unique_lock lock(mu_);
  if (closed_) return {};
  closed_ = true;
  cv_.wait(lock, [&] { return !writer_active_; });
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
  RETURN_IF_ERROR(WriteRecoveryPoint(active->base_offset(), active->tail()));
  return active->CloseClean();
}

}  // namespace sluice::engine

namespace sluice::engine {

void PartitionLog::AbandonForTesting() {
  {
    std::unique_lock lock(mu_);
    if (closed_) return;
    closed_ = true;
    cv_.wait(lock, [&] { return !writer_active_; });
    cv_.notify_all();
  }
  Snapshot()->back()->CloseAbandoned().IgnoreError();
}

}  // namespace sluice::engine

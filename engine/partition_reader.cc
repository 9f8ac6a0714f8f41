#include "engine/partition_reader.h"

#include <algorithm>
#include <chrono>

#include "segment/base/log.h"
#include "segment/format.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::FilePos;
using base::MakeError;
using segment::Frame;
using segment::Segment;

constexpr int64_t kNoWriterWaitMs = 1000;

segment::SegmentOptions OptionsFor(const TopicConfig& config) {
  segment::SegmentOptions o;
  o.capacity_bytes = static_cast<uint64_t>(config.segment_bytes);
  o.index_interval_bytes = static_cast<uint32_t>(config.index_interval_bytes);
  return o;
}

}  // namespace

PartitionReader::PartitionReader(io::FileSystem& fs, std::string dir, const TopicConfig& config)
    : fs_(fs),
      dir_(std::move(dir)),
      options_(OptionsFor(config)),
      dictionaries_(std::make_shared<segment::DictionaryStore>(fs, dir_)) {}

Result<std::unique_ptr<PartitionReader>> PartitionReader::Open(io::FileSystem& fs, std::string dir,
                                                               const TopicConfig& config) {
  std::unique_ptr<PartitionReader> r(new PartitionReader(fs, std::move(dir), config));
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(r->dir_));
  std::vector<Offset> bases;
  for (const auto& name : names) {
    if (auto base = Segment::ParseLogName(name)) bases.push_back(*base);
  }
  std::sort(bases.begin(), bases.end());
  auto list = std::make_shared<SegmentList>();
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool last = i + 1 == bases.size();
    // Every segment but the last is sealed (a roll seals before it creates the next one).
    auto seg =
        last ? Segment::OpenFollower(fs, r->dir_, bases[i], r->options_)
             : Segment::OpenSealed(fs, r->dir_, bases[i], r->options_, segment::IndexRepair::kNo);
    if (!seg) {
      // Retention removed it since the listing, or the writer is creating the last one: the
      // list starts after it, or ends before it.
      if (seg.error().code == ErrorCode::kNotFound && (list->empty() || last)) continue;
      return std::move(seg).error();
    }
    list->push_back(std::move(*seg));
  }
  if (list->empty()) {
    return MakeError(ErrorCode::kNotFound, r->dir_ + " holds no segment");
  }
  r->hw_ = list->front()->base_offset();
  r->segments_ = std::move(list);
  std::lock_guard lock(r->mu_);
  RETURN_IF_ERROR(r->CatchUpLocked());
  return r;
}

Result<Offset> PartitionReader::LimitLocked(const SegmentList& list) {
  if (watermark_ == nullptr) {
    auto opened = PublishedWatermark::OpenForReader(dir_);
    if (opened) {
      watermark_ = std::move(opened).value();
    } else if (opened.error().code == ErrorCode::kUnsupportedVersion) {
      return std::move(opened).error();
    }
  }
  if (watermark_ != nullptr) return watermark_->high_watermark().value_or(hw_);
  // No writer has published one: what is known valid without one.
  Offset limit = list.back()->base_offset();
  ASSIGN_OR_RETURN(std::optional<RecoveryPoint> rp, ReadRecoveryPointFile(fs_, dir_));
  if (rp && rp->segment_base == list.back()->base_offset()) {
    limit = std::max(limit, rp->tail.next_offset);
  }
  return limit;
}

Status PartitionReader::CatchUpLocked() {
  auto list = std::make_shared<SegmentList>(*segments_);
  // Retention deletes the oldest segments first; the last one is never deleted by it.
  while (list->size() > 1) {
    ASSIGN_OR_RETURN(bool exists, fs_.Exists(list->front()->log_path()));
    if (exists) break;
    list->erase(list->begin());
  }
  // The limit before the file lengths (Segment::Follow).
  ASSIGN_OR_RETURN(const Offset limit, LimitLocked(*list));
  limit_ = limit;
  const segment::FrameVerify verify =
      watermark_ != nullptr ? segment::FrameVerify::kHeaderOnly : segment::FrameVerify::kChecksum;
  std::string why;
  for (;;) {
    Segment& last = *list->back();
    auto size = fs_.FileSize(last.log_path());
    if (!size) {
      if (size.error().code == ErrorCode::kNotFound) break;  // the topic is being deleted
      return std::move(size).error();
    }
    const Offset next = last.sealed() ? last.tail().next_offset
                                      : last.Follow(limit, *size, verify, &why).next_offset;
    if (next >= limit || !why.empty()) break;
    // The rest is in the next segment, if the writer rolled.
    auto seg = Segment::OpenFollower(fs_, dir_, next, options_);
    if (!seg) {
      if (seg.error().code == ErrorCode::kNotFound) break;
      return std::move(seg).error();
    }
    list->push_back(std::move(*seg));
  }
  const Offset reached = list->back()->tail().next_offset;
  if (reached < limit && watermark_ != nullptr) {
    std::string stuck =
        why.empty() ? "no segment starts at offset " + std::to_string(reached.value()) : why;
    if (stuck != stuck_) {
      base::LogWarning(dir_ + ": reading stops at offset " + std::to_string(reached.value()) +
                       " below the writer's high watermark " + std::to_string(limit.value()) +
                       ": " + stuck);
      stuck_ = std::move(stuck);
    }
  }
  hw_ = std::max(hw_, reached);
  ASSIGN_OR_RETURN(std::optional<Offset> deleted_below, ReadLogStartFile(fs_, dir_));
  log_start_ = std::max(list->front()->base_offset(), deleted_below.value_or(Offset(0)));
  segments_ = std::move(list);
  return {};
}

Result<PartitionReader::View> PartitionReader::Current() {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(CatchUpLocked());
  return View{segments_, log_start_, hw_};
}

Result<ReadResult> PartitionReader::Read(Offset from, size_t max_bytes) {
  ASSIGN_OR_RETURN(View current, Current());
  return ReadSegments(std::move(current.segments), current.log_start, current.hw, from, max_bytes,
                      dir_, dictionaries_);
}

Result<std::optional<TimestampOffset>> PartitionReader::OffsetForTimestamp(int64_t timestamp) {
  ASSIGN_OR_RETURN(View current, Current());
  const auto& list = current.segments;
  const Offset hw = current.hw;
  segment::RecordDecoder decoder;
  decoder.set_dictionaries(dictionaries_.get());
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
          if (rec->offset >= current.log_start.value() && rec->timestamp >= timestamp) {
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

Result<PartitionStats> PartitionReader::Stats() {
  ASSIGN_OR_RETURN(View current, Current());
  const auto& list = current.segments;
  PartitionStats s;
  s.high_watermark = current.hw;
  s.log_start_offset = current.log_start;
  s.segment_count = list->size();
  for (const auto& seg : *list) s.size_bytes += seg->size_bytes();
  return s;
}

Result<Offset> PartitionReader::WaitForData(Offset offset, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(mu_);
  for (;;) {
    RETURN_IF_ERROR(CatchUpLocked());
    if (hw_ > offset) return hw_;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return hw_;
    const std::optional<Offset> published =
        watermark_ != nullptr ? watermark_->high_watermark() : std::nullopt;
    if (published && *published > limit_) continue;  // published since the catch-up
    if (watermark_ != nullptr && (!published || *published <= offset)) {
      // The writer wakes us when it publishes; the bound notices a writer that died or restarted.
      PublishedWatermark* w = watermark_.get();  // kept until this reader is destroyed
      lock.unlock();
      w->Wait(offset, std::min<int64_t>(left, kNoWriterWaitMs));
      lock.lock();
    } else {
      // No writer (or data published that cannot be reached yet): look again in a while.
      cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(left, kNoWriterWaitMs)));
    }
  }
}

uint64_t PartitionReader::WriterGenerationForTesting() {
  std::lock_guard lock(mu_);
  return watermark_ != nullptr ? watermark_->generation() : 0;
}

}  // namespace sluice::engine

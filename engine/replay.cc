#include "engine/replay.h"

#include <algorithm>
#include <limits>
#include <queue>

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;

constexpr Offset kNoEnd(std::numeric_limits<int64_t>::max());

// One partition's records in offset order, in [start, end).
class Cursor {
 public:
  Cursor(const Engine& engine, const ReplayOptions& options, int32_t partition, Offset start,
         Offset end, ReplayStats& stats)
      : engine_(engine),
        options_(options),
        partition_(partition),
        next_(start),
        end_(end),
        stats_(stats) {}

  int32_t partition() const { return partition_; }
  Offset next() const { return next_; }
  const segment::RecordView& record() const { return record_; }
  void set_end(Offset end) { end_ = end; }

  // Moves to the next record below the end. False when there is none (now).
  Result<bool> Advance() {
    if (held_) {
      // A record read past the end earlier: delivered once the end has moved past it (follow).
      if (record_.offset >= end_.value()) return false;
      held_ = false;
      next_ = Offset(record_.offset + 1);
      return true;
    }
    for (;;) {
      if (loaded_) {
        ASSIGN_OR_RETURN(bool more, decoder_.Next(record_));
        if (more) {
          if (record_.offset < next_.value()) continue;  // before the start, in the first batch
          if (record_.offset >= end_.value()) {
            held_ = true;  // not consumed: it is the first record after the cut
            return false;
          }
          next_ = Offset(record_.offset + 1);
          return true;
        }
        loaded_ = false;
        // Past the batch's last offset even when its last records are gone (a compacted log's
        // batches may end, or be empty, after their last record): the next read starts after it.
        const int64_t after = read_.batches[batch_].header.last_offset() + 1;
        next_ = std::max(next_, std::min(end_, Offset(after)));
        ++batch_;
      }
      if (batch_ < read_.batches.size()) {
        const StoredBatch& b = read_.batches[batch_];
        RETURN_IF_ERROR(decoder_.Reset(b.bytes, b.header));
        loaded_ = true;
        ++stats_.batches;
        stats_.stored_bytes += b.bytes.size();
        continue;
      }
      if (next_ >= end_ || options_.stop.stop_requested()) return false;
      ASSIGN_OR_RETURN(read_, engine_.Read(options_.topic, partition_, next_, options_.read_bytes));
      decoder_.set_dictionaries(read_.dictionaries.get());
      batch_ = 0;
      if (read_.batches.empty()) return false;
    }
  }

 private:
  const Engine& engine_;
  const ReplayOptions& options_;
  const int32_t partition_;
  Offset next_;
  Offset end_;
  ReplayStats& stats_;
  ReadResult read_;
  size_t batch_ = 0;
  bool loaded_ = false;
  segment::RecordDecoder decoder_;
  segment::RecordView record_;
  bool held_ = false;  // record_ is at or past end_ and was not delivered
};

Result<Offset> StartOffset(const Engine& engine, const ReplayOptions& o, int32_t p,
                           const PartitionStats& stats) {
  Offset start = stats.log_start_offset;
  if (auto it = o.start_offsets.find(p); it != o.start_offsets.end()) {
    start = it->second;
  } else if (o.from.kind == ReplayFrom::Kind::kOffset) {
    start = Offset(o.from.value);
  } else if (o.from.kind == ReplayFrom::Kind::kTimestamp) {
    ASSIGN_OR_RETURN(auto found, engine.OffsetForTimestamp(o.topic, p, o.from.value));
    start = found ? found->offset : stats.high_watermark;
  }
  if (start < stats.log_start_offset) {
    return MakeError(ErrorCode::kOutOfRange,
                     o.topic + "-" + std::to_string(p) + ": replay from offset " +
                         std::to_string(start.value()) + ", but the log now starts at " +
                         std::to_string(stats.log_start_offset.value()) +
                         " (older records were deleted by retention)");
  }
  return std::min(start, stats.high_watermark);
}

Result<Offset> EndOffset(const Engine& engine, const ReplayOptions& o, int32_t p,
                         const PartitionStats& stats) {
  switch (o.to.kind) {
    case ReplayTo::Kind::kHighWatermark:
    case ReplayTo::Kind::kFollow:
      return stats.high_watermark;
    case ReplayTo::Kind::kOffset:
      return std::min(Offset(o.to.value), stats.high_watermark);
    case ReplayTo::Kind::kTimestamp: {
      ASSIGN_OR_RETURN(auto found, engine.OffsetForTimestamp(o.topic, p, o.to.value));
      return found ? std::min(found->offset, stats.high_watermark) : stats.high_watermark;
    }
  }
  return stats.high_watermark;
}

Status RunPerPartition(std::vector<Cursor>& cursors, const ReplayFold& fold, ReplayStats& stats) {
  for (Cursor& c : cursors) {
    for (;;) {
      ASSIGN_OR_RETURN(bool more, c.Advance());
      if (!more) break;
      ++stats.records;
      RETURN_IF_ERROR(fold(c.partition(), c.record()));
    }
  }
  return {};
}

Status RunMerged(std::vector<Cursor>& cursors, const ReplayFold& fold, ReplayStats& stats) {
  // A min-heap of cursors by (timestamp, partition, offset) of their current record.
  auto later = [&](size_t a, size_t b) {
    const auto& ra = cursors[a].record();
    const auto& rb = cursors[b].record();
    return MergedBefore(rb.timestamp, cursors[b].partition(), rb.offset, ra.timestamp,
                        cursors[a].partition(), ra.offset);
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t i = 0; i < cursors.size(); ++i) {
    ASSIGN_OR_RETURN(bool more, cursors[i].Advance());
    if (more) heap.push(i);
  }
  while (!heap.empty()) {
    const size_t i = heap.top();
    heap.pop();
    ++stats.records;
    RETURN_IF_ERROR(fold(cursors[i].partition(), cursors[i].record()));
    ASSIGN_OR_RETURN(bool more, cursors[i].Advance());
    if (more) heap.push(i);
  }
  return {};
}

Status RunFollow(const Engine& engine, const ReplayOptions& o, std::vector<Cursor>& cursors,
                 const ReplayFold& fold, ReplayStats& stats) {
  for (Cursor& c : cursors) c.set_end(kNoEnd);
  size_t waiting_on = 0;
  while (!o.stop.stop_requested()) {
    bool delivered = false;
    for (Cursor& c : cursors) {
      for (;;) {
        ASSIGN_OR_RETURN(bool more, c.Advance());
        if (!more) break;
        delivered = true;
        ++stats.records;
        RETURN_IF_ERROR(fold(c.partition(), c.record()));
      }
    }
    if (delivered || cursors.empty()) continue;
    // Nothing new anywhere: wait on one partition for a short while, taking turns, so that a
    // record on any partition is picked up within one wait.
    Cursor& c = cursors[waiting_on++ % cursors.size()];
    ASSIGN_OR_RETURN(Offset hw, engine.WaitForData(o.topic, c.partition(), c.next(),
                                                   cursors.size() == 1 ? 200 : 50));
    (void)hw;
  }
  return {};
}

}  // namespace

Result<ReplayStats> Replay(const Engine& engine, const ReplayOptions& options,
                           const ReplayFold& fold) {
  ASSIGN_OR_RETURN(TopicDescription topic, engine.DescribeTopic(options.topic));
  std::vector<int32_t> partitions = options.partitions;
  if (partitions.empty()) {
    for (int32_t p = 0; p < topic.info.partitions; ++p) partitions.push_back(p);
  }
  // The cut: every partition's bounds are fixed before any record is read.
  ReplayStats stats;
  std::vector<Cursor> cursors;
  cursors.reserve(partitions.size());
  for (int32_t p : partitions) {
    ASSIGN_OR_RETURN(PartitionStats ps, engine.GetPartitionStats(options.topic, p));
    ASSIGN_OR_RETURN(Offset start, StartOffset(engine, options, p, ps));
    ASSIGN_OR_RETURN(Offset end, EndOffset(engine, options, p, ps));
    stats.start_offsets[p] = start;
    cursors.emplace_back(engine, options, p, start, std::max(start, end), stats);
  }
  if (options.order == ReplayOrder::kByTimestamp) {
    RETURN_IF_ERROR(RunMerged(cursors, fold, stats));
  } else {
    RETURN_IF_ERROR(RunPerPartition(cursors, fold, stats));
  }
  if (options.to.kind == ReplayTo::Kind::kFollow) {
    RETURN_IF_ERROR(RunFollow(engine, options, cursors, fold, stats));
  }
  for (const Cursor& c : cursors) stats.end_offsets[c.partition()] = c.next();
  return stats;
}

}  // namespace sluice::engine

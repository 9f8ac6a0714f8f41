#include "segment/verify.h"

#include <algorithm>

#include "segment/dictionary.h"
#include "segment/format.h"
#include "segment/frame.h"
#include "segment/segment.h"

namespace sluice::segment {
namespace {

bool AllZero(Bytes b) {
  return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

}  // namespace

Result<PartitionVerifyReport> VerifyPartition(io::FileSystem& fs, const std::string& dir) {
  PartitionVerifyReport report;
  report.dir = dir;
  ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  std::vector<Offset> bases;
  std::vector<uint32_t> dictionary_files;
  for (const auto& name : names) {
    if (auto base = Segment::ParseLogName(name)) bases.push_back(*base);
    if (auto id = ParseDictionaryFileName(name)) dictionary_files.push_back(*id);
  }
  // The first batch naming each dictionary: (segment path, position, offset).
  struct FirstUse {
    std::string path;
    uint64_t position = 0;
    int64_t offset = 0;
  };
  std::map<uint32_t, FirstUse> first_use;
  std::sort(bases.begin(), bases.end());
  if (!bases.empty()) report.start_offset = report.next_offset = bases.front();
  for (size_t i = 0; i < bases.size(); ++i) {
    const Offset base = bases[i];
    const std::string path = Segment::LogPath(dir, base);
    auto problem = [&](uint64_t pos, int64_t offset, std::string what,
                       VerifyProblem::Kind kind = VerifyProblem::Kind::kLog) {
      report.problems.push_back({kind, path, pos, offset, std::move(what)});
    };
    ++report.segments;
    SegmentVerifyReport& seg = report.segment_reports.emplace_back();
    seg.base = base;
    seg.path = path;
    seg.valid = {FilePos(format::kSegmentHeaderSize), base, -1};
    if (base != report.next_offset) {
      problem(0, base.value(),
              "segment starts at offset " + std::to_string(base.value()) +
                  " but the log before "
                  "it ends at " +
                  std::to_string(report.next_offset.value()));
    }
    ASSIGN_OR_RETURN(uint64_t size, fs.FileSize(path));
    ASSIGN_OR_RETURN(auto map, fs.Map(path, size));
    Bytes data = map->data().first(size);
    report.bytes += size;
    seg.size_bytes = size;
    const uint64_t head = std::min<uint64_t>(size, format::kSegmentHeaderSize);
    seg.header_zeroed =
        size >= format::kSegmentHeaderSize && AllZero(data.first(format::kSegmentHeaderSize));
    uint16_t flags = 0;
    if (Status header = ValidateSegmentHeader(data, base, path, &flags); !header) {
      seg.header_error = header.error();
      seg.valid.end = FilePos(0);
      const uint64_t after = WrittenBytesAfter(data, head);
      seg.written_end = after > 0 ? head + after : (AllZero(data.first(head)) ? 0 : head);
      problem(0, base.value(), header.error().context);
      continue;
    }
    // Frames, with positions remembered for the index check.
    std::vector<std::pair<uint64_t, int64_t>> frames;  // (position, base offset)
    FilePos pos(format::kSegmentHeaderSize);
    Offset next = base;
    int64_t max_ts = -1;
    bool log_damaged = false;
    for (;;) {
      FrameRead r = ReadFrame(data, pos, FrameVerify::kChecksum);
      if (r.kind == FrameRead::Kind::kEnd) {
        // Zeroed space is normal only at the end of the last (active, preallocated) segment.
        if (pos.value() != size && i + 1 != bases.size()) {
          problem(pos.value(), next.value(), "zeroed space inside a sealed segment");
        }
        break;
      }
      if (r.kind == FrameRead::Kind::kBad) {
        problem(pos.value(), next.value(), r.error);
        seg.bad_frame = r.error;
        log_damaged = true;
        break;
      }
      const BatchHeader& h = r.frame.header;
      // A compacted segment's offsets increase with gaps (FORMAT.md).
      const bool compacted = (flags & format::kSegmentFlagCompacted) != 0;
      if (compacted ? Offset(h.base_offset) < next : Offset(h.base_offset) != next) {
        std::string why = "frame has offset " + std::to_string(h.base_offset) + " where " +
                          std::to_string(next.value()) + " was expected";
        problem(pos.value(), h.base_offset, why);
        seg.bad_frame = std::move(why);
        log_damaged = true;
        break;
      }
      if (auto crc = VerifyBatchCrc(r.frame.batch, h); !crc) {
        problem(pos.value(), h.base_offset, crc.error().context, VerifyProblem::Kind::kBatchCrc);
      }
      if (uint32_t id = BatchDictionaryId(r.frame.batch, h); id != 0) {
        if (report.dictionaries[id]++ == 0) first_use[id] = {path, pos.value(), h.base_offset};
      }
      frames.emplace_back(pos.value(), h.base_offset);
      ++report.frames;
      report.records += h.record_count;
      report.max_producer_id = std::max(report.max_producer_id, h.producer_id);
      next = Offset(h.last_offset() + 1);
      max_ts = std::max(max_ts, h.max_timestamp);
      pos = r.frame.end();
    }
    report.next_offset = next;
    seg.valid = {pos, next, max_ts};
    seg.written_end = pos.value() + WrittenBytesAfter(data, pos.value());

    // The index: derived data, but if present it must agree with the log.
    const std::string index_path = Segment::IndexPath(dir, base);
    auto file = fs.ReadFile(index_path);
    if (!file) {
      if (file.error().code != base::ErrorCode::kNotFound) {
        report.problems.push_back(
            {VerifyProblem::Kind::kIndexUnreadable, index_path, 0, -1, file.error().ToString()});
      }
      continue;
    }
    auto decoded = SegmentIndex::Decode(base::AsBytes(*file), base, 0);
    if (!decoded) {
      report.problems.push_back(
          {VerifyProblem::Kind::kIndexUnreadable, index_path, 0, -1, decoded.error().context});
      continue;
    }
    seg.index_covers_file = decoded->tail.end.value() == size;
    const SegmentIndex& index = *decoded->index;
    // Past damage in the log the index has nothing valid to point at: check only up to it.
    for (size_t e = 0; e < index.size(); ++e) {
      const IndexEntry& entry = index.at(e);
      if (log_damaged && entry.position >= pos.value()) break;
      const int64_t want = base.value() + entry.relative_offset;
      auto it = std::lower_bound(frames.begin(), frames.end(),
                                 std::pair<uint64_t, int64_t>{entry.position, INT64_MIN});
      if (it == frames.end() || it->first != entry.position || it->second != want) {
        report.problems.push_back(
            {VerifyProblem::Kind::kIndexMismatch, index_path, entry.position, want,
             "index entry " + std::to_string(e) + " does not point at the frame of offset " +
                 std::to_string(want)});
        break;
      }
    }
    if (!log_damaged && decoded->tail.end.value() > pos.value()) {
      report.problems.push_back({VerifyProblem::Kind::kIndexMismatch, index_path,
                                 decoded->tail.end.value(), -1,
                                 "index covers bytes past the last valid frame"});
    }
  }
  // Every dictionary a batch names must load; every dictionary file should.
  DictionaryStore store(fs, dir);
  for (const auto& [id, use] : first_use) {
    if (auto dict = store.Find(id); !dict) {
      report.problems.push_back({VerifyProblem::Kind::kDictionaryNeeded,
                                 dir + "/" + DictionaryFileName(id), use.position, use.offset,
                                 std::to_string(report.dictionaries[id]) + " batches from offset " +
                                     std::to_string(use.offset) + " (" + use.path +
                                     ") need it: " + dict.error().context});
    }
  }
  for (uint32_t id : dictionary_files) {
    if (first_use.count(id) != 0) continue;
    if (auto dict = store.Find(id); !dict) {
      report.problems.push_back({VerifyProblem::Kind::kDictionaryDamaged,
                                 dir + "/" + DictionaryFileName(id), 0, -1, dict.error().context});
    }
  }
  return report;
}

}  // namespace sluice::segment

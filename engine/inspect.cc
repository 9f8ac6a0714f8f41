#include "engine/inspect.h"

#include <algorithm>
#include <set>

#include "engine/engine.h"
#include "engine/log_cleaner.h"
#include "engine/producer_state.h"
#include "engine/snapshot.h"
#include "engine/watermark.h"
#include "segment/dictionary.h"
#include "segment/format.h"
#include "segment/segment.h"

namespace sluice::engine {

using base::ErrorCode;
using base::MakeError;
using segment::PartitionVerifyReport;
using segment::SegmentTail;
using segment::SegmentVerifyReport;
using segment::VerifyProblem;

namespace {

constexpr uint64_t kHeaderSize = segment::format::kSegmentHeaderSize;
constexpr std::string_view kQuarantineMark = ".quarantine-";
constexpr std::string_view kKeptAside =
    "never read by sluice; remove it when you no longer need it";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}
std::string Num(int64_t v) { return std::to_string(v); }
std::string Range(Offset from, Offset to) {
  return "[" + Num(from.value()) + ", " + Num(to.value()) + ")";
}

// "<20 digits>.index" of a segment.
std::optional<Offset> ParseIndexName(const std::string& name) {
  constexpr std::string_view kIndex = ".index";
  if (!EndsWith(name, kIndex)) return std::nullopt;
  return segment::Segment::ParseLogName(name.substr(0, name.size() - kIndex.size()) + ".log");
}

template <typename Out>
void Add(Out& out, Verdict verdict, std::string path, std::optional<uint64_t> position,
         std::string what, std::string action) {
  out.findings.push_back({verdict, std::move(path), position, std::move(what), std::move(action)});
  out.verdict = std::max(out.verdict, verdict);
}

// Where a partition's log stops being whole, as opening would find it.
struct BadPoint {
  size_t segment = 0;    // the segment whose good part ends here (the cut)
  bool header = false;   // its header is bad: nothing of it is kept
  bool cuttable = true;  // false: written by a newer sluice, not to be cut
  std::string path;      // the file the damage is in
  uint64_t position = 0;
  std::string what;
  std::string open_does;  // what open does about it
};

// Classifies the segments of a partition as PartitionLog::Open and Segment::OpenSealed/OpenActive
// do (keep the two in step): damage below the recovery point, in a sealed segment, or anywhere
// without a valid recovery point takes the partition offline untouched; an invalid tail above the
// recovery point in the last segment is a torn write, truncated by open.
void ClassifyLog(PartitionInspection& part, const std::string& name,
                 const std::optional<RecoveryPoint>& rp, const std::optional<base::Error>& rp_error,
                 const PartitionVerifyReport& report) {
  const auto& segs = report.segment_reports;
  const std::string rp_path = io::JoinPath(part.dir, kRecoveryPointFile);
  const std::string offline = "open takes " + name + " offline and changes nothing";
  if (segs.empty()) {
    if (rp) {
      part.needs_recreate = true;
      Add(part, Verdict::kOffline, rp_path, std::nullopt,
          "the recovery point is in segment " + Num(rp->segment_base.value()) +
              ", but the directory holds no segment file; offsets below " +
              Num(rp->tail.next_offset.value()) + " were acknowledged as durable",
          offline +
              "; `sluice repair --execute --recreate-missing` starts its log afresh (its offsets "
              "restart at 0; the recovery point is kept aside)");
    } else {
      Add(part, Verdict::kOpenRepairs, part.dir, std::nullopt, "no segment file",
          "open creates an empty log");
    }
    return;
  }
  const size_t n = segs.size();
  const SegmentVerifyReport& last = segs.back();
  std::optional<SegmentTail> durable;
  if (rp && rp->segment_base == last.base) durable = rp->tail;

  std::optional<BadPoint> bad;
  auto header_bad = [&](size_t i) {
    const SegmentVerifyReport& s = segs[i];
    BadPoint b{i,      true, s.header_error->code != ErrorCode::kUnsupportedVersion,
               s.path, 0,    s.header_error->context,
               offline};
    if (!b.cuttable) b.open_does += "; written by a newer sluice: use it (repair leaves it alone)";
    return b;
  };
  // Sealed segments, in order, and how the segments join up.
  Offset next = segs[0].base;
  for (size_t i = 0; i < n && !bad; ++i) {
    const SegmentVerifyReport& s = segs[i];
    if (i > 0 && s.base != next) {
      bad = BadPoint{i - 1,
                     false,
                     true,
                     s.path,
                     0,
                     "the segment starts at offset " + Num(s.base.value()) +
                         " but the log before it ends at offset " + Num(next.value()),
                     offline};
      break;
    }
    if (i + 1 == n) break;
    if (s.header_error) {
      bad = header_bad(i);
      break;
    }
    if (s.valid.end.value() != s.size_bytes) {
      bad = BadPoint{i,
                     false,
                     true,
                     s.path,
                     s.valid.end.value(),
                     (s.bad_frame.empty() ? "zeroed space" : s.bad_frame) + " in a sealed segment",
                     s.index_covers_file ? "open trusts the segment's index, so " + name +
                                               " opens but reads from offset " +
                                               Num(s.valid.next_offset.value()) + " on fail"
                                         : offline};
      break;
    }
    next = s.valid.next_offset;
  }
  // The last segment, as Segment::OpenActive sees it (when the segments before it are whole).
  if (!bad) {
    const SegmentVerifyReport& s = last;
    const size_t i = n - 1;
    const bool fresh = s.size_bytes < kHeaderSize || s.header_zeroed;
    const std::string below =
        durable ? ", below the recovery point at byte " + Num(durable->end.value()) : "";
    if (durable && durable->end.value() > kHeaderSize && s.size_bytes < durable->end.value()) {
      if (s.header_error && !fresh) {
        bad = header_bad(i);
      } else {
        bad = BadPoint{
            i,
            fresh,
            true,
            s.path,
            fresh ? 0 : s.valid.end.value(),
            "the file is " + Num(static_cast<int64_t>(s.size_bytes)) + " bytes long" + below,
            offline};
      }
    } else if (!fresh && s.header_error) {
      bad = header_bad(i);
    } else if (fresh && durable && durable->end.value() > kHeaderSize) {
      bad = BadPoint{i, true, true, s.path, 0, "the segment header is zeroed" + below, offline};
    } else if (fresh && s.written_end > kHeaderSize) {
      bad = BadPoint{i,      true, true,
                     s.path, 0,    "the segment header is zeroed but the file holds data",
                     offline};
    } else if (fresh) {
      Add(part, Verdict::kOpenRepairs, s.path, 0,
          "no segment header: a segment whose creation did not finish, holding nothing",
          "open creates it afresh");
    } else {
      const uint64_t p = s.valid.end.value();
      const Offset at = s.valid.next_offset;
      // Written bytes after the zeroed space that ends the frames are a write that reached the
      // disk out of order: recovery treats them as an invalid frame there (Segment::OpenActive).
      std::string invalid = s.bad_frame;
      if (invalid.empty() && s.written_end > p && !s.index_covers_file) {
        invalid = "zeroed space followed by written bytes (up to byte " +
                  Num(static_cast<int64_t>(s.written_end)) + ")";
      }
      const std::string why = invalid.empty() ? "the log ends there" : invalid;
      // A segment closed cleanly (its index covers the whole file) is not scanned by open: the
      // damage shows when it is read.
      const std::string trusted = "open trusts the segment's index, so " + name +
                                  " opens but reads from offset " + Num(at.value()) + " on fail";
      if (durable && p < durable->end.value()) {
        bad = BadPoint{
            i, false, true, s.path, p, why + below, s.index_covers_file ? trusted : offline};
      } else if (!invalid.empty() && s.index_covers_file) {
        bad = BadPoint{i, false, true, s.path, p, why, trusted};
      } else if (!invalid.empty() && !rp) {
        bad = BadPoint{
            i,      false,
            true,   s.path,
            p,      why + "; without a valid recovery point it cannot be told from a torn write",
            offline};
      } else if (!invalid.empty()) {
        Add(part, Verdict::kOpenRepairs, s.path, p,
            why + ", above the recovery point at byte " + Num(rp->tail.end.value()),
            "a torn write of a crash: open truncates the log there, dropping offset " +
                Num(at.value()) + " on (" + Num(static_cast<int64_t>(s.written_end - p)) +
                " bytes), and says so");
      }
    }
  }

  const bool rp_segment_missing = rp && rp->segment_base > last.base;
  if (rp_segment_missing) {
    Add(part, Verdict::kOffline, rp_path, std::nullopt,
        "the recovery point is in segment " + Num(rp->segment_base.value()) + ", whose file " +
            segment::Segment::LogPath(part.dir, rp->segment_base) + " is missing; offsets below " +
            Num(rp->tail.next_offset.value()) + " were acknowledged as durable",
        offline);
    if (!bad) {
      bad = BadPoint{n - 1,
                     false,
                     true,
                     last.path,
                     last.valid.end.value(),
                     "the log ends here, before the recovery point",
                     offline};
    }
  }
  if (!bad) {
    if (rp_error) {
      Add(part, Verdict::kOpenRepairs, rp_path, std::nullopt, rp_error->ToString(),
          "open verifies the whole last segment, cuts nothing, and rewrites it");
    } else if (!rp) {
      Add(part, Verdict::kOpenRepairs, rp_path, std::nullopt, "missing",
          "open verifies the whole last segment, cuts nothing, and writes it");
    }
    // The index of a sealed segment is rewritten when it does not describe its log.
    for (size_t i = 0; i + 1 < n; ++i) {
      if (!segs[i].index_covers_file) {
        Add(part, Verdict::kOpenRepairs, segment::Segment::IndexPath(part.dir, segs[i].base),
            std::nullopt, "missing, unreadable or not covering its sealed segment",
            "open scans the segment and rewrites it");
      }
    }
    return;
  }

  // Offline: where repair would cut, and what would be lost.
  std::string action = bad->open_does;
  if (bad->cuttable) {
    const SegmentVerifyReport& cs = segs[bad->segment];
    PartitionCut cut;
    cut.segment = bad->segment;
    if (bad->header) {
      cut.keep_bytes = 0;
      cut.tail = {base::FilePos(kHeaderSize), cs.base, -1};
    } else {
      cut.keep_bytes = bad->position == 0 ? cs.valid.end.value() : bad->position;
      cut.tail = cs.valid;
    }
    cut.lost_from = cut.tail.next_offset;
    Offset to = cut.lost_from;
    if (rp) to = std::max(to, rp->tail.next_offset);
    for (size_t j = bad->segment + 1; j < n; ++j) to = std::max(to, segs[j].valid.next_offset);
    cut.lost_to = to;
    const uint64_t counted = std::max(last.valid.end.value(), durable ? durable->end.value() : 0);
    cut.more_may_be_lost = last.written_end > counted;
    const bool kept = cs.size_bytes > cut.keep_bytes;
    const size_t later = n - 1 - bad->segment;
    action += "; `sluice repair --execute` ";
    if (kept) {
      action += "keeps bytes [" + Num(static_cast<int64_t>(cut.keep_bytes)) + ", " +
                Num(static_cast<int64_t>(cs.size_bytes)) + ") in " + cs.path + ".quarantine-<ms>, ";
    }
    if (later > 0)
      action += "moves aside " + Num(static_cast<int64_t>(later)) + " later segment(s), ";
    action += "cuts the log at byte " + Num(static_cast<int64_t>(cut.keep_bytes)) + " of " +
              cs.path + " and rewrites the recovery point: offsets " +
              Range(cut.lost_from, cut.lost_to) + " are lost" +
              (cut.more_may_be_lost ? " (and any later ones the kept bytes hold)" : "");
    bad->what += "; offsets " + Range(cut.lost_from, cut.lost_to) + " are at risk";
    part.cut = cut;
  }
  Add(part, Verdict::kOffline, bad->path, bad->position, bad->what, action);
}

// Producer snapshots (`<offset>.snapshot`), as PartitionLog::LoadProducerState treats them.
void InspectProducerSnapshots(io::FileSystem& fs, PartitionInspection& part,
                              const std::vector<Offset>& snapshots,
                              const PartitionVerifyReport& report) {
  const auto& segs = report.segment_reports;
  const bool has_log = !segs.empty();
  const Offset start = has_log ? segs.front().base : Offset(0);
  const Offset end = has_log ? segs.back().valid.next_offset : Offset(0);
  for (const Offset at : snapshots) {
    const std::string path = io::JoinPath(part.dir, ProducerSnapshotName(at));
    auto image = fs.ReadFile(path);
    auto decoded = image ? DecodeProducerSnapshot(base::AsBytes(*image), path, at)
                         : Result<ProducerSnapshot>(std::move(image).error());
    if (!decoded) {
      part.damaged_producer_snapshots.push_back(path);
      Add(part, Verdict::kDamaged, path, std::nullopt, decoded.error().ToString(),
          "open does not use it (it loads an older snapshot or replays the last segments' batch "
          "headers, so idempotent producers idle since before them may be forgotten) and keeps "
          "it; `sluice repair --execute` moves it aside");
    } else if (has_log && at > end) {
      Add(part, Verdict::kOpenRepairs, path, std::nullopt,
          "a producer snapshot at offset " + Num(at.value()) + ", past the log's end at " +
              Num(end.value()),
          "open moves it aside to " + ProducerSnapshotName(at) + ".stale-<ms> and does not use it");
    } else if (has_log && at < start) {
      Add(part, Verdict::kNote, path, std::nullopt,
          "a producer snapshot below the log start at " + Num(start.value()) +
              " (a deletion of segments did not finish)",
          "open ignores it; the next retention removes it");
    }
  }
}

Status InspectPartition(io::FileSystem& fs, const std::string& data_dir, const TopicInfo& info,
                        int32_t p, PartitionInspection& part) {
  const std::string name = PartitionDirFor(info.name, p);
  part.topic = info.name;
  part.partition = p;
  part.dir = io::JoinPath(data_dir, name);
  ASSIGN_OR_RETURN(part.dir_exists, fs.Exists(part.dir));
  if (!part.dir_exists) {
    part.needs_recreate = true;
    Add(part, Verdict::kOffline, part.dir, std::nullopt, "the partition directory is missing",
        "open takes " + name +
            " offline; `sluice repair --execute --recreate-missing` recreates it empty (its "
            "offsets restart at 0)");
    return {};
  }
  auto entries = fs.ListDir(part.dir);
  if (!entries) {
    Add(part, Verdict::kOffline, part.dir, std::nullopt, entries.error().ToString(),
        "open takes " + name + " offline");
    return {};
  }
  std::set<Offset> bases;
  std::vector<Offset> snapshots;
  for (const auto& e : *entries) {
    if (auto base = segment::Segment::ParseLogName(e)) bases.insert(*base);
    if (auto at = ParseProducerSnapshotName(e)) snapshots.push_back(*at);
  }
  for (const auto& e : *entries) {
    const std::string path = io::JoinPath(part.dir, e);
    if (segment::Segment::ParseLogName(e) || e == kRecoveryPointFile || e == kPartitionMetaFile ||
        e == kWatermarkFile || ParseProducerSnapshotName(e) ||
        segment::ParseDictionaryFileName(e)) {
      continue;
    }
    if (e == kLogStartFile) {
      // DeleteRecords' log start: opening refuses a damaged one (the partition goes offline).
      if (auto start = ReadLogStartFile(fs, part.dir); !start) {
        Add(part, Verdict::kOffline, path, std::nullopt, start.error().ToString(),
            "open takes " + name + " offline");
      }
      continue;
    }
    if (Contains(e, ".snapshot.stale-")) {
      Add(part, Verdict::kNote, path, std::nullopt,
          "a producer snapshot past the log's end, moved aside by open", std::string(kKeptAside));
    } else if (auto base = ParseIndexName(e)) {
      if (bases.count(*base) == 0) {
        Add(part, Verdict::kNote, path, std::nullopt, "an index without its segment file",
            "open ignores it");
      }
    } else if (Contains(e, kQuarantineMark)) {
      Add(part, Verdict::kNote, path, std::nullopt, "kept aside by sluice repair",
          std::string(kKeptAside));
    } else if (EndsWith(e, ".tmp")) {
      Add(part, Verdict::kOpenRepairs, path, std::nullopt,
          "a replacement of a file that did not finish", "open removes it");
    } else if (e == kCleanerSwapFile) {
      Add(part, Verdict::kOpenRepairs, path, std::nullopt,
          "a log cleaner swap that a stop interrupted",
          "open finishes it (cleaned segments replace the old ones)");
    } else if (EndsWith(e, kCleanedSuffix)) {
      Add(part, Verdict::kOpenRepairs, path, std::nullopt, "a cleaned segment not swapped in yet",
          "open swaps it in if cleaner-swap names it, else removes it (a copy)");
    } else {
      Add(part, Verdict::kNote, path, std::nullopt, "not a file sluice writes", "open ignores it");
    }
  }

  const std::string meta_path = io::JoinPath(part.dir, kPartitionMetaFile);
  if (auto meta = LoadPartitionMeta(fs, part.dir); !meta) {
    if (meta.error().code == ErrorCode::kNotFound) {
      Add(part, Verdict::kOpenRepairs, meta_path, std::nullopt,
          "missing (a directory of format version 1)", "open writes it when the partition opens");
    } else {
      part.meta_damaged = true;
      Add(part, Verdict::kDamaged, meta_path, std::nullopt, meta.error().ToString(),
          "open does not read it while the catalog is intact, but a rebuilt catalog would; "
          "`sluice repair --execute` rewrites it from the catalog");
    }
  } else if (meta->topic != info.name || meta->partition != p) {
    Add(part, Verdict::kDamaged, meta_path, std::nullopt,
        "says the directory is partition " + Num(meta->partition) + " of topic '" + meta->topic +
            "'",
        "open serves it as " + name +
            " (the catalog says so); if that is wrong, stop sluice and move the directory");
  }

  std::optional<RecoveryPoint> rp;
  std::optional<base::Error> rp_error;
  if (auto read = ReadRecoveryPointFile(fs, part.dir)) {
    rp = *read;
  } else if (read.error().code == ErrorCode::kCorruption ||
             read.error().code == ErrorCode::kUnsupportedVersion) {
    rp_error = read.error();
  } else {
    Add(part, Verdict::kOffline, io::JoinPath(part.dir, kRecoveryPointFile), std::nullopt,
        read.error().ToString(), "open takes " + name + " offline");
    return {};
  }
  part.recovery_point = rp;

  auto report = segment::VerifyPartition(fs, part.dir);
  if (!report) {
    Add(part, Verdict::kOffline, part.dir, std::nullopt, report.error().ToString(),
        "open takes " + name + " offline");
    return {};
  }
  ClassifyLog(part, name, rp, rp_error, *report);
  std::sort(snapshots.begin(), snapshots.end());
  part.producer_snapshots = snapshots;
  InspectProducerSnapshots(fs, part, snapshots, *report);
  for (const VerifyProblem& pr : report->problems) {
    switch (pr.kind) {
      case VerifyProblem::Kind::kLog:
        break;  // classified above
      case VerifyProblem::Kind::kBatchCrc:
        Add(part, Verdict::kDamaged, pr.file, pr.position,
            "offset " + Num(pr.offset) + ": " + pr.what,
            "served as it is (its frame checksum holds): consumers that check CRC-32C reject it");
        break;
      case VerifyProblem::Kind::kIndexUnreadable:
        Add(part, Verdict::kOpenRepairs, pr.file, std::nullopt, pr.what,
            "derived data: open rebuilds it from the log");
        break;
      case VerifyProblem::Kind::kIndexMismatch:
        part.mismatched_indexes.push_back(pr.file);
        Add(part, Verdict::kDamaged, pr.file, pr.position, pr.what,
            "open may trust it and misplace reads; `sluice repair --execute` moves it aside and "
            "the next open rebuilds it from the log");
        break;
      case VerifyProblem::Kind::kDictionaryNeeded:
        Add(part, Verdict::kOffline, pr.file, std::nullopt, pr.what,
            "reads of those batches fail (open and every other read go on); restore the file "
            "from a backup of " +
                part.dir + ": nothing else can decompress them, and sluice never deletes them");
        break;
      case VerifyProblem::Kind::kDictionaryDamaged:
        Add(part, Verdict::kDamaged, pr.file, std::nullopt, pr.what,
            "no retained batch needs it; if it is the newest, open trains a new dictionary "
            "instead (the file stays until retention passes it)");
        break;
    }
  }
  part.segments = std::move(report).value();
  return {};
}

void InspectCatalog(DataDirInspection& out, const std::string& only_topic) {
  using Fate = CatalogPlan::Fate;
  using Source = CatalogPlan::Source;
  const CatalogPlan& plan = out.catalog;
  const std::string& dir = out.data_dir;
  const std::string path = io::JoinPath(dir, kCatalogFile);
  size_t adopted = 0;
  for (const auto& d : plan.dirs) adopted += d.fate == Fate::kAdopted ? 1 : 0;
  const std::string topics = Num(static_cast<int64_t>(plan.catalog.size())) + " topic(s)";
  switch (plan.source) {
    case Source::kCurrent:
      Add(out, Verdict::kOk, path, std::nullopt, topics, "");
      break;
    case Source::kLegacy:
      Add(out, Verdict::kOpenRepairs, io::JoinPath(dir, kLegacyCatalogFile), std::nullopt,
          "the catalog of format version 1",
          "open converts it to " + path + " and keeps it as " + kLegacyCatalogFile + ".v1");
      break;
    case Source::kMissing:
      if (adopted > 0) {
        Add(out, Verdict::kOpenRepairs, path, std::nullopt,
            "missing, while " + Num(static_cast<int64_t>(adopted)) + " partition directories exist",
            "open rebuilds it from them (each holds a `partition` file naming its topic and "
            "configuration)");
      } else {
        Add(out, Verdict::kOk, path, std::nullopt, "none yet (no topic)", "");
      }
      break;
    case Source::kDamaged:
      Add(out, Verdict::kOpenRepairs, io::JoinPath(dir, plan.damaged_file), std::nullopt,
          plan.damage->ToString(),
          "open keeps it as catalog.damaged-<ms> and rebuilds the catalog from the " +
              Num(static_cast<int64_t>(adopted)) + " partition directories");
      break;
    case Source::kNewer:
      Add(out, Verdict::kRefused, path, std::nullopt, plan.damage->ToString(),
          "open refuses the data directory: use the sluice that wrote it");
      break;
  }
  if (!only_topic.empty()) return;
  std::set<std::string> foreign;
  for (const auto& d : plan.dirs) {
    if (d.fate == Fate::kForeign) foreign.insert(d.why);
  }
  for (const auto& change : plan.changes) {
    if (foreign.count(change) != 0) continue;
    Add(out, Verdict::kOpenRepairs, path, std::nullopt, change,
        "open makes this change and writes the catalog");
  }
}

void InspectDirectories(DataDirInspection& out, const std::string& only_topic) {
  using Fate = CatalogPlan::Fate;
  for (const auto& d : out.catalog.dirs) {
    if (!only_topic.empty()) {
      auto parsed = ParsePartitionDirName(d.name);
      if (!parsed || parsed->topic != only_topic) continue;
    }
    const std::string path = io::JoinPath(out.data_dir, d.name);
    switch (d.fate) {
      case Fate::kListed:
        break;  // inspected as a partition
      case Fate::kAdopted:
        Add(out, Verdict::kOpenRepairs, path, std::nullopt, d.why, "open adds it to the catalog");
        break;
      case Fate::kRemoved:
        Add(out, Verdict::kOpenRepairs, path, std::nullopt, d.why, "open removes it");
        break;
      case Fate::kForeign:
        Add(out, Verdict::kDamaged, path, std::nullopt, d.why,
            "its data is not served; open and repair leave it alone: stop sluice and move it "
            "where it belongs");
        break;
      case Fate::kIgnored:
        Add(out, Verdict::kNote, path, std::nullopt, d.why, "open ignores it");
        break;
    }
  }
}

Status InspectProducerIds(io::FileSystem& fs, DataDirInspection& out) {
  const std::string path = io::JoinPath(out.data_dir, ProducerIdAllocator::kFileName);
  auto file = fs.ReadFile(path);
  if (!file) {
    if (file.error().code == ErrorCode::kNotFound) return {};
    Add(out, Verdict::kOffline, path, std::nullopt, file.error().ToString(),
        "allocating a producer id fails");
    return {};
  }
  auto next = DecodeProducerIds(base::AsBytes(*file));
  if (next) {
    Add(out, Verdict::kOk, path, std::nullopt, "next free producer id " + Num(*next), "");
  } else if (next.error().code == ErrorCode::kUnsupportedVersion) {
    Add(out, Verdict::kOffline, path, std::nullopt, next.error().context,
        "written by a newer sluice: allocating a producer id fails; repair leaves it alone");
  } else {
    out.producer_ids_damaged = true;
    Add(out, Verdict::kOffline, path, std::nullopt, next.error().context,
        "open works, but allocating a producer id (idempotent producers) fails; `sluice repair "
        "--execute` keeps it aside and writes a new one past every producer id in the logs");
  }
  return {};
}

Status InspectSnapshots(io::FileSystem& fs, DataDirInspection& out, const std::string& only_topic) {
  const std::string root = io::JoinPath(out.data_dir, kSnapshotsDir);
  ASSIGN_OR_RETURN(bool exists, fs.Exists(root));
  if (!exists) return {};
  ASSIGN_OR_RETURN(auto names, fs.ListDir(root));
  for (const auto& name : names) {
    const std::string dir = io::JoinPath(root, name);
    auto files = fs.ListDir(dir);
    if (!files) {
      if (only_topic.empty()) {
        Add(out, Verdict::kNote, dir, std::nullopt, "not a directory of snapshots", "ignored");
      }
      continue;
    }
    for (const auto& f : *files) {
      const std::string path = io::JoinPath(dir, f);
      if (!ParseSnapshotFileName(f)) {
        if (!only_topic.empty()) continue;
        if (Contains(f, kQuarantineMark)) {
          Add(out, Verdict::kNote, path, std::nullopt, "kept aside by sluice repair",
              std::string(kKeptAside));
        } else {
          Add(out, Verdict::kNote, path, std::nullopt,
              EndsWith(f, ".tmp") ? "a snapshot whose writing did not finish"
                                  : "not a file sluice writes",
              "ignored");
        }
        continue;
      }
      auto bytes = fs.ReadFile(path);
      if (!bytes) {
        Add(out, Verdict::kDamaged, path, std::nullopt, bytes.error().ToString(),
            "skipped by a rebuild (an older snapshot, or the start of the log, is used)");
        continue;
      }
      auto decoded = DecodeSnapshotFile(base::AsBytes(*bytes), path);
      if (decoded) {
        if (!only_topic.empty() && decoded->info.topic != only_topic) continue;
      } else if (decoded.error().code == ErrorCode::kUnsupportedVersion) {
        Add(out, Verdict::kNote, path, std::nullopt, decoded.error().context,
            "written by a newer sluice: skipped by a rebuild");
      } else {
        out.damaged_snapshots.push_back(path);
        Add(out, Verdict::kDamaged, path, std::nullopt, decoded.error().context,
            "skipped by a rebuild (an older snapshot, or the start of the log, is used); `sluice "
            "repair --execute` moves it aside");
      }
    }
  }
  return {};
}

Status InspectOtherFiles(io::FileSystem& fs, DataDirInspection& out) {
  ASSIGN_OR_RETURN(auto names, fs.ListDir(out.data_dir));
  for (const auto& name : names) {
    if (ParsePartitionDirName(name) || name == kCatalogFile ||
        name == ProducerIdAllocator::kFileName || name == kLockFile || name == kCleanShutdownFile ||
        name == kSnapshotsDir) {
      continue;
    }
    const std::string path = io::JoinPath(out.data_dir, name);
    if (name == kScramUsersFile) {
      auto store = ScramUserStore::Open(fs, out.data_dir);
      if (!store) return std::move(store).error();
      if (Status s = (*store)->status(); !s) {
        Add(out, Verdict::kDamaged, path, std::nullopt, s.error().context,
            "SASL/SCRAM logins are refused and the file is kept; restore it from a backup, or "
            "move it aside and recreate the users (sluice user create)");
      }
      continue;
    }
    if (name == kLegacyCatalogFile) {
      if (out.catalog.source == CatalogPlan::Source::kCurrent) {
        Add(out, Verdict::kNote, path, std::nullopt, "the catalog of format version 1",
            "ignored: " + io::JoinPath(out.data_dir, kCatalogFile) + " is read");
      }
    } else if (name == std::string(kLegacyCatalogFile) + ".v1") {
      Add(out, Verdict::kNote, path, std::nullopt,
          "the catalog of format version 1, kept after its conversion", std::string(kKeptAside));
    } else if (StartsWith(name, std::string(kCatalogFile) + ".damaged-")) {
      Add(out, Verdict::kNote, path, std::nullopt, "a damaged catalog that open kept aside",
          std::string(kKeptAside));
    } else if (Contains(name, kQuarantineMark)) {
      Add(out, Verdict::kNote, path, std::nullopt, "kept aside by sluice repair",
          std::string(kKeptAside));
    } else if (EndsWith(name, ".tmp")) {
      Add(out, Verdict::kNote, path, std::nullopt,
          "a replacement of a small file that did not finish", "ignored");
    } else {
      Add(out, Verdict::kNote, path, std::nullopt, "not something sluice writes", "ignored");
    }
  }
  return {};
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kNote:
      return "note";
    case Verdict::kDamaged:
      return "damaged";
    case Verdict::kOpenRepairs:
      return "open-repairs";
    case Verdict::kOffline:
      return "offline";
    case Verdict::kRefused:
      return "refused";
  }
  return "?";
}

std::string QuarantinePath(const std::string& path, int64_t now_ms) {
  return path + std::string(kQuarantineMark) + Num(now_ms);
}

Result<DataDirInspection> InspectDataDir(io::FileSystem& fs, const std::string& data_dir,
                                         const std::string& only_topic) {
  if (data_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the data directory path is empty");
  }
  ASSIGN_OR_RETURN(bool exists, fs.Exists(data_dir));
  if (!exists)
    return MakeError(ErrorCode::kNotFound, "data directory " + data_dir + " does not exist");
  DataDirInspection out;
  out.data_dir = data_dir;
  ASSIGN_OR_RETURN(out.clean_shutdown, fs.Exists(io::JoinPath(data_dir, kCleanShutdownFile)));
  ASSIGN_OR_RETURN(out.catalog, PlanCatalog(fs, data_dir, TopicConfig{}));
  if (!only_topic.empty() && out.catalog.catalog.count(only_topic) == 0) {
    return MakeError(ErrorCode::kNotFound,
                     "topic '" + only_topic + "' does not exist in " + data_dir);
  }
  InspectCatalog(out, only_topic);
  InspectDirectories(out, only_topic);
  if (!out.clean_shutdown && !out.catalog.catalog.empty() && only_topic.empty()) {
    Add(out, Verdict::kNote, io::JoinPath(data_dir, kCleanShutdownFile), std::nullopt,
        "absent: the last engine did not shut down cleanly, or one has the directory open now",
        "open checks every partition's tail");
  }
  for (const auto& [name, info] : out.catalog.catalog) {
    if (!only_topic.empty() && name != only_topic) continue;
    for (int32_t p = 0; p < info.partitions; ++p) {
      PartitionInspection& part = out.partitions.emplace_back();
      RETURN_IF_ERROR(InspectPartition(fs, data_dir, info, p, part));
      out.verdict = std::max(out.verdict, part.verdict);
      if (part.segments) {
        out.max_producer_id = std::max(out.max_producer_id, part.segments->max_producer_id);
      }
    }
  }
  if (only_topic.empty()) {
    RETURN_IF_ERROR(InspectProducerIds(fs, out));
    RETURN_IF_ERROR(InspectOtherFiles(fs, out));
  }
  RETURN_IF_ERROR(InspectSnapshots(fs, out, only_topic));
  return out;
}

}  // namespace sluice::engine

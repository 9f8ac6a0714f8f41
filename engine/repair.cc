#include "engine/repair.h"

#include <algorithm>
#include <functional>
#include <set>

#include "engine/engine.h"
#include "engine/producer_state.h"

namespace sluice::engine {

using base::ErrorCode;
using base::MakeError;

namespace {

constexpr uint64_t kCopyChunkBytes = 16u << 20;
// Producer ids skipped past the largest one found in the logs when producer-ids is rewritten: ids
// handed out but never used in a batch are not in any log, and must not be handed out again.
constexpr int64_t kProducerIdMargin = 1000 * ProducerIdAllocator::kBlockSize;

std::string Num(int64_t v) { return std::to_string(v); }
std::string Num(uint64_t v) { return std::to_string(v); }

// The steps of one action: described always, carried out only in an execution, so that a dry run
// says exactly what an execution does. Stops at the first failed step.
class Steps {
 public:
  Steps(RepairMode mode, RepairAction& action) : mode_(mode), action_(action) {}

  Status Do(std::string description, const std::function<Status()>& run) {
    action_.steps.push_back(std::move(description));
    if (mode_ == RepairMode::kDryRun) return {};
    Status s = run();
    if (!s) action_.steps.back() += " -- failed: " + s.error().ToString();
    return s;
  }

 private:
  RepairMode mode_;
  RepairAction& action_;
};

// Copies bytes [from, to) of `path` (`size` bytes long) into the new file `dest`, exactly, and
// fsyncs it. Blocks of zeros (a preallocated tail) are left as holes rather than written.
Status CopyRange(io::FileSystem& fs, const std::string& path, uint64_t size, uint64_t from,
                 uint64_t to, const std::string& dest) {
  constexpr uint64_t kBlock = 4096;
  ASSIGN_OR_RETURN(auto map, fs.Map(path, size));
  const Bytes data = map->data().first(size);
  ASSIGN_OR_RETURN(auto out, fs.OpenWritable(dest, io::OpenMode::kCreateNew));
  Status s;
  for (uint64_t pos = from; pos < to && s; pos += kCopyChunkBytes) {
    const Bytes chunk = data.subspan(pos, std::min(kCopyChunkBytes, to - pos));
    for (uint64_t b = 0; b < chunk.size() && s; b += kBlock) {
      const Bytes piece = chunk.subspan(b, std::min<uint64_t>(kBlock, chunk.size() - b));
      if (std::all_of(piece.begin(), piece.end(), [](std::byte x) { return x == std::byte{0}; })) {
        continue;
      }
      s = out->WriteAt(base::FilePos(pos + b - from), {&piece, 1});
    }
  }
  if (s) s = out->Truncate(to - from);  // the length, holes included
  if (s) s = out->Sync();
  Status closed = out->Close();
  RETURN_IF_ERROR(s);
  return closed;
}

// Whether any byte of `path` (`size` bytes long) from `from` on is not zero.
Result<bool> HoldsDataAfter(io::FileSystem& fs, const std::string& path, uint64_t size,
                            uint64_t from) {
  if (from >= size) return false;
  ASSIGN_OR_RETURN(auto map, fs.Map(path, size));
  const Bytes rest = map->data().subspan(from, size - from);
  return std::any_of(rest.begin(), rest.end(), [](std::byte x) { return x != std::byte{0}; });
}

Status Truncate(io::FileSystem& fs, const std::string& path, uint64_t size) {
  ASSIGN_OR_RETURN(auto file, fs.OpenWritable(path, io::OpenMode::kOpenExisting));
  Status s = file->Truncate(size);
  if (s) s = file->Sync();
  Status closed = file->Close();
  RETURN_IF_ERROR(s);
  return closed;
}

Status MoveAside(Steps& steps, io::FileSystem& fs, const std::string& path, int64_t ms,
                 const std::string& why) {
  const std::string aside = QuarantinePath(path, ms);
  return steps.Do("move " + path + " aside to " + aside + why,
                  [&] { return fs.Rename(path, aside); });
}

Result<std::unique_ptr<io::FileLock>> TakeLock(io::FileSystem& fs, const std::string& data_dir) {
  auto lock = fs.Lock(io::JoinPath(data_dir, kLockFile));
  if (!lock && lock.error().code == ErrorCode::kBusy) {
    return MakeError(ErrorCode::kBusy, data_dir +
                                           " is in use by another process (is `sluice serve` "
                                           "running?); stop it before repairing");
  }
  return lock;
}

std::string FirstProblem(const PartitionInspection& part, Verdict at_least) {
  for (const Finding& f : part.findings) {
    if (f.verdict >= at_least) {
      return f.path + (f.position ? " at byte " + Num(*f.position) : "") + ": " + f.what;
    }
  }
  return "";
}

// Cuts an offline partition's log after its last good batch, keeping every byte it cuts.
Status CutLog(io::FileSystem& fs, const PartitionInspection& part, int64_t ms, Steps& steps,
              std::set<std::string>& moved) {
  const auto& segs = part.segments->segment_reports;
  const PartitionCut& cut = *part.cut;
  const segment::SegmentVerifyReport& cs = segs[cut.segment];
  // The damaged bytes are copied, and the copy made durable, before anything is cut or renamed.
  ASSIGN_OR_RETURN(bool holds_data, HoldsDataAfter(fs, cs.path, cs.size_bytes, cut.keep_bytes));
  if (holds_data) {
    const std::string dest = QuarantinePath(cs.path, ms);
    RETURN_IF_ERROR(steps.Do("copy bytes [" + Num(cut.keep_bytes) + ", " + Num(cs.size_bytes) +
                                 ") of " + cs.path + " to " + dest + " and fsync it",
                             [&] {
                               return CopyRange(fs, cs.path, cs.size_bytes, cut.keep_bytes,
                                                cs.size_bytes, dest);
                             }));
  }
  // Segments after the cut cannot join the log any more (offsets must be contiguous).
  for (size_t j = cut.segment + 1; j < segs.size(); ++j) {
    RETURN_IF_ERROR(MoveAside(steps, fs, segs[j].path, ms, " (after the cut)"));
    const std::string index = segment::Segment::IndexPath(part.dir, segs[j].base);
    ASSIGN_OR_RETURN(bool has_index, fs.Exists(index));
    if (has_index) {
      RETURN_IF_ERROR(MoveAside(steps, fs, index, ms, ""));
      moved.insert(index);
    }
  }
  // The cut segment's index describes bytes being cut: the next open rebuilds it.
  const std::string index = segment::Segment::IndexPath(part.dir, cs.base);
  ASSIGN_OR_RETURN(bool has_index, fs.Exists(index));
  if (has_index) {
    RETURN_IF_ERROR(MoveAside(steps, fs, index, ms, " (the next open rebuilds it)"));
    moved.insert(index);
  }
  // Producer snapshots past the new end describe batches being cut (open would move them aside).
  for (const Offset at : part.producer_snapshots) {
    if (at <= cut.tail.next_offset) continue;
    const std::string path = io::JoinPath(part.dir, ProducerSnapshotName(at));
    RETURN_IF_ERROR(MoveAside(steps, fs, path, ms, " (it describes batches past the cut)"));
    moved.insert(path);
  }
  RETURN_IF_ERROR(steps.Do("fsync " + part.dir, [&] { return fs.SyncDir(part.dir); }));
  if (cs.size_bytes != cut.keep_bytes) {
    RETURN_IF_ERROR(steps.Do("cut " + cs.path + " to " + Num(cut.keep_bytes) +
                                 " bytes (its last good batch) and fsync it",
                             [&] { return Truncate(fs, cs.path, cut.keep_bytes); }));
  }
  const RecoveryPoint rp{cs.base, cut.tail};
  return steps.Do("rewrite " + io::JoinPath(part.dir, kRecoveryPointFile) + ": segment " +
                      Num(cs.base.value()) + ", byte " + Num(cut.tail.end.value()) +
                      ", next offset " + Num(cut.tail.next_offset.value()),
                  [&] { return WriteRecoveryPointFile(fs, part.dir, rp); });
}

Status RepairPartition(io::FileSystem& fs, const RepairOptions& o, const TopicMap& catalog,
                       const PartitionInspection& part, int64_t ms, RepairReport& report) {
  const std::string name = PartitionDirFor(part.topic, part.partition);
  std::set<std::string> moved;
  if (part.verdict >= Verdict::kOffline) {
    RepairAction& action = report.actions.emplace_back();
    action.target = name;
    action.problem = FirstProblem(part, Verdict::kOffline);
    Steps steps(o.mode, action);
    if (part.cut) {
      action.lost = {part.cut->lost_from, part.cut->lost_to};
      action.more_may_be_lost = part.cut->more_may_be_lost;
      RETURN_IF_ERROR(CutLog(fs, part, ms, steps, moved));
    } else if (part.needs_recreate && o.recreate_missing == RecreateMissing::kNo) {
      action.skipped =
          "its data is gone; `--recreate-missing` recreates it empty, its offsets restarting at 0";
    } else if (part.needs_recreate && !part.dir_exists) {
      const TopicInfo& info = catalog.at(part.topic);
      RETURN_IF_ERROR(
          steps.Do("create " + part.dir + " (empty: its offsets restart at 0)", [&]() -> Status {
            Status created = fs.CreateDir(part.dir);
            return created ? fs.SyncDir(o.data_dir) : created;
          }));
      RETURN_IF_ERROR(steps.Do(
          "write " + io::JoinPath(part.dir, kPartitionMetaFile) + " from the catalog", [&] {
            return SavePartitionMeta(
                fs, part.dir, {part.topic, info.id, part.partition, info.config, info.partitions});
          }));
    } else if (part.needs_recreate) {
      // Every segment is gone; the recovery point still says where the log was.
      action.lost = {Offset(0), part.recovery_point->tail.next_offset};
      RETURN_IF_ERROR(MoveAside(steps, fs, io::JoinPath(part.dir, kRecoveryPointFile), ms,
                                " (the log restarts at offset 0)"));
    } else {
      for (const Finding& f : part.findings) {
        if (f.verdict >= Verdict::kOffline) action.skipped = f.action;
      }
      if (action.skipped.empty()) action.skipped = "repair does not know how to fix this";
    }
  }
  std::vector<std::string> indexes;
  for (const auto& index : part.mismatched_indexes) {
    if (moved.count(index) == 0) indexes.push_back(index);
  }
  std::vector<std::string> snapshots;
  for (const auto& path : part.damaged_producer_snapshots) {
    if (moved.count(path) == 0) snapshots.push_back(path);
  }
  if (!indexes.empty() || !snapshots.empty()) {
    RepairAction& action = report.actions.emplace_back();
    action.target = name;
    action.problem = FirstProblem(part, Verdict::kDamaged);
    Steps steps(o.mode, action);
    for (const auto& index : indexes) {
      RETURN_IF_ERROR(MoveAside(steps, fs, index, ms, " (the next open rebuilds it)"));
    }
    for (const auto& path : snapshots) {
      RETURN_IF_ERROR(MoveAside(steps, fs, path, ms,
                                " (open loads an older producer snapshot or replays the log)"));
    }
  }
  return {};
}

Status RepairFiles(io::FileSystem& fs, const RepairOptions& o, const DataDirInspection& before,
                   int64_t ms, RepairReport& report) {
  if (before.producer_ids_damaged) {
    const std::string path = io::JoinPath(o.data_dir, ProducerIdAllocator::kFileName);
    RepairAction& action = report.actions.emplace_back();
    action.target = path;
    action.problem = "damaged";
    for (const Finding& f : before.findings) {
      if (f.path == path) action.problem = f.what;
    }
    Steps steps(o.mode, action);
    // Past every id any log holds, rounded up to a block, with a margin for ids handed out but
    // never used in a batch.
    const int64_t block = ProducerIdAllocator::kBlockSize;
    const int64_t next_free =
        (before.max_producer_id + 1 + block - 1) / block * block + kProducerIdMargin;
    RETURN_IF_ERROR(MoveAside(steps, fs, path, ms, ""));
    RETURN_IF_ERROR(steps.Do(
        "write " + path + " with next free id " + Num(next_free) +
            " (the largest producer id in the logs is " + Num(before.max_producer_id) + ")",
        [&] {
          const std::string image = EncodeProducerIds(next_free);
          return io::WriteFileAtomic(fs, path, base::AsBytes(image), io::Durability::kDurable);
        }));
  }
  for (const auto& path : before.damaged_snapshots) {
    RepairAction& action = report.actions.emplace_back();
    action.target = path;
    for (const Finding& f : before.findings) {
      if (f.path == path) action.problem = f.what;
    }
    Steps steps(o.mode, action);
    RETURN_IF_ERROR(MoveAside(steps, fs, path, ms, " (a rebuild uses an older snapshot)"));
  }
  return {};
}

// Rewrites the unreadable `partition` files of the partitions in the catalog (which the engine
// has just made current).
Status RewritePartitionFiles(io::FileSystem& fs, const RepairOptions& o,
                             const DataDirInspection& now, int64_t ms, RepairReport& report) {
  if (now.catalog.source != CatalogPlan::Source::kCurrent) return {};
  for (const auto& part : now.partitions) {
    if (!part.meta_damaged) continue;
    const TopicInfo& info = now.catalog.catalog.at(part.topic);
    RepairAction& action = report.actions.emplace_back();
    action.target = PartitionDirFor(part.topic, part.partition);
    action.problem = FirstProblem(part, Verdict::kDamaged);
    Steps steps(o.mode, action);
    const std::string path = io::JoinPath(part.dir, kPartitionMetaFile);
    RETURN_IF_ERROR(MoveAside(steps, fs, path, ms, ""));
    RETURN_IF_ERROR(steps.Do("write " + path + " from the catalog", [&] {
      return SavePartitionMeta(fs, part.dir,
                               {part.topic, info.id, part.partition, info.config, info.partitions});
    }));
  }
  return {};
}

}  // namespace

Result<RepairReport> Repair(const RepairOptions& o) {
  SLUICE_CHECK(o.fs != nullptr, "Repair needs a file system");
  io::FileSystem& fs = *o.fs;
  const base::Clock& clock = o.clock != nullptr ? *o.clock : base::SystemClock::Instance();
  if (o.data_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the data directory path is empty");
  }
  // Checked before taking the lock, which would create a file in it.
  ASSIGN_OR_RETURN(bool exists, fs.Exists(o.data_dir));
  if (!exists) {
    return MakeError(ErrorCode::kNotFound, "data directory " + o.data_dir + " does not exist");
  }
  std::unique_ptr<io::FileLock> lock;
  if (o.mode == RepairMode::kExecute) {
    ASSIGN_OR_RETURN(lock, TakeLock(fs, o.data_dir));
  }

  RepairReport report;
  report.mode = o.mode;
  ASSIGN_OR_RETURN(report.before, InspectDataDir(fs, o.data_dir, o.only_topic));
  if (report.before.catalog.source == CatalogPlan::Source::kNewer) {
    return MakeError(ErrorCode::kRefused, report.before.catalog.damage->ToString() +
                                              ": repair changes nothing; use the sluice that "
                                              "wrote it");
  }
  const int64_t ms = clock.NowMs();
  for (const auto& part : report.before.partitions) {
    RETURN_IF_ERROR(RepairPartition(fs, o, report.before.catalog.catalog, part, ms, report));
  }
  RETURN_IF_ERROR(RepairFiles(fs, o, report.before, ms, report));
  if (o.mode == RepairMode::kDryRun) {
    // The partition files are rewritten after the engine made the catalog current.
    DataDirInspection planned = report.before;
    planned.catalog.source = CatalogPlan::Source::kCurrent;
    RETURN_IF_ERROR(RewritePartitionFiles(fs, o, planned, ms, report));
    return report;
  }

  // One engine open, opening every partition: it rebuilds the catalog, finishes deletions,
  // truncates torn tails, removes leftovers of unfinished replacements and rebuilds indexes.
  lock.reset();
  {
    EngineOptions eo;
    eo.data_dir = o.data_dir;
    eo.create_if_missing = CreateIfMissing::kNo;
    eo.fs = &fs;
    eo.clock = o.clock;
    eo.background = BackgroundWork::kManual;
    eo.default_topic_config = o.default_topic_config;
    ASSIGN_OR_RETURN(auto engine, Engine::Open(eo));
    for (const TopicInfo& t : engine->ListTopics()) {
      if (!o.only_topic.empty() && t.name != o.only_topic) continue;
      engine->DescribeTopic(t.name).IgnoreError();  // opens each partition; offline ones below
    }
    report.catalog_changes = engine->catalog_changes();
    report.recovery_reports = engine->recovery_reports();
    report.still_offline = engine->OfflinePartitions();
    RETURN_IF_ERROR(engine->Close());
  }

  ASSIGN_OR_RETURN(lock, TakeLock(fs, o.data_dir));
  ASSIGN_OR_RETURN(DataDirInspection now, InspectDataDir(fs, o.data_dir, o.only_topic));
  RETURN_IF_ERROR(RewritePartitionFiles(fs, o, now, clock.NowMs(), report));
  ASSIGN_OR_RETURN(report.after, InspectDataDir(fs, o.data_dir, o.only_topic));
  return report;
}

}  // namespace sluice::engine

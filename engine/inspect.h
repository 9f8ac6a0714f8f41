#pragma once

// A read-only inspection of a data directory: every file sluice writes (catalog, partition
// directories and their `partition` files, recovery points, segments and indexes, producer ids,
// snapshots) and what Engine::Open would do about each, classified exactly as open classifies it.
// `sluice verify` prints it; `sluice repair` plans from it.
//
// It opens no engine, takes no lock and writes nothing, and it refuses nothing: a directory that
// open would refuse is inspected all the same. On a directory that an engine has open, a write in
// progress may show as a torn tail.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/catalog.h"
#include "engine/partition_log.h"
#include "segment/io/file_system.h"
#include "segment/verify.h"

namespace sluice::engine {

// What open does about a finding, from harmless to fatal. A data directory is healthy when no
// finding is worse than kNote.
enum class Verdict : uint8_t {
  kOk,
  kNote,         // nothing wrong: left as it is (files kept aside earlier, unknown files)
  kDamaged,      // damage open works around (it skips or never reads the file); repair fixes it
  kOpenRepairs,  // open repairs it by itself: rebuilds, converts or extends the catalog, adopts a
                 // directory, finishes a deletion, truncates a torn tail, rewrites a recovery
                 // point or an index, creates a missing segment
  kOffline,      // open takes the partition (or producer-id allocation) offline, or reads in it
                 // fail: `sluice repair --execute`
  kRefused,      // open refuses the whole data directory
};
// "ok", "note", "damaged", "open-repairs", "offline", "refused".
std::string_view VerdictName(Verdict verdict);

struct Finding {
  Verdict verdict = Verdict::kOk;
  std::string path;                  // the file or directory concerned
  std::optional<uint64_t> position;  // a byte position in `path`
  std::string what;                  // what is there
  std::string action;                // what open (or repair) does about it
};

// How repair brings an offline partition back: its log is cut after the last good batch.
struct PartitionCut {
  size_t segment = 0;  // the cut segment (index in segment_reports); it becomes the last one
  // Its bytes before this position are kept: a frame boundary, or 0 when its header is bad.
  uint64_t keep_bytes = 0;
  segment::SegmentTail tail;  // the log's end after the cut: the new recovery point
  Offset lost_from;           // offsets [lost_from, lost_to) are lost
  Offset lost_to;
  // The bytes moved aside run past what the recovery point covers: they may hold offsets at and
  // after lost_to too (written, but never made durable).
  bool more_may_be_lost = false;
};

struct PartitionInspection {
  std::string topic;
  int32_t partition = 0;
  std::string dir;
  bool dir_exists = false;
  Verdict verdict = Verdict::kOk;                          // the worst of `findings`
  std::optional<segment::PartitionVerifyReport> segments;  // when the directory could be read
  std::optional<RecoveryPoint> recovery_point;             // when present and valid
  bool meta_damaged = false;  // its `partition` file is unreadable (repair rewrites it)
  // Offline, and repair can cut the log at the last good batch.
  std::optional<PartitionCut> cut;
  // Offline with no data left to cut to (the directory or every segment is missing): repair
  // recreates it empty, when asked to; its offsets restart at 0.
  bool needs_recreate = false;
  // Indexes that decode but disagree with their logs (repair moves them aside).
  std::vector<std::string> mismatched_indexes;
  // Offsets of its producer snapshots (`<offset>.snapshot`), ascending.
  std::vector<Offset> producer_snapshots;
  // Producer snapshots that do not decode (open skips them; repair moves them aside).
  std::vector<std::string> damaged_producer_snapshots;
  std::vector<Finding> findings;
};

struct DataDirInspection {
  std::string data_dir;
  bool clean_shutdown = false;
  CatalogPlan catalog;                          // what open would make of the catalog
  std::vector<PartitionInspection> partitions;  // every partition of the reconciled catalog
  std::vector<Finding> findings;  // the catalog, directories, producer ids, snapshots, other files
  // The largest producer id in any batch inspected, -1 if none.
  int64_t max_producer_id = -1;
  bool producer_ids_damaged = false;  // <data>/producer-ids is unreadable (repair rewrites it)
  std::vector<std::string> damaged_snapshots;  // paths of snapshot files a rebuild skips
  Verdict verdict = Verdict::kOk;              // the worst of all findings
  bool healthy() const { return verdict <= Verdict::kNote; }
};

// Inspects `data_dir`. With `only_topic`, only that topic's directories, partitions and snapshots
// (and the catalog) are looked at; kNotFound if the reconciled catalog has no such topic. A
// missing data directory is kNotFound naming it; other errors are I/O errors. Damage, whatever it
// is, is in the result.
Result<DataDirInspection> InspectDataDir(io::FileSystem& fs, const std::string& data_dir,
                                         const std::string& only_topic = "");

// The name of the file that a file or directory at `path` is moved aside to, or that damaged
// bytes cut from it are kept in (sluice repair): "<path>.quarantine-<ms>". Open never reads them.
std::string QuarantinePath(const std::string& path, int64_t now_ms);

}  // namespace sluice::engine

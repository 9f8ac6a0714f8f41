#pragma once

// `sluice repair`: brings a data directory that InspectDataDir finds damaged back to one that
// opens whole, losing as little as possible and deleting nothing.
//
// A dry run (the default) only says what would be done. An execution takes the data directory's
// lock (so it refuses while an engine, e.g. `sluice serve`, has the directory open), then, for each
// offline partition with a cut (PartitionCut): copies the bytes from the first bad position to the
// end of the written data into `<segment>.quarantine-<ms>` and fsyncs it, renames later segment
// files (and the indexes of the segments touched) to `.quarantine-<ms>` names, and only then cuts
// the segment at its last good batch and rewrites the recovery point. A missing partition is
// recreated empty only with RecreateMissing::kYes (its offsets restart at 0). Damaged producer ids
// are kept aside and rewritten past every producer id in the logs; damaged snapshots and indexes
// that disagree with their logs are moved aside. It then opens an engine once, opening every
// partition (which rebuilds the catalog, finishes deletions, truncates torn tails and rebuilds
// indexes), closes it, and rewrites damaged `partition` files from the catalog.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/inspect.h"
#include "segment/base/clock.h"
#include "segment/segment.h"

namespace sluice::engine {

enum class RepairMode : bool { kDryRun, kExecute };
// Whether a partition whose data is all gone (directory or every segment missing) is recreated
// empty, its offsets restarting at 0.
enum class RecreateMissing : bool { kNo, kYes };

struct RepairOptions {
  std::string data_dir;
  std::string only_topic;  // empty: every topic
  RepairMode mode = RepairMode::kDryRun;
  RecreateMissing recreate_missing = RecreateMissing::kNo;
  io::FileSystem* fs = nullptr;        // borrowed; must not be null
  const base::Clock* clock = nullptr;  // borrowed; null = the system clock
  TopicConfig default_topic_config;    // for the engine opened after the repairs
};

// One thing repair does (or would do) to one partition or file.
struct RepairAction {
  std::string target;              // "topic-partition", or a file's path
  std::string problem;             // what the inspection found
  std::vector<std::string> steps;  // what is (would be) done, in order; empty when skipped
  // The offsets lost, [first, second).
  std::optional<std::pair<Offset, Offset>> lost;
  bool more_may_be_lost = false;  // see PartitionCut
  std::string skipped;            // non-empty: left alone, and why
};

struct RepairReport {
  RepairMode mode = RepairMode::kDryRun;
  DataDirInspection before;
  std::vector<RepairAction> actions;
  // Executed only: what opening the engine changed, and what it still found offline.
  std::vector<std::string> catalog_changes;
  std::vector<segment::RecoveryReport> recovery_reports;
  std::vector<std::pair<std::string, base::Error>> still_offline;
  std::optional<DataDirInspection> after;  // executed only: the inspection afterwards
};

// Repairs (or, in a dry run, plans the repair of) `options.data_dir`. Fails before changing
// anything when the data directory is missing, locked by another process (kBusy), or its catalog
// was written by a newer sluice.
Result<RepairReport> Repair(const RepairOptions& options);

}  // namespace sluice::engine

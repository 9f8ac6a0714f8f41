#pragma once

// Replay snapshots: a user's state (an opaque blob) tagged with the offsets of the history it
// covers, so that a rebuild loads the newest snapshot and replays only the tail.
//
// Files: <data>/snapshots/<name>/<sequence, 20 digits>.snap, written atomically (temp file, fsync,
// rename, fsync directory) with an XXH3-64 over the whole file; layout in segment/FORMAT.md
// ("Snapshot files"). A snapshot that is partial, corrupt or of an unknown version is skipped
// with a warning, and an older one (or the start of the log) is used instead.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/replay.h"

namespace sluice::engine {

struct SnapshotInfo {
  std::string name;
  uint64_t sequence = 0;  // increases with every snapshot saved under the name
  std::string topic;
  std::map<int32_t, Offset> offsets;  // per partition: the offset after the last record covered
  int64_t created_ms = 0;
  uint64_t blob_bytes = 0;
  std::string path;
};

// The file image of a snapshot (`info`'s topic, offsets and created_ms; name, sequence, blob_bytes
// and path are not stored). Layout: segment/FORMAT.md, "Snapshot files".
std::string EncodeSnapshotFile(const SnapshotInfo& info, Bytes blob);

// A parsed snapshot file: `blob` points into the bytes given to DecodeSnapshotFile.
struct DecodedSnapshot {
  SnapshotInfo info;  // topic, offsets, created_ms, blob_bytes, path
  Bytes blob;
};
// Parses and verifies a snapshot file read from `path` (named in errors). kCorruption for a short,
// damaged or inconsistent file, kUnsupportedVersion for an unknown version. Every length in the
// file is checked against the file's own size before use, so nothing is allocated beyond it.
Result<DecodedSnapshot> DecodeSnapshotFile(Bytes file, const std::string& path);

// Saves `blob` as the newest snapshot `name` of `topic`, covering every record below `offsets`
// (per partition), then deletes all but the newest `keep` snapshots of that name.
Result<SnapshotInfo> SaveSnapshot(const Engine& engine, const std::string& name,
                                  const std::string& topic,
                                  const std::map<int32_t, Offset>& offsets, Bytes blob,
                                  int keep = 3);

// The valid snapshots of `name`, newest first. Invalid files are reported with a warning and left
// out.
Result<std::vector<SnapshotInfo>> ListSnapshots(const Engine& engine, const std::string& name);

// Reads a snapshot's blob (verifying it again).
Result<std::string> LoadSnapshotBlob(const Engine& engine, const SnapshotInfo& info);

struct RebuildResult {
  std::optional<SnapshotInfo> snapshot;  // the snapshot restored, or none (replayed from the start)
  ReplayStats stats;                     // the tail replayed after it
};

// Rebuilds state up to `options.to`: restores the newest valid snapshot `name` whose offsets are
// all at or before that target (calling `restore` with its blob), then replays only the records
// after it. Without a usable snapshot, replays from `options.from`. `options.start_offsets` is
// ignored.
Result<RebuildResult> Rebuild(const Engine& engine, const std::string& name, ReplayOptions options,
                              const std::function<Status(Bytes blob)>& restore,
                              const ReplayFold& fold);

// The directory of every snapshot, under the data directory, and the sequence number in a snapshot
// file's name ("<20 digits>.snap"; nullopt for any other name).
inline constexpr char kSnapshotsDir[] = "snapshots";
std::optional<uint64_t> ParseSnapshotFileName(const std::string& name);

}  // namespace sluice::engine

#include "engine/snapshot.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "segment/base/checksum.h"
#include "segment/base/log.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;

constexpr char kMagic[9] = "SLUICESN";
constexpr uint16_t kVersion1 = 1;

std::string SnapshotDir(const Engine& engine, const std::string& name) {
  return io::JoinPath(io::JoinPath(engine.data_dir(), kSnapshotsDir), name);
}

std::string FileName(uint64_t sequence) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 ".snap", sequence);
  return buf;
}

}  // namespace

std::optional<uint64_t> ParseSnapshotFileName(const std::string& name) {
  if (name.size() != 25 || name.compare(20, 5, ".snap") != 0) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return v;
}

namespace {

template <typename T>
void Put(std::string& out, T v) {
  char buf[sizeof(T)];
  base::StoreLE<T>(reinterpret_cast<std::byte*>(buf), v);
  out.append(buf, sizeof(T));
}

}  // namespace

std::string EncodeSnapshotFile(const SnapshotInfo& info, Bytes blob) {
  std::string out(kMagic, 8);
  Put<uint16_t>(out, kVersion1);
  Put<uint16_t>(out, 0);
  Put<uint32_t>(out, static_cast<uint32_t>(info.offsets.size()));
  Put<int64_t>(out, info.created_ms);
  Put<uint16_t>(out, static_cast<uint16_t>(info.topic.size()));
  out += info.topic;
  for (const auto& [p, o] : info.offsets) {
    Put<int32_t>(out, p);
    Put<int64_t>(out, o.value());
  }
  Put<uint64_t>(out, blob.size());
  out.append(base::AsString(blob));
  Put<uint64_t>(out, base::Xxh3(base::AsBytes(out)));
  return out;
}

Result<DecodedSnapshot> DecodeSnapshotFile(Bytes file, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  Bytes b = file;
  if (b.size() < 8 + 2 + 2 + 4 + 8 + 2 + 8 + 8) return bad("too short");
  if (std::memcmp(b.data(), kMagic, 8) != 0) return bad("bad magic");
  if (base::Xxh3(b.first(b.size() - 8)) != base::LoadLE<uint64_t>(b.data() + b.size() - 8)) {
    return bad("checksum mismatch (partial or damaged file)");
  }
  const size_t body = b.size() - 8;
  base::ByteReader r(b.first(body));
  r.Take(8);  // the magic, checked above
  const auto version = r.LE<uint16_t>();
  if (version != kVersion1) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     path + ": snapshot version " + std::to_string(*version));
  }
  if (r.LE<uint16_t>() != 0) return bad("unknown flags");
  SnapshotInfo info;
  info.path = path;
  const auto count = r.LE<uint32_t>();
  const auto created_ms = r.LE<int64_t>();
  const auto topic_len = r.LE<uint16_t>();
  if (!count || !created_ms || !topic_len) return bad("truncated header");
  info.created_ms = *created_ms;
  if (uint64_t{*topic_len} + uint64_t{*count} * 12 + 8 > r.remaining()) {
    return bad("truncated header");
  }
  info.topic = std::string(base::AsString(*r.Take(*topic_len)));
  for (uint32_t i = 0; i < *count; ++i) {
    const auto partition = *r.LE<int32_t>();
    // Written in increasing order, each once: anything else is damage.
    if (!info.offsets.empty() && partition <= info.offsets.rbegin()->first) {
      return bad("partitions out of order");
    }
    info.offsets[partition] = Offset(*r.LE<int64_t>());
  }
  info.blob_bytes = *r.LE<uint64_t>();
  const size_t pos = r.position();
  if (info.blob_bytes != body - pos) return bad("blob length does not match the file");
  const Bytes blob = b.subspan(pos, info.blob_bytes);
  return DecodedSnapshot{std::move(info), blob};
}

Result<SnapshotInfo> SaveSnapshot(const Engine& engine, const std::string& name,
                                  const std::string& topic,
                                  const std::map<int32_t, Offset>& offsets, Bytes blob, int keep) {
  RETURN_IF_ERROR(ValidateTopicName(name));
  RETURN_IF_ERROR(ValidateTopicName(topic));
  if (keep < 1) return MakeError(ErrorCode::kInvalidArgument, "keep must be at least 1");
  io::FileSystem& fs = engine.file_system();
  const std::string dir = SnapshotDir(engine, name);
  ASSIGN_OR_RETURN(bool existed, fs.Exists(dir));
  if (!existed) {
    RETURN_IF_ERROR(fs.CreateDir(dir));
    RETURN_IF_ERROR(fs.SyncDir(io::DirName(dir)));
    RETURN_IF_ERROR(fs.SyncDir(io::DirName(io::DirName(dir))));
  }
  ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  uint64_t sequence = 0;
  std::vector<uint64_t> existing;
  for (const auto& n : names) {
    if (auto seq = ParseSnapshotFileName(n)) {
      existing.push_back(*seq);
      sequence = std::max(sequence, *seq + 1);
    }
  }
  SnapshotInfo info;
  info.name = name;
  info.sequence = sequence;
  info.topic = topic;
  info.offsets = offsets;
  info.created_ms = engine.clock().NowMs();
  info.blob_bytes = blob.size();
  info.path = io::JoinPath(dir, FileName(sequence));
  const std::string image = EncodeSnapshotFile(info, blob);
  RETURN_IF_ERROR(io::WriteFileAtomic(fs, info.path, base::AsBytes(image)));
  // Prune: keep the newest `keep` (this one included).
  std::sort(existing.begin(), existing.end());
  const size_t keep_old = static_cast<size_t>(keep - 1);
  for (size_t i = 0; i + keep_old < existing.size(); ++i) {
    const std::string path = io::JoinPath(dir, FileName(existing[i]));
    if (Status s = fs.Remove(path); !s) base::LogWarning("snapshot prune: " + s.error().ToString());
  }
  return info;
}

Result<std::vector<SnapshotInfo>> ListSnapshots(const Engine& engine, const std::string& name) {
  RETURN_IF_ERROR(ValidateTopicName(name));
  io::FileSystem& fs = engine.file_system();
  const std::string dir = SnapshotDir(engine, name);
  std::vector<SnapshotInfo> out;
  ASSIGN_OR_RETURN(bool exists, fs.Exists(dir));
  if (!exists) return out;
  ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    auto seq = ParseSnapshotFileName(*it);
    if (!seq) continue;
    const std::string path = io::JoinPath(dir, *it);
    auto file = fs.ReadFile(path);
    if (!file) {
      base::LogWarning("skipping snapshot " + path + ": " + file.error().ToString());
      continue;
    }
    auto decoded = DecodeSnapshotFile(base::AsBytes(*file), path);
    if (!decoded) {
      base::LogWarning("skipping snapshot: " + decoded.error().ToString());
      continue;
    }
    decoded->info.name = name;
    decoded->info.sequence = *seq;
    out.push_back(std::move(decoded->info));
  }
  return out;
}

Result<std::string> LoadSnapshotBlob(const Engine& engine, const SnapshotInfo& info) {
  ASSIGN_OR_RETURN(std::string file, engine.file_system().ReadFile(info.path));
  ASSIGN_OR_RETURN(DecodedSnapshot decoded, DecodeSnapshotFile(base::AsBytes(file), info.path));
  return std::string(base::AsString(decoded.blob));
}

Result<RebuildResult> Rebuild(const Engine& engine, const std::string& name, ReplayOptions options,
                              const std::function<Status(Bytes blob)>& restore,
                              const ReplayFold& fold) {
  options.start_offsets.clear();
  ASSIGN_OR_RETURN(TopicDescription topic, engine.DescribeTopic(options.topic));
  std::vector<int32_t> partitions = options.partitions;
  if (partitions.empty()) {
    for (int32_t p = 0; p < topic.info.partitions; ++p) partitions.push_back(p);
  }
  // The target, per partition: a snapshot qualifies when it covers no record beyond it.
  std::map<int32_t, Offset> target;
  for (int32_t p : partitions) {
    ASSIGN_OR_RETURN(PartitionStats ps, engine.GetPartitionStats(options.topic, p));
    Offset end = ps.high_watermark;
    if (options.to.kind == ReplayTo::Kind::kOffset) {
      end = std::min(end, Offset(options.to.value));
    } else if (options.to.kind == ReplayTo::Kind::kTimestamp) {
      ASSIGN_OR_RETURN(auto found, engine.OffsetForTimestamp(options.topic, p, options.to.value));
      if (found) end = std::min(end, found->offset);
    }
    target[p] = end;
  }
  ASSIGN_OR_RETURN(auto snapshots, ListSnapshots(engine, name));
  RebuildResult result;
  for (const SnapshotInfo& s : snapshots) {
    if (s.topic != options.topic) continue;
    bool usable = true;
    for (int32_t p : partitions) {
      auto it = s.offsets.find(p);
      if (it == s.offsets.end() || it->second > target[p]) usable = false;
    }
    if (!usable) continue;
    auto blob = LoadSnapshotBlob(engine, s);
    if (!blob) {
      base::LogWarning("skipping snapshot: " + blob.error().ToString());
      continue;
    }
    RETURN_IF_ERROR(restore(base::AsBytes(*blob)));
    result.snapshot = s;
    for (int32_t p : partitions) options.start_offsets[p] = s.offsets.at(p);
    break;
  }
  ASSIGN_OR_RETURN(result.stats, Replay(engine, options, fold));
  return result;
}

}  // namespace sluice::engine

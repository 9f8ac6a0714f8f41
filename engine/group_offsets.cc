#include "engine/group_offsets.h"

#include <algorithm>

#include "engine/replay.h"
#include "segment/base/log.h"
#include "segment/record_batch.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;

constexpr uint8_t kRecordVersion = 1;
// An open that replays more records than this runs a cleaning pass (if due) at once, so that
// engines without a background cleaner (short-lived CLI commands) keep the log bounded too.
constexpr int64_t kCleanAtOpenRecords = 50'000;

void PutString(std::string& out, const std::string& s) {
  char len[2];
  base::StoreLE<uint16_t>(reinterpret_cast<std::byte*>(len), static_cast<uint16_t>(s.size()));
  out.append(len, 2);
  out += s;
}

template <typename T>
void PutInt(std::string& out, T v) {
  char buf[sizeof(T)];
  base::StoreLE<T>(reinterpret_cast<std::byte*>(buf), v);
  out.append(buf, sizeof(T));
}

// A record's key or value: little-endian integers and u16-length strings.
class Reader {
 public:
  explicit Reader(std::string_view s) : r_(base::AsBytes(s)) {}
  template <typename T>
  std::optional<T> Int() {
    return r_.LE<T>();
  }
  std::optional<std::string> String() {
    auto len = r_.LE<uint16_t>();
    if (!len) return std::nullopt;
    auto bytes = r_.Take(*len);
    if (!bytes) return std::nullopt;
    return std::string(base::AsString(*bytes));
  }
  bool done() const { return !r_.failed() && r_.remaining() == 0; }

 private:
  base::ByteReader r_;
};

Error BadRecord(int64_t offset, const std::string& why) {
  return MakeError(ErrorCode::kCorruption, std::string(kConsumerOffsetsTopic) + " at offset " +
                                               std::to_string(offset) + ": " + why);
}

}  // namespace

std::string EncodeOffsetKey(const std::string& group, const std::string& topic, int32_t partition) {
  std::string out(1, static_cast<char>(kRecordVersion));
  PutString(out, group);
  PutString(out, topic);
  PutInt<int32_t>(out, partition);
  return out;
}

std::string EncodeOffsetValue(const CommittedOffset& v) {
  std::string out(1, static_cast<char>(kRecordVersion));
  PutInt<int64_t>(out, v.offset.value());
  PutInt<int64_t>(out, v.commit_time_ms);
  PutString(out, v.metadata);
  return out;
}

Result<OffsetRecord> DecodeOffsetRecord(std::optional<std::string_view> key,
                                        std::optional<std::string_view> value, int64_t log_offset) {
  if (!key) return BadRecord(log_offset, "record without a key");
  Reader k(*key);
  auto kv = k.Int<uint8_t>();
  auto group = k.String();
  auto topic = k.String();
  auto partition = k.Int<int32_t>();
  if (kv != kRecordVersion || !group || !topic || !partition || !k.done()) {
    return BadRecord(log_offset, "malformed key");
  }
  OffsetRecord out{std::move(*group), std::move(*topic), *partition, std::nullopt};
  if (value) {
    Reader v(*value);
    auto vv = v.Int<uint8_t>();
    auto offset = v.Int<int64_t>();
    auto time = v.Int<int64_t>();
    auto metadata = v.String();
    if (vv != kRecordVersion || !offset || !time || !metadata || !v.done()) {
      return BadRecord(log_offset, "malformed value");
    }
    out.value = CommittedOffset{Offset(*offset), std::move(*metadata), *time};
  }
  return out;
}

Result<std::unique_ptr<GroupOffsetStore>> GroupOffsetStore::Open(Engine& engine) {
  std::unique_ptr<GroupOffsetStore> store(new GroupOffsetStore(engine));
  if (!engine.DescribeTopic(kConsumerOffsetsTopic)) {
    if (engine.read_only()) return store;  // nothing committed yet, and nothing to create here
    RETURN_IF_ERROR(engine.CreateTopic(kConsumerOffsetsTopic, 1,
                                       {{"flush", "sync"},
                                        {"compression.type", "none"},
                                        {"segment.bytes", std::to_string(8 << 20)},
                                        {"cleanup.policy", "compact"},
                                        {"retention.ms", "-1"},
                                        {"retention.bytes", "-1"}}));
  } else if (auto config = engine.GetTopicConfig(kConsumerOffsetsTopic);
             config && !config->cleanup_compact && !engine.read_only()) {
    // Made by a sluice that compacted it by re-appending the live state: the log cleaner does it
    // now (the records are the same).
    RETURN_IF_ERROR(
        engine.AlterInternalTopicConfig(kConsumerOffsetsTopic, {{"cleanup.policy", "compact"}}));
  }
  // The engine rebuilds its own state by event sourcing, with the replay API users get.
  ReplayOptions options;
  options.topic = kConsumerOffsetsTopic;
  auto stats = Replay(engine, options, [&](int32_t, const segment::RecordView& rec) -> Status {
    ASSIGN_OR_RETURN(OffsetRecord r, DecodeOffsetRecord(rec.key, rec.value, rec.offset));
    store->Apply({std::move(r.group), std::move(r.topic), r.partition}, r.value, rec.offset);
    return {};
  });
  RETURN_IF_ERROR(stats);
  store->replayed_at_open_ = stats->records;
  if (stats->records > kCleanAtOpenRecords && !engine.read_only()) {
    // Best effort: the background cleaner, where there is one, tries again.
    if (auto cleaned = engine.CompactTopic(kConsumerOffsetsTopic, CleanTrigger::kIfDue); !cleaned) {
      base::LogWarning(std::string(kConsumerOffsetsTopic) +
                       ": cleaning at open: " + cleaned.error().ToString());
    }
  }
  return store;
}

void GroupOffsetStore::Apply(const Key& key, const std::optional<CommittedOffset>& value,
                             int64_t log_offset) {
  Entry& e = entries_[key];
  if (log_offset <= e.log_offset) return;  // a later record already set this key
  e.log_offset = log_offset;
  e.deleted = !value.has_value();
  if (value) e.value = *value;
}

Status GroupOffsetStore::AppendAndApply(
    const std::vector<std::pair<Key, std::optional<CommittedOffset>>>& records) {
  segment::BatchBuilder builder;
  const int64_t now = engine_.clock().NowMs();
  std::vector<std::string> values;
  for (const auto& [key, value] : records) {
    const auto& [group, topic, partition] = key;
    std::string k = EncodeOffsetKey(group, topic, partition);
    if (value) {
      builder.Add(k, EncodeOffsetValue(*value), now);
    } else {
      builder.Add(k, std::nullopt, now);
    }
  }
  ASSIGN_OR_RETURN(std::string batch, builder.Build());
  ASSIGN_OR_RETURN(AppendResult r, engine_.Append(kConsumerOffsetsTopic, 0, base::AsBytes(batch)));
  std::unique_lock lock(mu_);
  int64_t offset = r.base_offset.value();
  for (const auto& [key, value] : records) Apply(key, value, offset++);
  return {};
}

Status GroupOffsetStore::Commit(const std::string& group, std::span<const OffsetCommit> commits) {
  if (group.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty group id");
  if (group.size() > 32767) return MakeError(ErrorCode::kInvalidArgument, "group id too long");
  if (commits.empty()) return {};
  const int64_t now = engine_.clock().NowMs();
  std::vector<std::pair<Key, std::optional<CommittedOffset>>> records;
  for (const OffsetCommit& c : commits) {
    if (c.metadata.size() > 4096) {
      return MakeError(ErrorCode::kInvalidArgument, "commit metadata over 4096 bytes");
    }
    RETURN_IF_ERROR(engine_.GetPartitionStats(c.topic, c.partition));
    records.push_back({{group, c.topic, c.partition}, CommittedOffset{c.offset, c.metadata, now}});
  }
  return AppendAndApply(records);
}

std::optional<CommittedOffset> GroupOffsetStore::Fetch(const std::string& group,
                                                       const std::string& topic,
                                                       int32_t partition) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find({group, topic, partition});
  if (it == entries_.end() || it->second.deleted) return std::nullopt;
  return it->second.value;
}

std::map<std::pair<std::string, int32_t>, CommittedOffset> GroupOffsetStore::FetchAll(
    const std::string& group) const {
  std::shared_lock lock(mu_);
  std::map<std::pair<std::string, int32_t>, CommittedOffset> out;
  for (auto it = entries_.lower_bound({group, "", INT32_MIN});
       it != entries_.end() && std::get<0>(it->first) == group; ++it) {
    if (!it->second.deleted)
      out[{std::get<1>(it->first), std::get<2>(it->first)}] = it->second.value;
  }
  return out;
}

std::vector<std::string> GroupOffsetStore::ListGroups() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> groups;
  for (const auto& [key, e] : entries_) {
    if (e.deleted) continue;
    if (groups.empty() || groups.back() != std::get<0>(key)) groups.push_back(std::get<0>(key));
  }
  return groups;
}

Result<std::vector<GroupPartitionStatus>> GroupOffsetStore::Describe(
    const std::string& group) const {
  const auto committed = FetchAll(group);
  if (committed.empty()) {
    return MakeError(ErrorCode::kNotFound, "group '" + group + "' has no committed offsets");
  }
  const int64_t now = engine_.clock().NowMs();
  std::vector<GroupPartitionStatus> out;
  for (const auto& [tp, c] : committed) {
    GroupPartitionStatus s;
    s.topic = tp.first;
    s.partition = tp.second;
    s.committed = c;
    auto stats = engine_.GetPartitionStats(tp.first, tp.second);
    if (!stats) {
      // The topic was deleted after the commit: report the commit alone.
      out.push_back(std::move(s));
      continue;
    }
    s.log_start_offset = stats->log_start_offset;
    s.log_end_offset = stats->high_watermark;
    const Offset consumed_to = std::max(c.offset, stats->log_start_offset);
    s.lag_records = std::max<int64_t>(0, stats->high_watermark - consumed_to);
    if (s.lag_records > 0) {
      // The oldest unconsumed record is the one at the committed offset.
      ASSIGN_OR_RETURN(ReadResult r, engine_.Read(tp.first, tp.second, consumed_to, 1));
      segment::RecordDecoder decoder;
      decoder.set_dictionaries(r.dictionaries.get());
      for (const StoredBatch& b : r.batches) {
        RETURN_IF_ERROR(decoder.Reset(b.bytes, b.header));
        for (;;) {
          ASSIGN_OR_RETURN(auto rec, decoder.Next());
          if (!rec) break;
          if (rec->offset >= consumed_to.value()) {
            s.lag_ms = std::max<int64_t>(0, now - rec->timestamp);
            break;
          }
        }
        if (s.lag_ms) break;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

Status GroupOffsetStore::DeleteGroup(const std::string& group) {
  const auto committed = FetchAll(group);
  if (committed.empty()) {
    return MakeError(ErrorCode::kNotFound, "group '" + group + "' has no committed offsets");
  }
  std::vector<std::pair<Key, std::optional<CommittedOffset>>> records;
  for (const auto& [tp, c] : committed) records.push_back({{group, tp.first, tp.second}, {}});
  return AppendAndApply(records);
}

Result<size_t> GroupOffsetStore::DeleteOffsets(
    const std::string& group, std::span<const std::pair<std::string, int32_t>> partitions) {
  std::vector<std::pair<Key, std::optional<CommittedOffset>>> records;
  for (const auto& [topic, partition] : partitions) {
    if (Fetch(group, topic, partition)) records.push_back({{group, topic, partition}, {}});
  }
  if (records.empty()) return size_t{0};
  RETURN_IF_ERROR(AppendAndApply(records));
  return records.size();
}

Result<std::vector<ResetPlanEntry>> GroupOffsetStore::ResetOffsets(const std::string& group,
                                                                   const std::string& topic,
                                                                   ResetTarget target,
                                                                   DryRun dry_run) {
  if (group.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty group id");
  ASSIGN_OR_RETURN(TopicDescription desc, engine_.DescribeTopic(topic));
  std::vector<ResetPlanEntry> plan;
  for (int32_t p = 0; p < desc.info.partitions; ++p) {
    const PartitionStats& stats = desc.partitions[static_cast<size_t>(p)];
    ResetPlanEntry e;
    e.topic = topic;
    e.partition = p;
    if (auto c = Fetch(group, topic, p)) e.current = c->offset;
    switch (target.kind) {
      case ResetTarget::Kind::kEarliest:
        e.target = stats.log_start_offset;
        break;
      case ResetTarget::Kind::kLatest:
        e.target = stats.high_watermark;
        break;
      case ResetTarget::Kind::kOffset:
        e.target = std::clamp(Offset(target.value), stats.log_start_offset, stats.high_watermark);
        break;
      case ResetTarget::Kind::kTimestamp: {
        ASSIGN_OR_RETURN(auto found, engine_.OffsetForTimestamp(topic, p, target.value));
        e.target = found ? found->offset : stats.high_watermark;
        break;
      }
    }
    plan.push_back(std::move(e));
  }
  if (dry_run == DryRun::kYes) return plan;
  std::vector<OffsetCommit> commits;
  for (const auto& e : plan) {
    std::string metadata;
    if (auto c = Fetch(group, topic, e.partition)) metadata = c->metadata;
    commits.push_back({topic, e.partition, e.target, metadata});
  }
  RETURN_IF_ERROR(Commit(group, commits));
  return plan;
}

Status GroupOffsetStore::Compact() {
  ASSIGN_OR_RETURN(auto cleaned, engine_.CompactTopic(kConsumerOffsetsTopic, CleanTrigger::kNow));
  for (const auto& [partition, stats] : cleaned) {
    base::LogInfo(std::string(kConsumerOffsetsTopic) + ": " +
                  (stats.cleaned ? std::to_string(stats.records_before) + " records cleaned to " +
                                       std::to_string(stats.records_after)
                                 : "not cleaned: " + stats.why));
  }
  return {};
}

}  // namespace sluice::engine

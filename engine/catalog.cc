#include "engine/catalog.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>

#include "segment/segment.h"
#include "segment/small_file.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;
using nlohmann::json;

constexpr int kLegacyCatalogVersion = 1;

const segment::SmallFileKind& CatalogKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{f::kCatalogMagic, f::kCatalogVersion2,
                                           f::kCatalogCurrentVersion};
  return kind;
}

const segment::SmallFileKind& PartitionMetaKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{
      f::kPartitionMetaMagic, f::kPartitionMetaMinReadableVersion, f::kPartitionMetaCurrentVersion};
  return kind;
}

json ConfigJson(const TopicConfig& config) {
  json out = json::object();
  for (const auto& [k, v] : ConfigToMap(config)) out[k] = v;
  return out;
}

json OverridesJson(const TopicConfig& config) {
  json out = json::array();
  for (const auto& k : config.overrides) out.push_back(k);
  return out;
}

// The keys set on the topic itself, from `parent["overrides"]` (absent before they were kept).
Status ParseOverrides(const json& parent, const std::string& what, TopicConfig& config) {
  if (!parent.contains("overrides")) return {};
  const json& o = parent["overrides"];
  if (!o.is_array()) return MakeError(ErrorCode::kCorruption, what + ": overrides is not a list");
  for (const auto& k : o) {
    if (!k.is_string()) {
      return MakeError(ErrorCode::kCorruption, what + ": an override is not a string");
    }
    config.overrides.insert(k.get<std::string>());
  }
  return {};
}

// The topic config in `j` (an object of strings), or an error naming `what`.
Result<TopicConfig> ParseConfig(const json& j, const std::string& what) {
  if (!j.is_object()) return MakeError(ErrorCode::kCorruption, what + ": config is not an object");
  std::map<std::string, std::string> kv;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) {
      return MakeError(ErrorCode::kCorruption, what + ": config '" + k + "' is not a string");
    }
    kv[k] = v.get<std::string>();
  }
  auto config = ApplyConfig(TopicConfig{}, kv);
  if (!config) return MakeError(ErrorCode::kCorruption, what + ": " + config.error().context);
  return *config;
}

Result<TopicMap> ParseTopics(const json& doc, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  if (!doc.contains("topics") || !doc["topics"].is_object()) return bad("no topics object");
  TopicMap topics;
  for (const auto& [name, t] : doc["topics"].items()) {
    if (!ValidateTopicName(name)) return bad("topic name '" + name + "' is not valid");
    if (!t.is_object() || !t.contains("partitions") || !t["partitions"].is_number_integer() ||
        !t.contains("config")) {
      return bad("topic '" + name + "' is malformed");
    }
    TopicInfo info;
    info.name = name;
    const auto partitions = t["partitions"].get<int64_t>();
    if (partitions < 1 || partitions > kMaxPartitions) {
      return bad("topic '" + name + "' has " + std::to_string(partitions) +
                 " partitions, outside [1, " + std::to_string(kMaxPartitions) + "]");
    }
    info.partitions = static_cast<int32_t>(partitions);
    if (t.contains("id")) {
      if (!t["id"].is_string()) return bad("topic '" + name + "': id is not a string");
      info.id = t["id"].get<std::string>();
    }
    ASSIGN_OR_RETURN(info.config, ParseConfig(t["config"], path + ": topic '" + name + "'"));
    RETURN_IF_ERROR(ParseOverrides(t, path + ": topic '" + name + "'", info.config));
    topics.emplace(name, std::move(info));
  }
  return topics;
}

}  // namespace

Status ValidateTopicName(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") {
    return MakeError(ErrorCode::kInvalidArgument, "topic name '" + name + "' is not allowed");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "topic name '" + name + "' may only hold [a-zA-Z0-9._-]");
    }
  }
  return {};
}

Result<TopicMap> DecodeCatalogPayload(const std::string& json_text, const std::string& path) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(ErrorCode::kCorruption, path + ": not a JSON object");
  }
  return ParseTopics(doc, path);
}

Result<TopicMap> LoadCatalog(io::FileSystem& fs, const std::string& dir) {
  const std::string path = io::JoinPath(dir, kCatalogFile);
  auto file = segment::ReadSmallFile(fs, path, CatalogKind());
  if (file) return DecodeCatalogPayload(file->payload, path);
  if (file.error().code != ErrorCode::kNotFound) return std::move(file).error();

  // Format version 1: plain JSON with a version field.
  const std::string legacy = io::JoinPath(dir, kLegacyCatalogFile);
  ASSIGN_OR_RETURN(std::string text, fs.ReadFile(legacy));
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return MakeError(ErrorCode::kCorruption, legacy + ": not a JSON object");
  }
  if (!doc.contains("version") || !doc["version"].is_number_integer()) {
    return MakeError(ErrorCode::kCorruption, legacy + ": no version");
  }
  if (doc["version"].get<int64_t>() != kLegacyCatalogVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     legacy + ": catalog version " + doc["version"].dump());
  }
  return ParseTopics(doc, legacy);
}

Status SaveCatalog(io::FileSystem& fs, const std::string& dir, const TopicMap& topics) {
  json doc;
  doc["topics"] = json::object();
  for (const auto& [name, info] : topics) {
    json t = {{"partitions", info.partitions}, {"config", ConfigJson(info.config)}};
    if (!info.config.overrides.empty()) t["overrides"] = OverridesJson(info.config);
    if (!info.id.empty()) t["id"] = info.id;
    doc["topics"][name] = t;
  }
  const std::string text = doc.dump(2) + "\n";
  return segment::WriteSmallFile(fs, io::JoinPath(dir, kCatalogFile), CatalogKind(),
                                 base::AsBytes(text));
}

Result<PartitionMeta> DecodePartitionMetaPayload(const std::string& json_text,
                                                 const std::string& path, uint16_t version) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("topic") || !doc["topic"].is_string() || !doc.contains("partition") ||
      !doc["partition"].is_number_integer() || !doc.contains("topic_id") ||
      !doc["topic_id"].is_string() || !doc.contains("config")) {
    return bad("missing or malformed fields");
  }
  PartitionMeta meta;
  meta.topic = doc["topic"].get<std::string>();
  if (!ValidateTopicName(meta.topic)) return bad("topic name is not valid");
  const auto partition = doc["partition"].get<int64_t>();
  if (partition < 0 || partition >= kMaxPartitions) return bad("partition number out of range");
  meta.partition = static_cast<int32_t>(partition);
  meta.topic_id = doc["topic_id"].get<std::string>();
  ASSIGN_OR_RETURN(meta.config, ParseConfig(doc["config"], path));
  RETURN_IF_ERROR(ParseOverrides(doc, path, meta.config));
  if (version >= segment::format::kPartitionMetaVersion2) {
    if (!doc.contains("partitions") || !doc["partitions"].is_number_integer()) {
      return bad("no partition count");
    }
    const auto count = doc["partitions"].get<int64_t>();
    if (count <= partition || count > kMaxPartitions) {
      return bad("partition count " + std::to_string(count) + " does not hold partition " +
                 std::to_string(partition) + " or exceeds " + std::to_string(kMaxPartitions));
    }
    meta.topic_partitions = static_cast<int32_t>(count);
  }
  return meta;
}

Result<PartitionMeta> LoadPartitionMeta(io::FileSystem& fs, const std::string& partition_dir) {
  const std::string path = io::JoinPath(partition_dir, kPartitionMetaFile);
  ASSIGN_OR_RETURN(auto file, segment::ReadSmallFile(fs, path, PartitionMetaKind()));
  return DecodePartitionMetaPayload(file.payload, path, file.version);
}

Status SavePartitionMeta(io::FileSystem& fs, const std::string& partition_dir,
                         const PartitionMeta& meta) {
  SLUICE_CHECK(meta.topic_partitions > meta.partition, "partition file without the topic's count");
  json doc = {{"topic", meta.topic},
              {"topic_id", meta.topic_id},
              {"partition", meta.partition},
              {"partitions", meta.topic_partitions},
              {"config", ConfigJson(meta.config)}};
  if (!meta.config.overrides.empty()) doc["overrides"] = OverridesJson(meta.config);
  const std::string text = doc.dump(2) + "\n";
  return segment::WriteSmallFile(fs, io::JoinPath(partition_dir, kPartitionMetaFile),
                                 PartitionMetaKind(), base::AsBytes(text));
}

std::optional<PartitionDirName> ParsePartitionDirName(const std::string& name) {
  std::string rest = name;
  bool deleted = false;
  constexpr std::string_view kDeleted = ".deleted";
  if (rest.size() > kDeleted.size() &&
      rest.compare(rest.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    // "<topic>-<n>.<ms>.deleted"
    rest.resize(rest.size() - kDeleted.size());
    const size_t dot = rest.rfind('.');
    if (dot == std::string::npos) return std::nullopt;
    rest.resize(dot);
    deleted = true;
  }
  const size_t dash = rest.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == rest.size()) return std::nullopt;
  int32_t partition = -1;
  const char* first = rest.data() + dash + 1;
  const char* last = rest.data() + rest.size();
  auto [end, ec] = std::from_chars(first, last, partition);
  if (ec != std::errc() || end != last || partition < 0 || partition >= kMaxPartitions) {
    return std::nullopt;
  }
  // One spelling per number: "t-01" is not partition 1 of t.
  if (std::to_string(partition) != std::string(first, last)) return std::nullopt;
  std::string topic = rest.substr(0, dash);
  if (!ValidateTopicName(topic)) return std::nullopt;
  return PartitionDirName{std::move(topic), partition, deleted};
}

std::string PartitionDirFor(const std::string& topic, int32_t partition) {
  return topic + "-" + std::to_string(partition);
}

std::string NewTopicId() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

Result<CatalogPlan> PlanCatalog(io::FileSystem& fs, const std::string& dir,
                                const TopicConfig& default_config) {
  using Fate = CatalogPlan::Fate;
  using Source = CatalogPlan::Source;
  CatalogPlan plan;
  TopicMap& catalog = plan.catalog;
  if (auto loaded = LoadCatalog(fs, dir)) {
    catalog = std::move(*loaded);
    ASSIGN_OR_RETURN(bool has_new, fs.Exists(io::JoinPath(dir, kCatalogFile)));
    plan.source = has_new ? Source::kCurrent : Source::kLegacy;
  } else if (loaded.error().code == ErrorCode::kCorruption) {
    // LoadCatalog reads catalog.json only when there is no catalog: whichever exists is damaged.
    ASSIGN_OR_RETURN(bool has_new, fs.Exists(io::JoinPath(dir, kCatalogFile)));
    plan.source = Source::kDamaged;
    plan.damaged_file = has_new ? kCatalogFile : kLegacyCatalogFile;
    plan.damage = loaded.error();
  } else if (loaded.error().code == ErrorCode::kUnsupportedVersion) {
    plan.source = Source::kNewer;
    plan.damage = loaded.error();
  } else if (loaded.error().code != ErrorCode::kNotFound) {
    return std::move(loaded).error();
  }

  // What the directories say. A directory the catalog does not list is adopted: its data is the
  // truth, whatever happened to the catalog. A "<dir>.<ms>.deleted" directory is one an asked-for
  // topic deletion renamed before it could remove it: that deletion is finished.
  ASSIGN_OR_RETURN(auto names, fs.ListDir(dir));
  std::map<std::string, std::map<int32_t, std::optional<PartitionMeta>>> found;
  std::vector<std::pair<std::string, std::string>> deleted;  // (topic, directory name)
  for (const std::string& name : names) {
    auto parsed = ParsePartitionDirName(name);
    if (!parsed) continue;
    const std::string path = io::JoinPath(dir, name);
    if (parsed->deleted) {
      deleted.emplace_back(parsed->topic, name);
      continue;
    }
    auto it = catalog.find(parsed->topic);
    if (it != catalog.end() && parsed->partition < it->second.partitions) {
      plan.dirs.push_back({name, Fate::kListed, ""});
      continue;
    }
    auto meta = LoadPartitionMeta(fs, path);
    if (meta && (meta->topic != parsed->topic || meta->partition != parsed->partition)) {
      std::string why = path + " says it is partition " + std::to_string(meta->partition) +
                        " of topic '" + meta->topic + "'; left alone (sluice verify)";
      plan.changes.push_back(why);
      plan.dirs.push_back({name, Fate::kForeign, std::move(why)});
      continue;
    }
    std::string adopted_why = "not in the catalog: adopted as partition " +
                              std::to_string(parsed->partition) + " of topic '" + parsed->topic +
                              "'";
    if (!meta) {
      // Format version 1 directories have no metadata file; adopt those that hold a log.
      auto entries = fs.ListDir(path);
      bool has_log = false;
      if (entries) {
        for (const auto& e : *entries) has_log |= segment::Segment::ParseLogName(e).has_value();
      }
      if (!has_log) {
        plan.dirs.push_back(
            {name, Fate::kIgnored,
             "not in the catalog, and holds no segment file and no readable partition file "
             "(" +
                 meta.error().ToString() + "); left alone"});
        continue;
      }
      adopted_why +=
          meta.error().code == ErrorCode::kNotFound
              ? " from its log (no partition file)"
              : " from its log; its partition file is unreadable (" + meta.error().ToString() + ")";
    }
    found[parsed->topic][parsed->partition] =
        meta ? std::optional<PartitionMeta>(*meta) : std::nullopt;
    plan.dirs.push_back({name, Fate::kAdopted, std::move(adopted_why)});
  }
  bool changed = plan.source == Source::kLegacy;
  for (const auto& [topic, dir_name] : deleted) {
    auto it = catalog.find(topic);
    if (it != catalog.end()) {
      // The deletion renamed some directories and crashed before the catalog changed. It was
      // asked for: finish it -- but only when the renamed directory's own partition file names
      // this very topic (its id). A missing directory proves nothing: a renamed directory of an
      // earlier topic of this name, beside a lost one, must not take the current topic with it.
      auto renamed = LoadPartitionMeta(fs, io::JoinPath(dir, dir_name));
      const bool same_topic = renamed && !it->second.id.empty() && renamed->topic == topic &&
                              renamed->topic_id == it->second.id;
      if (same_topic) {
        for (auto& d : plan.dirs) {
          auto parsed = ParsePartitionDirName(d.name);
          if (d.fate == Fate::kListed && parsed && parsed->topic == topic) {
            d.fate = Fate::kRemoved;
            d.why = "a partition of topic '" + topic + "', whose deletion was interrupted: removed";
          }
        }
        catalog.erase(it);
        changed = true;
        plan.changes.push_back("finished the deletion of topic '" + topic +
                               "' that was interrupted");
      }
    }
    plan.dirs.push_back(
        {dir_name, Fate::kRemoved,
         "renamed by a deletion of topic '" + topic + "' that did not finish: removed"});
  }
  for (auto& [topic, partitions] : found) {
    auto [it, added] = catalog.try_emplace(topic);
    TopicInfo& info = it->second;
    if (added) {
      info.name = topic;
      info.config = default_config;
      for (const auto& [p, meta] : partitions) {
        if (meta) {
          info.config = meta->config;
          info.id = meta->topic_id;
          break;
        }
      }
      if (info.id.empty()) info.id = NewTopicId();
    }
    const int32_t before = added ? 0 : info.partitions;
    info.partitions = std::max(info.partitions, partitions.rbegin()->first + 1);
    // The partition files say how many partitions the topic was created with (partition counts
    // only grow: the largest wins). A creation interrupted before the catalog named the topic
    // leaves only some directories; the topic is adopted with its whole count all the same.
    for (const auto& [p, meta] : partitions) {
      if (meta && meta->topic_id == info.id) {
        info.partitions = std::max(info.partitions, meta->topic_partitions);
      }
    }
    // Partitions without a directory stay missing: offline, never created here. Creating them
    // empty would be harmless after an interrupted creation (nothing was ever acknowledged in a
    // topic the catalog never named), but the same picture -- a topic the catalog does not name,
    // some of its directories missing -- is also what a lost or restored-from-backup catalog
    // beside a lost directory looks like, where an empty log would silently stand in for
    // acknowledged data. `sluice repair --execute --recreate-missing` creates them on request.
    std::string missing;
    for (int32_t p = before; p < info.partitions; ++p) {
      if (partitions.count(p) == 0) missing += " " + std::to_string(p);
    }
    plan.changes.push_back((added ? "adopted topic '" : "extended topic '") + topic + "' to " +
                           std::to_string(info.partitions) + " partition(s) from its directories" +
                           (missing.empty()
                                ? ""
                                : "; partitions missing (offline; `sluice repair --execute "
                                  "--recreate-missing` creates them empty):" +
                                      missing));
    changed = true;
  }
  plan.save = changed;
  return plan;
}

}  // namespace sluice::engine

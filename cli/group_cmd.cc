// sluice group list | describe | reset-offsets | delete: committed consumer-group offsets.

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "cli/commands.h"
#include "engine/group_offsets.h"
#include "segment/base/time_text.h"

namespace sluice::cli {
namespace {

using base::Offset;
using nlohmann::json;

// "150ms", "3.2s", "4m05s", "2h03m", "3d04h".
std::string HumanDuration(int64_t ms) {
  char buf[48];
  const long long s = ms / 1000;
  if (ms < 1000) {
    std::snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  }
  return buf;
}

int List(Context& ctx) {
  Backend* b = ctx.OpenBackendToInspect();
  if (b == nullptr) return ctx.exit_code;
  auto groups = b->ListGroups();
  if (!groups) return ctx.Fail(groups.error());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const GroupSummary& g : *groups) {
    std::string names;
    for (const auto& t : g.topics) names += (names.empty() ? "" : ",") + t;
    out.push_back({{"group", g.group}, {"topics", g.topics}, {"partitions", g.partitions}});
    rows.push_back({g.group, names, std::to_string(g.partitions)});
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(out);
  } else {
    PrintTable({"GROUP", "TOPICS", "PARTITIONS"}, rows);
  }
  return kExitOk;
}

std::string AssignmentText(const std::vector<std::pair<std::string, int32_t>>& assignment) {
  // "t:0,1 u:2"
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& [topic, p] : assignment) by_topic[topic].push_back(p);
  std::string out;
  for (auto& [topic, parts] : by_topic) {
    std::sort(parts.begin(), parts.end());
    out += (out.empty() ? "" : " ") + topic + ":";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + std::to_string(parts[i]);
  }
  return out.empty() ? "-" : out;
}

json MembersJson(const GroupState& st) {
  json members = json::array();
  for (const auto& m : st.members) {
    json assignment = json::array();
    for (const auto& [topic, p] : m.assignment) {
      assignment.push_back({{"topic", topic}, {"partition", p}});
    }
    members.push_back({{"member_id", m.member_id},
                       {"client_id", m.client_id},
                       {"host", m.host},
                       {"assignment", assignment}});
  }
  return members;
}

// --state: one line as kafka-consumer-groups --describe --state prints it.
int DescribeState(Context& ctx, Backend& b, const std::string& group) {
  auto st = b.DescribeGroupState(group);
  if (!st) return ctx.Fail(st.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"group", group},
               {"state", st->state},
               {"assignor", st->assignor},
               {"members", st->members.size()}});
    return kExitOk;
  }
  PrintTable({"GROUP", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"},
             {{group, st->assignor.empty() ? "-" : st->assignor, st->state,
               std::to_string(st->members.size())}});
  return kExitOk;
}

// --members: one row per member, as kafka-consumer-groups --describe --members --verbose.
int DescribeMembers(Context& ctx, Backend& b, const std::string& group) {
  auto st = b.DescribeGroupState(group);
  if (!st) return ctx.Fail(st.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"group", group}, {"state", st->state}, {"members", MembersJson(*st)}});
    return kExitOk;
  }
  if (st->members.empty()) {
    std::printf("group %s has no active members (state %s)\n", group.c_str(), st->state.c_str());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : st->members) {
    rows.push_back({group, m.member_id, m.host, m.client_id, std::to_string(m.assignment.size()),
                    AssignmentText(m.assignment)});
  }
  PrintTable({"GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"}, rows);
  return kExitOk;
}

int Describe(Context& ctx, const std::string& group, bool members, bool state) {
  if (members && state)
    return ctx.Usage("group describe: --members and --state exclude each other");
  Backend* b = ctx.OpenBackendToInspect();
  if (b == nullptr) return ctx.exit_code;
  if (state) return DescribeState(ctx, *b, group);
  if (members) return DescribeMembers(ctx, *b, group);
  auto status = b->DescribeGroup(group);
  if (!status) return ctx.Fail(status.error());
  json parts = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const GroupPartitionLag& s : *status) {
    // A partition whose topic was deleted after the commit has no end offset or lag.
    const bool exists = s.topic_exists;
    json lag_ms = s.lag_ms ? json(*s.lag_ms) : json(nullptr);
    json entry = {{"topic", s.topic},
                  {"partition", s.partition},
                  {"committed_offset", s.committed.value()},
                  {"log_start_offset", exists ? json(s.log_start_offset.value()) : json()},
                  {"end_offset", exists ? json(s.end_offset.value()) : json()},
                  {"lag_records", exists ? json(s.lag_records) : json()},
                  {"lag_ms", lag_ms},
                  {"metadata", s.metadata}};
    // The time of a commit is known only to the embedded engine (OffsetFetch does not carry it).
    if (s.commit_time_ms) entry["commit_time"] = FormatTime(*s.commit_time_ms);
    parts.push_back(std::move(entry));
    rows.push_back({s.topic, std::to_string(s.partition), std::to_string(s.committed.value()),
                    exists ? std::to_string(s.end_offset.value()) : "-",
                    exists ? std::to_string(s.lag_records) : "-",
                    s.lag_ms ? HumanDuration(*s.lag_ms) : "-", s.metadata});
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"group", group}, {"partitions", parts}});
    return kExitOk;
  }
  std::printf("GROUP %s\n\n", group.c_str());
  PrintTable({"TOPIC", "PARTITION", "COMMITTED", "END-OFFSET", "LAG", "LAG-TIME", "METADATA"},
             rows);
  return kExitOk;
}

// kafka-consumer-groups --reset-offsets: a plan for the chosen partitions, applied only with
// --execute, and only while the group has no members.
struct ResetArgs {
  std::string group;
  std::vector<std::string> topics;  // T or T:0,2
  bool all_topics = false;
  bool to_earliest = false;
  bool to_latest = false;
  bool to_current = false;
  int64_t to_offset = 0;
  bool to_offset_given = false;
  std::string to_datetime;
  std::string by_duration;
  int64_t shift_by = 0;
  bool shift_by_given = false;
  bool execute = false;
  bool dry_run = false;
};

struct ResetEntry {
  std::string topic;
  int32_t partition = 0;
  std::optional<engine::CommittedOffset> current;
  Offset target;
};

// Parses "T" or "T:0,1,2" into the topic and its partitions (empty: all).
std::optional<std::pair<std::string, std::vector<int32_t>>> ParseTopicSpec(const std::string& s) {
  const size_t colon = s.find(':');
  std::pair<std::string, std::vector<int32_t>> out{s.substr(0, colon), {}};
  if (out.first.empty()) return std::nullopt;
  if (colon == std::string::npos) return out;
  std::string rest = s.substr(colon + 1);
  if (rest.empty()) return std::nullopt;
  size_t pos = 0;
  while (pos <= rest.size()) {
    const size_t comma = std::min(rest.find(',', pos), rest.size());
    const std::string n = rest.substr(pos, comma - pos);
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    out.second.push_back(std::stoi(n));
    pos = comma + 1;
  }
  return out;
}

int Reset(Context& ctx, const ResetArgs& a) {
  const int targets = (a.to_earliest ? 1 : 0) + (a.to_latest ? 1 : 0) + (a.to_current ? 1 : 0) +
                      (a.to_offset_given ? 1 : 0) + (a.to_datetime.empty() ? 0 : 1) +
                      (a.by_duration.empty() ? 0 : 1) + (a.shift_by_given ? 1 : 0);
  if (targets != 1) {
    return ctx.Usage(
        "group reset-offsets: give exactly one of --to-earliest, --to-latest, --to-current, "
        "--to-offset N, --to-datetime T, --by-duration D, --shift-by N");
  }
  if (a.all_topics == !a.topics.empty()) {
    return ctx.Usage(
        "group reset-offsets: give --topic T[:PARTITIONS] (repeatable) or --all-topics");
  }
  if (a.execute && a.dry_run) return ctx.Usage("--execute and --dry-run exclude each other");
  if (a.group.empty()) return ctx.Usage("group reset-offsets: empty group id");
  std::optional<int64_t> timestamp;
  if (!a.to_datetime.empty()) {
    timestamp = ParseTime(a.to_datetime);
    if (!timestamp) {
      return ctx.Usage("--to-datetime: bad time '" + a.to_datetime + "' (" + base::kTimeFormsHelp +
                       ")");
    }
  }
  if (!a.by_duration.empty()) {
    auto d = base::ParseDurationMs(a.by_duration);
    if (!d) return ctx.Usage("--by-duration: " + d.error().context);
    timestamp = *ParseTime("now") - *d;
  }
  std::vector<std::pair<std::string, std::vector<int32_t>>> specs;
  for (const auto& t : a.topics) {
    auto spec = ParseTopicSpec(t);
    if (!spec) return ctx.Usage("--topic: want TOPIC or TOPIC:0,1,2, got '" + t + "'");
    specs.push_back(std::move(*spec));
  }

  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  // As Kafka: offsets of a group with members are theirs; refuse even the dry run.
  auto state = b->DescribeGroupState(a.group);
  if (!state) return ctx.Fail(state.error());
  if (!state->members.empty() || (state->state != "Empty" && state->state != "Dead")) {
    return ctx.Fail("group " + a.group + " is not inactive (state " + state->state + ", " +
                    std::to_string(state->members.size()) +
                    " members): offsets can be reset only while no consumer is in the group");
  }
  if (a.all_topics) {
    auto described = b->DescribeGroup(a.group);
    if (!described) return ctx.Fail(described.error());
    std::set<std::string> topics;
    for (const auto& p : *described) {
      if (p.topic_exists) topics.insert(p.topic);
    }
    for (const auto& t : topics) specs.push_back({t, {}});
  }

  std::vector<ResetEntry> plan;
  for (const auto& [topic, only] : specs) {
    auto parts = b->Partitions(topic);
    if (!parts) return ctx.Fail(parts.error());
    auto committed = b->FetchCommitted(a.group, topic);
    if (!committed) return ctx.Fail(committed.error());
    std::vector<int32_t> chosen = only;
    if (chosen.empty()) {
      for (const auto& p : *parts) chosen.push_back(p.partition);
    }
    for (int32_t p : chosen) {
      if (p < 0 || static_cast<size_t>(p) >= parts->size()) {
        return ctx.Usage("--topic " + topic + ": no partition " + std::to_string(p) + " (it has " +
                         std::to_string(parts->size()) + ")");
      }
      const PartitionSummary& ps = (*parts)[static_cast<size_t>(p)];
      if (ps.offline) {
        return ctx.Fail(topic + "-" + std::to_string(p) + " is offline: " + *ps.offline);
      }
      ResetEntry e;
      e.topic = topic;
      e.partition = p;
      if (auto c = committed->find(p); c != committed->end()) e.current = c->second;
      if (a.to_earliest) {
        e.target = ps.log_start_offset;
      } else if (a.to_latest) {
        e.target = ps.high_watermark;
      } else if (a.to_offset_given) {
        e.target = Offset(a.to_offset);
      } else if (a.to_current || a.shift_by_given) {
        if (!e.current) {
          return ctx.Fail(topic + "-" + std::to_string(p) + ": group " + a.group +
                          " has no committed offset to " + (a.to_current ? "keep" : "shift") +
                          " (choose partitions with --topic " + topic + ":...)");
        }
        int64_t shifted = 0;
        if (__builtin_add_overflow(e.current->offset.value(), a.shift_by, &shifted)) {
          shifted = a.shift_by < 0 ? 0 : std::numeric_limits<int64_t>::max();
        }
        e.target = a.to_current ? e.current->offset : Offset(shifted);
      } else {
        auto found = b->OffsetForTimestamp(topic, p, *timestamp);
        if (!found) return ctx.Fail(found.error());
        e.target = found->value_or(ps.high_watermark);
      }
      // As Kafka: a target outside the log moves to its nearest end.
      e.target = std::clamp(e.target, ps.log_start_offset, ps.high_watermark);
      plan.push_back(std::move(e));
    }
  }
  if (a.execute && !plan.empty()) {
    std::vector<engine::OffsetCommit> commits;
    for (const auto& e : plan) {
      commits.push_back({e.topic, e.partition, e.target, e.current ? e.current->metadata : ""});
    }
    if (auto st = b->Commit(a.group, commits); !st) return ctx.Fail(st.error());
  }
  if (ctx.format() == OutputFormat::kJson) {
    json entries = json::array();
    for (const auto& e : plan) {
      entries.push_back({{"topic", e.topic},
                         {"partition", e.partition},
                         {"current", e.current ? json(e.current->offset.value()) : json()},
                         {"target", e.target.value()}});
    }
    PrintJson({{"group", a.group},
               {"dry_run", !a.execute},
               {"changed", a.execute},
               {"state", state->state},
               {"plan", entries}});
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : plan) {
    rows.push_back({a.group, e.topic, std::to_string(e.partition),
                    e.current ? std::to_string(e.current->offset.value()) : "-",
                    std::to_string(e.target.value())});
  }
  PrintTable({"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"}, rows);
  if (!a.execute) {
    std::printf("\ndry run: nothing was changed (add --execute to apply)\n");
  } else {
    std::printf("\nreset offsets of group %s on %zu partition%s\n", a.group.c_str(), plan.size(),
                plan.size() == 1 ? "" : "s");
  }
  return kExitOk;
}

int Delete(Context& ctx, const std::string& group) {
  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  if (auto s = b->DeleteGroup(group); !s) return ctx.Fail(s.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"group", group}, {"deleted", true}});
  } else {
    std::printf("deleted group %s\n", group.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddGroupCommands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("group", "List, describe, reset and delete consumer groups");
  group->fallthrough();  // global flags may follow; subcommands inherit this
  group->require_subcommand(1, 1);

  CLI::App* list = group->add_subcommand("list", "List groups with committed offsets");
  list->callback([&ctx] { ctx.exit_code = List(ctx); });

  struct DescribeArgs {
    std::string group;
    bool members = false;
    bool state = false;
  };
  auto d = std::make_shared<DescribeArgs>();
  CLI::App* describe = group->add_subcommand(
      "describe", "Per partition: committed offset, end offset, lag in records and in time");
  describe->add_option("group", d->group, "Group id")->required();
  describe->add_flag("--members", d->members,
                     "The group's active members and their assigned partitions");
  describe->add_flag("--state", d->state, "The group's state, assignor and member count");
  describe->callback([&ctx, d] { ctx.exit_code = Describe(ctx, d->group, d->members, d->state); });

  auto r = std::make_shared<ResetArgs>();
  CLI::App* reset = group->add_subcommand(
      "reset-offsets",
      "Plan moving a group's offsets (as kafka-consumer-groups); --execute applies the plan");
  reset->add_option("group", r->group, "Group id")->required();
  reset
      ->add_option("--topic", r->topics,
                   "TOPIC or TOPIC:0,1,2 (repeatable): the partitions to reset (default all)")
      ->allow_extra_args(false);
  reset->add_flag("--all-topics", r->all_topics, "Every topic the group has offsets for");
  reset->add_flag("--to-earliest", r->to_earliest, "To the oldest record");
  reset->add_flag("--to-latest", r->to_latest, "To the end (skip everything)");
  reset->add_flag("--to-current", r->to_current, "Keep the committed offsets");
  auto* to_offset =
      reset->add_option("--to-offset", r->to_offset, "To this offset (clamped to the log)")
          ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()))
          ->default_str("");
  reset->add_option("--to-datetime,--to-time", r->to_datetime,
                    "To the first record at or after this time: -1h, -15m, ISO-8601, epoch ms");
  reset->add_option("--by-duration", r->by_duration,
                    "To the first record at or after now minus this (15m, 1h30m, PT15M)");
  auto* shift_by = reset
                       ->add_option("--shift-by", r->shift_by,
                                    "Move the committed offsets by N (negative: back)")
                       ->default_str("");
  reset->add_flag("--execute", r->execute, "Apply the plan (without it, only print it)");
  reset->add_flag("--dry-run", r->dry_run, "Only print the plan (the default)");
  reset->callback([&ctx, r, to_offset, shift_by] {
    r->to_offset_given = to_offset->count() > 0;
    r->shift_by_given = shift_by->count() > 0;
    ctx.exit_code = Reset(ctx, *r);
  });

  auto del = std::make_shared<std::string>();
  CLI::App* remove = group->add_subcommand("delete", "Delete every committed offset of a group");
  remove->add_option("group", *del, "Group id")->required();
  remove->callback([&ctx, del] { ctx.exit_code = Delete(ctx, *del); });
}

}  // namespace sluice::cli

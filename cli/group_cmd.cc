// sluice group list | describe | reset-offsets | delete: committed consumer-group offsets.

#include <cstdio>

#include "cli/commands.h"
#include "engine/group_offsets.h"

namespace sluice::cli {
namespace {

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
  Backend* b = ctx.OpenBackend();
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

int Describe(Context& ctx, const std::string& group) {
  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
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

struct ResetArgs {
  std::string group;
  std::string topic;
  bool to_earliest = false;
  bool to_latest = false;
  int64_t to_offset = -1;
  std::string to_time;
  bool dry_run = false;
};

int Reset(Context& ctx, const ResetArgs& a) {
  const int targets = (a.to_earliest ? 1 : 0) + (a.to_latest ? 1 : 0) + (a.to_offset >= 0 ? 1 : 0) +
                      (a.to_time.empty() ? 0 : 1);
  if (targets != 1) {
    return ctx.Usage(
        "group reset-offsets: give exactly one of --to-earliest, --to-latest, "
        "--to-offset N, --to-time T");
  }
  engine::ResetTarget target = engine::ResetTarget::Earliest();
  if (a.to_latest) target = engine::ResetTarget::Latest();
  if (a.to_offset >= 0) target = engine::ResetTarget::ToOffset(a.to_offset);
  if (!a.to_time.empty()) {
    auto t = ParseTime(a.to_time);
    if (!t) {
      return ctx.Usage("--to-time: bad time '" + a.to_time +
                       "' (want ISO-8601 such as 2026-11-23T10:00:00Z, or epoch milliseconds)");
    }
    target = engine::ResetTarget::ToTimestamp(*t);
  }
  if (a.group.empty()) return ctx.Usage("group reset-offsets: empty group id");
  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  const engine::DryRun dry = a.dry_run ? engine::DryRun::kYes : engine::DryRun::kNo;
  auto plan = b->ResetOffsets(a.group, a.topic, target, dry);
  if (!plan) return ctx.Fail(plan.error());
  if (ctx.format() == OutputFormat::kJson) {
    json entries = json::array();
    for (const auto& p : *plan) {
      entries.push_back({{"topic", p.topic},
                         {"partition", p.partition},
                         {"current", p.current ? json(p.current->value()) : json()},
                         {"target", p.target.value()}});
    }
    PrintJson({{"group", a.group},
               {"topic", a.topic},
               {"dry_run", a.dry_run},
               {"changed", !a.dry_run},
               {"plan", entries}});
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : *plan) {
    rows.push_back({p.topic, std::to_string(p.partition),
                    p.current ? std::to_string(p.current->value()) : "-",
                    std::to_string(p.target.value())});
  }
  PrintTable({"TOPIC", "PARTITION", "CURRENT", "TARGET"}, rows);
  if (a.dry_run) {
    std::printf("\ndry run: nothing was changed\n");
  } else {
    std::printf("\nreset offsets of group %s on %zu partition%s of %s\n", a.group.c_str(),
                plan->size(), plan->size() == 1 ? "" : "s", a.topic.c_str());
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

  auto name = std::make_shared<std::string>();
  CLI::App* describe = group->add_subcommand(
      "describe", "Per partition: committed offset, end offset, lag in records and in time");
  describe->add_option("group", *name, "Group id")->required();
  describe->callback([&ctx, name] { ctx.exit_code = Describe(ctx, *name); });

  auto r = std::make_shared<ResetArgs>();
  CLI::App* reset = group->add_subcommand(
      "reset-offsets", "Move a group's offsets for every partition of a topic (prints the plan)");
  reset->add_option("group", r->group, "Group id")->required();
  reset->add_option("--topic", r->topic, "Topic whose partitions to reset")->required();
  reset->add_flag("--to-earliest", r->to_earliest, "To the oldest record");
  reset->add_flag("--to-latest", r->to_latest, "To the end (skip everything)");
  reset->add_option("--to-offset", r->to_offset, "To this offset (clamped to the log)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()))
      ->default_str("");  // -1 means "not given": do not show it
  reset->add_option("--to-time", r->to_time,
                    "To the first record at or after this time (ISO-8601 or epoch ms)");
  reset->add_flag("--dry-run", r->dry_run, "Only print the plan; change nothing");
  reset->callback([&ctx, r] { ctx.exit_code = Reset(ctx, *r); });

  auto del = std::make_shared<std::string>();
  CLI::App* remove = group->add_subcommand("delete", "Delete every committed offset of a group");
  remove->add_option("group", *del, "Group id")->required();
  remove->callback([&ctx, del] { ctx.exit_code = Delete(ctx, *del); });
}

}  // namespace sluice::cli

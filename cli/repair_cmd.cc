// sluice repair [TOPIC] [--execute] [--recreate-missing]: brings a damaged data directory back to
// one that opens whole (engine/repair.h). Without --execute it changes nothing and says what it
// would do.

#include <cinttypes>

#include "cli/commands.h"
#include "cli/inspection_output.h"
#include "engine/repair.h"
#include "segment/io/posix_fs.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

struct RepairArgs {
  std::string topic;
  bool execute = false;
  bool recreate_missing = false;
};

std::string Lost(const engine::RepairAction& a) {
  std::string out = "offsets [" + std::to_string(a.lost->first.value()) + ", " +
                    std::to_string(a.lost->second.value()) + ") are lost";
  if (a.more_may_be_lost) out += ", and any later ones the bytes kept aside hold";
  return out;
}

std::string RecoveryText(const segment::RecoveryReport& r) {
  if (!r.truncated) {
    return "checked " + r.path + " from byte " + std::to_string(r.scanned_from.value()) + " (" +
           std::to_string(r.scanned_bytes) + " bytes): nothing cut";
  }
  return "truncated " + r.path + " at byte " + std::to_string(r.truncated_at.value()) +
         " (a torn write): offset " + std::to_string(r.first_lost_offset.value()) + " on, " +
         std::to_string(r.dropped_bytes) + " bytes, dropped: " + r.reason;
}

json ReportJson(const engine::RepairReport& report) {
  const bool executed = report.mode == engine::RepairMode::kExecute;
  json actions = json::array();
  for (const auto& a : report.actions) {
    json ja = {{"target", a.target}, {"problem", a.problem}, {"steps", a.steps}};
    if (a.lost) {
      ja["lost_from"] = a.lost->first.value();
      ja["lost_to"] = a.lost->second.value();
      ja["more_may_be_lost"] = a.more_may_be_lost;
    }
    if (!a.skipped.empty()) ja["skipped"] = a.skipped;
    actions.push_back(std::move(ja));
  }
  json out = {{"executed", executed}, {"data_dir", report.before.data_dir}, {"actions", actions}};
  if (!executed) {
    json open = json::array();
    for (const engine::Finding* f : FindingsFrom(report.before, engine::Verdict::kOpenRepairs)) {
      if (f->verdict == engine::Verdict::kOpenRepairs) open.push_back(FindingJson(*f));
    }
    out["open_would"] = open;
    return out;
  }
  json recovery = json::array();
  for (const auto& r : report.recovery_reports) {
    json jr = {{"path", r.path},
               {"scanned_from", r.scanned_from.value()},
               {"scanned_bytes", r.scanned_bytes},
               {"truncated", r.truncated}};
    if (r.truncated) {
      jr["truncated_at"] = r.truncated_at.value();
      jr["first_lost_offset"] = r.first_lost_offset.value();
      jr["dropped_bytes"] = r.dropped_bytes;
      jr["reason"] = r.reason;
    }
    recovery.push_back(std::move(jr));
  }
  json offline = json::array();
  for (const auto& [name, error] : report.still_offline) {
    offline.push_back({{"partition", name}, {"error", error.ToString()}});
  }
  json remaining = json::array();
  for (const engine::Finding* f : FindingsFrom(*report.after, engine::Verdict::kDamaged)) {
    remaining.push_back(FindingJson(*f));
  }
  out["catalog_changes"] = report.catalog_changes;
  out["recovery"] = recovery;
  out["still_offline"] = offline;
  out["healthy"] = report.after->healthy();
  out["remaining"] = remaining;
  return out;
}

void PrintReport(const engine::RepairReport& report) {
  const bool executed = report.mode == engine::RepairMode::kExecute;
  if (!executed) {
    std::printf("repair: dry run, nothing is changed (add --execute to do it)\n");
  }
  for (const auto& a : report.actions) {
    std::printf("%s: %s\n", a.target.c_str(), a.problem.c_str());
    if (!a.skipped.empty()) std::printf("  left alone: %s\n", a.skipped.c_str());
    for (const auto& step : a.steps) {
      std::printf("  %s %s\n", executed ? "done:" : "would:", step.c_str());
    }
    if (a.lost) std::printf("  %s\n", Lost(a).c_str());
  }
  if (!executed) {
    auto open = FindingsFrom(report.before, engine::Verdict::kOpenRepairs);
    bool header = false;
    for (const engine::Finding* f : open) {
      if (f->verdict != engine::Verdict::kOpenRepairs) continue;
      if (!header) std::printf("then opening the data directory would repair by itself:\n");
      header = true;
      std::fputs(FindingText(*f).c_str(), stdout);
    }
    if (report.actions.empty() && !header) {
      std::printf("repair: nothing to do; the data directory is healthy\n");
    }
    return;
  }
  for (const auto& change : report.catalog_changes) std::printf("open: %s\n", change.c_str());
  for (const auto& r : report.recovery_reports) {
    std::printf("open: %s\n", RecoveryText(r).c_str());
  }
  for (const auto& [name, error] : report.still_offline) {
    std::printf("open: still offline: %s\n", error.ToString().c_str());
  }
  if (report.after->healthy()) {
    std::printf("repair: done; the data directory is healthy (`sluice verify` exits 0)\n");
  } else {
    std::printf("repair: done, but some things need you:\n");
    for (const engine::Finding* f : FindingsFrom(*report.after, engine::Verdict::kDamaged)) {
      std::fputs(FindingText(*f).c_str(), stdout);
    }
  }
}

int Repair(Context& ctx, const RepairArgs& args) {
  io::PosixFs fs;
  engine::RepairOptions o;
  o.data_dir = ctx.data_dir;
  o.only_topic = args.topic;
  o.mode = args.execute ? engine::RepairMode::kExecute : engine::RepairMode::kDryRun;
  o.recreate_missing =
      args.recreate_missing ? engine::RecreateMissing::kYes : engine::RecreateMissing::kNo;
  o.fs = &fs;
  auto report = engine::Repair(o);
  if (!report) return ctx.Fail(report.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(ReportJson(*report));
  } else {
    PrintReport(*report);
  }
  if (!args.execute) return kExitOk;
  return report->after->healthy() ? kExitOk : kExitFailure;
}

}  // namespace

void AddRepairCommand(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RepairArgs>();
  CLI::App* repair = app.add_subcommand(
      "repair",
      "Bring a damaged data directory back (what `verify` reports): shows what it would do; "
      "--execute does it, keeping every damaged byte aside");
  repair->add_option("topic", args->topic, "Only this topic's partitions (default: all)");
  repair->add_flag("--execute", args->execute,
                   "Do it: cut offline partitions at their last good batch (the bytes cut are "
                   "kept in .quarantine-<ms> files), then open and close the data directory once. "
                   "Refused while another process (sluice serve) has it open");
  repair->add_flag("--recreate-missing", args->recreate_missing,
                   "Also recreate partitions whose data is all gone, empty: their offsets restart "
                   "at 0");
  repair->callback([&ctx, args] {
    if (ctx.RejectRemote("repair", "it works on the data directory's files; run it there")) {
      return;
    }
    ctx.exit_code = Repair(ctx, *args);
  });
}

}  // namespace sluice::cli

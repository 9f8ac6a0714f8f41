#include "cli/inspection_output.h"

namespace sluice::cli {

using engine::Verdict;
using nlohmann::json;

namespace {

std::string SourceName(engine::CatalogPlan::Source source) {
  using Source = engine::CatalogPlan::Source;
  switch (source) {
    case Source::kCurrent:
      return "current";
    case Source::kLegacy:
      return "legacy";
    case Source::kMissing:
      return "missing";
    case Source::kDamaged:
      return "damaged";
    case Source::kNewer:
      return "newer";
  }
  return "?";
}

}  // namespace

json FindingJson(const engine::Finding& f) {
  json out = {{"state", std::string(engine::VerdictName(f.verdict))},
              {"path", f.path},
              {"what", f.what},
              {"action", f.action}};
  if (f.position) out["position"] = *f.position;
  return out;
}

std::string FindingText(const engine::Finding& f) {
  std::string line = std::string(engine::VerdictName(f.verdict));
  line.resize(std::max<size_t>(line.size() + 1, 13), ' ');
  line += f.path;
  if (f.position) line += " at byte " + std::to_string(*f.position);
  line += ": " + f.what + "\n";
  // Notes change nothing: what they are is enough.
  if (!f.action.empty() && f.verdict != Verdict::kNote) {
    line += std::string(13, ' ') + "-> " + f.action + "\n";
  }
  return line;
}

std::vector<const engine::Finding*> FindingsFrom(const engine::DataDirInspection& inspection,
                                                 Verdict at_least) {
  std::vector<const engine::Finding*> out;
  for (const auto& f : inspection.findings) {
    if (f.verdict >= at_least) out.push_back(&f);
  }
  for (const auto& part : inspection.partitions) {
    for (const auto& f : part.findings) {
      if (f.verdict >= at_least) out.push_back(&f);
    }
  }
  return out;
}

json InspectionJson(const engine::DataDirInspection& in) {
  json partitions = json::array();
  for (const auto& part : in.partitions) {
    json jp = {{"topic", part.topic},
               {"partition", part.partition},
               {"state", std::string(engine::VerdictName(part.verdict))},
               {"ok", part.verdict <= Verdict::kNote}};
    if (part.segments) {
      const auto& r = *part.segments;
      json problems = json::array();
      for (const auto& pr : r.problems) {
        problems.push_back({{"file", pr.file},
                            {"position", pr.position},
                            {"offset", pr.offset},
                            {"problem", pr.what}});
      }
      jp["segments"] = r.segments;
      jp["batches"] = r.frames;
      jp["records"] = r.records;
      jp["start_offset"] = r.start_offset.value();
      jp["end_offset"] = r.next_offset.value();
      jp["problems"] = problems;
    }
    if (part.recovery_point) {
      jp["recovery_point"] = {{"segment", part.recovery_point->segment_base.value()},
                              {"position", part.recovery_point->tail.end.value()},
                              {"next_offset", part.recovery_point->tail.next_offset.value()}};
    }
    if (part.cut) {
      const auto& segs = part.segments->segment_reports;
      jp["repair"] = {{"cut_file", segs[part.cut->segment].path},
                      {"keep_bytes", part.cut->keep_bytes},
                      {"segments_moved_aside", segs.size() - 1 - part.cut->segment},
                      {"lost_from", part.cut->lost_from.value()},
                      {"lost_to", part.cut->lost_to.value()},
                      {"more_may_be_lost", part.cut->more_may_be_lost}};
    } else if (part.needs_recreate) {
      jp["repair"] = {{"recreate", true}};
    }
    json findings = json::array();
    for (const auto& f : part.findings) findings.push_back(FindingJson(f));
    jp["findings"] = findings;
    partitions.push_back(std::move(jp));
  }
  json findings = json::array();
  for (const auto& f : in.findings) findings.push_back(FindingJson(f));
  return {{"ok", in.healthy()},
          {"state", std::string(engine::VerdictName(in.verdict))},
          {"data_dir", in.data_dir},
          {"clean_shutdown", in.clean_shutdown},
          {"catalog",
           {{"source", SourceName(in.catalog.source)}, {"topics", in.catalog.catalog.size()}}},
          {"partitions", partitions},
          {"findings", findings}};
}

}  // namespace sluice::cli

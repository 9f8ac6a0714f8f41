#pragma once

// How `sluice verify` and `sluice repair` show an inspection of a data directory
// (engine/inspect.h): as JSON, and as lines for people.

#include <nlohmann/json.hpp>
#include <string>

#include "engine/inspect.h"

namespace sluice::cli {

nlohmann::json FindingJson(const engine::Finding& finding);
nlohmann::json InspectionJson(const engine::DataDirInspection& inspection);

// "offline  /d/ev-0/...log at byte 12: what\n         -> action\n"
std::string FindingText(const engine::Finding& finding);

// Every finding of the inspection worse than `at_least`, data directory first, then partitions.
std::vector<const engine::Finding*> FindingsFrom(const engine::DataDirInspection& inspection,
                                                 engine::Verdict at_least);

}  // namespace sluice::cli

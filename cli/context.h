#pragma once

// What every subcommand shares: global flags, the output format, and the engine, opened on first
// use. A command returns its exit code: 0 success, 1 failure (message already printed), 2 usage.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/engine.h"

namespace sluice::cli {

using base::Result;
using base::Status;

enum class OutputFormat : uint8_t { kTable, kJson };

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class Context {
 public:
  std::string data_dir = "./sluice-data";
  std::string broker;  // HOST:PORT for remote mode; empty = embedded
  std::string output = "table";
  int exit_code = kExitOk;

  OutputFormat format() const {
    return output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  }

  // The embedded engine on `data_dir` (opened once). On failure prints the error and returns null.
  engine::Engine* Engine();
  // Closes the engine cleanly if it was opened; prints an error and returns false on failure.
  bool CloseEngine();

  // Prints "sluice: <message>" on stderr and returns kExitFailure.
  int Fail(const std::string& message) const;
  int Fail(const base::Error& error) const { return Fail(error.ToString()); }
  // Prints "sluice: <message>" on stderr and returns kExitUsage.
  int Usage(const std::string& message) const;
  // Fails with a clear message when --broker was given to a command that has no remote mode yet.
  bool RejectRemote(const std::string& command);

 private:
  std::unique_ptr<engine::Engine> engine_;
};

// Output helpers.
void PrintJson(const nlohmann::json& value);
// A table with a header row; columns are left-aligned and padded to their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// "1.5 MiB", "12 KiB", "512 B".
std::string HumanBytes(uint64_t bytes);
// Parses ISO-8601 ("2026-11-23T10:00:00Z", fractional seconds and offsets allowed) or epoch
// milliseconds; nullopt if neither.
std::optional<int64_t> ParseTime(const std::string& text);
// "2026-11-23T10:00:00.123Z".
std::string FormatTime(int64_t epoch_ms);

}  // namespace sluice::cli

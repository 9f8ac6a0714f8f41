#pragma once

// What every subcommand shares: global flags, the output format, and the engine or the backend
// (embedded on --data-dir, or remote with --broker), opened on first use. A command returns its
// exit code: 0 success, 1 failure (message already printed), 2 usage.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/backend.h"
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
  std::string broker;           // HOST:PORT for remote mode; empty = embedded
  bool data_dir_given = false;  // --data-dir was on the command line (not from the environment)
  // Where `broker` came from, for messages: "--broker", "SLUICE_BROKER" or "profile NAME".
  std::string broker_source = "--broker";
  std::string client_debug;  // librdkafka debug contexts (-vv, --client-debug); empty: none
  // librdkafka properties for --broker: a profile's "client", then --client-config FILE, then
  // -X KEY=VALUE (a later one wins). Values may be secrets (sasl.password): never printed.
  std::vector<std::pair<std::string, std::string>> client_properties;
  // The part of client_properties the flags gave (what `profile create` stores).
  std::vector<std::pair<std::string, std::string>> client_properties_from_flags;
  std::string output = "table";
  // --io: the engine's write path (engine::WritePath), for every command that opens an engine.
  engine::WritePath write_path = engine::kDefaultWritePath;
  int exit_code = kExitOk;

  OutputFormat format() const {
    return output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  }
  bool remote() const { return !broker.empty(); }
  // The Kafka client's configuration for --broker: the address, debug contexts and
  // client_properties.
  kafka::ClientConfig Client() const;

  // The embedded engine on `data_dir` (opened once). Only commands that create topics pass
  // CreateIfMissing::kYes: for every other command a missing data directory is an error naming
  // it, not a new empty one. On failure prints the error and returns null. With
  // EngineAccess::kReadOnly (commands that only read: consume without --group, replay) it takes no
  // lock and works beside another process that writes the directory (engine/partition_reader.h).
  engine::Engine* Engine(engine::CreateIfMissing create = engine::CreateIfMissing::kNo,
                         engine::EngineAccess access = engine::EngineAccess::kReadWrite);
  // The backend of the command's data (opened once): the broker with --broker, else the engine on
  // `data_dir` (`create` as for Engine). On failure prints the error, sets `exit_code` (2 for a
  // malformed --broker) and returns null.
  cli::Backend* OpenBackend(engine::CreateIfMissing create = engine::CreateIfMissing::kNo,
                            engine::EngineAccess access = engine::EngineAccess::kReadWrite);
  // For commands that only look (topic list/describe, group list/describe): OpenBackend(), except
  // that when another process (`sluice serve`, `sluice produce`) holds the data directory, the
  // engine opens beside it read-only (EngineAccess::kReadOnly) instead of failing on the lock.
  cli::Backend* OpenBackendToInspect();
  // For commands that read `data_dir` without an engine (verify): prints the same error as
  // Engine() and returns false if the directory does not exist.
  bool DataDirExists() const;
  // Closes the backend and the engine cleanly if they were opened; prints an error and returns
  // false on failure.
  bool CloseEngine();

  // Prints "sluice: <message>" on stderr and returns kExitFailure.
  int Fail(const std::string& message) const;
  int Fail(const base::Error& error) const { return Fail(error.ToString()); }
  // Prints "sluice: <message>" on stderr and returns kExitUsage.
  int Usage(const std::string& message) const;
  // For commands that work only on a data directory: with --broker, prints
  // "<command>: <reason>", sets `exit_code` to kExitUsage and returns true.
  bool RejectRemote(const std::string& command, const std::string& reason);

 private:
  std::unique_ptr<engine::Engine> engine_;
  bool read_only_if_locked_ = false;       // set by OpenBackendToInspect
  std::unique_ptr<cli::Backend> backend_;  // destroyed first: it may borrow engine_
};

// A librdkafka property "KEY=VALUE" (-X): kInvalidArgument if there is no '=' or no key.
Result<std::pair<std::string, std::string>> ParseClientProperty(const std::string& setting);
// A file of them (--client-config), as Kafka's tools read client.properties: KEY=VALUE a line,
// blank lines and lines starting with # or ! skipped, spaces around the key and before the value
// trimmed. Errors name the file and line, never a value.
Result<std::vector<std::pair<std::string, std::string>>> LoadClientProperties(
    const std::string& path);

// Output helpers.
void PrintJson(const nlohmann::json& value);
// A table with a header row; columns are left-aligned and padded to their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// "1.5 MiB", "12 KiB", "512 B".
std::string HumanBytes(uint64_t bytes);
// Parses a time as base::ParseTimePoint does (now, -15m, -1h, now-2d, ISO-8601, epoch ms),
// relative to the system clock; nullopt if malformed (say base::kTimeFormsHelp).
std::optional<int64_t> ParseTime(const std::string& text);
// "2026-11-23T10:00:00.123Z".
std::string FormatTime(int64_t epoch_ms);

}  // namespace sluice::cli

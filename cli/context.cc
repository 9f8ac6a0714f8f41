#include "cli/context.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "segment/base/time_text.h"

namespace sluice::cli {

namespace {

std::string MissingDataDirMessage(const std::string& dir) {
  return "data directory " + dir +
         " does not exist (check --data-dir or SLUICE_DATA_DIR; `sluice topic create` starts a "
         "new one)";
}

}  // namespace

engine::Engine* Context::Engine(engine::CreateIfMissing create, engine::EngineAccess access) {
  if (engine_) return engine_.get();
  if (create == engine::CreateIfMissing::kNo && !DataDirExists()) return nullptr;
  engine::EngineOptions o;
  o.data_dir = data_dir;
  o.create_if_missing = create;
  o.access = access;
  o.write_path = write_path;
  auto opened = engine::Engine::Open(o);
  if (!opened && opened.error().code == base::ErrorCode::kBusy && read_only_if_locked_ &&
      access == engine::EngineAccess::kReadWrite) {
    o.access = engine::EngineAccess::kReadOnly;
    opened = engine::Engine::Open(o);
  }
  if (!opened) {
    Fail(opened.error());
    return nullptr;
  }
  engine_ = std::move(opened).value();
  return engine_.get();
}

Result<std::pair<std::string, std::string>> ParseClientProperty(const std::string& setting) {
  const size_t eq = setting.find('=');
  auto trim = [](std::string s, bool right) {
    const size_t b = s.find_first_not_of(" \t");
    s.erase(0, b == std::string::npos ? s.size() : b);
    if (right) {
      const size_t e = s.find_last_not_of(" \t\r");
      s.erase(e == std::string::npos ? 0 : e + 1);
    }
    return s;
  };
  const std::string key = eq == std::string::npos ? "" : trim(setting.substr(0, eq), true);
  if (key.empty()) {
    return base::MakeError(base::ErrorCode::kInvalidArgument,
                           "expected KEY=VALUE (a librdkafka property such as "
                           "security.protocol=SSL)");
  }
  return std::make_pair(key, trim(setting.substr(eq + 1), false));
}

Result<std::vector<std::pair<std::string, std::string>>> LoadClientProperties(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return base::MakeError(base::ErrorCode::kInvalidArgument,
                           "--client-config " + path + ": cannot be read");
  }
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#' || line[first] == '!') continue;
    if (line.find('=') == std::string::npos) {
      return base::MakeError(
          base::ErrorCode::kInvalidArgument,
          "--client-config " + path + " line " + std::to_string(number) + ": expected KEY=VALUE");
    }
    auto property = ParseClientProperty(line);
    if (!property) {
      return base::MakeError(
          base::ErrorCode::kInvalidArgument,
          "--client-config " + path + " line " + std::to_string(number) + ": expected KEY=VALUE");
    }
    out.push_back(*std::move(property));
  }
  return out;
}

kafka::ClientConfig Context::Client() const {
  kafka::ClientConfig config;
  config.bootstrap = broker;
  config.debug = client_debug;
  config.properties = client_properties;
  return config;
}

bool Context::DataDirExists() const {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec)) return true;
  Fail(ec ? "data directory " + data_dir + ": " + ec.message() : MissingDataDirMessage(data_dir));
  return false;
}

cli::Backend* Context::OpenBackend(engine::CreateIfMissing create, engine::EngineAccess access) {
  if (backend_) return backend_.get();
  if (remote()) {
    auto connected = ConnectRemoteBackend(Client());
    if (!connected && broker_source != "--broker" &&
        connected.error().context.rfind("--broker", 0) == 0) {
      connected = base::MakeError(connected.error().code,
                                  broker_source + connected.error().context.substr(8));
    }
    if (!connected) {
      exit_code = connected.error().code == base::ErrorCode::kInvalidArgument
                      ? Usage(connected.error().context)
                      : Fail(connected.error().context);
      return nullptr;
    }
    backend_ = std::move(connected).value();
    return backend_.get();
  }
  engine::Engine* e = Engine(create, access);
  if (e == nullptr) {
    exit_code = kExitFailure;
    return nullptr;
  }
  backend_ = NewEmbeddedBackend(*e);
  return backend_.get();
}

cli::Backend* Context::OpenBackendToInspect() {
  read_only_if_locked_ = true;
  return OpenBackend();
}

bool Context::CloseEngine() {
  backend_.reset();
  if (!engine_) return true;
  auto s = engine_->Close();
  engine_.reset();
  if (!s) {
    Fail(s.error());
    return false;
  }
  return true;
}

int Context::Fail(const std::string& message) const {
  std::fprintf(stderr, "sluice: %s\n", message.c_str());
  return kExitFailure;
}

int Context::Usage(const std::string& message) const {
  std::fprintf(stderr, "sluice: %s\n", message.c_str());
  return kExitUsage;
}

bool Context::RejectRemote(const std::string& command, const std::string& reason) {
  if (!remote()) return false;
  exit_code = Usage(command + " does not work with --broker: " + reason);
  return true;
}

void PrintJson(const nlohmann::json& value) {
  // Bytes come as base64 where they may not be UTF-8 (BytesToJson); anything else that is not
  // (a header key, a topic name from disk) gets U+FFFD instead of a throw.
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  };
  print(header);
  for (const auto& r : rows) print(r);
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  }
  return buf;
}

std::optional<int64_t> ParseTime(const std::string& text) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto t = base::ParseTimePoint(text, now_ms);
  if (!t) return std::nullopt;
  return *t;
}

std::string FormatTime(int64_t epoch_ms) {
  const std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return buf;
}

}  // namespace sluice::cli

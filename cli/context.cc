#include "cli/context.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

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
  auto opened = engine::Engine::Open(o);
  if (!opened) {
    Fail(opened.error());
    return nullptr;
  }
  engine_ = std::move(opened).value();
  return engine_.get();
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
    auto connected = ConnectRemoteBackend(broker);
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

void PrintJson(const nlohmann::json& value) { std::cout << value.dump() << "\n"; }

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
  if (text.empty()) return std::nullopt;
  // Epoch milliseconds.
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 18) return std::nullopt;
    return std::stoll(text);
  }
  // ISO-8601: YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) {
    return std::nullopt;
  }
  size_t pos = 10;
  int64_t ms = 0;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
    int m = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5) {
      return std::nullopt;
    }
    pos += 1 + 5;
    if (pos < text.size() && text[pos] == ':') {
      if (std::sscanf(text.c_str() + pos + 1, "%2d%n", &s, &m) != 1 || m != 2) return std::nullopt;
      pos += 3;
      if (pos < text.size() && text[pos] == '.') {
        size_t digits = 0;
        ++pos;
        int64_t frac = 0;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
          if (digits < 3) frac = frac * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (size_t i = digits; i < 3; ++i) frac *= 10;
        ms = frac;
      }
    }
  }
  int64_t offset_min = 0;
  if (pos < text.size()) {
    if (text[pos] == 'Z' && pos + 1 == text.size()) {
      pos++;
    } else if ((text[pos] == '+' || text[pos] == '-') && text.size() - pos == 6 &&
               text[pos + 3] == ':') {
      int oh = 0, om = 0;
      if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
      offset_min = (text[pos] == '-' ? -1 : 1) * (oh * 60 + om);
      pos = text.size();
    } else {
      return std::nullopt;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_min * 60;
  return secs * 1000 + ms;
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

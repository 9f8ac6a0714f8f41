#pragma once

// Minimal leveled logging to stderr (or a sink a program installs). Used for what an operator
// should see: recovery reports, dropped data, background failures. Thread-safe.
//
// Each line on stderr carries an ISO-8601 UTC timestamp with milliseconds, the level and the
// component, as text:
//   2026-11-23T10:00:00.123Z info serve: listening on PLAINTEXT://127.0.0.1:9092
// or as one JSON object per line (SetLogFormat(kJson)):
//   {"ts":"2026-11-23T10:00:00.123Z","level":"info","component":"serve","msg":"listening on ..."}
// The component is the one given, or else the message's leading "word: " (lower-case letters,
// digits, '-' and '_'; "serve: ..." is component "serve"), or else "sluice".

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "segment/base/clock.h"

namespace sluice::base {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
void Log(LogLevel level, std::string_view component, std::string_view message);
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// Messages below `level` are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
enum class LogFormat : uint8_t { kText, kJson };
// How lines are written to stderr (a sink gets the bare message). Default kText.
void SetLogFormat(LogFormat format);
// "2026-11-23T10:00:00.123Z": `unix_ms` as ISO-8601 UTC with milliseconds.
std::string FormatUtcMillis(int64_t unix_ms);
// The line written to stderr for a message, without the newline (exposed for tests).
std::string FormatLogLine(LogFormat format, int64_t unix_ms, LogLevel level,
                          std::string_view component, std::string_view message);
// Splits a message's leading component ("serve: rest" -> {"serve", "rest"}); {"", message} when
// it has none.
std::pair<std::string_view, std::string_view> SplitComponent(std::string_view message);
// Replaces the sink (nullptr restores stderr). Returns the previous one.
using LogSink = std::function<void(LogLevel, std::string_view)>;
void SetLogSink(LogSink sink);

// One log line that may repeat at a high rate (a refused produce on a full disk, a failing
// background flush): logs the first message, then at most one per `interval_ms`; the messages
// dropped in between are counted, and the next message logged says how many and over how long:
// "produce to ev-0 refused (...) (1,873 more in the last 10 s)". The dropped messages are not
// kept (the next one logged stands for them). One instance per call site, usually a function-local
// static or a member; messages still counted when the instance is destroyed are logged then, as
// the last of them with the count of the others.
// Thread-safe. `clock` (monotonic time) must outlive the instance; null = the system clock.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(LogLevel level, int64_t interval_ms = 10'000,
                          const Clock* clock = nullptr);
  ~RateLimitedLog();
  RateLimitedLog(const RateLimitedLog&) = delete;
  RateLimitedLog& operator=(const RateLimitedLog&) = delete;

  // Logs `message` now, or counts it if a message was logged less than `interval_ms` ago.
  // Returns true when it was logged.
  bool Log(std::string_view message);

 private:
  const LogLevel level_;
  const int64_t interval_ns_;
  const Clock& clock_;
  std::mutex mu_;
  bool logged_any_ = false;     // guarded by mu_
  int64_t last_logged_ns_ = 0;  // monotonic time of the last message logged; guarded by mu_
  uint64_t dropped_ = 0;        // messages counted since then; guarded by mu_
  std::string last_dropped_;    // the last of them, logged by the destructor; guarded by mu_
};

// "1,873": `n` with thousands separators.
std::string WithThousands(uint64_t n);

}  // namespace sluice::base

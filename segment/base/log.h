#pragma once

// Minimal leveled logging to stderr (or a sink a program installs). Used for what an operator
// should see: recovery reports, dropped data, background failures. Thread-safe.

#include <functional>
#include <string_view>

namespace sluice::base {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// Messages below `level` are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
// Replaces the sink (nullptr restores stderr). Returns the previous one.
using LogSink = std::function<void(LogLevel, std::string_view)>;
void SetLogSink(LogSink sink);

}  // namespace sluice::base

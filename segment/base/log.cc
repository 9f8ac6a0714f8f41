#include "segment/base/log.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace sluice::base {
namespace {

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}
LogSink& Sink() {
  static LogSink sink;
  return sink;
}
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kText};

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;  // UTF-8 passes through; a log message is text
        }
    }
  }
  out += '"';
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

std::pair<std::string_view, std::string_view> SplitComponent(std::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > 24) return {{}, message};
  for (size_t i = 0; i < colon; ++i) {
    const char c = message[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_'));
    if (!ok) return {{}, message};
  }
  return {message.substr(0, colon), message.substr(colon + 2)};
}

std::string FormatUtcMillis(int64_t unix_ms) {
  const int64_t ms = ((unix_ms % 1000) + 1000) % 1000;
  const std::time_t secs = static_cast<std::time_t>((unix_ms - ms) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the format could print, so no truncation warning
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string FormatLogLine(LogFormat format, int64_t unix_ms, LogLevel level,
                          std::string_view component, std::string_view message) {
  std::string line;
  if (format == LogFormat::kJson) {
    line += "{\"ts\":\"" + FormatUtcMillis(unix_ms) + "\",\"level\":\"" + LevelName(level) +
            "\",\"component\":";
    AppendJsonString(line, component);
    line += ",\"msg\":";
    AppendJsonString(line, message);
    line += '}';
    return line;
  }
  line = FormatUtcMillis(unix_ms);
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  return line;
}

namespace {

// `sink_message`: what a sink gets (the message as its caller wrote it).
void Emit(LogLevel level, std::string_view component, std::string_view message,
          std::string_view sink_message) {
  const int64_t now_ms = SystemClock::Instance().NowMs();
  std::lock_guard lock(SinkMutex());
  if (Sink()) {
    Sink()(level, sink_message);
    return;
  }
  const std::string line =
      FormatLogLine(g_format.load(std::memory_order_relaxed), now_ms, level, component, message);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

void Log(LogLevel level, std::string_view message) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  auto [component, rest] = SplitComponent(message);
  Emit(level, component.empty() ? "sluice" : component, rest, message);
}

void Log(LogLevel level, std::string_view component, std::string_view message) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  Emit(level, component, message, std::string(component) + ": " + std::string(message));
}

void SetLogLevel(LogLevel level) { g_level.store(level); }
void SetLogFormat(LogFormat format) { g_format.store(format); }

void SetLogSink(LogSink sink) {
  std::lock_guard lock(SinkMutex());
  Sink() = std::move(sink);
}

}  // namespace sluice::base

namespace sluice::base {
namespace {

// "10 s", "3 min", "2 h": a duration of at least a second, rounded down, for "in the last ...".
std::string Span(int64_t ns) {
  const int64_t s = std::max<int64_t>(1, ns / 1'000'000'000);
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  return std::to_string(s / 3600) + " h";
}

}  // namespace

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

RateLimitedLog::RateLimitedLog(LogLevel level, int64_t interval_ms, const Clock* clock)
    : level_(level),
      interval_ns_(interval_ms * 1'000'000),
      clock_(clock != nullptr ? *clock : SystemClock::Instance()) {
  // The sink is constructed before this object is, so that it is destroyed after it: the
  // destructor of a static instance may still log.
  std::lock_guard lock(SinkMutex());
  (void)Sink();
}

RateLimitedLog::~RateLimitedLog() {
  std::lock_guard lock(mu_);
  if (dropped_ == 0) return;
  // The last message dropped stands for the others.
  std::string line = last_dropped_;
  if (dropped_ > 1) {
    line += " (" + WithThousands(dropped_ - 1) + " more in the last " +
            Span(clock_.MonotonicNs() - last_logged_ns_) + ")";
  }
  base::Log(level_, line);
}

bool RateLimitedLog::Log(std::string_view message) {
  const int64_t now = clock_.MonotonicNs();
  std::lock_guard lock(mu_);
  if (logged_any_ && now - last_logged_ns_ < interval_ns_) {
    ++dropped_;
    last_dropped_.assign(message);
    return false;
  }
  std::string line(message);
  if (dropped_ > 0) {
    line +=
        " (" + WithThousands(dropped_) + " more in the last " + Span(now - last_logged_ns_) + ")";
  }
  // Under mu_, so that the lines of one call site come out in order.
  base::Log(level_, line);
  logged_any_ = true;
  last_logged_ns_ = now;
  dropped_ = 0;
  return true;
}

}  // namespace sluice::base

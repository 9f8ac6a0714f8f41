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

void Log(LogLevel level, std::string_view message) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(SinkMutex());
  if (Sink()) {
    Sink()(level, message);
    return;
  }
  std::fprintf(stderr, "sluice %s: %.*s\n", LevelName(level), static_cast<int>(message.size()),
               message.data());
}

void SetLogLevel(LogLevel level) { g_level.store(level); }

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

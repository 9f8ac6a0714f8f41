#include "segment/base/time_text.h"

#include <ctime>
#include <limits>
#include <optional>

namespace sluice::base {
namespace {

constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 4;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`; advances `pos`.
std::optional<int> Digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsDigit(s[pos + i])) return std::nullopt;
    v = v * 10 + (s[pos + i] - '0');
  }
  pos += n;
  return v;
}

// Reads a number with an optional fraction ("15", "0.5") at `pos` as thousandths; advances `pos`.
std::optional<int64_t> Milli(std::string_view s, size_t& pos) {
  const size_t start = pos;
  int64_t whole = 0;
  while (pos < s.size() && IsDigit(s[pos])) {
    whole = whole * 10 + (s[pos] - '0');
    if (whole > kMaxMs / 1000) return std::nullopt;
    ++pos;
  }
  int64_t frac = 0;
  int64_t scale = 100;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t frac_start = pos;
    while (pos < s.size() && IsDigit(s[pos])) {
      frac += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == frac_start) return std::nullopt;
  }
  if (pos == start) return std::nullopt;
  return whole * 1000 + frac;
}

std::optional<int64_t> UnitMs(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  if (unit == "w") return 7 * 86'400'000LL;
  return std::nullopt;
}

// "1h30m", "90s", "500ms".
std::optional<int64_t> SimpleDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  int64_t total = 0;
  while (pos < s.size()) {
    auto milli = Milli(s, pos);
    if (!milli) return std::nullopt;
    const size_t unit_start = pos;
    while (pos < s.size() && !IsDigit(s[pos]) && s[pos] != '.') ++pos;
    auto unit = UnitMs(s.substr(unit_start, pos - unit_start));
    if (!unit) return std::nullopt;
    // milli is thousandths of the unit.
    if (*milli > kMaxMs / *unit) return std::nullopt;
    total += *milli * *unit / 1000;
    if (total > kMaxMs) return std::nullopt;
  }
  return total;
}

// ISO-8601 durations: P[nW][nD][T[nH][nM][n[.f]S]].
std::optional<int64_t> IsoDuration(std::string_view s) {
  if (s.size() < 2 || (s[0] != 'P' && s[0] != 'p')) return std::nullopt;
  size_t pos = 1;
  bool in_time = false;
  bool any = false;
  int64_t total = 0;
  while (pos < s.size()) {
    if (s[pos] == 'T' || s[pos] == 't') {
      if (in_time) return std::nullopt;
      in_time = true;
      ++pos;
      continue;
    }
    auto milli = Milli(s, pos);
    if (!milli || pos >= s.size()) return std::nullopt;
    const char unit = static_cast<char>(s[pos] | 0x20);  // lower case
    ++pos;
    int64_t unit_ms = 0;
    if (!in_time && unit == 'w') {
      unit_ms = 7 * 86'400'000LL;
    } else if (!in_time && unit == 'd') {
      unit_ms = 86'400'000;
    } else if (in_time && unit == 'h') {
      unit_ms = 3'600'000;
    } else if (in_time && unit == 'm') {
      unit_ms = 60'000;
    } else if (in_time && unit == 's') {
      unit_ms = 1000;
    } else {
      return std::nullopt;  // years and months have no fixed length
    }
    if (*milli > kMaxMs / unit_ms) return std::nullopt;
    total += *milli * unit_ms / 1000;
    if (total > kMaxMs) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  return total;
}

// YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]
std::optional<int64_t> IsoTime(std::string_view s) {
  size_t pos = 0;
  auto y = Digits(s, pos, 4);
  if (!y || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  auto mo = Digits(s, pos, 2);
  if (!mo || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  auto d = Digits(s, pos, 2);
  if (!d) return std::nullopt;
  int h = 0, mi = 0, sec = 0;
  int64_t ms = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    auto hh = Digits(s, pos, 2);
    if (!hh || pos >= s.size() || s[pos++] != ':') return std::nullopt;
    auto mm = Digits(s, pos, 2);
    if (!mm) return std::nullopt;
    h = *hh;
    mi = *mm;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      auto ss = Digits(s, pos, 2);
      if (!ss) return std::nullopt;
      sec = *ss;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t digits = 0;
        while (pos < s.size() && IsDigit(s[pos])) {
          if (digits < 3) ms = ms * 10 + (s[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (size_t i = digits; i < 3; ++i) ms *= 10;
      }
    }
  }
  int64_t offset_min = 0;
  if (pos < s.size()) {
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int64_t sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      auto oh = Digits(s, pos, 2);
      if (!oh || pos >= s.size() || s[pos++] != ':') return std::nullopt;
      auto om = Digits(s, pos, 2);
      if (!om || pos != s.size() || *oh > 23 || *om > 59) return std::nullopt;
      offset_min = sign * (*oh * 60 + *om);
    } else {
      return std::nullopt;
    }
  }
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31 || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const auto secs = static_cast<int64_t>(timegm(&tm)) - offset_min * 60;
  return secs * 1000 + ms;
}

Error BadTime(std::string_view text) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "bad time '" + std::string(text) + "' (" + kTimeFormsHelp + ")");
}

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  std::optional<int64_t> ms = IsoDuration(text);
  if (!ms) ms = SimpleDuration(text);
  if (!ms) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad duration '" + std::string(text) +
                         "' (want 30s, 15m, 1h30m, 2d, 500ms, or ISO-8601 such as PT15M)");
  }
  return *ms;
}

Result<int64_t> ParseTimePoint(std::string_view text, int64_t now_ms) {
  if (text.empty()) return BadTime(text);
  if (text == "now") return now_ms;
  std::string_view rel = text;
  if (rel.starts_with("now")) rel.remove_prefix(3);
  if (rel.size() > 1 && (rel[0] == '-' || (rel[0] == '+' && rel.size() < text.size()))) {
    auto d = ParseDurationMs(rel.substr(1));
    if (!d) return BadTime(text);
    return rel[0] == '-' ? now_ms - *d : now_ms + *d;
  }
  if (rel.size() < text.size()) return BadTime(text);  // "now" followed by something else
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.size() > 18) return BadTime(text);
    int64_t v = 0;
    for (char c : text) v = v * 10 + (c - '0');
    return v;
  }
  if (auto t = IsoTime(text)) return *t;
  return BadTime(text);
}

}  // namespace sluice::base

#include "net/admin_api.h"

#include <charconv>
#include <cstdio>
#include <limits>

#include "net/wire.h"

namespace sluice::net {

using base::ErrorCode;
using base::MakeError;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool Digits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

base::Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "bad %-escape in '" + std::string(text) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

base::Result<std::map<std::string, std::string>> ParseQueryString(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "query parameter '" + std::string(pair) + "' is not name=value");
    }
    ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, eq), true));
    ASSIGN_OR_RETURN(std::string value, PercentDecode(pair.substr(eq + 1), true));
    if (out.contains(name)) {
      return MakeError(ErrorCode::kInvalidArgument, "query parameter '" + name + "' given twice");
    }
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

base::Result<int64_t> ParseIntParam(std::string_view name, std::string_view text, int64_t min,
                                    int64_t max) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end || v < min || v > max) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(name) + " must be an integer from " + std::to_string(min) +
                         " to " + std::to_string(max) + ", not '" + std::string(text) + "'");
  }
  return v;
}

base::Result<int64_t> ParseTimeMs(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "time must be milliseconds since the epoch or ISO-8601 "
                     "(2024-05-01T12:00:00Z), not '" +
                         std::string(text) + "'");
  };
  if (text.empty()) return bad();
  if (text.find_first_not_of("0123456789") == std::string_view::npos ||
      (text[0] == '-' && text.size() > 1 &&
       text.find_first_not_of("0123456789", 1) == std::string_view::npos)) {
    auto ms = ParseIntParam("time", text, std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max());
    if (!ms) return bad();
    return *ms;
  }
  size_t pos = 0;
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  if (!Digits(text, pos, 4, y) || !Expect(text, pos, '-') || !Digits(text, pos, 2, mo) ||
      !Expect(text, pos, '-') || !Digits(text, pos, 2, d)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return bad();
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return bad();
    ++pos;
    if (!Digits(text, pos, 2, h) || !Expect(text, pos, ':') || !Digits(text, pos, 2, mi)) {
      return bad();
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!Digits(text, pos, 2, s)) return bad();
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        size_t digits = 0;
        int64_t scale = 100;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) ms += (text[pos] - '0') * scale;
          scale /= 10;
          ++digits;
          ++pos;
          if (digits > 9) return bad();
        }
        if (digits == 0) return bad();
      }
    }
    if (h > 23 || mi > 59 || s > 59) return bad();
  }
  int64_t zone_minutes = 0;
  if (pos < text.size()) {
    if (text[pos] == 'Z' || text[pos] == 'z') {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      const int64_t sign = text[pos] == '-' ? -1 : 1;
      ++pos;
      int64_t zh = 0, zm = 0;
      if (!Digits(text, pos, 2, zh)) return bad();
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (!Digits(text, pos, 2, zm) || zh > 23 || zm > 59) return bad();
      zone_minutes = sign * (zh * 60 + zm);
    } else {
      return bad();
    }
  }
  if (pos != text.size()) return bad();
  const int64_t days = DaysFromCivil(y, mo, d);
  return (((days * 24 + h) * 60 + mi - zone_minutes) * 60 + s) * 1000 + ms;
}

std::string FormatTimeMs(int64_t ms) {
  const int64_t kDayMs = 86'400'000;
  int64_t days = ms / kDayMs;
  int64_t rest = ms % kDayMs;
  if (rest < 0) {
    rest += kDayMs;
    --days;
  }
  int64_t y = 0, m = 0, d = 0;
  CivilFromDays(days, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rest / 3'600'000),
                static_cast<long long>(rest / 60'000 % 60),
                static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return buf;
}

bool IsValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n >= bytes.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(bytes[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += n + 1;
  }
  return true;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (const size_t left = bytes.size() - i; left > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (left == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(left == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

nlohmann::json BytesJson(std::optional<std::string_view> bytes, size_t max_bytes, bool* truncated) {
  if (!bytes) return nullptr;
  std::string_view b = *bytes;
  if (b.size() > max_bytes) {
    *truncated = true;
    size_t cut = max_bytes;
    // Back off to a character boundary, so that text cut short is still text.
    for (int k = 0;
         k < 3 && cut > 0 && cut < b.size() && (static_cast<unsigned char>(b[cut]) & 0xC0) == 0x80;
         ++k) {
      --cut;
    }
    b = b.substr(0, cut);
  }
  if (IsValidUtf8(b)) return std::string(b);
  return nlohmann::json{{"base64", Base64Encode(b)}};
}

size_t RecordPayloadBytes(const segment::RecordView& record) {
  size_t n = (record.key ? record.key->size() : 0) + (record.value ? record.value->size() : 0);
  for (const auto& h : record.headers) n += h.key.size() + (h.value ? h.value->size() : 0);
  return n;
}

nlohmann::json RecordJson(const segment::RecordView& record, size_t max_field_bytes) {
  bool truncated = false;
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& h : record.headers) {
    headers.push_back({{"key", BytesJson(h.key, max_field_bytes, &truncated)},
                       {"value", BytesJson(h.value, max_field_bytes, &truncated)}});
  }
  nlohmann::json out = {{"offset", record.offset},
                        {"timestamp", record.timestamp},
                        {"time", FormatTimeMs(record.timestamp)},
                        {"key", BytesJson(record.key, max_field_bytes, &truncated)},
                        {"value", BytesJson(record.value, max_field_bytes, &truncated)},
                        {"headers", std::move(headers)},
                        {"size", RecordPayloadBytes(record)}};
  if (truncated) out["truncated"] = true;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> DecodeConsumerAssignment(
    std::string_view bytes) {
  WireReader r(base::AsBytes(bytes));
  const int16_t version = r.Int16();
  if (!r.ok() || version < 0) return std::nullopt;
  std::vector<std::pair<std::string, std::vector<int32_t>>> out;
  const int32_t topics = r.ArrayCount(6);
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    std::string topic = r.String();
    const int32_t n = r.ArrayCount(4);
    std::vector<int32_t> partitions;
    for (int32_t p = 0; p < n && r.ok(); ++p) partitions.push_back(r.Int32());
    out.emplace_back(std::move(topic), std::move(partitions));
  }
  if (!r.ok()) return std::nullopt;
  return out;  // user data (and later versions' fields) follow; not needed
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  return {status, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

HttpResponse JsonError(int status, std::string_view message) {
  return JsonResponse(status, {{"error", std::string(message)}, {"status", status}});
}

}  // namespace sluice::net

#pragma once

// Times and durations as people type them, for every flag that takes one (consume --from-time,
// replay --from/--to, group reset-offsets --to-datetime/--by-duration). Pure functions: "now" is
// passed in, so the parsers are deterministic.

#include <cstdint>
#include <string>
#include <string_view>

#include "segment/base/result.h"

namespace sluice::base {

// A duration in milliseconds: one or more <number><unit> parts, units ms, s, m, h, d, w
// ("90s", "15m", "1h30m", "2d"), or ISO-8601's PnDTnHnMnS as Kafka's --by-duration takes it
// ("PT15M", "P1DT2H", "PT0.5S"). Never negative. kInvalidArgument naming the text otherwise.
Result<int64_t> ParseDurationMs(std::string_view text);

// A point in time as epoch milliseconds:
//   now                       `now_ms`
//   -1h, -15m, -30s, -2d      that long before now (any ParseDurationMs form after the '-')
//   now-1h, now+10m           relative to now, either way
//   2026-11-23T10:00:00Z      ISO-8601: date, optional time (T or space), optional fraction and
//                             Z / +HH:MM / -HH:MM offset (UTC if none)
//   1795435200000             epoch milliseconds (all digits)
// kInvalidArgument naming the text and the accepted forms otherwise.
Result<int64_t> ParseTimePoint(std::string_view text, int64_t now_ms);

// What a bad time says it wants, for usage messages.
inline constexpr char kTimeFormsHelp[] =
    "want now, -15m / -1h / -2d (before now), ISO-8601 such as 2026-11-23T10:00:00Z, or epoch "
    "milliseconds";

}  // namespace sluice::base

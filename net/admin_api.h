#pragma once

// Pieces of the admin listener's JSON API (GET /api/v1/...; the endpoints are in
// net/console_handlers.cc, README "Operating sluice" lists them): query strings, parameters,
// times, and record bytes as JSON. Pure functions on their arguments; thread-safe. Not part of
// net/'s public API.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/admin_http.h"
#include "segment/base/result.h"
#include "segment/record_batch.h"

namespace sluice::net {

// Decodes a query string ("a=1&b=x%20y", '+' is a space). kInvalidArgument for a bad % escape or
// a name given twice; an empty name or a pair without '=' is an error too.
base::Result<std::map<std::string, std::string>> ParseQueryString(std::string_view query);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). kInvalidArgument on a bad escape.
base::Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// A decimal integer in [min, max]; `name` goes into the error ("offset must be ...").
base::Result<int64_t> ParseIntParam(std::string_view name, std::string_view text, int64_t min,
                                    int64_t max);

// A point in time as milliseconds since the epoch: either an integer (ms) or ISO-8601
// "YYYY-MM-DDTHH:MM[:SS[.fff...]]" with "Z", "+HH:MM", "-HH:MM" or no zone (UTC); a space may
// stand for the 'T'. kInvalidArgument otherwise (including out-of-range fields).
base::Result<int64_t> ParseTimeMs(std::string_view text);

// "2026-12-05T16:23:20.123Z" for ms since the epoch (UTC).
std::string FormatTimeMs(int64_t ms);

bool IsValidUtf8(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);

// A record field (key, value, header value) as JSON: null for null, a string when the bytes are
// valid UTF-8, else {"base64": "..."}. Bytes past `max_bytes` are cut (at a UTF-8 character
// boundary for text) and `*truncated` is set.
nlohmann::json BytesJson(std::optional<std::string_view> bytes, size_t max_bytes, bool* truncated);

// One record: {"offset", "timestamp" (ms), "time" (ISO-8601), "key", "value", "headers":
// [{"key", "value"}], "size" (key + value + header bytes)}, and "truncated": true when a field was
// cut at `max_field_bytes`.
nlohmann::json RecordJson(const segment::RecordView& record, size_t max_field_bytes);

// The bytes RecordJson counts for a record (key, value, header keys and values).
size_t RecordPayloadBytes(const segment::RecordView& record);

// A consumer group member's assignment in the "consumer" protocol (Kafka's
// ConsumerProtocolAssignment, any version): (topic, partitions) pairs; nullopt when the bytes are
// not one.
std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> DecodeConsumerAssignment(
    std::string_view bytes);

// JSON responses. The body is never invalid JSON: bytes that are not UTF-8 in strings are
// replaced (U+FFFD), never thrown about.
HttpResponse JsonResponse(int status, const nlohmann::json& body);
// {"error": message, "status": status}
HttpResponse JsonError(int status, std::string_view message);

}  // namespace sluice::net

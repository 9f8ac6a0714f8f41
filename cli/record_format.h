#pragma once

// What `consume` and `replay` share: printing records (a kcat-style --format string or JSON lines),
// escape decoding, argument parsing helpers, and stopping cleanly on SIGINT/SIGTERM.

#include <atomic>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/context.h"
#include "segment/record_batch.h"

namespace sluice::cli {

// The default --format: the value and a newline.
inline constexpr char kDefaultRecordFormat[] = "%v\\n";

// Help text for --format, shared by consume and replay.
inline constexpr char kRecordFormatHelp[] =
    "Output format: %k key, %v value, %o offset, %p partition, %t timestamp (epoch ms), "
    "%h headers (k=v,k=v), %T topic, %K key length, %S value length (-1 = null), %% a '%'; "
    "escapes \\n \\t \\r \\\\";

// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool IsUtf8(std::string_view bytes);
// A key, value or header value for JSON output, losing no byte: null stays null, UTF-8 text is a
// JSON string, other bytes are the object {"base64": "<standard base64, padded>"}.
nlohmann::json BytesToJson(std::optional<std::string_view> bytes);
// The reverse, for JSON input: null is null, a string its bytes, {"base64": "..."} the decoded
// bytes (kInvalidArgument if malformed), anything else its JSON text.
Result<std::optional<std::string>> JsonToBytes(const nlohmann::json& value);

// Appends one record as a JSON line (what consume -o json prints) to `out`.
void AppendRecordJson(std::string& out, std::string_view topic, int32_t partition,
                      const segment::RecordView& record);

// Decodes the escapes \n \t \r \\ in `text`. nullopt on any other escape or a trailing backslash.
std::optional<std::string> DecodeEscapes(std::string_view text);

// Formats records and writes them to stdout, buffered. Values are written as raw bytes (a null key
// or value prints as nothing); with JSON output each record is one JSON object per line with
// topic, partition, offset, timestamp (epoch ms), key, value and headers (null stays null; a key,
// value or header value that is not UTF-8 is {"base64": "..."}, see BytesToJson; of repeated
// header keys the last one wins, and a header key that is not UTF-8 has U+FFFD for its bad bytes).
// Not thread-safe.
class RecordPrinter {
 public:
  // `format` is a --format string (escapes not yet decoded). kInvalidArgument names the problem.
  static Result<RecordPrinter> Create(std::string topic, std::string_view format,
                                      OutputFormat output);

  // Appends one record to the buffer, writing the buffer out when it is large.
  void Print(int32_t partition, const segment::RecordView& record);
  // Writes what is buffered to stdout and flushes it. False (errno set) on a write error.
  bool Flush();

 private:
  enum class Field : uint8_t {
    kLiteral,
    kKey,
    kValue,
    kOffset,
    kPartition,
    kTimestamp,
    kHeaders,
    kTopic,
    kKeyLength,
    kValueLength
  };
  struct Piece {
    Field field = Field::kLiteral;
    std::string literal;
  };

  RecordPrinter() = default;
  void AppendJson(int32_t partition, const segment::RecordView& record);

  std::string topic_;
  bool json_ = false;
  std::vector<Piece> pieces_;
  std::string buffer_;
};

// Turns SIGINT and SIGTERM into a stop request while it exists (handlers restored on
// destruction). One instance at a time. The handler only sets a flag and writes a byte to a pipe;
// a watcher thread turns the flag into a std::stop_token request for code that waits on one (the
// replay API), and code blocked in poll() watches wake_fd().
class SignalStop {
 public:
  SignalStop();
  ~SignalStop();
  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  bool stop_requested() const;
  // The signal that requested the stop, 0 if none.
  int signal_number() const;
  // Requested once a signal arrived (by the watcher thread, woken by the handler's byte).
  std::stop_token token() const { return source_.get_token(); }
  // Becomes readable when a signal arrives; -1 if the pipe could not be made.
  int wake_fd() const { return wake_read_; }

 private:
  int wake_read_ = -1;
  int wake_write_ = -1;
  int quit_read_ = -1;  // readable once the destructor wants the watcher to end
  int quit_write_ = -1;
  std::stop_source source_;
  std::jthread watcher_;
};

// Parses a partition list against a topic's partition count: each must be in [0, count).
// Returns a usage message on error, else an empty string. Duplicates are removed (order kept).
std::string CheckPartitions(std::vector<int32_t>& partitions, int32_t count,
                            const std::string& topic);

}  // namespace sluice::cli

#include "cli/record_format.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "segment/base/crypto.h"

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::MakeError;

// Set by the signal handler; read by SignalStop.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

// The write end of the live SignalStop's wake-up pipe, -1 if none.
std::atomic<int> g_wake_fd{-1};

extern "C" void OnStopSignal(int sig) {
  if (g_stop_signal.load() != 0) {
    // A second signal: the user insists. Die as the signal says.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_stop_signal.store(sig);
  // Wake a thread blocked in poll() on wake_fd(); write() is async-signal-safe, errno is not ours.
  const int saved_errno = errno;
  if (const int fd = g_wake_fd.load(); fd >= 0) {
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

struct sigaction g_old_int;
struct sigaction g_old_term;

constexpr size_t kFlushBytes = 256 << 10;

void AppendInt(std::string& out, int64_t v) { out += std::to_string(v); }

}  // namespace

std::optional<std::string> DecodeEscapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

Result<RecordPrinter> RecordPrinter::Create(std::string topic, std::string_view format,
                                            OutputFormat output) {
  RecordPrinter p;
  p.topic_ = std::move(topic);
  p.json_ = output == OutputFormat::kJson;
  if (p.json_) return p;
  auto decoded = DecodeEscapes(format);
  if (!decoded) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--format: bad escape in '" + std::string(format) + "' (known: \\n \\t \\r \\\\)");
  }
  const std::string& f = *decoded;
  auto literal = [&p]() -> std::string& {
    if (p.pieces_.empty() || p.pieces_.back().field != Field::kLiteral) p.pieces_.push_back({});
    return p.pieces_.back().literal;
  };
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      literal() += f[i];
      continue;
    }
    if (++i == f.size()) {
      return MakeError(ErrorCode::kInvalidArgument, "--format: '%' at the end (use %% for a '%')");
    }
    Field field = Field::kLiteral;
    switch (f[i]) {
      case 'k':
        field = Field::kKey;
        break;
      case 'v':
        field = Field::kValue;
        break;
      case 'o':
        field = Field::kOffset;
        break;
      case 'p':
        field = Field::kPartition;
        break;
      case 't':
        field = Field::kTimestamp;
        break;
      case 'h':
        field = Field::kHeaders;
        break;
      case 'T':
        field = Field::kTopic;
        break;
      case 'K':
        field = Field::kKeyLength;
        break;
      case 'S':
        field = Field::kValueLength;
        break;
      case '%':
        literal() += '%';
        continue;
      default:
        return MakeError(ErrorCode::kInvalidArgument,
                         std::string("--format: unknown field %") + f[i] +
                             " (known: %k %v %o %p %t %h %T %K %S %%)");
    }
    p.pieces_.push_back({field, {}});
  }
  return p;
}

void RecordPrinter::Print(int32_t partition, const segment::RecordView& r) {
  if (json_) {
    AppendJson(partition, r);
  } else {
    for (const Piece& piece : pieces_) {
      switch (piece.field) {
        case Field::kLiteral:
          buffer_ += piece.literal;
          break;
        case Field::kKey:
          if (r.key) buffer_ += *r.key;
          break;
        case Field::kValue:
          if (r.value) buffer_ += *r.value;
          break;
        case Field::kOffset:
          AppendInt(buffer_, r.offset);
          break;
        case Field::kPartition:
          AppendInt(buffer_, partition);
          break;
        case Field::kTimestamp:
          AppendInt(buffer_, r.timestamp);
          break;
        case Field::kTopic:
          buffer_ += topic_;
          break;
        case Field::kKeyLength:
          AppendInt(buffer_, r.key ? static_cast<int64_t>(r.key->size()) : -1);
          break;
        case Field::kValueLength:
          AppendInt(buffer_, r.value ? static_cast<int64_t>(r.value->size()) : -1);
          break;
        case Field::kHeaders:
          for (size_t i = 0; i < r.headers.size(); ++i) {
            if (i > 0) buffer_ += ',';
            buffer_ += r.headers[i].key;
            // A null header value prints as the bare key.
            if (r.headers[i].value) {
              buffer_ += '=';
              buffer_ += *r.headers[i].value;
            }
          }
          break;
      }
    }
  }
  if (buffer_.size() >= kFlushBytes) Flush();
}

bool IsUtf8(std::string_view bytes) {
  size_t i = 0;
  const size_t n = bytes.size();
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  while (i < n) {
    const unsigned char c = at(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;  // a continuation byte first, an overlong 2-byte lead, or past U+10FFFF
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((at(i + k) & 0xc0u) != 0x80u) return false;
      cp = (cp << 6) | (at(i + k) & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

nlohmann::json BytesToJson(std::optional<std::string_view> bytes) {
  if (!bytes) return nullptr;
  if (IsUtf8(*bytes)) return std::string(*bytes);
  return {{"base64", base::Base64Encode(*bytes)}};
}

Result<std::optional<std::string>> JsonToBytes(const nlohmann::json& value) {
  if (value.is_null()) return std::optional<std::string>();
  if (value.is_string()) return std::optional<std::string>(value.get<std::string>());
  if (value.is_object() && value.size() == 1 && value.contains("base64")) {
    const auto& b64 = value["base64"];
    if (!b64.is_string()) {
      return base::MakeError(base::ErrorCode::kInvalidArgument, "\"base64\" must be a string");
    }
    auto decoded = base::Base64Decode(b64.get<std::string>());
    if (!decoded) {
      return base::MakeError(base::ErrorCode::kInvalidArgument,
                             "bad \"base64\": " + decoded.error().context);
    }
    return std::optional<std::string>(std::move(decoded).value());
  }
  return std::optional<std::string>(value.dump());
}

void AppendRecordJson(std::string& out, std::string_view topic, int32_t partition,
                      const segment::RecordView& r) {
  using nlohmann::ordered_json;
  ordered_json headers = ordered_json::object();
  for (const auto& h : r.headers) headers[std::string(h.key)] = BytesToJson(h.value);
  ordered_json line;
  line["topic"] = topic;
  line["partition"] = partition;
  line["offset"] = r.offset;
  line["timestamp"] = r.timestamp;
  line["key"] = BytesToJson(r.key);
  line["value"] = BytesToJson(r.value);
  line["headers"] = std::move(headers);
  out += line.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  out += '\n';
}

void RecordPrinter::AppendJson(int32_t partition, const segment::RecordView& r) {
  AppendRecordJson(buffer_, topic_, partition, r);
}

bool RecordPrinter::Flush() {
  bool ok = true;
  if (!buffer_.empty()) {
    ok = std::fwrite(buffer_.data(), 1, buffer_.size(), stdout) == buffer_.size();
    buffer_.clear();
  }
  return std::fflush(stdout) == 0 && ok && std::ferror(stdout) == 0;
}

SignalStop::SignalStop() {
  g_stop_signal.store(0);
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
    wake_read_ = fds[0];
    wake_write_ = fds[1];
    g_wake_fd.store(wake_write_);
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sa.sa_flags = SA_RESTART;  // an interrupted write to stdout must not lose output
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  int quit[2];
  if (::pipe2(quit, O_NONBLOCK | O_CLOEXEC) == 0) {
    quit_read_ = quit[0];
    quit_write_ = quit[1];
  }
  // The watcher blocks in poll() until the handler's byte or the destructor's: a watcher that
  // slept between looks held up every command's exit by up to its period (the join in the
  // destructor), 10 ms on average, half of a `sluice --broker ... produce` (issue 12). Without
  // both pipes it falls back to looking every 20 ms. poll() skips entries whose fd is -1.
  watcher_ = std::jthread([this](std::stop_token own) {
    pollfd watched[2] = {{wake_read_, POLLIN, 0}, {quit_read_, POLLIN, 0}};
    const int timeout_ms = wake_read_ >= 0 && quit_read_ >= 0 ? -1 : 20;
    while (!own.stop_requested()) {
      if (g_stop_signal.load() != 0) {
        source_.request_stop();
        return;
      }
      ::poll(watched, 2, timeout_ms);
    }
  });
}

SignalStop::~SignalStop() {
  watcher_.request_stop();
  if (quit_write_ >= 0) {
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(quit_write_, &byte, 1);
  }
  watcher_.join();
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_wake_fd.store(-1);
  for (int fd : {wake_read_, wake_write_, quit_read_, quit_write_}) {
    if (fd >= 0) ::close(fd);
  }
}

bool SignalStop::stop_requested() const { return g_stop_signal.load() != 0; }

int SignalStop::signal_number() const { return g_stop_signal.load(); }

std::string CheckPartitions(std::vector<int32_t>& partitions, int32_t count,
                            const std::string& topic) {
  std::vector<int32_t> unique;
  for (int32_t p : partitions) {
    if (p < 0 || p >= count) {
      return "--partition " + std::to_string(p) + ": topic '" + topic + "' has partitions 0.." +
             std::to_string(count - 1);
    }
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
  }
  partitions = std::move(unique);
  return {};
}

}  // namespace sluice::cli

// sluice produce TOPIC: records from stdin, one per line (or one JSON object per line), batched
// per partition and appended through the engine, or sent to the broker with --broker.
//
// Partitioning (cli/backend.h, SinkOptions): --partition P puts every record in P. Otherwise a
// record with a key goes to murmur2(key) % partitions with Kafka's murmur2 (seed 0x9747b28c, sign
// bit cleared), so a key lands in the same partition as with Kafka's default partitioner; records
// without a key go round robin, one batch at a time (Kafka's "sticky" partitioner).

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/record_format.h"
#include "segment/record_batch.h"

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::MakeError;
// Ordered, so that headers keep the order of the input line.
using OrderedJson = nlohmann::ordered_json;

struct ProduceArgs {
  std::string topic;
  std::string key_separator;
  bool key_separator_given = false;
  std::vector<std::string> headers;
  int32_t partition = -1;  // -1: by key hash, else round robin
  std::string format = "text";
  int32_t batch_records = 1000;
  int64_t batch_bytes = 1 << 20;
  std::string compression = "zstd";
};

// How reading the input ended.
struct InputEnd {
  int by_signal = 0;            // the SIGINT/SIGTERM that stopped the reading; 0 at end of input
  size_t unfinished_bytes = 0;  // with a signal: bytes of a last line still without its '\n'
};

// Calls fn(line, line_number) for every line read from `fd` (without its '\n'; at the end of the
// input a last line without one counts). Stops at fn's first error, or, once `signals` reports a
// signal, before the next read: every line already read is passed on (it has left the pipe, so
// the writer cannot send it again), a line cut short by the signal is not.
template <typename Fn>
Result<InputEnd> ForEachLine(int fd, const SignalStop& signals, Fn&& fn) {
  std::string buf(1 << 20, '\0');
  std::string carry;  // a line split across reads
  int64_t line_no = 0;
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {signals.wake_fd(), POLLIN, 0}};
    if (!signals.stop_requested() && ::poll(fds, signals.wake_fd() >= 0 ? 2 : 1, -1) < 0 &&
        errno != EINTR) {
      return base::ErrnoError(errno, "poll", "stdin");
    }
    if (signals.stop_requested()) return InputEnd{signals.signal_number(), carry.size()};
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) == 0) continue;
    const ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return base::ErrnoError(errno, "read", "stdin");
    }
    if (got == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(got));
    size_t start = 0;
    for (;;) {
      const size_t nl = chunk.find('\n', start);
      if (nl == std::string_view::npos) {
        carry.append(chunk.substr(start));
        break;
      }
      std::string_view line = chunk.substr(start, nl - start);
      if (!carry.empty()) {
        carry.append(line);
        line = carry;
      }
      RETURN_IF_ERROR(fn(line, ++line_no));
      carry.clear();
      start = nl + 1;
    }
  }
  if (!carry.empty()) RETURN_IF_ERROR(fn(std::string_view(carry), ++line_no));
  return InputEnd{};
}

// Collects the first parse error of a JSON text, for a message that says where it went wrong.
class JsonErrorCollector : public nlohmann::json_sax<OrderedJson> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    message = ex.what();
    return false;
  }
  std::string message;
};

std::string JsonParseError(std::string_view line) {
  JsonErrorCollector collector;
  OrderedJson::sax_parse(line, &collector);
  std::string m = collector.message;
  // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
  if (auto pos = m.find("column "); pos != std::string::npos) m = m.substr(pos);
  for (char& c : m) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return m.empty() ? "malformed JSON" : "malformed JSON at " + m;
}

Result<InputRecord> ParseJsonRecord(std::string_view line) {
  OrderedJson doc = OrderedJson::parse(line, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, JsonParseError(line));
  if (!doc.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected a JSON object {\"key\":..., \"value\":..., \"headers\":{...}, "
                     "\"timestamp\":...}");
  }
  InputRecord r;
  // A key/value: null stays null, a string is its bytes, {"base64": "..."} the decoded bytes (as
  // consume -o json prints bytes that are not UTF-8), anything else its JSON text.
  if (auto it = doc.find("key"); it != doc.end()) {
    auto key = JsonToBytes(*it);
    if (!key) return MakeError(ErrorCode::kInvalidArgument, "key: " + key.error().context);
    r.key = std::move(key).value();
  }
  if (auto it = doc.find("value"); it != doc.end()) {
    auto value = JsonToBytes(*it);
    if (!value) return MakeError(ErrorCode::kInvalidArgument, "value: " + value.error().context);
    r.value = std::move(value).value();
  }
  if (auto it = doc.find("headers"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "\"headers\" must be an object of strings");
    }
    for (const auto& [k, v] : it->items()) {
      const bool b64 = v.is_object() && v.size() == 1 && v.contains("base64");
      auto bytes = JsonToBytes(v);
      if ((!v.is_string() && !v.is_null() && !b64) || !bytes) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "header \"" + k + "\" must be a string, null or {\"base64\": ...}");
      }
      r.headers.emplace_back(k, std::move(bytes).value());
    }
  }
  if (auto it = doc.find("timestamp"); it != doc.end() && !it->is_null()) {
    if (it->is_number_integer() && it->get<int64_t>() >= 0) {
      r.timestamp = it->get<int64_t>();
    } else if (it->is_string()) {
      r.timestamp = ParseTime(it->get<std::string>());
    }
    if (!r.timestamp) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "bad \"timestamp\" " + it->dump() + " (want epoch milliseconds or an ISO-8601 string)");
    }
  }
  return r;
}

int Produce(Context& ctx, const ProduceArgs& args) {
  // Arguments first: every usage error before the engine opens.
  const bool json_input = args.format == "json";
  std::optional<std::string> separator;
  if (args.key_separator_given) {
    if (json_input) return ctx.Usage("--key-separator does not apply to --format json");
    separator = DecodeEscapes(args.key_separator);
    if (!separator || separator->empty()) {
      return ctx.Usage("--key-separator: bad separator '" + args.key_separator + "'");
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  for (const auto& h : args.headers) {
    const size_t eq = h.find('=');
    if (eq == std::string::npos) return ctx.Usage("--header: want key=value, got '" + h + "'");
    headers.emplace_back(h.substr(0, eq), h.substr(eq + 1));
  }
  if (engine::IsInternalTopic(args.topic)) {
    return ctx.Usage("refusing to produce to internal topic '" + args.topic + "'");
  }

  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  auto partitions = b->Partitions(args.topic);
  if (!partitions) return ctx.Fail(partitions.error());
  if (args.partition >= static_cast<int32_t>(partitions->size())) {
    std::vector<int32_t> p{args.partition};
    return ctx.Usage(CheckPartitions(p, static_cast<int32_t>(partitions->size()), args.topic));
  }
  auto opened = b->OpenSink(args.topic, {args.partition, args.batch_records, args.batch_bytes,
                                         *base::ParseCodec(args.compression)});
  if (!opened) return ctx.Fail(opened.error());
  RecordSink& producer = **opened;

  // SIGINT/SIGTERM end the input: the records read so far are sent, the summary printed, and the
  // exit code is 128 + the signal.
  SignalStop signals;
  const auto t0 = std::chrono::steady_clock::now();
  InputRecord rec;
  std::string bad_line;  // "line N: why" when an input line could not be parsed
  auto on_line = [&](std::string_view line, int64_t line_no) -> Status {
    if (json_input) {
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) return {};  // blank line
      auto parsed = ParseJsonRecord(line);
      if (!parsed) {
        bad_line = "line " + std::to_string(line_no) + ": " + parsed.error().context;
        return parsed.error();
      }
      rec = std::move(parsed).value();
      rec.headers.insert(rec.headers.begin(), headers.begin(), headers.end());
    } else {
      rec.key.reset();
      rec.value.emplace(line);
      if (separator) {
        if (const size_t at = line.find(*separator); at != std::string_view::npos) {
          rec.key.emplace(line.substr(0, at));
          rec.value->assign(line.substr(at + separator->size()));
        }
      }
      rec.headers = headers;
    }
    return producer.Add(rec, line_no);
  };
  auto ended = ForEachLine(STDIN_FILENO, signals, on_line);
  Status status;
  if (ended) {
    status = producer.Flush();
  } else if (bad_line.empty()) {
    status = ended.error();
  } else {
    // The records read before the bad line are still produced.
    if (auto s = producer.Flush(); !s) return ctx.Fail(s.error().context);
    return ctx.Fail(bad_line + " (the " + std::to_string(producer.records()) +
                    " records before it were produced)");
  }
  if (!status) {
    return ctx.Fail(status.error().context + " (" + std::to_string(producer.records()) +
                    " records were produced before the error)");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = seconds > 0 ? static_cast<double>(producer.records()) / seconds : 0;
  std::fprintf(stderr,
               "produced %lld records (%s of keys and values) to %s in %.2f s: %.0f records/s\n",
               static_cast<long long>(producer.records()), HumanBytes(producer.bytes()).c_str(),
               args.topic.c_str(), seconds, rate);
  const int sig = ended->by_signal;
  if (ctx.format() == OutputFormat::kJson) {
    nlohmann::json out = {{"topic", args.topic},
                          {"records", producer.records()},
                          {"bytes", producer.bytes()},
                          {"seconds", seconds},
                          {"records_per_second", rate}};
    if (sig != 0) out["interrupted_by_signal"] = sig;
    PrintJson(out);
  }
  if (sig == 0) return kExitOk;
  std::string unfinished;
  if (ended->unfinished_bytes > 0) {
    unfinished = "; an unfinished last line (" + std::to_string(ended->unfinished_bytes) +
                 " bytes without a newline) was not produced";
  }
  ctx.Fail("produce interrupted by signal " + std::to_string(sig) + ": the " +
           std::to_string(producer.records()) + " records read before it were all produced" +
           unfinished);
  return 128 + sig;
}

}  // namespace

void AddProduceCommand(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ProduceArgs>();
  CLI::App* cmd = app.add_subcommand(
      "produce", "Produce records from stdin, one per line (or one JSON object per line)");
  cmd->fallthrough();  // global flags (--data-dir, --output, ...) may follow the subcommand
  cmd->add_option("topic", a->topic, "Topic to produce to")->required();
  auto* separator =
      cmd->add_option("--key-separator", a->key_separator,
                      "Split each line into key and value at the first SEP (escapes \\t \\n \\\\); "
                      "a line without SEP has a null key");
  cmd->add_option("--header,-H", a->headers, "Header key=value added to every record (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--partition", a->partition,
                  "Partition for every record (default: murmur2 of the key like Kafka, records "
                  "without a key round robin per batch)")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()))
      ->default_str("");  // -1 means "not given": do not show it
  cmd->add_option("--format", a->format,
                  "Input: text (a record per line) or json ({\"key\":..., \"value\":..., "
                  "\"headers\":{...}, \"timestamp\": epoch ms or ISO-8601} per line)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--batch-records", a->batch_records, "Records per batch (per partition)")
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--batch-bytes", a->batch_bytes, "Bytes per batch (per partition, uncompressed)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  cmd->add_option("--compression", a->compression,
                  "Codec of the batches sent: zstd (default), lz4, gzip, snappy or none; a topic "
                  "whose compression.type names a codec stores that codec")
      ->check(CLI::IsMember({"zstd", "lz4", "gzip", "snappy", "none"}));
  cmd->callback([&ctx, a, separator] {
    a->key_separator_given = separator->count() > 0;
    ctx.exit_code = Produce(ctx, *a);
  });
}

}  // namespace sluice::cli

// sluice produce TOPIC: records from stdin, one per line (or one JSON object per line), batched
// per partition and appended through the engine.
//
// Partitioning: --partition P puts every record in P. Otherwise a record with a key goes to
// murmur2(key) % partitions with Kafka's murmur2 (seed 0x9747b28c, sign bit cleared), so a key
// lands in the same partition as with Kafka's default partitioner; records without a key go round
// robin, one batch at a time (Kafka's "sticky" partitioner): the partition changes whenever a batch
// is sent.

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
using json = nlohmann::ordered_json;

struct ProduceArgs {
  std::string topic;
  std::string key_separator;
  bool key_separator_given = false;
  std::vector<std::string> headers;
  int32_t partition = -1;  // -1: by key hash, else round robin
  std::string format = "text";
  int32_t batch_records = 1000;
  int64_t batch_bytes = 1 << 20;
};

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), on unsigned 32-bit arithmetic.
uint32_t Murmur2(std::string_view data) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const size_t length = data.size();
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(data[i])); };
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  for (size_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = byte(i) | (byte(i + 1) << 8) | (byte(i + 2) << 16) | (byte(i + 3) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3:
      h ^= byte(tail + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(tail + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(tail);
      h *= kM;
      break;
    default:
      break;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

// Calls fn(line, line_number) for every line of `in` (without its '\n'; a last line without one
// counts). Stops at fn's first error.
template <typename Fn>
Status ForEachLine(std::FILE* in, Fn&& fn) {
  std::string buf(1 << 20, '\0');
  std::string carry;  // a line split across reads
  int64_t line_no = 0;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), in);
    if (n == 0) {
      if (std::ferror(in)) return base::ErrnoError(errno, "read", "stdin");
      break;
    }
    std::string_view chunk(buf.data(), n);
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
  return {};
}

// Collects the first parse error of a JSON text, for a message that says where it went wrong.
class JsonErrorCollector : public nlohmann::json_sax<json> {
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
  json::sax_parse(line, &collector);
  std::string m = collector.message;
  // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
  if (auto pos = m.find("column "); pos != std::string::npos) m = m.substr(pos);
  for (char& c : m) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return m.empty() ? "malformed JSON" : "malformed JSON at " + m;
}

// One record to produce, parsed from a line.
struct InputRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  std::optional<int64_t> timestamp;
};

// A JSON key/value: null stays null, a string is its bytes, anything else its JSON text.
std::optional<std::string> JsonBytes(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

Result<InputRecord> ParseJsonRecord(std::string_view line) {
  json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, JsonParseError(line));
  if (!doc.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected a JSON object {\"key\":..., \"value\":..., \"headers\":{...}, "
                     "\"timestamp\":...}");
  }
  InputRecord r;
  if (auto it = doc.find("key"); it != doc.end()) r.key = JsonBytes(*it);
  if (auto it = doc.find("value"); it != doc.end()) r.value = JsonBytes(*it);
  if (auto it = doc.find("headers"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "\"headers\" must be an object of strings");
    }
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string() && !v.is_null()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "header \"" + k + "\" must be a string or null");
      }
      r.headers.emplace_back(k, JsonBytes(v));
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

// Per-partition batch builders; appends a partition's batch when it is full.
class Producer {
 public:
  Producer(engine::Engine& engine, std::string topic, int32_t partitions, const ProduceArgs& args,
           size_t batch_limit_bytes)
      : engine_(engine),
        topic_(std::move(topic)),
        args_(args),
        limit_bytes_(batch_limit_bytes),
        pending_(static_cast<size_t>(partitions)) {}

  Status Add(const InputRecord& r, int64_t line_no) {
    const int32_t p = ChoosePartition(r.key);
    Pending& pending = pending_[static_cast<size_t>(p)];
    size_t size = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0) + 32;
    headers_.clear();
    for (const auto& [k, v] : r.headers) {
      headers_.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
      size += k.size() + (v ? v->size() : 0) + 8;
    }
    if (!pending.builder.empty() && pending.builder.records_bytes() + size > limit_bytes_) {
      RETURN_IF_ERROR(Send(p));
    }
    if (pending.builder.empty()) pending.first_line = line_no;
    pending.last_line = line_no;
    auto view = [](const std::optional<std::string>& s) {
      return s ? std::optional<std::string_view>(*s) : std::nullopt;
    };
    pending.builder.Add(view(r.key), view(r.value), r.timestamp.value_or(engine_.clock().NowMs()),
                        headers_);
    pending.records++;
    pending.bytes += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    if (pending.builder.record_count() >= args_.batch_records ||
        pending.builder.records_bytes() >= limit_bytes_) {
      RETURN_IF_ERROR(Send(p));
    }
    return {};
  }

  Status SendAll() {
    for (size_t p = 0; p < pending_.size(); ++p) RETURN_IF_ERROR(Send(static_cast<int32_t>(p)));
    return {};
  }

  int64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Pending {
    segment::BatchBuilder builder;
    int64_t records = 0;
    uint64_t bytes = 0;
    int64_t first_line = 0;
    int64_t last_line = 0;
  };

  int32_t ChoosePartition(const std::optional<std::string>& key) const {
    const auto n = static_cast<uint32_t>(pending_.size());
    if (args_.partition >= 0) return args_.partition;
    if (key) return static_cast<int32_t>((Murmur2(*key) & 0x7fffffffu) % n);
    return sticky_;
  }

  Status Send(int32_t p) {
    Pending& pending = pending_[static_cast<size_t>(p)];
    if (pending.builder.empty()) return {};
    auto fail = [&](const base::Error& e) {
      std::string lines = "line " + std::to_string(pending.first_line);
      if (pending.last_line != pending.first_line) {
        lines = "lines " + std::to_string(pending.first_line) + ".." +
                std::to_string(pending.last_line);
      }
      return MakeError(
          e.code, lines + ": append to " + topic_ + "-" + std::to_string(p) + ": " + e.ToString());
    };
    auto batch = pending.builder.Build();
    if (!batch) return fail(batch.error());
    if (auto r = engine_.Append(topic_, p, base::AsBytes(*batch)); !r) return fail(r.error());
    records_ += pending.records;
    bytes_ += pending.bytes;
    pending.records = 0;
    pending.bytes = 0;
    if (p == sticky_) sticky_ = (sticky_ + 1) % static_cast<int32_t>(pending_.size());
    return {};
  }

  engine::Engine& engine_;
  const std::string topic_;
  const ProduceArgs& args_;
  const size_t limit_bytes_;
  std::vector<Pending> pending_;
  std::vector<segment::RecordHeader> headers_;  // scratch
  int32_t sticky_ = 0;                          // partition for records without a key
  int64_t records_ = 0;                         // appended
  uint64_t bytes_ = 0;                          // of keys and values appended
};

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

  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  auto desc = e->DescribeTopic(args.topic);
  if (!desc) return ctx.Fail(desc.error());
  if (args.partition >= desc->info.partitions) {
    std::vector<int32_t> p{args.partition};
    return ctx.Usage(CheckPartitions(p, desc->info.partitions, args.topic));
  }
  // A batch must stay below the topic's limits (checked on the uncompressed batch).
  const int64_t cap =
      std::min(desc->info.config.max_message_bytes, desc->info.config.segment_bytes);
  const auto limit =
      static_cast<size_t>(std::max<int64_t>(1, std::min(args.batch_bytes, cap - 4096)));
  Producer producer(*e, args.topic, desc->info.partitions, args, limit);

  const auto t0 = std::chrono::steady_clock::now();
  InputRecord rec;
  std::string bad_line;  // "line N: why" when an input line could not be parsed
  auto status = ForEachLine(stdin, [&](std::string_view line, int64_t line_no) -> Status {
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
  });
  if (status.has_value()) {
    status = producer.SendAll();
  } else if (!bad_line.empty()) {
    // The records read before the bad line are still produced.
    if (auto s = producer.SendAll(); !s) return ctx.Fail(s.error().context);
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
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"topic", args.topic},
               {"records", producer.records()},
               {"bytes", producer.bytes()},
               {"seconds", seconds},
               {"records_per_second", rate}});
  }
  return kExitOk;
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
  cmd->callback([&ctx, a, separator] {
    if (ctx.RejectRemote("produce")) return;
    a->key_separator_given = separator->count() > 0;
    ctx.exit_code = Produce(ctx, *a);
  });
}

}  // namespace sluice::cli

// sluice verify [TOPIC] and sluice dump FILE: read-only inspection of a data directory.

#include <cinttypes>

#include "cli/commands.h"
#include "cli/inspection_output.h"
#include "cli/record_format.h"
#include "engine/inspect.h"
#include "segment/dictionary.h"
#include "segment/frame.h"
#include "segment/io/posix_fs.h"
#include "segment/segment.h"
#include "segment/verify.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

// Verify inspects the files directly (engine/inspect.h), not through an engine, whose open would
// recover, rebuild and truncate exactly what verify is meant to report. It exits 0 only for a
// healthy data directory: anything open would refuse, take offline or repair by itself is 1.
int Verify(Context& ctx, const std::string& only_topic) {
  // A mistyped path must not pass as an empty, healthy data directory.
  if (!ctx.DataDirExists()) return kExitFailure;
  io::PosixFs fs;
  auto inspected = engine::InspectDataDir(fs, ctx.data_dir, only_topic);
  if (!inspected) return ctx.Fail(inspected.error());
  const engine::DataDirInspection& in = *inspected;
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(InspectionJson(in));
    return in.healthy() ? kExitOk : kExitFailure;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& part : in.partitions) {
    std::vector<std::string> row{part.topic, std::to_string(part.partition)};
    if (part.segments) {
      const auto& r = *part.segments;
      row.insert(row.end(),
                 {std::to_string(r.segments), std::to_string(r.frames),
                  std::to_string(r.start_offset.value()), std::to_string(r.next_offset.value())});
    } else {
      row.insert(row.end(), {"-", "-", "-", "-"});
    }
    row.emplace_back(engine::VerdictName(part.verdict));
    rows.push_back(std::move(row));
  }
  PrintTable({"TOPIC", "PARTITION", "SEGMENTS", "BATCHES", "START", "END", "STATE"}, rows);
  for (const engine::Finding* f : FindingsFrom(in, engine::Verdict::kNote)) {
    std::fputs(FindingText(*f).c_str(), stdout);
  }
  if (in.healthy()) {
    std::printf("verify: healthy: every checksum, offset, index and small file is consistent\n");
  } else {
    std::printf("verify: not healthy (worst: %s); `sluice repair` shows what it would do\n",
                std::string(engine::VerdictName(in.verdict)).c_str());
  }
  return in.healthy() ? kExitOk : kExitFailure;
}

std::string Printable(std::optional<std::string_view> s) {
  if (!s) return "null";
  std::string out;
  for (char c : *s) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

int Dump(Context& ctx, const std::string& path, bool records) {
  io::PosixFs fs;
  const std::string name =
      path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  auto base = segment::Segment::ParseLogName(name);
  if (!base) return ctx.Usage("dump: '" + path + "' is not a segment file (<20 digits>.log)");
  auto size = fs.FileSize(path);
  if (!size) return ctx.Fail(size.error());
  auto map = fs.Map(path, *size);
  if (!map) return ctx.Fail(map.error());
  base::Bytes data = (*map)->data();
  const bool json_out = ctx.format() == OutputFormat::kJson;
  if (data.size() < segment::format::kSegmentHeaderSize ||
      std::memcmp(data.data(), segment::format::kSegmentMagic.data(), 8) != 0) {
    return ctx.Fail(path + ": not a sluice segment (bad magic)");
  }
  if (!json_out) {
    std::printf("segment %s: format version %u, base offset %" PRId64 ", %" PRIu64 " bytes\n",
                path.c_str(), base::LoadLE<uint16_t>(data.data() + 8),
                base::LoadLE<int64_t>(data.data() + 16), *size);
  }
  base::FilePos pos(segment::format::kSegmentHeaderSize);
  // The partition's zstd dictionaries live beside the segment (segment/dictionary.h).
  const segment::DictionaryStore dictionaries(
      fs, path.rfind('/') == std::string::npos ? "." : path.substr(0, path.rfind('/')));
  segment::RecordDecoder decoder;
  decoder.set_dictionaries(&dictionaries);
  int status = kExitOk;
  for (;;) {
    segment::FrameRead r = segment::ReadFrame(data, pos, segment::FrameVerify::kChecksum);
    if (r.kind == segment::FrameRead::Kind::kEnd) break;
    if (r.kind == segment::FrameRead::Kind::kBad) {
      std::fprintf(stderr, "sluice: %s at position %" PRIu64 ": %s\n", path.c_str(), pos.value(),
                   r.error.c_str());
      status = kExitFailure;
      break;
    }
    const auto& h = r.frame.header;
    json batch = {{"position", pos.value()},
                  {"base_offset", h.base_offset},
                  {"last_offset", h.last_offset()},
                  {"records", h.record_count},
                  {"codec", std::string(base::CodecName(h.codec()))},
                  {"bytes", r.frame.batch.size()},
                  {"max_timestamp", h.max_timestamp},
                  {"producer_id", h.producer_id}};
    const uint32_t dictionary = segment::BatchDictionaryId(r.frame.batch, h);
    if (dictionary != 0) batch["dictionary"] = dictionary;
    if (!json_out) {
      const std::string codec =
          std::string(base::CodecName(h.codec())) +
          (dictionary != 0 ? " (dictionary " + std::to_string(dictionary) + ")" : "");
      std::printf("batch at %" PRIu64 ": offsets %" PRId64 "..%" PRId64
                  ", %d records, %s, %zu "
                  "bytes, max timestamp %s\n",
                  pos.value(), h.base_offset, h.last_offset(), h.record_count, codec.c_str(),
                  r.frame.batch.size(), FormatTime(h.max_timestamp).c_str());
    }
    if (records) {
      json recs = json::array();
      auto s = segment::ForEachRecord(r.frame.batch, decoder, [&](const segment::RecordView& rec) {
        json headers = json::object();
        for (const auto& hd : rec.headers) {
          headers[std::string(hd.key)] =
              json_out ? BytesToJson(hd.value) : json(Printable(hd.value));
        }
        if (json_out) {
          recs.push_back({{"offset", rec.offset},
                          {"timestamp", rec.timestamp},
                          {"key", BytesToJson(rec.key)},
                          {"value", BytesToJson(rec.value)},
                          {"headers", headers}});
        } else {
          std::printf("  offset %" PRId64 "  %s  key=%s  value=%s%s\n", rec.offset,
                      FormatTime(rec.timestamp).c_str(), Printable(rec.key).c_str(),
                      Printable(rec.value).c_str(),
                      rec.headers.empty() ? "" : ("  headers=" + headers.dump()).c_str());
        }
        return base::Status();
      });
      if (!s) {
        std::fprintf(stderr, "sluice: %s at position %" PRIu64 ": %s\n", path.c_str(), pos.value(),
                     s.error().ToString().c_str());
        status = kExitFailure;
      }
      batch["records_detail"] = recs;
    }
    if (json_out) PrintJson(batch);
    pos = r.frame.end();
  }
  return status;
}

}  // namespace

void AddVerifyCommands(CLI::App& app, Context& ctx) {
  auto topic = std::make_shared<std::string>();
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Check every file sluice writes as opening would; exit 1 unless the data directory is "
      "healthy");
  verify->add_option("topic", *topic, "Only this topic (default: all)");
  verify->callback([&ctx, topic] {
    if (ctx.RejectRemote("verify", "it reads segment files; run it on the server's --data-dir")) {
      return;
    }
    ctx.exit_code = Verify(ctx, *topic);
  });

  struct DumpArgs {
    std::string file;
    bool batches_only = false;
  };
  auto d = std::make_shared<DumpArgs>();
  CLI::App* dump = app.add_subcommand("dump", "Print a segment file's batches and records");
  dump->add_option("file", d->file, "Segment file (<base offset>.log)")->required();
  dump->add_flag("--batches-only", d->batches_only, "Print batches without their records");
  dump->callback([&ctx, d] {
    if (ctx.RejectRemote("dump", "it reads a segment file; run it where the file is")) return;
    ctx.exit_code = Dump(ctx, d->file, !d->batches_only);
  });
}

}  // namespace sluice::cli

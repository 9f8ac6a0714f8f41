// sluice verify [TOPIC] and sluice dump FILE: read-only inspection of a data directory.

#include <cinttypes>

#include "cli/commands.h"
#include "engine/catalog.h"
#include "segment/frame.h"
#include "segment/io/posix_fs.h"
#include "segment/segment.h"
#include "segment/verify.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

// Verify works on the files directly (not through an engine, whose open would recover and
// truncate exactly what verify is meant to report).
int Verify(Context& ctx, const std::string& only_topic) {
  // A mistyped path must not pass as an empty, healthy data directory.
  if (!ctx.DataDirExists()) return kExitFailure;
  io::PosixFs fs;
  auto catalog = engine::LoadCatalog(fs, ctx.data_dir);
  if (!catalog) return ctx.Fail(catalog.error());
  if (!only_topic.empty() && catalog->count(only_topic) == 0) {
    return ctx.Fail("topic '" + only_topic + "' does not exist in " + ctx.data_dir);
  }
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> problems;
  for (const auto& [name, info] : *catalog) {
    if (!only_topic.empty() && name != only_topic) continue;
    for (int32_t p = 0; p < info.partitions; ++p) {
      const std::string dir = io::JoinPath(ctx.data_dir, name + "-" + std::to_string(p));
      auto report = segment::VerifyPartition(fs, dir);
      if (!report) return ctx.Fail(report.error());
      json jp = json::array();
      for (const auto& pr : report->problems) {
        jp.push_back({{"file", pr.file},
                      {"position", pr.position},
                      {"offset", pr.offset},
                      {"problem", pr.what}});
        problems.push_back(pr.file + " at position " + std::to_string(pr.position) +
                           (pr.offset >= 0 ? " (offset " + std::to_string(pr.offset) + ")" : "") +
                           ": " + pr.what);
      }
      out.push_back({{"topic", name},
                     {"partition", p},
                     {"segments", report->segments},
                     {"batches", report->frames},
                     {"records", report->records},
                     {"start_offset", report->start_offset.value()},
                     {"end_offset", report->next_offset.value()},
                     {"ok", report->problems.empty()},
                     {"problems", jp}});
      rows.push_back({name, std::to_string(p), std::to_string(report->segments),
                      std::to_string(report->frames), std::to_string(report->start_offset.value()),
                      std::to_string(report->next_offset.value()),
                      report->problems.empty() ? "ok" : "DAMAGED"});
    }
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"ok", problems.empty()}, {"partitions", out}});
  } else {
    PrintTable({"TOPIC", "PARTITION", "SEGMENTS", "BATCHES", "START", "END", "STATUS"}, rows);
    for (const auto& p : problems) std::printf("damage: %s\n", p.c_str());
    std::printf("%s\n", problems.empty() ? "verify: every checksum, offset and index is consistent"
                                         : "verify: damage found");
  }
  return problems.empty() ? kExitOk : kExitFailure;
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
  segment::RecordDecoder decoder;
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
    if (!json_out) {
      std::printf("batch at %" PRIu64 ": offsets %" PRId64 "..%" PRId64
                  ", %d records, %s, %zu "
                  "bytes, max timestamp %s\n",
                  pos.value(), h.base_offset, h.last_offset(), h.record_count,
                  std::string(base::CodecName(h.codec())).c_str(), r.frame.batch.size(),
                  FormatTime(h.max_timestamp).c_str());
    }
    if (records) {
      json recs = json::array();
      auto s = segment::ForEachRecord(r.frame.batch, decoder, [&](const segment::RecordView& rec) {
        json headers = json::object();
        for (const auto& hd : rec.headers) {
          headers[std::string(hd.key)] = hd.value ? json(Printable(hd.value)) : json(nullptr);
        }
        if (json_out) {
          recs.push_back({{"offset", rec.offset},
                          {"timestamp", rec.timestamp},
                          {"key", rec.key ? json(Printable(rec.key)) : json(nullptr)},
                          {"value", rec.value ? json(Printable(rec.value)) : json(nullptr)},
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
      "verify", "Check every frame checksum, offset contiguity and index; exit 1 on damage");
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

#include "cli/demo.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/telemetry.h"
#include "engine/engine.h"
#include "engine/replay.h"
#include "segment/base/checksum.h"
#include "segment/record_batch.h"

namespace sluice::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct PartitionTotals {
  int64_t records = 0;
  uint64_t value_bytes = 0;
  uint64_t checksum = 0;  // sum of XXH3 of every value: order-independent, catches any change
};

}  // namespace

int RunDemo(const DemoOptions& o) {
  engine::EngineOptions eo;
  eo.data_dir = o.data_dir;
  eo.write_path = o.write_path;
  auto opened = engine::Engine::Open(eo);
  if (!opened) {
    std::fprintf(stderr, "sluice demo: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  auto& engine = **opened;
  // The demo writes only to a topic it creates in this run: an existing topic of that name holds
  // someone's data (or an earlier demo's), and the demo never deletes what it did not create. By
  // default it takes a free name, so that the quick start can be run again.
  std::string topic = o.topic;
  for (int n = 2; !o.topic_given && engine.DescribeTopic(topic) && n < 10000; ++n) {
    topic = o.topic + "-" + std::to_string(n);
  }
  if (engine.DescribeTopic(topic)) {
    std::fprintf(stderr,
                 "sluice demo: topic '%s' already exists in %s and the demo only writes to a "
                 "topic it creates; pick another name with --topic NAME\n",
                 topic.c_str(), o.data_dir.c_str());
    if (auto s = engine.Close(); !s) {
      std::fprintf(stderr, "sluice demo: close: %s\n", s.error().ToString().c_str());
    }
    return 1;
  }
  // The producers compress (as Kafka clients do) and the topic keeps their batches as they come
  // (compression.type producer), so any client can read them back.
  const base::Codec codec = *base::ParseCodec(o.compression);
  if (auto s = engine.CreateTopic(topic, o.partitions,
                                  {{"compression.type", "producer"}, {"flush", o.flush}});
      !s) {
    std::fprintf(stderr, "sluice demo: %s\n", s.error().ToString().c_str());
    return 1;
  }
  std::printf(
      "sluice demo: %lld telemetry records into topic '%s' (%d partitions, batches of %d, "
      "compression %s, flush=%s) in %s\n",
      static_cast<long long>(o.records), topic.c_str(), o.partitions, o.batch_records,
      o.compression.c_str(), o.flush.c_str(), o.data_dir.c_str());

  // Produce: one producer thread per partition.
  std::vector<PartitionTotals> produced(static_cast<size_t>(o.partitions));
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int32_t p = 0; p < o.partitions; ++p) {
    producers.emplace_back([&, p] {
      TelemetryGenerator gen(static_cast<uint64_t>(p) + 1);
      segment::BatchBuilder builder;
      PartitionTotals& totals = produced[static_cast<size_t>(p)];
      const int64_t share = o.records / o.partitions + (p < o.records % o.partitions ? 1 : 0);
      std::string value;
      for (int64_t i = 0; i < share && !failed; ++i) {
        value.clear();
        int64_t ts = gen.Next(value);
        builder.Add(gen.last_host(), value, ts);
        totals.records++;
        totals.value_bytes += value.size();
        totals.checksum += base::Xxh3(base::AsBytes(value));
        if (builder.record_count() == o.batch_records || i + 1 == share) {
          auto batch = builder.Build(codec);
          auto r = batch ? engine.Append(topic, p, base::AsBytes(*batch))
                         : base::Result<engine::AppendResult>(batch.error());
          if (!r) {
            std::fprintf(stderr, "sluice demo: append: %s\n", r.error().ToString().c_str());
            failed = true;
          }
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  if (failed) return 1;
  if (auto s = engine.Flush(); !s) {
    std::fprintf(stderr, "sluice demo: flush: %s\n", s.error().ToString().c_str());
    return 1;
  }
  const auto t1 = Clock::now();

  // Consume everything back, decode every record, compare.
  PartitionTotals read_total;
  uint64_t stored_bytes = 0;
  segment::RecordDecoder decoder;
  for (int32_t p = 0; p < o.partitions; ++p) {
    base::Offset next(0);
    for (;;) {
      auto r = engine.Read(topic, p, next, 4 << 20);
      if (!r) {
        std::fprintf(stderr, "sluice demo: read: %s\n", r.error().ToString().c_str());
        return 1;
      }
      if (r->batches.empty()) break;
      decoder.set_dictionaries(r->dictionaries.get());
      for (const auto& b : r->batches) {
        stored_bytes += b.bytes.size();
        auto s = segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
          if (rec.offset < next.value()) return base::Status();
          read_total.records++;
          read_total.value_bytes += rec.value ? rec.value->size() : 0;
          read_total.checksum += rec.value ? base::Xxh3(base::AsBytes(*rec.value)) : 0;
          next = base::Offset(rec.offset + 1);
          return base::Status();
        });
        if (!s) {
          std::fprintf(stderr, "sluice demo: decode: %s\n", s.error().ToString().c_str());
          return 1;
        }
      }
    }
  }
  const auto t2 = Clock::now();

  // Replay: rebuild a view of the history (records and latest timestamp per host), all partitions
  // merged by timestamp, through the replay API an event-sourced service would use.
  std::map<std::string, std::pair<int64_t, int64_t>> per_host;
  engine::ReplayOptions replay;
  replay.topic = topic;
  replay.order = engine::ReplayOrder::kByTimestamp;
  int64_t last_ts = INT64_MIN;
  bool ordered = true;
  auto replayed = engine::Replay(engine, replay, [&](int32_t, const segment::RecordView& rec) {
    auto& [count, latest] = per_host[std::string(rec.key.value_or(""))];
    ++count;
    latest = std::max(latest, rec.timestamp);
    ordered = ordered && rec.timestamp >= last_ts;
    last_ts = rec.timestamp;
    return base::Status();
  });
  if (!replayed) {
    std::fprintf(stderr, "sluice demo: replay: %s\n", replayed.error().ToString().c_str());
    return 1;
  }
  const auto t3 = Clock::now();

  PartitionTotals want;
  for (const auto& t : produced) {
    want.records += t.records;
    want.value_bytes += t.value_bytes;
    want.checksum += t.checksum;
  }
  const double produce_s = Seconds(t0, t1);
  const double consume_s = Seconds(t1, t2);
  std::printf("  produced %lld records, %.1f MB of values in %.2f s: %.0f records/s, %.1f MB/s\n",
              static_cast<long long>(want.records), static_cast<double>(want.value_bytes) / 1e6,
              produce_s, static_cast<double>(want.records) / produce_s,
              static_cast<double>(want.value_bytes) / 1e6 / produce_s);
  std::printf("  consumed %lld records in %.2f s: %.0f records/s, %.1f MB/s\n",
              static_cast<long long>(read_total.records), consume_s,
              static_cast<double>(read_total.records) / consume_s,
              static_cast<double>(read_total.value_bytes) / 1e6 / consume_s);
  const double replay_s = Seconds(t2, t3);
  std::printf(
      "  replayed %lld records merged by timestamp in %.2f s: %.0f records/s, state of %zu "
      "hosts rebuilt\n",
      static_cast<long long>(replayed->records), replay_s,
      static_cast<double>(replayed->records) / replay_s, per_host.size());
  std::printf("  stored %.1f MB of batches: compression ratio %.2fx\n",
              static_cast<double>(stored_bytes) / 1e6,
              static_cast<double>(want.value_bytes) / static_cast<double>(stored_bytes));
  const bool ok = read_total.records == want.records && replayed->records == want.records &&
                  ordered && read_total.value_bytes == want.value_bytes &&
                  read_total.checksum == want.checksum;
  std::printf("  read back %s every record produced\n", ok ? "matches" : "DOES NOT MATCH");
  if (auto s = engine.Close(); !s) {
    std::fprintf(stderr, "sluice demo: close: %s\n", s.error().ToString().c_str());
    return 1;
  }
  return ok ? 0 : 1;
}

void AddDemoCommand(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Produce telemetry into a topic, read it all back and check it, print throughput");
  cmd->add_option("--topic", o->topic,
                  "Topic to create (must not exist: the demo never touches a topic it did not "
                  "create); by default telemetry, or telemetry-N when that exists");
  cmd->add_option("--records", o->records, "Records to produce")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--partitions", o->partitions, "Partitions (one producer thread each)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--batch", o->batch_records, "Records per batch")->check(CLI::Range(1, 100000));
  cmd->add_option("--compression", o->compression,
                  "Codec the producers compress batches with: zstd, lz4 or none")
      ->check(CLI::IsMember({"zstd", "lz4", "none"}));
  cmd->add_option("--flush", o->flush, "none or sync")->check(CLI::IsMember({"none", "sync"}));
  cmd->callback([&ctx, o, cmd] {
    if (ctx.RejectRemote("demo", "it runs the engine on a --data-dir of its own")) return;
    o->data_dir = ctx.data_dir;
    o->write_path = ctx.write_path;
    o->topic_given = cmd->count("--topic") > 0;
    ctx.exit_code = RunDemo(*o);
  });
}

}  // namespace sluice::cli

// Replay and committed-offset benchmarks (issue: consumer-group offsets and the replay API).
//
//  BM_Replay            replay of a ~1 GiB (uncompressed) zstd topic of 200-byte telemetry records
//                       into a trivial fold, through engine::Replay
//  BM_ZstdDecompress    the baseline: ZSTD_decompressDCtx of exactly the same stored batches,
//                       held in memory, in the same run. Target: replay >= 75% of it.
//  BM_OpenEngine        Engine::Open + GroupOffsets() (the replay of __consumer_offsets) of a
//                       data directory whose __consumer_offsets history holds 1,000,000 commit
//                       records (over 1,000 keys, and over 1,000,000 distinct keys, where
//                       compaction cannot shrink the state), never compacted before (a fresh
//                       copy each time; the open's own cleaning pass is included). Target: well
//                       under 1 s. Compacted vs not: sluice_cleaner_bench (cleaner_bench.cc).
//
// Run: build/release/bench/sluice_replay_bench  (Release build; data in $TMPDIR, removed at exit)

#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "bench/commit_history.h"
#include "cli/telemetry.h"
#include "engine/group_offsets.h"
#include "engine/replay.h"
#include "segment/record_batch.h"

namespace sluice::bench {
namespace {

namespace fs = std::filesystem;

fs::path Root() {
  static const fs::path root = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/sluice-replay-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return fs::path(tmpl);
  }();
  return root;
}

void Must(const base::Status& s, const char* what) {
  if (!s) {
    std::fprintf(stderr, "%s: %s\n", what, s.error().ToString().c_str());
    std::exit(1);
  }
}

std::unique_ptr<engine::Engine> OpenAt(const fs::path& dir) {
  engine::EngineOptions o;
  o.data_dir = dir.string();
  o.background = engine::BackgroundWork::kManual;
  auto e = engine::Engine::Open(o);
  Must(e.has_value() ? base::Status() : base::Status(e.error()), "open");
  return std::move(e).value();
}

// --- the 1 GiB telemetry topic -------------------------------------------------------------------

constexpr size_t kRecordBytes = 200;
constexpr uint64_t kLogicalBytes = 1ull << 30;

struct Topic {
  std::unique_ptr<engine::Engine> engine;
  std::vector<std::string> compressed;  // the stored batches' record sections
  uint64_t uncompressed_bytes = 0;      // their decompressed size
  int64_t records = 0;
};

Topic& TelemetryTopic() {
  static Topic* topic = [] {
    auto* t = new Topic;
    t->engine = OpenAt(Root() / "replay");
    Must(t->engine->CreateTopic("telemetry", 1,
                                {{"compression.type", "zstd"}, {"compression.zstd.level", "1"}}),
         "create");
    cli::TelemetryGenerator gen(1);
    segment::BatchBuilder builder;
    std::string value;
    for (uint64_t bytes = 0; bytes < kLogicalBytes; bytes += kRecordBytes) {
      value.clear();
      const int64_t ts = gen.Next(value);
      value.resize(kRecordBytes, ' ');  // exactly 200 bytes: JSON padded or cut
      builder.Add(std::nullopt, value, ts);
      if (builder.record_count() == 1000) {
        auto batch = builder.Build();
        Must(batch.has_value() ? base::Status() : base::Status(batch.error()), "build");
        auto r = t->engine->Append("telemetry", 0, base::AsBytes(*batch));
        Must(r.has_value() ? base::Status() : base::Status(r.error()), "append");
      }
    }
    Must(t->engine->Flush(), "flush");
    // The baseline's input: the record sections exactly as stored.
    base::Offset next(0);
    for (;;) {
      auto r = t->engine->Read("telemetry", 0, next, 8 << 20);
      Must(r.has_value() ? base::Status() : base::Status(r.error()), "read");
      if (r->batches.empty()) break;
      for (const auto& b : r->batches) {
        auto body = b.bytes.subspan(segment::kBatchHeaderSize);
        t->compressed.emplace_back(base::AsString(body));
        t->uncompressed_bytes += ZSTD_getFrameContentSize(body.data(), body.size());
        t->records += b.header.record_count;
        next = base::Offset(b.header.last_offset() + 1);
      }
    }
    return t;
  }();
  return *topic;
}

void BM_ZstdDecompress(benchmark::State& state) {
  Topic& t = TelemetryTopic();
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  std::string out(4 << 20, '\0');
  for (auto _ : state) {
    for (const std::string& c : t.compressed) {
      size_t n = ZSTD_decompressDCtx(ctx, out.data(), out.size(), c.data(), c.size());
      benchmark::DoNotOptimize(n);
    }
  }
  ZSTD_freeDCtx(ctx);
  state.SetBytesProcessed(static_cast<int64_t>(t.uncompressed_bytes) * state.iterations());
  state.SetItemsProcessed(t.records * state.iterations());
}

void BM_Replay(benchmark::State& state) {
  Topic& t = TelemetryTopic();
  int64_t seen = 0;
  for (auto _ : state) {
    engine::ReplayOptions o;
    o.topic = "telemetry";
    uint64_t value_bytes = 0;
    auto stats = engine::Replay(*t.engine, o, [&](int32_t, const segment::RecordView& r) {
      value_bytes += r.value ? r.value->size() : 0;  // the trivial fold
      return base::Status();
    });
    Must(stats.has_value() ? base::Status() : base::Status(stats.error()), "replay");
    seen = stats->records;
    benchmark::DoNotOptimize(value_bytes);
  }
  if (seen != t.records) state.SkipWithError("replay saw a different number of records");
  state.SetBytesProcessed(static_cast<int64_t>(t.uncompressed_bytes) * state.iterations());
  state.SetItemsProcessed(t.records * state.iterations());
}

// --- an engine with 1,000,000 commit records in its history --------------------------------------

constexpr int kPartitions = 100;
constexpr int64_t kCommits = 1'000'000;

const fs::path& CommitsDir(int64_t groups) {
  static std::map<int64_t, fs::path> dirs;
  auto it = dirs.find(groups);
  if (it != dirs.end()) return it->second;
  const fs::path dir = Root() / ("commits-" + std::to_string(groups));
  auto e = OpenAt(dir);
  Must(WriteCommitHistory(*e, "t", kPartitions, kCommits, groups), "commits");
  Must(e->Close(), "close");
  return dirs.emplace(groups, dir).first->second;
}

void BM_OpenEngine(benchmark::State& state) {
  const fs::path& dir = CommitsDir(state.range(0));
  int64_t replayed = 0;
  size_t groups = 0;
  const fs::path work = Root() / "commits-work";
  for (auto _ : state) {
    // A fresh copy each time: opening cleans a long history (GroupOffsetStore::Open), so the
    // directory itself is opened uncompacted only once.
    state.PauseTiming();
    fs::remove_all(work);
    fs::copy(dir, work, fs::copy_options::recursive);
    state.ResumeTiming();
    // Open + the replay of __consumer_offsets (GroupOffsets() loads it at its first call; a
    // server calls it at start, net/broker.cc).
    auto e = OpenAt(work);
    Must(e->GroupOffsets().has_value() ? base::Status() : base::Status(e->GroupOffsets().error()),
         "group offsets");
    state.PauseTiming();
    replayed = e->GroupOffsets().value()->records_replayed_at_open();
    groups = e->GroupOffsets().value()->ListGroups().size();
    Must(e->Close(), "close");
    e.reset();
    fs::remove_all(work);
    state.ResumeTiming();
  }
  state.counters["records_replayed"] = static_cast<double>(replayed);
  state.counters["groups"] = static_cast<double>(groups);
}

BENCHMARK(BM_ZstdDecompress)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_Replay)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
// 1,000,000 commit records: over 10 groups x 100 partitions = 1,000 keys, and over 10,000 groups x
// 100 partitions = 1,000,000 distinct keys, never compacted before (each open is of a fresh copy;
// the open replays every record, then cleans when due); sluice_cleaner_bench compares with a
// compacted history.
BENCHMARK(BM_OpenEngine)
    ->Arg(10)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5)
    ->UseRealTime();

// Prints the ratio of BM_Replay to its baseline at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end()) rates_[r.benchmark_name()] = it->second;
      if (r.benchmark_name().rfind("BM_OpenEngine", 0) == 0) {
        open_ms_[r.benchmark_name()] = r.GetAdjustedRealTime();
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    double replay = 0;
    double zstd = 0;
    for (const auto& [name, rate] : rates_) {
      if (name.rfind("BM_Replay", 0) == 0) replay = rate;
      if (name.rfind("BM_ZstdDecompress", 0) == 0) zstd = rate;
    }
    if (replay > 0 && zstd > 0) {
      std::printf(
          "\nreplay %.0f MB/s vs zstd decompression %.0f MB/s: ratio %.2f (target >= 0.75: "
          "%s)\n",
          replay / 1e6, zstd / 1e6, replay / zstd, replay / zstd >= 0.75 ? "pass" : "MISS");
    }
    for (const auto& [name, ms] : open_ms_) {
      std::printf("%s: %.0f ms to open (target well under 1000 ms: %s)\n", name.c_str(), ms,
                  ms < 1000 ? "pass" : "MISS");
    }
  }

 private:
  std::map<std::string, double> rates_;
  std::map<std::string, double> open_ms_;
};

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sluice::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  std::error_code ec;
  std::filesystem::remove_all(sluice::bench::Root(), ec);
  return 0;
}

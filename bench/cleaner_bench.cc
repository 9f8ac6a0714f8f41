// The log cleaner (issue 15, "How it is proven"): its throughput against sequential reads of the
// same segments, and start-up time with a compacted vs an uncompacted __consumer_offsets.
// (Produce latency while the cleaner runs is bench/cleaner_latency.sh, which uses --prepare-dirty
// of this program to write its dirty topic.)
//
//   throughput  A compacted topic (1 partition, segment.bytes --segment-mib) of --input-mib MiB of
//               sealed segments: keyed records with 100-300 byte values, batches of 100, keys
//               drawn uniformly from a space of --keep-percent of the records (so a pass keeps
//               about that share). Each round cleans a fresh copy of the dirty data directory
//               (Engine::CompactTopic, kNow: offset map, rewrite, fsync, swap) and reads the
//               original's same segments sequentially:
//                 read         Engine::Read of 1 MiB at a time over the cleaned range (frames'
//                              XXH3 verified, as every read does): the goal's baseline
//                 read+decode  the same plus RecordDecoder over every record (what a consumer or
//                              Replay does; the cleaner decodes every record twice)
//                 pread        pread(2) of the segment files in 1 MiB pieces (the OS's copy)
//               MB/s are of the segment bytes the pass read (CleanStats::bytes_before) for all
//               four, so the ratio is a ratio of times. --cache warm (default): every read from
//               the page cache (the original is read by the warm-up pass's copy, each copy is
//               written, then sync(2)ed, just before its pass); --cache cold: the files are
//               dropped from the page cache (posix_fadvise DONTNEED) before each pass and each
//               read. Goal: cleaner >= 0.5 x read.
//   startup     --commits commit records written through GroupOffsetStore::Commit (over --groups
//               groups x 100 partitions: 1,000 keys by default), then a copy whose
//               __consumer_offsets is compacted (CompactTopic, kNow). Each round times, on both
//               directories, what a server does at start for them: Engine::Open + GroupOffsets()
//               (the replay of __consumer_offsets, and the cleaning pass GroupOffsetStore::Open
//               runs when it replayed more than 50,000 records and a pass is due; Engine::Open
//               alone is also shown), each on a fresh copy (cp + sync, not timed). Warm cache.
//
// Rounds interleave the configurations, their order alternating; figures are median [min, max]
// over rounds, and ratios are per round. Data goes to a temporary directory in $TMPDIR, removed
// at exit (about 2.3 x --input-mib MiB at the most, then ~2 x the commit history).
//
//   sluice_cleaner_bench [--rounds 5] [--input-mib 128] [--keep-percent 25] [--codec none|zstd]
//                        [--cache warm|cold] [--commits 1000000] [--groups 10]
//                        [--only throughput|startup]
//   sluice_cleaner_bench --prepare-dirty DIR [--input-mib M] [--partitions P] ...
//       writes a data directory with topic `dirty` (P partitions of M/P MiB, cleanup.policy=delete
//       so no cleaner touches it until it is altered to compact) and exits.

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/commit_history.h"
#include "engine/engine.h"
#include "engine/group_offsets.h"
#include "segment/record_batch.h"

namespace sluice::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Flags {
  int rounds = 5;
  int input_mib = 128;
  int segment_mib = 16;
  int keep_percent = 25;
  std::string codec = "none";
  int64_t commits = 1'000'000;
  int64_t groups = 10;
  std::string only;
  std::string prepare_dirty;
  int partitions = 4;
  std::string cache = "warm";
};

void Must(const base::Status& s, const char* what) {
  if (!s) {
    std::fprintf(stderr, "cleaner_bench: %s: %s\n", what, s.error().ToString().c_str());
    std::exit(1);
  }
}
template <typename T>
T Must(base::Result<T> r, const char* what) {
  if (!r) Must(base::Status(r.error()), what);
  return std::move(r).value();
}

fs::path& RootStorage() {
  static fs::path root;
  return root;
}
void RemoveRoot() {
  std::error_code ec;
  if (!RootStorage().empty()) fs::remove_all(RootStorage(), ec);
}
const fs::path& Root() {
  fs::path& root = RootStorage();
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/sluice-cleaner-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    root = tmpl;
    std::atexit(RemoveRoot);
  }
  return root;
}

std::unique_ptr<engine::Engine> OpenAt(const fs::path& dir) {
  engine::EngineOptions o;
  o.data_dir = dir.string();
  o.background = engine::BackgroundWork::kManual;  // no cleaner but the one measured
  return Must(engine::Engine::Open(o), "open");
}

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of the calling thread (the cleaning pass runs on it).
double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A copy of a closed engine's data directory, made durable so that its write-back does not run
// during what is timed next.
void CopyDir(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
  ::sync();
}

// Drops the files under `dir` from the page cache (clean pages only: callers sync first), so the
// next read of them comes from the disk.
void EvictDir(const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// --- the dirty topic
// ------------------------------------------------------------------------------

// Writes keyed records to `topic` until each partition holds `mib_per_partition` MiB of sealed
// segments. Keys are drawn uniformly from a space of keep_percent of the records.
void WriteDirtyTopic(engine::Engine& e, const std::string& topic, int partitions,
                     uint64_t mib_per_partition, const Flags& f) {
  const base::Codec codec = f.codec == "zstd" ? base::Codec::kZstd : base::Codec::kNone;
  const uint64_t target = mib_per_partition << 20;
  const uint64_t segment = static_cast<uint64_t>(f.segment_mib) << 20;
  const size_t sealed_needed = static_cast<size_t>((target + segment - 1) / segment);
  // ~220 bytes a record stored (200 on average of value, key, framing).
  const auto records = static_cast<int64_t>(target / 220);
  const int64_t keys = std::max<int64_t>(1, records * f.keep_percent / 100);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> key_of(0, keys - 1);
  std::uniform_int_distribution<int> len_of(100, 300);
  std::uniform_int_distribution<int> letter(0, 15);
  segment::BatchBuilder builder;
  std::string key;
  std::string value;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (int32_t p = 0; p < partitions; ++p) {
    for (int64_t seq = 0;; ++seq) {
      for (int i = 0; i < 100; ++i) {
        char k[32];
        std::snprintf(k, sizeof(k), "key-%010lld", static_cast<long long>(key_of(rng)));
        key = k;
        // Text that compresses about as JSON does (zstd ~2x): a prefix, then 16 letters.
        value = "{\"key\":\"" + key + "\",\"seq\":" + std::to_string(seq) + ",\"data\":\"";
        const auto len = static_cast<size_t>(len_of(rng));
        while (value.size() + 2 < len) value.push_back(static_cast<char>('a' + letter(rng)));
        value += "\"}";
        builder.Add(key, value, now_ms);
      }
      const std::string batch = Must(builder.Build(codec, 1), "build");
      Must(e.Append(topic, p, base::AsBytes(batch)), "append");
      // Until the sealed segments (all but the active one, each about segment.bytes) hold the
      // target.
      if (seq % 16 == 0 &&
          Must(e.GetPartitionStats(topic, p), "stats").segment_count >= sealed_needed + 1) {
        break;
      }
    }
  }
  Must(e.Flush(), "flush");
}

// --- throughput
// -----------------------------------------------------------------------------------

struct Series {
  std::vector<double> v;
  void Add(double x) { v.push_back(x); }
  double Median() const {
    auto s = v;
    std::sort(s.begin(), s.end());
    return s.empty() ? 0 : s[s.size() / 2];
  }
  std::string Text(const char* fmt) const {
    if (v.empty()) return "-";
    char a[32], b[32], c[32];
    std::snprintf(a, sizeof(a), fmt, Median());
    std::snprintf(b, sizeof(b), fmt, *std::min_element(v.begin(), v.end()));
    std::snprintf(c, sizeof(c), fmt, *std::max_element(v.begin(), v.end()));
    return std::string(a) + " [" + b + ", " + c + "]";
  }
};

constexpr char kTopic[] = "keyed";

// One cleaning pass over a fresh copy of `orig`; returns its stats and time.
engine::CleanStats CleanCopy(const fs::path& orig, const fs::path& work, bool cold, double* seconds,
                             double* cpu_seconds) {
  CopyDir(orig, work);
  if (cold) EvictDir(work);
  auto e = OpenAt(work);
  Must(e->Read(kTopic, 0, base::Offset(0), 1), "open the partition");
  const auto t0 = Clock::now();
  const double cpu0 = ThreadCpuSeconds();
  auto outcome = Must(e->CompactTopic(kTopic, engine::CleanTrigger::kNow), "compact");
  *cpu_seconds = ThreadCpuSeconds() - cpu0;
  *seconds = Since(t0);
  Must(e->Close(), "close");
  e.reset();
  fs::remove_all(work);
  if (outcome.size() != 1 || !outcome[0].second.cleaned) {
    std::fprintf(stderr, "cleaner_bench: the pass cleaned nothing (%s)\n",
                 outcome.empty() ? "no partition" : outcome[0].second.why.c_str());
    std::exit(1);
  }
  return outcome[0].second;
}

enum class ReadKind { kRead, kDecode };

// Reads [0, end) of the partition sequentially; returns the seconds and checks every record came.
double ReadRange(engine::Engine& e, base::Offset end, ReadKind kind, int64_t expect_records) {
  segment::RecordDecoder decoder;
  segment::RecordView rec;
  int64_t records = 0;
  uint64_t sink = 0;
  const auto t0 = Clock::now();
  base::Offset next(0);
  while (next < end) {
    auto r = Must(e.Read(kTopic, 0, next, 1 << 20), "read");
    if (r.batches.empty()) break;
    for (const auto& b : r.batches) {
      if (base::Offset(b.header.base_offset) >= end) {
        next = end;
        break;
      }
      records += b.header.record_count;
      next = base::Offset(b.header.last_offset() + 1);
      if (kind == ReadKind::kDecode) {
        Must(decoder.Reset(b.bytes, b.header), "decode");
        while (Must(decoder.Next(rec), "decode")) sink += rec.value ? rec.value->size() : 0;
      }
    }
  }
  const double s = Since(t0);
  if (records != expect_records) {
    std::fprintf(stderr, "cleaner_bench: read %lld records, the pass read %lld\n",
                 static_cast<long long>(records), static_cast<long long>(expect_records));
    std::exit(1);
  }
  if (sink == 1) std::printf(" ");  // keeps the decode loop
  return s;
}

// pread(2) of the partition's segment files below `end`, 1 MiB at a time.
double PreadRange(const fs::path& partition_dir, base::Offset end, uint64_t* bytes) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(partition_dir)) {
    const fs::path& p = entry.path();
    if (p.extension() == ".log" && std::stoll(p.stem().string()) < end.value()) {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<char> buf(1 << 20);
  *bytes = 0;
  const auto t0 = Clock::now();
  for (const fs::path& p : files) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::perror(p.c_str());
      std::exit(1);
    }
    for (off_t pos = 0;;) {
      const ssize_t n = ::pread(fd, buf.data(), buf.size(), pos);
      if (n <= 0) break;
      pos += n;
      *bytes += static_cast<uint64_t>(n);
    }
    ::close(fd);
  }
  return Since(t0);
}

fs::path PartitionDir(const fs::path& data_dir, const std::string& topic) {
  for (const auto& entry : fs::directory_iterator(data_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(topic + "-0", 0) == 0) return entry.path();
  }
  std::fprintf(stderr, "cleaner_bench: no directory of %s-0 in %s\n", topic.c_str(),
               data_dir.c_str());
  std::exit(1);
}

void Throughput(const Flags& f) {
  const fs::path orig = Root() / "dirty";
  const fs::path work = Root() / "work";
  {
    auto e = OpenAt(orig);
    Must(e->CreateTopic(kTopic, 1,
                        {{"cleanup.policy", "compact"},
                         {"segment.bytes", std::to_string(f.segment_mib << 20)},
                         {"compression.type", f.codec == "zstd" ? "zstd" : "producer"},
                         {"compression.zstd.level", "1"}}),
         "create");
    const auto t0 = Clock::now();
    WriteDirtyTopic(*e, kTopic, 1, static_cast<uint64_t>(f.input_mib), f);
    std::printf("throughput: wrote the dirty topic in %.1f s\n", Since(t0));
    Must(e->Close(), "close");
  }
  // The warm-up pass (not counted) learns the range a pass cleans.
  double s = 0;
  double cpu = 0;
  const bool cold = f.cache == "cold";
  const engine::CleanStats first = CleanCopy(orig, work, cold, &s, &cpu);
  const base::Offset end = first.cleaned_up_to;
  const double input_mb = static_cast<double>(first.bytes_before) / 1e6;
  std::printf(
      "throughput: a pass reads %zu segments, %.1f MB, %lld records up to offset %lld, and keeps "
      "%lld records (%.1f%%) in %zu segments of %.1f MB; codec %s, page cache %s\n",
      first.segments_before, input_mb, static_cast<long long>(first.records_before),
      static_cast<long long>(end.value()), static_cast<long long>(first.records_after),
      100.0 * static_cast<double>(first.records_after) / static_cast<double>(first.records_before),
      first.segments_after, static_cast<double>(first.bytes_after) / 1e6, f.codec.c_str(),
      f.cache.c_str());
  const fs::path orig_partition = PartitionDir(orig, kTopic);
  Series clean, clean_cpu, read, decode, pread, r_read, r_decode, r_pread;
  for (int round = 0; round < f.rounds; ++round) {
    double t_clean = 0;
    double t_cpu = 0;
    double t_read = 0;
    double t_decode = 0;
    double t_pread = 0;
    auto reads = [&] {
      if (cold) EvictDir(orig);
      auto e = OpenAt(orig);
      Must(e->Read(kTopic, 0, base::Offset(0), 1), "open the partition");
      t_read = ReadRange(*e, end, ReadKind::kRead, first.records_before);
      Must(e->Close(), "close");
      e.reset();
      if (cold) EvictDir(orig);
      e = OpenAt(orig);
      Must(e->Read(kTopic, 0, base::Offset(0), 1), "open the partition");
      t_decode = ReadRange(*e, end, ReadKind::kDecode, first.records_before);
      Must(e->Close(), "close");
      e.reset();
      if (cold) EvictDir(orig);
      uint64_t bytes = 0;
      t_pread = PreadRange(orig_partition, end, &bytes);
      if (bytes != first.bytes_before) {
        std::fprintf(stderr, "cleaner_bench: pread %llu bytes, the pass read %llu\n",
                     static_cast<unsigned long long>(bytes),
                     static_cast<unsigned long long>(first.bytes_before));
        std::exit(1);
      }
    };
    engine::CleanStats st;
    auto pass = [&] {
      st = CleanCopy(orig, work, cold, &t_clean, &t_cpu);
      if (st.bytes_before != first.bytes_before || st.records_after != first.records_after) {
        std::fprintf(stderr, "cleaner_bench: round %d's pass differs from the first\n", round);
        std::exit(1);
      }
    };
    if (round % 2 == 0) {
      pass();
      reads();
    } else {
      reads();
      pass();
    }
    clean.Add(input_mb / t_clean);
    clean_cpu.Add(t_cpu / t_clean);
    read.Add(input_mb / t_read);
    decode.Add(input_mb / t_decode);
    pread.Add(input_mb / t_pread);
    r_read.Add(t_read / t_clean);
    r_decode.Add(t_decode / t_clean);
    r_pread.Add(t_pread / t_clean);
    std::printf(
        "throughput: round %d: cleaner %.0f MB/s (CPU %.0f%% of its time; offset map %.0f ms, "
        "rewrite %.0f ms, swap %.0f ms), read %.0f, read+decode %.0f, pread %.0f\n",
        round + 1, input_mb / t_clean, 100 * t_cpu / t_clean, st.map_seconds * 1e3,
        st.rewrite_seconds * 1e3, st.swap_seconds * 1e3, input_mb / t_read, input_mb / t_decode,
        input_mb / t_pread);
    std::fflush(stdout);
  }
  fs::remove_all(orig);
  std::printf("\n%-44s %-28s %-24s\n", "figure (MB/s of the pass's input)", "median [min, max]",
              "cleaner / it, per round");
  std::printf("%-44s %-28s %-24s\n", "cleaner pass (CompactTopic)", clean.Text("%.0f").c_str(), "");
  std::printf("%-44s %-28s\n", "  its thread's CPU time / its wall time",
              clean_cpu.Text("%.2f").c_str());
  std::printf("%-44s %-28s %-24s goal >= 0.5: %s\n", "baseline: Engine::Read (the goal's)",
              read.Text("%.0f").c_str(), r_read.Text("%.2f").c_str(),
              r_read.Median() >= 0.5 ? "met" : "MISSED");
  std::printf("%-44s %-28s %-24s\n", "context: Engine::Read + decode every record",
              decode.Text("%.0f").c_str(), r_decode.Text("%.2f").c_str());
  std::printf("%-44s %-28s %-24s\n", "context: pread of the segment files",
              pread.Text("%.0f").c_str(), r_pread.Text("%.2f").c_str());
  std::printf("\n");
}

// --- start-up
// -------------------------------------------------------------------------------------

void Startup(const Flags& f) {
  const fs::path plain = Root() / "offsets-uncompacted";
  const fs::path compacted = Root() / "offsets-compacted";
  {
    auto e = OpenAt(plain);
    const auto t0 = Clock::now();
    Must(WriteCommitHistory(*e, "t", 100, f.commits, f.groups), "commits");
    std::printf("startup: %lld commits over %lld keys written in %.1f s\n",
                static_cast<long long>(f.commits), static_cast<long long>(f.groups * 100),
                Since(t0));
    Must(e->Close(), "close");
  }
  CopyDir(plain, compacted);
  {
    auto e = OpenAt(compacted);
    // What the background cleaner of a server does to it (GroupOffsetStore::Compact).
    const auto before = engine::CleanerTotalsNow();
    Must(Must(e->GroupOffsets(), "group offsets")->Compact(), "compact");
    const auto after = engine::CleanerTotalsNow();
    if (after.passes == before.passes) {
      std::printf(
          "startup: WARNING: the cleaner found nothing to clean in __consumer_offsets (the "
          "history fits its active segment?): both cases are uncompacted; raise --commits\n");
    } else {
      std::printf(
          "startup: __consumer_offsets compacted: %llu -> %llu bytes, %llu records "
          "removed\n",
          static_cast<unsigned long long>(after.bytes_read - before.bytes_read),
          static_cast<unsigned long long>(after.bytes_written - before.bytes_written),
          static_cast<unsigned long long>(after.records_removed - before.records_removed));
    }
    Must(e->Close(), "close");
    ::sync();
  }
  struct Case {
    const char* name = "";
    const fs::path* dir = nullptr;
    Series open_ms, start_ms;
    int64_t replayed = 0;
    std::map<std::tuple<std::string, std::string, int32_t>, int64_t> offsets;
    bool cleaned_at_open = false;
  };
  Case cases[2];
  cases[0].name = "uncompacted";
  cases[0].dir = &plain;
  cases[1].name = "compacted";
  cases[1].dir = &compacted;
  // Each open is of a fresh copy: GroupOffsetStore::Open cleans a history of more than 50,000
  // records when it is due (part of the start-up measured), so the uncompacted one is so once.
  const fs::path work = Root() / "offsets-work";
  auto measure = [&work](Case& c) {
    CopyDir(*c.dir, work);
    const auto passes = engine::CleanerTotalsNow().passes;
    const auto t0 = Clock::now();
    auto e = OpenAt(work);
    const double open_s = Since(t0);
    engine::GroupOffsetStore* store = Must(e->GroupOffsets(), "group offsets");
    const double start_s = Since(t0);
    c.open_ms.Add(open_s * 1e3);
    c.start_ms.Add(start_s * 1e3);
    c.replayed = store->records_replayed_at_open();
    c.cleaned_at_open = engine::CleanerTotalsNow().passes != passes;
    c.offsets.clear();
    for (const auto& g : store->ListGroups()) {
      for (const auto& [tp, v] : store->FetchAll(g)) {
        c.offsets[{g, tp.first, tp.second}] = v.offset.value();
      }
    }
    Must(e->Close(), "close");
    e.reset();
    fs::remove_all(work);
  };
  for (int c = 0; c < 2; ++c) measure(cases[c]);  // warm-up, not counted
  for (Case& c : cases) {
    c.open_ms.v.clear();
    c.start_ms.v.clear();
  }
  Series ratio;
  for (int round = 0; round < f.rounds; ++round) {
    if (round % 2 == 0) {
      measure(cases[0]);
      measure(cases[1]);
    } else {
      measure(cases[1]);
      measure(cases[0]);
    }
    ratio.Add(cases[1].start_ms.v.back() / cases[0].start_ms.v.back());
  }
  if (cases[0].offsets != cases[1].offsets) {
    std::fprintf(stderr,
                 "cleaner_bench: the committed offsets differ: %zu uncompacted, %zu compacted\n",
                 cases[0].offsets.size(), cases[1].offsets.size());
    std::exit(1);
  }
  fs::remove_all(plain);
  fs::remove_all(compacted);
  std::printf("\n%-52s %-24s %-24s %s\n", "start-up, 1 partition of __consumer_offsets",
              "Open+GroupOffsets ms", "Engine::Open alone ms", "records replayed, cleaned at open");
  for (const Case& c : cases) {
    std::printf(
        "%-52s %-24s %-24s %lld, %s\n",
        (std::string(c.name) + " (" + std::to_string(c.offsets.size()) + " offsets)").c_str(),
        c.start_ms.Text("%.1f").c_str(), c.open_ms.Text("%.1f").c_str(),
        static_cast<long long>(c.replayed), c.cleaned_at_open ? "yes" : "no");
  }
  std::printf("%-52s %s\n\n", "compacted / uncompacted, per round", ratio.Text("%.3f").c_str());
}

void PrepareDirty(const Flags& f) {
  const fs::path dir = f.prepare_dirty;
  auto e = OpenAt(dir);
  Must(e->CreateTopic("dirty", f.partitions,
                      {{"cleanup.policy", "delete"},
                       {"retention.ms", "-1"},
                       {"segment.bytes", std::to_string(f.segment_mib << 20)},
                       {"compression.type", f.codec == "zstd" ? "zstd" : "producer"},
                       {"compression.zstd.level", "1"}}),
       "create");
  WriteDirtyTopic(*e, "dirty", f.partitions,
                  static_cast<uint64_t>(std::max(1, f.input_mib / f.partitions)), f);
  Must(e->Close(), "close");
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  Flags f;
  CLI::App app{"Log cleaner benchmarks (issue 15)"};
  app.add_option("--rounds", f.rounds, "Rounds")->capture_default_str();
  app.add_option("--input-mib", f.input_mib, "MiB of sealed dirty segments")->capture_default_str();
  app.add_option("--segment-mib", f.segment_mib, "segment.bytes of the dirty topic, MiB")
      ->capture_default_str();
  app.add_option("--keep-percent", f.keep_percent,
                 "Keys as a share of the records (what a pass keeps)")
      ->capture_default_str();
  app.add_option("--codec", f.codec, "How the dirty topic is stored")
      ->check(CLI::IsMember({"none", "zstd"}))
      ->capture_default_str();
  app.add_option("--commits", f.commits, "Commit records of the start-up figure")
      ->capture_default_str();
  app.add_option("--groups", f.groups, "Groups they are spread over (x 100 partitions = keys)")
      ->capture_default_str();
  app.add_option("--cache", f.cache,
                 "throughput: warm (every read from the page cache) or cold (the segment files "
                 "are dropped from it, posix_fadvise DONTNEED, before each pass and read)")
      ->check(CLI::IsMember({"warm", "cold"}))
      ->capture_default_str();
  app.add_option("--only", f.only, "Run one figure")
      ->check(CLI::IsMember({"throughput", "startup"}));
  app.add_option("--prepare-dirty", f.prepare_dirty,
                 "Write a data directory with a dirty topic `dirty` and exit");
  app.add_option("--partitions", f.partitions, "--prepare-dirty: partitions of `dirty`")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!f.prepare_dirty.empty()) {
    PrepareDirty(f);
    return 0;
  }
  std::printf("cleaner_bench: %d rounds, %d CPUs, load %s\n", f.rounds,
              static_cast<int>(std::thread::hardware_concurrency()), [] {
                static char buf[64] = "?";
                if (FILE* l = std::fopen("/proc/loadavg", "r")) {
                  if (std::fgets(buf, sizeof(buf), l) == nullptr) buf[0] = '\0';
                  std::fclose(l);
                }
                buf[std::strcspn(buf, "\n")] = '\0';
                return buf;
              }());
  if (f.only.empty() || f.only == "throughput") Throughput(f);
  if (f.only.empty() || f.only == "startup") Startup(f);
  return 0;
}

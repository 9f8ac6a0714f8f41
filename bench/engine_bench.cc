// Engine benchmarks, each measured beside the baseline it is judged against (bench/RESULTS.md):
//
//   BM_EngineAppendNone            vs BM_RawPwrite          append 1000 x 100 B records per batch,
//                                                           compression none, flush=none (pwritev:
//                                                           the fastest raw write path here, see
//                                                           write_path_bench; BM_RawUringWrite too)
//   BM_EngineAppendZstd            vs BM_ZstdCompress       append telemetry JSON, zstd level 1;
//     threads:2 (two partitions)   vs threads:1             ... from two threads, one partition
//     each
//   async:1 variants: the same appends through AppendBatchesAsync, four in flight
//   BM_SegmentReadZstd             vs BM_ZstdDecompress     scan + decode a sealed zstd segment
//   BM_SegmentReadRaw              vs BM_Pread              scan a sealed uncompressed segment
//                                                           (the mmap read path against pread)
//   BM_EngineAppendSyncConcurrent  vs BM_RawWriteFdatasync  flush=sync, batches of 10 records
//
// plus variants that locate the differences (the engine on UringFs, files without fallocate, cold
// and warm mappings) and BM_Part* benchmarks that time, alone, the CPU work the
// engine adds to its baselines (CRC-32C, XXH3, CompressBatch, record decoding).
//
// This machine is a shared 2-vCPU VM, so absolute figures drift; only ratios measured back to back
// mean something. Every benchmark is therefore registered once per *round*, a baseline next to its
// engine benchmark (the order alternates between rounds), and at the end the binary prints, per
// pair, the median over rounds of the per-round ratio engine / baseline against its target.
//
// Flags: Google Benchmark's own (e.g. --benchmark_filter, --benchmark_out=x.json) plus
// --sluice_rounds=N (default 25, about 2 minutes). Disk data (about 300 MiB at most at a time)
// lives under a directory made in $TMPDIR (or /tmp) and removed at exit. Release builds only.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/telemetry.h"
#include "engine/engine.h"
#include "segment/base/checksum.h"
#include "segment/format.h"
#include "segment/io/uring_fs.h"
#include "segment/record_batch.h"

namespace sluice::bench {
namespace {

namespace fs = std::filesystem;
using base::Bytes;
using base::Offset;
using engine::BackgroundWork;
using engine::Engine;

constexpr char kTopic[] = "bench";
constexpr uint64_t kMiB = 1ull << 20;
constexpr size_t kFramePrefix = segment::format::kFramePrefixSize;
constexpr size_t kBatchHeader = segment::kBatchHeaderSize;
constexpr uint64_t kSegmentHeader = segment::format::kSegmentHeaderSize;

// 1. Append, compression none: 1000 batches of 1000 records x 100 B, about 111 MB.
constexpr size_t kRecordsPerBatch = 1000;
constexpr size_t kValueBytes = 100;
constexpr size_t kAppendBatches = 1000;
constexpr uint64_t kAppendSegmentBytes = 128 * kMiB;  // preallocated; holds every batch
// 2. Append, zstd level 1: 500 batches of 1000 telemetry records, about 110 MB uncompressed.
constexpr size_t kZstdBatches = 500;
constexpr uint64_t kZstdSegmentBytes = 64 * kMiB;
constexpr int kZstdLevel = 1;
// 3. Reads: one sealed segment, scanned whole per iteration with fetches of this size.
constexpr uint64_t kReadZstdSegmentBytes = 16 * kMiB;  // about 113 MB of records
constexpr uint64_t kReadRawSegmentBytes = 64 * kMiB;
constexpr size_t kFetchBytes = 1 * kMiB;  // Kafka's max.partition.fetch.bytes default
constexpr int kReadZstdPasses = 3;
constexpr int kReadRawPasses = 5;
// 4. flush=sync: batches of 10 records x 100 B.
constexpr size_t kSyncRecordsPerBatch = 10;
constexpr size_t kSyncBatchesPool = 256;
constexpr uint64_t kSyncSegmentBytes = 16 * kMiB;
constexpr int kSyncIterationsOneThread = 1000;
constexpr int kSyncIterationsPerThread8 = 250;  // 2000 appends in all
constexpr int kSyncThreads = 8;

// --- failure and temporary files -------------------------------------------------------------

std::string g_root;  // the temporary directory holding every benchmark's files

void RemoveRoot() {
  if (g_root.empty()) return;
  std::error_code ec;
  fs::remove_all(g_root, ec);
  g_root.clear();
}

// A benchmark that cannot run as set up has nothing to report: say why and stop.
[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "sluice_bench: %s\n", what.c_str());
  RemoveRoot();
  std::_Exit(1);
}

void Must(const base::Status& s, const std::string& what) {
  if (!s) Fail(what + ": " + s.error().ToString());
}

template <typename T>
T Must(base::Result<T> r, const std::string& what) {
  if (!r) Fail(what + ": " + r.error().ToString());
  return std::move(r).value();
}

void MustErrno(bool ok, const std::string& what) {
  if (!ok) Fail(what + ": " + std::strerror(errno));
}

const std::string& Root() {
  if (g_root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-bench-XXXXXX";
    MustErrno(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp " + tmpl);
    g_root = tmpl;
  }
  return g_root;
}

// A fresh directory under Root(), removed with everything in it on destruction.
class ScopedDir {
 public:
  explicit ScopedDir(const std::string& name) {
    static int counter = 0;
    path_ = Root() + "/" + name + "-" + std::to_string(counter++);
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) Fail("mkdir " + path_ + ": " + ec.message());
  }
  ~ScopedDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// --- input batches (built once, outside every timed loop) --------------------------------------

struct BatchSet {
  std::vector<std::string> batches;  // uncompressed Kafka RecordBatch v2, base offset 0
  size_t max_records_bytes = 0;      // largest records section
  uint64_t records = 0;
  uint64_t records_bytes = 0;  // sum of the records sections (what a codec compresses)
  uint64_t frame_bytes = 0;    // sum of the frames the log writes for them (prefix + batch)

  void Add(std::string batch, size_t record_count) {
    records += record_count;
    records_bytes += batch.size() - kBatchHeader;
    frame_bytes += kFramePrefix + batch.size();
    max_records_bytes = std::max(max_records_bytes, batch.size() - kBatchHeader);
    batches.push_back(std::move(batch));
  }
  const std::string& at(size_t i) const { return batches[i % batches.size()]; }
};

constexpr int64_t kStartMs = 1'767'225'600'000;

// Records with null keys and random-ish printable 100-byte values (windows of a random pool).
BatchSet BuildRandomBatches(size_t count, size_t records_per_batch, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string pool(1 << 20, '\0');
  for (char& c : pool) c = static_cast<char>('!' + rng() % 94);
  std::uniform_int_distribution<size_t> at(0, pool.size() - kValueBytes);
  const std::string_view view(pool);
  segment::BatchBuilder builder;
  BatchSet set;
  int64_t ts = kStartMs;
  for (size_t b = 0; b < count; ++b) {
    for (size_t r = 0; r < records_per_batch; ++r) {
      builder.Add(std::nullopt, view.substr(at(rng), kValueBytes), ts++);
    }
    set.Add(Must(builder.Build(), "build batch"), records_per_batch);
  }
  return set;
}

// Telemetry JSON records (cli/telemetry.h) keyed by host, as a monitoring agent would send them.
BatchSet BuildTelemetryBatches(size_t count, uint64_t seed) {
  cli::TelemetryGenerator gen(seed);
  segment::BatchBuilder builder;
  BatchSet set;
  std::string value;
  for (size_t b = 0; b < count; ++b) {
    for (size_t r = 0; r < kRecordsPerBatch; ++r) {
      value.clear();
      const int64_t ts = gen.Next(value);
      builder.Add(gen.last_host(), value, ts);
    }
    set.Add(Must(builder.Build(), "build batch"), kRecordsPerBatch);
  }
  return set;
}

const BatchSet& RandomSet() {
  static const BatchSet set = BuildRandomBatches(kAppendBatches, kRecordsPerBatch, 1);
  return set;
}
const BatchSet& TelemetrySet() {
  static const BatchSet set = BuildTelemetryBatches(kZstdBatches, 42);
  return set;
}
const BatchSet& SmallSet() {
  static const BatchSet set = BuildRandomBatches(kSyncBatchesPool, kSyncRecordsPerBatch, 7);
  return set;
}

// --- engine fixture ----------------------------------------------------------------------------

using Config = std::map<std::string, std::string>;

// `fs` null = the engine's default (UringFs); borrowed.
std::unique_ptr<Engine> OpenEngine(const std::string& dir, BackgroundWork background,
                                   io::FileSystem* fs = nullptr) {
  engine::EngineOptions options;
  options.data_dir = dir;
  options.background = background;
  options.fs = fs;
  return Must(Engine::Open(options), "open engine in " + dir);
}

// A data directory with an open engine and one single-partition topic.
class EngineFixture {
 public:
  // `fs` null = the engine's default (PosixFs); borrowed, must outlive the fixture.
  EngineFixture(const std::string& name, const Config& config, BackgroundWork background,
                io::FileSystem* fs = nullptr, int partitions = 1)
      : dir_(name) {
    engine_ = OpenEngine(dir_.path() + "/data", background, fs);
    Must(engine_->CreateTopic(kTopic, partitions, config), "create topic");
  }
  ~EngineFixture() {
    if (engine_) Must(engine_->Close(), "close engine");
  }
  EngineFixture(const EngineFixture&) = delete;
  EngineFixture& operator=(const EngineFixture&) = delete;

  Engine& engine() { return *engine_; }

 private:
  ScopedDir dir_;  // destroyed after the engine
  std::unique_ptr<Engine> engine_;
};

// --- raw I/O helpers (the baselines) -----------------------------------------------------------

// One io_uring, used as the engine's UringFs uses its per-thread ring: one SQE, submit and wait.
class Ring {
 public:
  Ring() {
    int rc = io_uring_queue_init(8, &ring_, 0);
    if (rc < 0) Fail(std::string("io_uring_queue_init: ") + std::strerror(-rc));
  }
  ~Ring() { io_uring_queue_exit(&ring_); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  void WriteV(int fd, const iovec* iov, unsigned count, uint64_t offset, size_t expect_bytes) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) Fail("io_uring_get_sqe: ring full");
    io_uring_prep_writev(sqe, fd, iov, count, offset);
    int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0) Fail(std::string("io_uring_submit_and_wait: ") + std::strerror(-rc));
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc < 0) Fail(std::string("io_uring_wait_cqe: ") + std::strerror(-rc));
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (res < 0) Fail(std::string("io_uring writev: ") + std::strerror(-res));
    if (static_cast<size_t>(res) != expect_bytes) Fail("io_uring writev: short write");
  }

 private:
  io_uring ring_{};
};

// A segment-like file: `preallocate_bytes` reserved with fallocate (0 = none) and a 32-byte header
// written and synced, as Segment::Create does. Frames then go from kSegmentHeader on.
int CreateLogFile(const std::string& path, uint64_t preallocate_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MustErrno(fd >= 0, "open " + path);
  if (preallocate_bytes > 0) {
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(preallocate_bytes));
    if (rc != 0) Fail("fallocate " + path + ": " + std::strerror(rc));
  }
  char header[kSegmentHeader] = {};
  MustErrno(::pwrite(fd, header, sizeof(header), 0) == static_cast<ssize_t>(sizeof(header)),
            "write " + path);
  MustErrno(::fdatasync(fd) == 0, "fdatasync " + path);
  return fd;
}

// Latency percentiles (microseconds) as counters.
void ReportLatencies(benchmark::State& state, std::vector<int64_t> ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(ns.size() - 1) + 0.5);
    return static_cast<double>(ns[i]) / 1000.0;
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = static_cast<double>(ns.back()) / 1000.0;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// =============================================================================================
// 1. Append, compression none, flush=none, vs a raw io_uring sequential write.
// =============================================================================================

// Writes the same frames as BM_EngineAppendNone (a 16-byte prefix and the batch, one writev per
// frame, back to back) into a file preallocated like a segment (arg fallocate:1) or not (0).
void BM_RawUringWrite(benchmark::State& state) {
  const BatchSet& set = RandomSet();
  ScopedDir dir("raw-uring");
  const bool preallocate = state.range(0) != 0;
  const int fd = CreateLogFile(dir.path() + "/00000000000000000000.log",
                               preallocate ? kAppendSegmentBytes : 0);
  Ring ring;
  std::array<std::byte, kFramePrefix> prefix{};
  ::sync();  // start with no other dirty data being written back
  uint64_t pos = kSegmentHeader;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    const iovec iov[2] = {{prefix.data(), prefix.size()},
                          {const_cast<char*>(batch.data()), batch.size()}};
    const size_t bytes = prefix.size() + batch.size();
    ring.WriteV(fd, iov, 2, pos, bytes);
    pos += bytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(pos - kSegmentHeader));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kRecordsPerBatch));
  ::close(fd);
}

// The same frames written with pwritev(2) instead of io_uring (as PosixFs writes them).
void BM_RawPwrite(benchmark::State& state) {
  const BatchSet& set = RandomSet();
  ScopedDir dir("raw-pwrite");
  const std::string path = dir.path() + "/00000000000000000000.log";
  const int fd = CreateLogFile(path, kAppendSegmentBytes);
  std::array<std::byte, kFramePrefix> prefix{};
  ::sync();
  uint64_t pos = kSegmentHeader;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    const iovec iov[2] = {{prefix.data(), prefix.size()},
                          {const_cast<char*>(batch.data()), batch.size()}};
    const size_t bytes = prefix.size() + batch.size();
    MustErrno(::pwritev(fd, iov, 2, static_cast<off_t>(pos)) == static_cast<ssize_t>(bytes),
              "pwritev " + path);
    pos += bytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(pos - kSegmentHeader));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kRecordsPerBatch));
  ::close(fd);
}

// The producer's side of Engine::AppendBatchesAsync: at most `limit` appends in flight (a Kafka
// producer's max.in.flight.requests.per.connection), so that preparing (checking, compressing)
// the next batch on this thread overlaps the write of the previous ones on a writer thread.
class AsyncWindow {
 public:
  explicit AsyncWindow(int limit) : limit_(limit) {}
  ~AsyncWindow() { Drain(); }
  AsyncWindow(const AsyncWindow&) = delete;
  AsyncWindow& operator=(const AsyncWindow&) = delete;

  void Append(Engine& engine, int32_t partition, const std::string& batch) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return in_flight_ < limit_; });
      ++in_flight_;
    }
    const Bytes bytes = base::AsBytes(batch);
    engine.AppendBatchesAsync(kTopic, partition, std::span<const Bytes>(&bytes, 1),
                              [this](base::Result<engine::AppendResult> r) {
                                std::lock_guard lock(mu_);
                                if (!r && error_.empty()) error_ = r.error().ToString();
                                --in_flight_;
                                cv_.notify_one();
                              });
  }

  // Waits for every append in flight; fails the benchmark if one failed.
  void Drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
    if (!error_.empty()) Fail("async append: " + error_);
  }

 private:
  const int limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::string error_;
};
constexpr int kAsyncWindow = 4;

// Engine::Append of prebuilt batches, one appender. Arg bg_flush:1 runs the engine's background
// thread (flush.ms=1000, flush.bytes=64 MiB: it fdatasyncs during the run, as in production);
// bg_flush:0 leaves flushing to the caller, so that nothing but the append path is timed.
// Arg uring:1 runs the engine on UringFs (`--io uring`) instead of its default PosixFs. Arg
// async:1 (with bg_flush:1, whose writer threads write asynchronous appends) keeps kAsyncWindow
// appends in flight through AppendBatchesAsync instead of waiting for each; the last iteration
// waits for all of them, so the time covers every write.
void BM_EngineAppendNone(benchmark::State& state) {
  const BatchSet& set = RandomSet();
  if (set.frame_bytes + kSegmentHeader > kAppendSegmentBytes) Fail("append set exceeds a segment");
  const auto background = state.range(0) != 0 ? BackgroundWork::kThreads : BackgroundWork::kManual;
  io::UringFs uring_fs;
  EngineFixture fx("append-none",
                   {{"compression.type", "none"},
                    {"flush", "none"},
                    {"segment.bytes", std::to_string(kAppendSegmentBytes)}},
                   background, state.range(1) != 0 ? &uring_fs : nullptr);
  ::sync();
  std::optional<AsyncWindow> window;
  if (state.range(2) != 0) window.emplace(kAsyncWindow);
  uint64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    if (window) {
      window->Append(fx.engine(), 0, batch);
      if (i == static_cast<size_t>(state.max_iterations)) window->Drain();
    } else {
      auto r = fx.engine().Append(kTopic, 0, base::AsBytes(batch));
      if (!r) Fail("append: " + r.error().ToString());
      benchmark::DoNotOptimize(r);
    }
    bytes += kFramePrefix + batch.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kRecordsPerBatch));
}

// =============================================================================================
// 2. Append with zstd level 1 vs zstd's own compression of the same records sections.
// =============================================================================================

void BM_ZstdCompress(benchmark::State& state) {
  const BatchSet& set = TelemetrySet();
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out(ZSTD_compressBound(set.max_records_bytes), '\0');
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    const size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), batch.data() + kBatchHeader,
                                       batch.size() - kBatchHeader, kZstdLevel);
    if (ZSTD_isError(n)) Fail(std::string("ZSTD_compressCCtx: ") + ZSTD_getErrorName(n));
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
    in_bytes += batch.size() - kBatchHeader;
    out_bytes += n;
  }
  ZSTD_freeCCtx(cctx);
  state.SetBytesProcessed(static_cast<int64_t>(in_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kRecordsPerBatch));
  state.counters["ratio"] = static_cast<double>(in_bytes) / static_cast<double>(out_bytes);
}

// Bytes processed are the uncompressed records sections, as for BM_ZstdCompress. Arg async:1 as for
// BM_EngineAppendNone: compression of the next batch overlaps the write of the last. Run with N
// threads, each appends to its own partition of an N-partition topic (threads:2 against threads:1:
// does a second partition use the second core?). Thread 0 sets up before the loop and tears down
// after it (Google Benchmark holds every thread at a barrier when the loop starts and ends), and
// times the run by the wall clock from its first iteration to the end barrier: Google Benchmark's
// own rate divides by the threads' average time, which flatters an uneven pair.
std::unique_ptr<EngineFixture> g_zstd;
std::atomic<uint64_t> g_zstd_in_bytes{0};
void BM_EngineAppendZstd(benchmark::State& state) {
  const BatchSet& set = TelemetrySet();
  const int me = state.thread_index();
  if (me == 0) {
    g_zstd = std::make_unique<EngineFixture>(
        "append-zstd",
        Config{{"compression.type", "zstd"},
               {"compression.zstd.level", std::to_string(kZstdLevel)},
               {"flush", "none"},
               {"segment.bytes", std::to_string(kZstdSegmentBytes)}},
        BackgroundWork::kThreads, nullptr, state.threads());
    ::sync();
  }
  std::optional<AsyncWindow> window;
  if (state.range(0) != 0) window.emplace(kAsyncWindow);
  uint64_t in_bytes = 0;
  size_t i = static_cast<size_t>(me) * 97;
  int64_t started_ns = 0;
  int64_t done = 0;
  for (auto _ : state) {
    if (started_ns == 0) started_ns = NowNs();
    const std::string& batch = set.at(i++);
    if (window) {
      window->Append(g_zstd->engine(), me, batch);
      if (++done == static_cast<int64_t>(state.max_iterations)) window->Drain();
    } else {
      auto r = g_zstd->engine().Append(kTopic, me, base::AsBytes(batch));
      if (!r) Fail("append: " + r.error().ToString());
      benchmark::DoNotOptimize(r);
    }
    in_bytes += batch.size() - kBatchHeader;
    g_zstd_in_bytes.fetch_add(batch.size() - kBatchHeader, std::memory_order_relaxed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(in_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kRecordsPerBatch));
  if (me == 0) {
    uint64_t stored = 0;
    for (int p = 0; p < state.threads(); ++p) {
      stored +=
          Must(g_zstd->engine().GetPartitionStats(kTopic, p), "stats").size_bytes - kSegmentHeader;
    }
    const uint64_t all_bytes = g_zstd_in_bytes.exchange(0);
    state.counters["ratio"] = static_cast<double>(all_bytes) / static_cast<double>(stored);
    state.counters["wall_bytes_per_s"] =
        static_cast<double>(all_bytes) / (static_cast<double>(NowNs() - started_ns) / 1e9);
    g_zstd.reset();
  }
}

// =============================================================================================
// 3. Reading a sealed segment vs zstd decompression / pread of the same bytes.
// =============================================================================================

// A data directory whose topic's first segment is sealed, and what it holds. Built once per
// codec (shared by the engine benchmark and its baseline), closed cleanly, removed at exit.
struct SealedSegment {
  std::unique_ptr<ScopedDir> dir;
  std::string data_dir;
  std::string log_path;        // the sealed segment's file
  Offset end_offset;           // first offset after it
  uint64_t frame_bytes = 0;    // its frames (file size minus header)
  uint64_t records_bytes = 0;  // its batches' uncompressed records sections
  uint64_t records = 0;
  size_t max_records_bytes = 0;
  std::vector<std::string> sections;  // the records sections as stored (compressed)
};

SealedSegment BuildSealed(const std::string& name, const BatchSet& set, const Config& config) {
  SealedSegment s;
  s.dir = std::make_unique<ScopedDir>(name);
  s.data_dir = s.dir->path() + "/data";
  auto eng = OpenEngine(s.data_dir, BackgroundWork::kManual);
  Must(eng->CreateTopic(kTopic, 1, config), "create topic");
  for (size_t i = 0;; ++i) {
    auto r = Must(eng->Append(kTopic, 0, base::AsBytes(set.at(i))), "append");
    auto stats = Must(eng->GetPartitionStats(kTopic, 0), "stats");
    if (stats.segment_count >= 2) {
      // This append rolled the log: its batch is the first of the second segment.
      s.end_offset = r.base_offset;
      break;
    }
  }
  // Collect what the sealed segment holds, through the engine.
  Offset from(0);
  while (from < s.end_offset) {
    auto read = Must(eng->Read(kTopic, 0, from, kFetchBytes), "read");
    for (const auto& b : read.batches) {
      if (Offset(b.header.base_offset) >= s.end_offset) break;
      Bytes section = b.bytes.subspan(kBatchHeader);
      size_t records_bytes = section.size();
      if (b.header.codec() == base::Codec::kZstd) {
        const unsigned long long n = ZSTD_getFrameContentSize(section.data(), section.size());
        if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR) {
          Fail("stored zstd frame without a content size");
        }
        records_bytes = static_cast<size_t>(n);
      }
      s.sections.emplace_back(base::AsString(section));
      s.records_bytes += records_bytes;
      s.max_records_bytes = std::max(s.max_records_bytes, records_bytes);
      s.records += static_cast<uint64_t>(b.header.record_count);
      from = Offset(b.header.last_offset() + 1);
    }
  }
  Must(eng->Close(), "close engine");
  s.log_path = s.data_dir + "/" + kTopic + "-0/00000000000000000000.log";
  std::error_code ec;
  const uint64_t size = fs::file_size(s.log_path, ec);
  if (ec) Fail("stat " + s.log_path + ": " + ec.message());
  s.frame_bytes = size - kSegmentHeader;
  return s;
}

const SealedSegment& ZstdSealed() {
  static const SealedSegment s =
      BuildSealed("read-zstd", TelemetrySet(),
                  {{"compression.type", "zstd"},
                   {"compression.zstd.level", std::to_string(kZstdLevel)},
                   {"segment.bytes", std::to_string(kReadZstdSegmentBytes)}});
  return s;
}

const SealedSegment& RawSealed() {
  static const SealedSegment s = BuildSealed(
      "read-raw", RandomSet(),
      {{"compression.type", "none"}, {"segment.bytes", std::to_string(kReadRawSegmentBytes)}});
  return s;
}

// Scans the sealed segment through Engine::Read (fetches of kFetchBytes); with a decoder, decodes
// every record. Returns the value bytes seen (decoding) or the batch bytes (not decoding).
uint64_t ScanSealed(const Engine& eng, const SealedSegment& s, segment::RecordDecoder* decoder) {
  uint64_t bytes = 0;
  Offset from(0);
  while (from < s.end_offset) {
    auto read = eng.Read(kTopic, 0, from, kFetchBytes);
    if (!read) Fail("read: " + read.error().ToString());
    for (const auto& b : read->batches) {
      if (Offset(b.header.base_offset) >= s.end_offset) break;
      if (decoder != nullptr) {
        Must(decoder->Reset(b.bytes, b.header), "decode");
        for (;;) {
          auto rec = decoder->Next();
          if (!rec) Fail("decode: " + rec.error().ToString());
          if (!*rec) break;
          if ((*rec)->value) bytes += (*rec)->value->size();
        }
      } else {
        benchmark::DoNotOptimize(b.bytes.data());
        bytes += kFramePrefix + b.bytes.size();
      }
      from = Offset(b.header.last_offset() + 1);
    }
  }
  return bytes;
}

// Arg cold:0 reuses one engine (its mappings' page tables stay warm after an untimed first pass);
// cold:1 reopens the engine before every pass (untimed), so each pass maps the segment afresh and
// takes the page faults. The file's pages are in the page cache either way, as for the baselines.
void ReadSealedBenchmark(benchmark::State& state, const SealedSegment& s, bool decode,
                         uint64_t bytes_per_pass) {
  const bool cold = state.range(0) != 0;
  auto eng = OpenEngine(s.data_dir, BackgroundWork::kManual);
  segment::RecordDecoder decoder;
  segment::RecordDecoder* dec = decode ? &decoder : nullptr;
  if (!cold) benchmark::DoNotOptimize(ScanSealed(*eng, s, dec));
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      Must(eng->Close(), "close engine");
      eng = OpenEngine(s.data_dir, BackgroundWork::kManual);
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(ScanSealed(*eng, s, dec));
  }
  Must(eng->Close(), "close engine");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes_per_pass));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(s.records));
}

// Bytes processed: the uncompressed records sections of the segment, as for BM_ZstdDecompress.
void BM_SegmentReadZstd(benchmark::State& state) {
  const SealedSegment& s = ZstdSealed();
  ReadSealedBenchmark(state, s, /*decode=*/true, s.records_bytes);
}

void BM_ZstdDecompress(benchmark::State& state) {
  const SealedSegment& s = ZstdSealed();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string out(s.max_records_bytes, '\0');
  for (auto _ : state) {
    for (const std::string& section : s.sections) {
      const size_t n =
          ZSTD_decompressDCtx(dctx, out.data(), out.size(), section.data(), section.size());
      if (ZSTD_isError(n)) Fail(std::string("ZSTD_decompressDCtx: ") + ZSTD_getErrorName(n));
      benchmark::DoNotOptimize(n);
      benchmark::ClobberMemory();
    }
  }
  ZSTD_freeDCtx(dctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(s.records_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(s.records));
}

// Batches handed out as views into the mapping; Engine::Read verifies each frame's XXH3, which is
// what touches every byte. Bytes processed: the segment's frames, as for BM_Pread.
void BM_SegmentReadRaw(benchmark::State& state) {
  const SealedSegment& s = RawSealed();
  ReadSealedBenchmark(state, s, /*decode=*/false, s.frame_bytes);
}

// pread of the sealed segment's frames in kFetchBytes chunks into one buffer (from the page
// cache). Arg xxh3:1 also hashes each chunk, the work Engine::Read does to verify frames.
void BM_Pread(benchmark::State& state) {
  const SealedSegment& s = RawSealed();
  const bool hash = state.range(0) != 0;
  const int fd = ::open(s.log_path.c_str(), O_RDONLY | O_CLOEXEC);
  MustErrno(fd >= 0, "open " + s.log_path);
  std::unique_ptr<std::byte, decltype(&std::free)> buf(
      static_cast<std::byte*>(std::aligned_alloc(4096, kFetchBytes)), &std::free);
  const uint64_t end = kSegmentHeader + s.frame_bytes;
  for (auto _ : state) {
    uint64_t sum = 0;
    for (uint64_t pos = kSegmentHeader; pos < end;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kFetchBytes, end - pos));
      const ssize_t n = ::pread(fd, buf.get(), want, static_cast<off_t>(pos));
      MustErrno(n > 0, "pread " + s.log_path);
      if (hash) sum += base::Xxh3(Bytes(buf.get(), static_cast<size_t>(n)));
      pos += static_cast<uint64_t>(n);
    }
    benchmark::DoNotOptimize(sum);
    benchmark::ClobberMemory();
  }
  ::close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(s.frame_bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(s.records));
}

// =============================================================================================
// Parts: the CPU work the engine adds on top of its baselines, timed alone (for the analysis).
// =============================================================================================

// Engine::Append's validation of a producer batch: header parse and CRC-32C over the batch.
void BM_PartVerifyCrc(benchmark::State& state) {
  const BatchSet& set = RandomSet();
  uint64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    auto header = segment::ParseBatchHeader(base::AsBytes(batch));
    if (!header) Fail("parse: " + header.error().ToString());
    Must(segment::VerifyBatchCrc(base::AsBytes(batch), *header), "crc");
    bytes += batch.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// A checksum over each batch of RandomSet, summed so that none is optimised away.
template <typename Checksum>
void ChecksumBatches(benchmark::State& state, Checksum checksum) {
  const BatchSet& set = RandomSet();
  uint64_t bytes = 0;
  uint64_t sum = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    sum += checksum(base::AsBytes(batch));
    bytes += batch.size();
  }
  benchmark::DoNotOptimize(sum);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// CRC-32C alone over the same batches with one implementation (Crc32c picks the fastest the CPU
// has).
void BM_PartCrc32c(benchmark::State& state, base::Crc32cImplementation impl) {
  ChecksumBatches(state, [&](Bytes batch) { return impl.fn(batch, 0); });
}

// PartitionLog::Append's frame checksum: XXH3-64 over the batch.
void BM_PartFrameXxh3(benchmark::State& state) {
  ChecksumBatches(state, [](Bytes batch) { return base::Xxh3(batch); });
}

// segment::CompressBatch (what Engine::Append calls) on the telemetry batches: compare with
// BM_ZstdCompress. Bytes processed are the records sections.
void BM_PartCompressBatch(benchmark::State& state) {
  const BatchSet& set = TelemetrySet();
  uint64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    auto header = segment::ParseBatchHeader(base::AsBytes(batch));
    if (!header) Fail("parse: " + header.error().ToString());
    auto out =
        segment::CompressBatch(base::AsBytes(batch), *header, base::Codec::kZstd, kZstdLevel);
    if (!out) Fail("compress: " + out.error().ToString());
    benchmark::DoNotOptimize(out->data());
    bytes += batch.size() - kBatchHeader;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// RecordDecoder::Next over uncompressed telemetry batches: the per-record decoding cost that
// BM_SegmentReadZstd adds to decompression. Two batches in turn (about 420 KB), so that they are
// in cache, as a batch just decompressed into the decoder's buffer is.
void BM_PartRecordDecode(benchmark::State& state) {
  const BatchSet& set = TelemetrySet();
  segment::RecordDecoder decoder;
  uint64_t value_bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++ % 2);
    Must(decoder.Reset(base::AsBytes(batch)), "decode");
    for (;;) {
      auto rec = decoder.Next();
      if (!rec) Fail("decode: " + rec.error().ToString());
      if (!*rec) break;
      if ((*rec)->value) value_bytes += (*rec)->value->size();
    }
  }
  benchmark::DoNotOptimize(value_bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kRecordsPerBatch));
}

// =============================================================================================
// 4. flush=sync with concurrent appenders vs one thread doing write + fdatasync per batch.
// =============================================================================================

struct SyncShared {
  std::unique_ptr<EngineFixture> fixture;
  std::vector<std::vector<int64_t>> latencies_ns;  // one vector per thread
};
SyncShared g_sync;

// Thread 0 sets up before the loop and reads everyone's latencies after it: Google Benchmark
// holds every thread at a barrier when the loop starts and when it ends.
void BM_EngineAppendSyncConcurrent(benchmark::State& state) {
  const BatchSet& set = SmallSet();
  const auto me = static_cast<size_t>(state.thread_index());
  if (me == 0) {
    g_sync.fixture = std::make_unique<EngineFixture>(
        "append-sync",
        Config{{"compression.type", "none"},
               {"flush", "sync"},
               {"segment.bytes", std::to_string(kSyncSegmentBytes)}},
        BackgroundWork::kThreads);
    g_sync.latencies_ns.assign(static_cast<size_t>(state.threads()), {});
    for (auto& v : g_sync.latencies_ns) v.reserve(static_cast<size_t>(state.max_iterations));
    ::sync();
  }
  uint64_t bytes = 0;
  size_t i = me * 31;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    const int64_t t0 = NowNs();
    auto r = g_sync.fixture->engine().Append(kTopic, 0, base::AsBytes(batch));
    const int64_t t1 = NowNs();
    if (!r) Fail("append: " + r.error().ToString());
    g_sync.latencies_ns[me].push_back(t1 - t0);
    bytes += kFramePrefix + batch.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kSyncRecordsPerBatch));
  state.counters["appends_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (me == 0) {
    std::vector<int64_t> all;
    for (const auto& v : g_sync.latencies_ns) all.insert(all.end(), v.begin(), v.end());
    ReportLatencies(state, std::move(all));
    g_sync.fixture.reset();
    g_sync.latencies_ns.clear();
  }
}

// The same frames written with pwritev (prefix + batch) and each made durable by fdatasync before
// the next, in a segment-like preallocated file.
void BM_RawWriteFdatasync(benchmark::State& state) {
  const BatchSet& set = SmallSet();
  ScopedDir dir("raw-fdatasync");
  const std::string path = dir.path() + "/00000000000000000000.log";
  const int fd = CreateLogFile(path, kSyncSegmentBytes);
  std::array<std::byte, kFramePrefix> prefix{};
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(state.max_iterations));
  ::sync();
  uint64_t pos = kSegmentHeader;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& batch = set.at(i++);
    const iovec iov[2] = {{prefix.data(), prefix.size()},
                          {const_cast<char*>(batch.data()), batch.size()}};
    const size_t bytes = prefix.size() + batch.size();
    const int64_t t0 = NowNs();
    MustErrno(::pwritev(fd, iov, 2, static_cast<off_t>(pos)) == static_cast<ssize_t>(bytes),
              "pwritev " + path);
    MustErrno(::fdatasync(fd) == 0, "fdatasync " + path);
    latencies.push_back(NowNs() - t0);
    pos += bytes;
  }
  ::close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(pos - kSegmentHeader));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kSyncRecordsPerBatch));
  state.counters["appends_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  ReportLatencies(state, std::move(latencies));
}

// =============================================================================================
// Registration in rounds, result collection and the ratio table.
// =============================================================================================

using Register = std::function<void()>;

// A baseline and the benchmarks judged against it, registered next to each other.
struct Group {
  Register baseline;
  Register engine;
};

std::vector<Group> Groups() {
  using benchmark::RegisterBenchmark;
  auto append_none_base = [] {
    RegisterBenchmark("BM_RawUringWrite", BM_RawUringWrite)
        ->ArgName("fallocate")
        ->Arg(1)
        ->Arg(0)
        ->Iterations(kAppendBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    RegisterBenchmark("BM_RawPwrite", BM_RawPwrite)
        ->Iterations(kAppendBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  auto append_none = [] {
    RegisterBenchmark("BM_EngineAppendNone", BM_EngineAppendNone)
        ->ArgNames({"bg_flush", "uring", "async"})
        ->Args({1, 0, 0})
        ->Args({1, 0, 1})
        ->Args({0, 0, 0})
        ->Args({0, 1, 0})
        ->Iterations(kAppendBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  auto append_zstd_base = [] {
    RegisterBenchmark("BM_ZstdCompress", BM_ZstdCompress)
        ->Iterations(kZstdBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  auto append_zstd = [] {
    for (auto [async, threads] : {std::pair{0, 1}, {1, 1}, {0, 2}}) {
      RegisterBenchmark("BM_EngineAppendZstd", BM_EngineAppendZstd)
          ->ArgName("async")
          ->Arg(async)
          ->Threads(threads)
          ->Iterations(kZstdBatches)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
    RegisterBenchmark("BM_PartCompressBatch", BM_PartCompressBatch)
        ->Iterations(kZstdBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  auto read_zstd_base = [] {
    RegisterBenchmark("BM_ZstdDecompress", BM_ZstdDecompress)
        ->Iterations(kReadZstdPasses)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  auto read_zstd = [] {
    RegisterBenchmark("BM_SegmentReadZstd", BM_SegmentReadZstd)
        ->ArgName("cold")
        ->Arg(0)
        ->Arg(1)
        ->Iterations(kReadZstdPasses)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  auto read_raw_base = [] {
    RegisterBenchmark("BM_Pread", BM_Pread)
        ->ArgName("xxh3")
        ->Arg(0)
        ->Arg(1)
        ->Iterations(kReadRawPasses)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  auto read_raw = [] {
    RegisterBenchmark("BM_SegmentReadRaw", BM_SegmentReadRaw)
        ->ArgName("cold")
        ->Arg(0)
        ->Arg(1)
        ->Iterations(kReadRawPasses)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  auto sync_base = [] {
    RegisterBenchmark("BM_RawWriteFdatasync", BM_RawWriteFdatasync)
        ->Iterations(kSyncIterationsOneThread)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  auto sync = [] {
    RegisterBenchmark("BM_EngineAppendSyncConcurrent", BM_EngineAppendSyncConcurrent)
        ->Threads(1)
        ->Iterations(kSyncIterationsOneThread)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    RegisterBenchmark("BM_EngineAppendSyncConcurrent", BM_EngineAppendSyncConcurrent)
        ->Threads(kSyncThreads)
        ->Iterations(kSyncIterationsPerThread8)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  auto parts = [] {
    RegisterBenchmark("BM_PartVerifyCrc", BM_PartVerifyCrc)
        ->Iterations(kAppendBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    for (const auto& impl : base::Crc32cImplementations()) {
      RegisterBenchmark(("BM_PartCrc32c/" + std::string(impl.name)).c_str(), BM_PartCrc32c, impl)
          ->Iterations(kAppendBatches)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
    RegisterBenchmark("BM_PartFrameXxh3", BM_PartFrameXxh3)
        ->Iterations(kAppendBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    RegisterBenchmark("BM_PartRecordDecode", BM_PartRecordDecode)
        ->Iterations(kZstdBatches)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
  return {{append_none_base, append_none},
          {append_zstd_base, append_zstd},
          {read_zstd_base, read_zstd},
          {read_raw_base, read_raw},
          {sync_base, sync},
          {parts, [] {}}};
}

// Figures of one benchmark instance, one entry per round (in run order).
struct Figures {
  std::vector<double> seconds_per_iteration;  // wall clock
  std::vector<double> bytes_per_s;
  std::map<std::string, std::vector<double>> counters;
};

std::string KeyOf(const benchmark::BenchmarkReporter::Run& run) {
  std::string key = run.run_name.function_name;
  if (!run.run_name.args.empty()) key += "/" + run.run_name.args;
  if (!run.run_name.threads.empty()) key += "/" + run.run_name.threads;
  return key;
}

// Shows runs with the default display reporter and keeps their figures.
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit CollectingReporter(benchmark::BenchmarkReporter* display) : display_(display) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    display_->ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      Figures& f = figures_[KeyOf(run)];
      f.seconds_per_iteration.push_back(run.real_accumulated_time /
                                        static_cast<double>(run.iterations));
      const bool wall_rate = run.counters.count("wall_bytes_per_s") != 0;
      for (const auto& [name, counter] : run.counters) {
        if (name == (wall_rate ? "wall_bytes_per_s" : "bytes_per_second")) {
          f.bytes_per_s.push_back(counter.value);
        } else {
          f.counters[name].push_back(counter.value);
        }
      }
    }
  }
  void Finalize() override { display_->Finalize(); }

  const std::map<std::string, Figures>& figures() const { return figures_; }

 private:
  benchmark::BenchmarkReporter* display_;
  std::map<std::string, Figures> figures_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string Rate(double bytes_per_s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f MB/s", bytes_per_s / 1e6);
  return buf;
}

struct Comparison {
  const char* benchmark;
  const char* baseline;
  double target;  // minimum ratio; 0 = none
};

constexpr Comparison kComparisons[] = {
    {"BM_EngineAppendNone/bg_flush:1/uring:0/async:0", "BM_RawPwrite", 0.80},
    {"BM_EngineAppendNone/bg_flush:1/uring:0/async:1", "BM_RawPwrite", 0},
    {"BM_EngineAppendNone/bg_flush:0/uring:0/async:0", "BM_RawPwrite", 0.80},
    {"BM_EngineAppendNone/bg_flush:0/uring:1/async:0", "BM_RawUringWrite/fallocate:1", 0},
    {"BM_RawUringWrite/fallocate:1", "BM_RawPwrite", 0},
    {"BM_RawUringWrite/fallocate:0", "BM_RawPwrite", 0},
    {"BM_EngineAppendZstd/async:0/threads:1", "BM_ZstdCompress", 0.90},
    {"BM_EngineAppendZstd/async:1/threads:1", "BM_ZstdCompress", 0},
    {"BM_EngineAppendZstd/async:0/threads:2", "BM_EngineAppendZstd/async:0/threads:1", 1.6},
    {"BM_SegmentReadZstd/cold:0", "BM_ZstdDecompress", 0.80},
    {"BM_SegmentReadZstd/cold:1", "BM_ZstdDecompress", 0.80},
    {"BM_SegmentReadRaw/cold:0", "BM_Pread/xxh3:0", 0},
    {"BM_SegmentReadRaw/cold:1", "BM_Pread/xxh3:0", 0},
    {"BM_SegmentReadRaw/cold:0", "BM_Pread/xxh3:1", 0},
    {"BM_SegmentReadRaw/cold:1", "BM_Pread/xxh3:1", 0},
    {"BM_PartCompressBatch", "BM_ZstdCompress", 0},
};

void PrintTables(const std::map<std::string, Figures>& figures, int rounds) {
  std::printf(
      "\nsluice_bench: medians over %d round(s); ratio = median of the per-round ratios "
      "benchmark/baseline (each pair ran back to back), [min, max] over rounds\n\n",
      rounds);
  std::printf("%-40s %-29s %10s %10s %6s %13s %7s %s\n", "benchmark", "baseline", "bench",
              "baseline", "ratio", "[min, max]", "target", "result");
  for (const Comparison& c : kComparisons) {
    auto b = figures.find(c.benchmark);
    auto a = figures.find(c.baseline);
    if (b == figures.end() || a == figures.end()) continue;
    const auto& bench = b->second.bytes_per_s;
    const auto& base = a->second.bytes_per_s;
    if (bench.size() != base.size()) {
      std::printf("(%s: %zu runs but %s: %zu; ratios pair them in run order)\n", c.benchmark,
                  bench.size(), c.baseline, base.size());
    }
    std::vector<double> ratios;
    for (size_t i = 0; i < std::min(bench.size(), base.size()); ++i) {
      ratios.push_back(bench[i] / base[i]);
    }
    if (ratios.empty()) continue;
    const double ratio = Median(ratios);
    char range[32];
    std::snprintf(range, sizeof(range), "[%.2f, %.2f]",
                  *std::min_element(ratios.begin(), ratios.end()),
                  *std::max_element(ratios.begin(), ratios.end()));
    char target[16] = "-";
    const char* result = "-";
    if (c.target > 0) {
      std::snprintf(target, sizeof(target), ">=%.2f", c.target);
      result = ratio >= c.target ? "pass" : "MISS";
    }
    std::printf("%-40s %-29s %10s %10s %6.2f %13s %7s %s\n", c.benchmark, c.baseline,
                Rate(Median(bench)).c_str(), Rate(Median(base)).c_str(), ratio, range, target,
                result);
  }

  std::printf("\nflush=sync (no target): medians over rounds\n");
  std::printf("%-46s %12s %10s %9s %9s %9s\n", "benchmark", "appends/s", "MB/s", "p50 us", "p99 us",
              "max us");
  for (const char* name : {"BM_RawWriteFdatasync", "BM_EngineAppendSyncConcurrent/threads:1",
                           "BM_EngineAppendSyncConcurrent/threads:8"}) {
    auto it = figures.find(name);
    if (it == figures.end()) continue;
    const Figures& f = it->second;
    auto counter = [&](const char* key) {
      auto c = f.counters.find(key);
      return c == f.counters.end() ? NAN : Median(c->second);
    };
    std::printf("%-46s %12.0f %10.1f %9.0f %9.0f %9.0f\n", name, counter("appends_per_s"),
                Median(f.bytes_per_s) / 1e6, counter("p50_us"), counter("p99_us"),
                counter("max_us"));
  }

  std::printf("\nparts (CPU work the engine adds), medians over rounds\n");
  std::printf("%-28s %12s %12s %12s %16s\n", "part", "us/batch", "MB/s", "ns/record",
              "best us/batch");
  for (const auto& [name, f] : figures) {
    if (name.rfind("BM_Part", 0) != 0) continue;
    auto items = f.counters.find("items_per_second");
    char per_record[32] = "-";
    if (items != f.counters.end()) {
      std::snprintf(per_record, sizeof(per_record), "%.1f", 1e9 / Median(items->second));
    }
    char rate[32] = "-";
    if (!f.bytes_per_s.empty()) {
      std::snprintf(rate, sizeof(rate), "%.0f", Median(f.bytes_per_s) / 1e6);
    }
    std::printf(
        "%-28s %12.1f %12s %12s %16.1f\n", name.c_str(), Median(f.seconds_per_iteration) * 1e6,
        rate, per_record,
        *std::min_element(f.seconds_per_iteration.begin(), f.seconds_per_iteration.end()) * 1e6);
  }
  std::printf("\n");
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  int rounds = 25;
  // Take --sluice_rounds=N out of argv before Google Benchmark parses it.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string flag = "--sluice_rounds=";
    if (arg.rfind(flag, 0) == 0) {
      rounds = std::max(1, std::atoi(arg.c_str() + flag.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::vector<Group> groups = Groups();
  for (int r = 0; r < rounds; ++r) {
    for (const Group& g : groups) {
      if (r % 2 == 0) {
        g.baseline();
        g.engine();
      } else {
        g.engine();
        g.baseline();
      }
    }
  }
  std::printf("sluice_bench: %d round(s); data under %s (removed at exit)\n", rounds,
              Root().c_str());
  CollectingReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  PrintTables(reporter.figures(), rounds);
  benchmark::Shutdown();
  RemoveRoot();
  return 0;
}

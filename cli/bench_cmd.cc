// sluice bench: the disk-throughput benchmark. It appends generated records through the engine's
// own write path into a temporary topic, reads them all back through Engine::Read and
// RecordDecoder, then measures the raw device with the same I/O pattern (io_uring sequential
// writes of the same stored bytes in the same chunk size, without and with an fdatasync per
// chunk) and prints each engine figure beside that baseline.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/record_format.h"
#include "cli/telemetry.h"
#include "segment/io/uring_fs.h"
#include "segment/record_batch.h"

namespace sluice::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kFramePrefixBytes = 16;      // segment/FORMAT.md: length + xxHash3 before a batch
constexpr int64_t kIntervalNs = 100'000'000;  // plot resolution: 100 ms
constexpr double kRawSyncMaxSeconds = 5.0;    // the fdatasync baseline stops after this long

struct BenchOptions {
  int64_t records = 2'000'000;
  int32_t record_size = 100;
  int32_t batch = 1000;
  int32_t partitions = 2;
  int32_t producers = 2;
  std::string compression = "zstd";
  std::string flush = "none";
  std::string topic;  // empty: kBenchTopicPrefix + the process id (ChooseTopic)
  std::string plot;
};

// Temporary topics and raw files are named after the process that made them, so that what a
// killed bench left behind never collides with (blocks) a later run.
constexpr std::string_view kBenchTopicPrefix = "sluice-bench-";
constexpr std::string_view kRawFilePrefix = ".sluice-bench-raw-";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// A live progress bar on stderr, redrawn every 100 ms by its own thread; silent unless stderr is
// a terminal.
class Progress {
 public:
  Progress(const std::string& label, uint64_t total)
      : label_(label),
        total_(std::max<uint64_t>(total, 1)),
        tty_(::isatty(2) == 1),
        start_(Clock::now()) {
    if (tty_) thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() { Finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t n) { done_.fetch_add(n, std::memory_order_relaxed); }

  void Finish() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    Draw();
    std::fputs("\n", stderr);
  }

 private:
  void Loop() {
    while (!stop_) {
      Draw();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  void Draw() {
    const uint64_t done = std::min(done_.load(std::memory_order_relaxed), total_);
    const double frac = static_cast<double>(done) / static_cast<double>(total_);
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    std::fprintf(stderr, "\r%-22s [%s] %5.1f%%  %llu/%llu  %.1f s ", label_.c_str(), bar.c_str(),
                 frac * 100.0, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), secs);
    std::fflush(stderr);
  }

  std::string label_;
  uint64_t total_;
  bool tty_;
  Clock::time_point start_;
  std::atomic<uint64_t> done_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One Append call: when it finished (ns since the start of the run), how long it took, and the
// record bytes it carried.
struct Sample {
  int64_t end_ns = 0;
  int64_t latency_ns = 0;
  uint64_t logical_bytes = 0;
};

struct Percentiles {
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// Percentiles of `ns` (sorted in place), in microseconds.
Percentiles ComputePercentiles(std::vector<int64_t>& ns) {
  Percentiles p;
  if (ns.empty()) return p;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    const size_t i = static_cast<size_t>(q * static_cast<double>(ns.size() - 1) + 0.5);
    return static_cast<double>(ns[i]) / 1000.0;
  };
  p.p50_us = at(0.50);
  p.p99_us = at(0.99);
  p.p999_us = at(0.999);
  p.max_us = static_cast<double>(ns.back()) / 1000.0;
  return p;
}

json PercentilesJson(const Percentiles& p) {
  return {{"p50", p.p50_us}, {"p99", p.p99_us}, {"p99_9", p.p999_us}, {"max", p.max_us}};
}

// Record values of exactly `size` bytes cut from a stream of telemetry JSON lines, so that they
// compress like real monitoring data.
class ValueSource {
 public:
  ValueSource(uint64_t seed, size_t size) : gen_(seed), size_(size) {}
  std::string_view Next() {
    while (stream_.size() - pos_ < size_) {
      stream_.erase(0, pos_);
      pos_ = 0;
      gen_.Next(stream_);
      stream_.push_back('\n');
    }
    std::string_view v(stream_.data() + pos_, size_);
    pos_ += size_;
    return v;
  }

 private:
  TelemetryGenerator gen_;
  size_t size_;
  std::string stream_;
  size_t pos_ = 0;
};

struct WriteResult {
  int64_t records = 0;
  int64_t appends = 0;
  int64_t ns = 0;
  std::vector<Sample> samples;
};

// Appends `o.records` records in batches of `o.batch` from `o.producers` threads. Each producer
// builds a pool of uncompressed batches up front (so that only compression and the engine's append
// path are timed) and sends its batches round-robin over the partitions, starting at its own index.
Result<WriteResult> RunWrite(engine::Engine& engine, const BenchOptions& o,
                             const SignalStop& signals) {
  const int64_t total_batches = (o.records + o.batch - 1) / o.batch;
  constexpr int64_t kPoolSize = 32;
  const base::Codec codec = *base::ParseCodec(o.compression);
  std::vector<std::vector<Sample>> samples(static_cast<size_t>(o.producers));
  std::vector<std::optional<base::Error>> errors(static_cast<size_t>(o.producers));
  std::atomic<bool> failed{false};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  int64_t start_ns = 0;
  Progress progress("writing (engine)", static_cast<uint64_t>(o.records));
  std::vector<std::thread> threads;
  for (int32_t t = 0; t < o.producers; ++t) {
    threads.emplace_back([&, t] {
      // This producer's batches: indexes t, t + producers, ... of all batches.
      const int64_t mine = total_batches / o.producers + (t < total_batches % o.producers ? 1 : 0);
      const auto last_index = total_batches - 1;
      const int32_t tail_records = static_cast<int32_t>(o.records - last_index * o.batch);
      ValueSource values(static_cast<uint64_t>(t) + 1, static_cast<size_t>(o.record_size));
      segment::BatchBuilder builder;
      const int64_t ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
      auto build = [&](int32_t n) -> Result<std::string> {
        for (int32_t i = 0; i < n; ++i) builder.Add(std::nullopt, values.Next(), ts + i);
        return builder.Build();
      };
      std::vector<std::string> pool;
      std::string tail;
      auto& err = errors[static_cast<size_t>(t)];
      for (int64_t i = 0; i < std::min(mine, kPoolSize) && !err; ++i) {
        auto b = build(o.batch);
        if (b)
          pool.push_back(std::move(*b));
        else
          err = b.error();
      }
      if (!err && tail_records != o.batch) {
        auto b = build(tail_records);
        if (b)
          tail = std::move(*b);
        else
          err = b.error();
      }
      auto& out = samples[static_cast<size_t>(t)];
      out.reserve(static_cast<size_t>(mine));
      ready++;
      while (!go) std::this_thread::yield();
      for (int64_t k = 0; k < mine && !err && !failed && !signals.stop_requested(); ++k) {
        const int64_t index = t + k * o.producers;
        const bool is_tail = index == last_index && tail_records != o.batch;
        const std::string& batch = is_tail ? tail : pool[static_cast<size_t>(k % kPoolSize)];
        const int32_t n = is_tail ? tail_records : o.batch;
        const int32_t partition = static_cast<int32_t>((t + k) % o.partitions);
        // The producer compresses each batch (compression.type producer on the topic), timed
        // with the append as the engine's own compression was.
        const int64_t t0 = NowNs();
        Result<std::string> compressed = std::string();
        if (codec != base::Codec::kNone) {
          auto header = segment::ParseBatchHeader(base::AsBytes(batch));
          compressed = header ? segment::CompressBatch(base::AsBytes(batch), *header, codec, 0)
                              : Result<std::string>(header.error());
          if (!compressed) {
            err = compressed.error();
            break;
          }
        }
        auto r = engine.Append(o.topic, partition,
                               base::AsBytes(codec == base::Codec::kNone ? batch : *compressed));
        const int64_t t1 = NowNs();
        if (!r) {
          err = r.error();
          break;
        }
        out.push_back({t1 - start_ns, t1 - t0,
                       static_cast<uint64_t>(n) * static_cast<uint64_t>(o.record_size)});
        progress.Add(static_cast<uint64_t>(n));
      }
      if (err) failed = true;
    });
  }
  while (ready < o.producers && !failed) std::this_thread::yield();
  start_ns = NowNs();
  go = true;
  for (auto& th : threads) th.join();
  const int64_t end_ns = NowNs();
  progress.Finish();
  for (auto& e : errors) {
    if (e) return *e;
  }
  WriteResult w;
  w.records = o.records;
  w.appends = total_batches;
  w.ns = end_ns - start_ns;
  for (auto& s : samples) w.samples.insert(w.samples.end(), s.begin(), s.end());
  std::sort(w.samples.begin(), w.samples.end(),
            [](const Sample& a, const Sample& b) { return a.end_ns < b.end_ns; });
  return w;
}

struct ReadFigures {
  int64_t records = 0;
  uint64_t logical_bytes = 0;
  uint64_t stored_bytes = 0;  // batch bytes as stored
  int64_t batches = 0;
  int64_t ns = 0;
  std::vector<Sample> samples;  // one per Read call (for the chart; latency_ns unused)
};

Result<ReadFigures> RunRead(engine::Engine& engine, const BenchOptions& o,
                            const SignalStop& signals) {
  ReadFigures out;
  Progress progress("reading (engine)", static_cast<uint64_t>(o.records));
  segment::RecordDecoder decoder;
  const int64_t t0 = NowNs();
  uint64_t read_so_far = 0;  // logical bytes of the samples so far
  for (int32_t p = 0; p < o.partitions; ++p) {
    base::Offset next(0);
    while (!signals.stop_requested()) {
      ASSIGN_OR_RETURN(auto r, engine.Read(o.topic, p, next, 4 << 20));
      if (r.batches.empty()) break;
      decoder.set_dictionaries(r.dictionaries.get());
      for (const auto& b : r.batches) {
        out.stored_bytes += b.bytes.size();
        out.batches++;
        int64_t n = 0;
        RETURN_IF_ERROR(
            segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
              if (rec.offset < next.value()) return base::Status();
              ++n;
              out.logical_bytes += rec.value ? rec.value->size() : 0;
              next = base::Offset(rec.offset + 1);
              return base::Status();
            }));
        out.records += n;
        progress.Add(static_cast<uint64_t>(n));
      }
      out.samples.push_back({NowNs() - t0, 0, out.logical_bytes - read_so_far});
      read_so_far = out.logical_bytes;
    }
  }
  out.ns = NowNs() - t0;
  return out;
}

// --- the raw baseline: io_uring sequential writes into a preallocated file -------------------

struct RawResult {
  uint64_t chunk_bytes = 0;
  int64_t chunks = 0;
  uint64_t bytes = 0;
  int64_t ns = 0;
  Percentiles latency;
};

// Writes `chunks` chunks of `chunk_bytes` (a 16-byte prefix and the batch bytes, as the engine
// frames them, one gathered write each) back to back into `path`, preallocated to the whole size,
// with an fdatasync after each chunk if `sync`. Stops early after `max_seconds`. It goes through
// io::UringFs, the same thin io_uring layer the engine writes with (one writev SQE per call, then
// wait), so the baseline is io_uring itself without any of the engine's work. Stops at a signal.
std::optional<std::string> RawWrite(const std::string& path, uint64_t chunk_bytes, int64_t chunks,
                                    bool sync, double max_seconds, const SignalStop& signals,
                                    RawResult& out) {
  out = RawResult{};
  out.chunk_bytes = chunk_bytes;
  io::UringFs fs;
  auto opened = fs.OpenWritable(path, io::OpenMode::kCreateOrTruncate);
  if (!opened) return opened.error().ToString();
  std::unique_ptr<io::WritableFile> file = std::move(opened).value();
  struct Cleanup {
    io::FileSystem& fs;
    io::WritableFile& file;
    const std::string& path;
    ~Cleanup() {
      file.Close().IgnoreError();
      fs.Remove(path).IgnoreError();
    }
  } cleanup{fs, *file, path};
  const uint64_t total = chunk_bytes * static_cast<uint64_t>(chunks);
  if (auto s = file->Allocate(total); !s) return s.error().ToString();
  if (auto s = file->Sync(); !s) return s.error().ToString();
  std::string prefix(kFramePrefixBytes, '\0');
  std::string body(chunk_bytes - kFramePrefixBytes, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 2654435761u) >> 13);
  const base::Bytes pieces[] = {base::AsBytes(prefix), base::AsBytes(body)};
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(chunks));
  ::sync();  // start with no other dirty data being written back
  Progress progress(sync ? "raw write+fdatasync" : "raw io_uring write",
                    static_cast<uint64_t>(chunks));
  const int64_t t0 = NowNs();
  uint64_t pos = 0;
  for (int64_t i = 0; i < chunks && !signals.stop_requested(); ++i) {
    const int64_t c0 = NowNs();
    if (auto s = file->WriteAt(base::FilePos(pos), pieces); !s) return s.error().ToString();
    if (sync) {
      if (auto s = file->Sync(); !s) return s.error().ToString();
    }
    const int64_t c1 = NowNs();
    latencies.push_back(c1 - c0);
    pos += chunk_bytes;
    out.chunks++;
    progress.Add(1);
    if (Seconds(c1 - t0) > max_seconds) break;
  }
  out.ns = NowNs() - t0;
  out.bytes = pos;
  progress.Finish();
  out.latency = ComputePercentiles(latencies);
  return std::nullopt;
}

// --- the chart ---------------------------------------------------------------------------------

struct Interval {
  double t_s = 0;       // end of the interval
  double mb_per_s = 0;  // logical record bytes appended in it
  double p99_ms = 0;    // p99 latency of the appends that finished in it
  bool has_latency = false;
};

std::vector<Interval> Intervals(const std::vector<Sample>& samples, int64_t total_ns) {
  const size_t n =
      static_cast<size_t>(std::max<int64_t>(1, (total_ns + kIntervalNs - 1) / kIntervalNs));
  std::vector<uint64_t> bytes(n, 0);
  std::vector<std::vector<int64_t>> lat(n);
  for (const Sample& s : samples) {
    const size_t i =
        std::min(n - 1, static_cast<size_t>(std::max<int64_t>(0, s.end_ns) / kIntervalNs));
    bytes[i] += s.logical_bytes;
    lat[i].push_back(s.latency_ns);
  }
  std::vector<Interval> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t begin = static_cast<int64_t>(i) * kIntervalNs;
    const int64_t len = std::min<int64_t>(kIntervalNs, std::max<int64_t>(1, total_ns - begin));
    out[i].t_s = Seconds(begin + len);
    out[i].mb_per_s = static_cast<double>(bytes[i]) / 1e6 / Seconds(len);
    if (!lat[i].empty()) {
      out[i].p99_ms = ComputePercentiles(lat[i]).p99_us / 1000.0;
      out[i].has_latency = true;
    }
  }
  return out;
}

// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `v`.
double NiceMax(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string EscapeXml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The chart of a run: throughput over time of the write phase and then of the read phase (logical
// record bytes per 100 ms, left axis), the appends' p99 latency (right axis), and the same-run
// baseline as a line across the write phase: the raw write of the same stored bytes, in the
// logical MB/s it would give (raw MB/s x logical / stored), so that the two are comparable.
std::string PlotSvg(const std::vector<Interval>& write, const std::vector<Interval>& read,
                    const std::string& title, double baseline_logical_mb_s,
                    const std::string& baseline_label) {
  constexpr double kW = 900, kH = 480, kL = 80, kR = 80, kT = 70, kB = 80;
  const double pw = kW - kL - kR, ph = kH - kT - kB;
  const double write_end = write.empty() ? 0.0 : write.back().t_s;
  const double t_max = std::max(write_end + (read.empty() ? 0.0 : read.back().t_s), 0.1);
  double mb_max = baseline_logical_mb_s, lat_max = 0;
  for (const auto& i : write) {
    mb_max = std::max(mb_max, i.mb_per_s);
    lat_max = std::max(lat_max, i.p99_ms);
  }
  for (const auto& i : read) mb_max = std::max(mb_max, i.mb_per_s);
  mb_max = NiceMax(mb_max * 1.05);
  lat_max = NiceMax(lat_max * 1.05);
  auto x = [&](double t) { return kL + t / t_max * pw; };
  auto y_mb = [&](double v) { return kT + ph - v / mb_max * ph; };
  auto y_lat = [&](double v) { return kT + ph - v / lat_max * ph; };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH
    << "\" viewBox=\"0 0 " << kW << ' ' << kH
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << kW / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
    << EscapeXml(title) << "</text>\n";
  // Grid and tick labels.
  for (int k = 0; k <= 5; ++k) {
    const double f = k / 5.0;
    const double yy = kT + ph - f * ph;
    s << "<line x1=\"" << kL << "\" y1=\"" << yy << "\" x2=\"" << kL + pw << "\" y2=\"" << yy
      << "\" stroke=\"#ddd\"/>\n";
    s << "<text x=\"" << kL - 6 << "\" y=\"" << yy + 4 << "\" text-anchor=\"end\" fill=\"#1f77b4\">"
      << Fmt("%g", f * mb_max) << "</text>\n";
    s << "<text x=\"" << kL + pw + 6 << "\" y=\"" << yy + 4 << "\" fill=\"#d62728\">"
      << Fmt("%g", f * lat_max) << "</text>\n";
    const double xx = kL + f * pw;
    s << "<line x1=\"" << xx << "\" y1=\"" << kT + ph << "\" x2=\"" << xx << "\" y2=\""
      << kT + ph + 5 << "\" stroke=\"black\"/>\n";
    s << "<text x=\"" << xx << "\" y=\"" << kT + ph + 18 << "\" text-anchor=\"middle\">"
      << Fmt("%.2f", f * t_max) << "</text>\n";
  }
  // Axes.
  s << "<line x1=\"" << kL << "\" y1=\"" << kT << "\" x2=\"" << kL << "\" y2=\"" << kT + ph
    << "\" stroke=\"black\"/>\n";
  s << "<line x1=\"" << kL + pw << "\" y1=\"" << kT << "\" x2=\"" << kL + pw << "\" y2=\""
    << kT + ph << "\" stroke=\"black\"/>\n";
  s << "<line x1=\"" << kL << "\" y1=\"" << kT + ph << "\" x2=\"" << kL + pw << "\" y2=\""
    << kT + ph << "\" stroke=\"black\"/>\n";
  s << "<text x=\"" << kL + pw / 2 << "\" y=\"" << kH - 40
    << "\" text-anchor=\"middle\">time (s)</text>\n";
  s << "<text transform=\"translate(20," << kT + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\" fill=\"#1f77b4\">throughput (MB/s logical, per "
       "100 ms)</text>\n";
  s << "<text transform=\"translate(" << kW - 20 << ',' << kT + ph / 2
    << ") rotate(90)\" text-anchor=\"middle\" fill=\"#d62728\">p99 append latency (ms, per 100 "
       "ms)</text>\n";
  // The phases: write, then read, split by a vertical line.
  s << "<line id=\"phase-split\" x1=\"" << x(write_end) << "\" y1=\"" << kT << "\" x2=\""
    << x(write_end) << "\" y2=\"" << kT + ph << "\" stroke=\"#999\" stroke-dasharray=\"2,3\"/>\n";
  s << "<text x=\"" << (x(0) + x(write_end)) / 2 << "\" y=\"" << kT - 6
    << "\" text-anchor=\"middle\" fill=\"#555\">write (append)</text>\n";
  if (!read.empty()) {
    s << "<text x=\"" << (x(write_end) + x(t_max)) / 2 << "\" y=\"" << kT - 6
      << "\" text-anchor=\"middle\" fill=\"#555\">read</text>\n";
  }
  // The baseline across the write phase.
  const double yb = y_mb(baseline_logical_mb_s);
  s << "<line id=\"baseline\" x1=\"" << x(0) << "\" y1=\"" << yb << "\" x2=\"" << x(write_end)
    << "\" y2=\"" << yb << "\" stroke=\"#555\" stroke-width=\"2\" stroke-dasharray=\"8,4\"/>\n";
  s << "<text x=\"" << x(0) + 6 << "\" y=\"" << yb - 6 << "\" fill=\"#555\">"
    << EscapeXml(baseline_label) << "</text>\n";
  // Series.
  auto series = [&](const char* id, const std::vector<Interval>& iv, double t0, bool latency,
                    const char* color) {
    s << "<polyline id=\"" << id << "\" fill=\"none\" stroke=\"" << color
      << "\" stroke-width=\"2\" points=\"";
    for (const auto& i : iv) {
      if (latency && !i.has_latency) continue;
      s << x(t0 + i.t_s) << ',' << (latency ? y_lat(i.p99_ms) : y_mb(i.mb_per_s)) << ' ';
    }
    s << "\"/>\n";
    for (const auto& i : iv) {
      if (latency && !i.has_latency) continue;
      s << "<circle cx=\"" << x(t0 + i.t_s) << "\" cy=\""
        << (latency ? y_lat(i.p99_ms) : y_mb(i.mb_per_s)) << "\" r=\"2.5\" fill=\"" << color
        << "\"/>\n";
    }
  };
  series("write", write, 0, false, "#1f77b4");
  series("read", read, write_end, false, "#2ca02c");
  series("write-p99", write, 0, true, "#d62728");
  // Legend.
  const double lx = kL + 10, ly = kT - 40;
  auto legend = [&](double at, const char* color, const char* dash, const char* text) {
    s << "<line x1=\"" << lx + at << "\" y1=\"" << ly << "\" x2=\"" << lx + at + 24 << "\" y2=\""
      << ly << "\" stroke=\"" << color << "\" stroke-width=\"2\" stroke-dasharray=\"" << dash
      << "\"/><text x=\"" << lx + at + 30 << "\" y=\"" << ly + 4 << "\">" << text << "</text>\n";
  };
  legend(0, "#1f77b4", "none", "append (MB/s, left)");
  legend(170, "#2ca02c", "none", "read (MB/s, left)");
  legend(320, "#555", "8,4", "raw write baseline (left)");
  legend(510, "#d62728", "none", "append p99 (ms, right)");
  s << "</svg>\n";
  return s.str();
}

// --- the command -------------------------------------------------------------------------------

double Mb(double bytes) { return bytes / 1e6; }
double Rate(double v, int64_t ns) { return ns > 0 ? v / Seconds(ns) : 0; }
double Pct(double v, double base) { return base > 0 ? 100.0 * v / base : 0; }

// Whether `name` is a default temporary topic: kBenchTopicPrefix, digits, optionally "-" digits.
bool IsBenchTopic(std::string_view name) {
  if (name.substr(0, kBenchTopicPrefix.size()) != kBenchTopicPrefix) return false;
  name.remove_prefix(kBenchTopicPrefix.size());
  const size_t dash = name.find('-');
  auto digits = [](std::string_view d) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  return digits(name.substr(0, dash)) &&
         (dash == std::string_view::npos || digits(name.substr(dash + 1)));
}

// This run's temporary topic: sluice-bench-<pid>, with a suffix if an earlier bench that had the
// same process id left its topic behind.
std::string ChooseTopic(const engine::Engine& e) {
  const std::string base = std::string(kBenchTopicPrefix) + std::to_string(::getpid());
  std::string name = base;
  for (int i = 2; e.DescribeTopic(name).has_value(); ++i) name = base + "-" + std::to_string(i);
  return name;
}

// Names what killed benches left in the data directory. The bench removes only what it made in
// this run, so these stay until the operator removes them; they do not stop this run.
void NoteLeftovers(const engine::Engine& e, const std::string& data_dir) {
  std::string found;
  for (const auto& t : e.ListTopics()) {
    if (IsBenchTopic(t.name)) found += (found.empty() ? "" : ", ") + ("topic " + t.name);
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kRawFilePrefix, 0) == 0) {
      found += (found.empty() ? "" : ", ") + ("file " + entry.path().string());
    }
  }
  if (found.empty()) return;
  std::fprintf(stderr,
               "sluice bench: note: an interrupted bench left %s (not removed: bench removes "
               "only what it made in this run; `sluice topic delete NAME` and rm do)\n",
               found.c_str());
}

int RunBench(Context& ctx, const BenchOptions& options) {
  if (static_cast<int64_t>(options.record_size + 16) * options.batch > (16ll << 20)) {
    return ctx.Usage("--batch x --record-size exceeds the 16 MiB batch limit");
  }
  // From here on SIGINT and SIGTERM stop the run, which then removes what it made.
  SignalStop signals;
  engine::Engine* e = ctx.Engine(engine::CreateIfMissing::kYes);
  if (e == nullptr) return kExitFailure;
  BenchOptions o = options;
  if (o.topic.empty()) {
    NoteLeftovers(*e, ctx.data_dir);
    o.topic = ChooseTopic(*e);
  } else if (e->DescribeTopic(o.topic)) {
    return ctx.Fail("topic '" + o.topic + "' already exists; pick another with --topic");
  }
  if (auto s = e->CreateTopic(o.topic, o.partitions,
                              {{"compression.type", "producer"}, {"flush", o.flush}});
      !s) {
    return ctx.Fail(s.error());
  }
  // Deletes the temporary topic on every way out of this function (a signal included: the loops
  // below stop at one); only a SIGKILL or a second signal leaves it behind.
  struct DropTopic {
    engine::Engine* e;
    const std::string& topic;
    bool done = false;
    Status Drop() {
      if (done) return {};
      done = true;
      return e->DeleteTopic(topic);
    }
    ~DropTopic() { Drop().IgnoreError(); }  // early error returns; the others report it
  } drop{e, o.topic};
  auto interrupted = [&] {
    std::string what = "its temporary topic " + o.topic + " was removed";
    if (Status s = drop.Drop(); !s) {
      what = "removing its temporary topic " + o.topic + " failed: " + s.error().ToString();
    }
    ctx.Fail("bench interrupted by signal " + std::to_string(signals.signal_number()) + "; " +
             what);
    return 128 + signals.signal_number();
  };

  ::sync();
  auto w = RunWrite(*e, o, signals);
  if (signals.stop_requested()) return interrupted();
  if (!w) return ctx.Fail("append: " + w.error().ToString());
  auto r = RunRead(*e, o, signals);
  if (signals.stop_requested()) return interrupted();
  if (!r) return ctx.Fail("read: " + r.error().ToString());
  if (r->records != o.records) {
    return ctx.Fail("read back " + std::to_string(r->records) + " records, wrote " +
                    std::to_string(o.records));
  }
  if (Status s = drop.Drop(); !s) {
    return ctx.Fail("removing the temporary topic " + o.topic + ": " + s.error().ToString());
  }

  // The baseline: the same stored bytes (frames: prefix + batch) in the same chunk size.
  const uint64_t frame_bytes =
      r->stored_bytes + kFramePrefixBytes * static_cast<uint64_t>(r->batches);
  const int64_t chunks = std::max<int64_t>(1, r->batches);
  const uint64_t chunk =
      std::max<uint64_t>(kFramePrefixBytes + 1, frame_bytes / static_cast<uint64_t>(chunks));
  // Named like the topic, and never a file an earlier bench with this process id left behind.
  const std::string raw_base =
      ctx.data_dir + "/" + std::string(kRawFilePrefix) + std::to_string(::getpid());
  std::string raw_path = raw_base;
  std::error_code ec;
  for (int i = 2; std::filesystem::exists(raw_path, ec); ++i) {
    raw_path = raw_base + "-" + std::to_string(i);
  }
  RawResult raw, raw_sync;
  if (auto err = RawWrite(raw_path, chunk, chunks, false, 1e9, signals, raw)) {
    return ctx.Fail(*err);
  }
  if (!signals.stop_requested()) {
    if (auto err = RawWrite(raw_path, chunk, chunks, true, kRawSyncMaxSeconds, signals, raw_sync)) {
      return ctx.Fail(*err);
    }
  }
  if (signals.stop_requested()) return interrupted();  // the raw file is gone with RawWrite

  // Figures.
  const double logical = static_cast<double>(o.records) * o.record_size;
  const double stored = static_cast<double>(frame_bytes);
  std::vector<int64_t> lat;
  lat.reserve(w->samples.size());
  for (const auto& s : w->samples) lat.push_back(s.latency_ns);
  const Percentiles lp = ComputePercentiles(lat);
  const double rec_s = Rate(static_cast<double>(o.records), w->ns);
  const double logical_mb_s = Mb(Rate(logical, w->ns));
  const double disk_mb_s = Mb(Rate(stored, w->ns));
  const double ratio = stored > 0 ? logical / static_cast<double>(r->stored_bytes) : 0;
  const double read_rec_s = Rate(static_cast<double>(r->records), r->ns);
  const double read_mb_s = Mb(Rate(static_cast<double>(r->logical_bytes), r->ns));
  const double read_disk_mb_s = Mb(Rate(static_cast<double>(r->stored_bytes), r->ns));
  const double raw_mb_s = Mb(Rate(static_cast<double>(raw.bytes), raw.ns));
  const double raw_sync_mb_s = Mb(Rate(static_cast<double>(raw_sync.bytes), raw_sync.ns));
  const bool sync = o.flush == "sync";
  const double base_mb_s = sync ? raw_sync_mb_s : raw_mb_s;
  const RawResult& base = sync ? raw_sync : raw;
  const std::string base_name = sync ? "io_uring write + fdatasync per chunk" : "io_uring write";

  if (!o.plot.empty()) {
    const std::string title = "sluice bench: " + std::to_string(o.records) + " x " +
                              std::to_string(o.record_size) + " B, batches of " +
                              std::to_string(o.batch) + ", " + o.compression + ", flush=" + o.flush;
    std::ofstream f(o.plot, std::ios::binary | std::ios::trunc);
    // The raw path wrote the stored bytes at base_mb_s; as logical MB/s that is the rate at
    // which the engine would take records if it cost nothing but that write.
    const double base_logical = stored > 0 ? base_mb_s * logical / stored : 0;
    f << PlotSvg(Intervals(w->samples, w->ns), Intervals(r->samples, r->ns), title, base_logical,
                 "same-run baseline: " + base_name + " of the same stored bytes, " +
                     Fmt("%.1f", base_mb_s) + " MB/s = " + Fmt("%.1f", base_logical) +
                     " MB/s logical");
    f.close();
    if (!f) return ctx.Fail("cannot write " + o.plot);
  }

  if (ctx.format() == OutputFormat::kJson) {
    json out = {
        {"config",
         {{"records", o.records},
          {"record_size", o.record_size},
          {"batch", o.batch},
          {"partitions", o.partitions},
          {"producers", o.producers},
          {"compression", o.compression},
          {"flush", o.flush}}},
        {"write",
         {{"records", o.records},
          {"appends", w->appends},
          {"seconds", Seconds(w->ns)},
          {"records_per_s", rec_s},
          {"logical_bytes", logical},
          {"stored_bytes", stored},
          {"stored_batch_bytes", r->stored_bytes},
          {"logical_mb_per_s", logical_mb_s},
          {"on_disk_mb_per_s", disk_mb_s},
          {"compression_ratio", ratio},
          {"latency_us", PercentilesJson(lp)}}},
        {"read",
         {{"records", r->records},
          {"seconds", Seconds(r->ns)},
          {"records_per_s", read_rec_s},
          {"logical_mb_per_s", read_mb_s},
          {"on_disk_mb_per_s", read_disk_mb_s}}},
        {"raw",
         {{"chunk_bytes", chunk},
          {"uring_write",
           {{"chunks", raw.chunks},
            {"bytes", raw.bytes},
            {"seconds", Seconds(raw.ns)},
            {"mb_per_s", raw_mb_s},
            {"latency_us", PercentilesJson(raw.latency)}}},
          {"uring_write_fdatasync",
           {{"chunks", raw_sync.chunks},
            {"bytes", raw_sync.bytes},
            {"seconds", Seconds(raw_sync.ns)},
            {"mb_per_s", raw_sync_mb_s},
            {"latency_us", PercentilesJson(raw_sync.latency)}}}}},
        {"vs_raw",
         {{"baseline", sync ? "uring_write_fdatasync" : "uring_write"},
          {"append_on_disk_mb_per_s_pct", Pct(disk_mb_s, base_mb_s)},
          {"append_records_per_s_pct",
           Pct(rec_s, Rate(static_cast<double>(base.chunks) * o.batch, base.ns))},
          {"append_p50_latency_pct", Pct(lp.p50_us, base.latency.p50_us)},
          {"append_p99_latency_pct", Pct(lp.p99_us, base.latency.p99_us)},
          {"append_on_disk_vs_uring_write_pct", Pct(disk_mb_s, raw_mb_s)},
          {"append_on_disk_vs_uring_write_fdatasync_pct", Pct(disk_mb_s, raw_sync_mb_s)}}},
    };
    if (!o.plot.empty()) out["plot"] = o.plot;
    PrintJson(out);
    return kExitOk;
  }

  std::printf(
      "sluice bench: %lld records of %d B in batches of %d, %d partition%s, %d producer%s, "
      "compression %s, flush=%s\n\n",
      static_cast<long long>(o.records), o.record_size, o.batch, o.partitions,
      o.partitions == 1 ? "" : "s", o.producers, o.producers == 1 ? "" : "s", o.compression.c_str(),
      o.flush.c_str());
  std::printf(
      "write   %.2f s   %.0f records/s   %.1f MB/s logical   %.1f MB/s on disk   "
      "compression %.2fx\n",
      Seconds(w->ns), rec_s, logical_mb_s, disk_mb_s, ratio);
  std::printf(
      "        append latency (%lld appends)   p50 %.0f us   p99 %.0f us   p99.9 %.0f us   "
      "max %.0f us\n",
      static_cast<long long>(w->appends), lp.p50_us, lp.p99_us, lp.p999_us, lp.max_us);
  std::printf("read    %.2f s   %.0f records/s   %.1f MB/s logical   %.1f MB/s on disk\n\n",
              Seconds(r->ns), read_rec_s, read_mb_s, read_disk_mb_s);
  std::printf("raw device, same pattern (%lld chunks of %s, %s in all):\n",
              static_cast<long long>(chunks), HumanBytes(chunk).c_str(),
              HumanBytes(frame_bytes).c_str());
  std::printf("        io_uring write               %8.1f MB/s   p50 %.0f us   p99 %.0f us\n",
              raw_mb_s, raw.latency.p50_us, raw.latency.p99_us);
  std::printf("        io_uring write + fdatasync   %8.1f MB/s   p50 %.0f us   p99 %.0f us%s\n",
              raw_sync_mb_s, raw_sync.latency.p50_us, raw_sync.latency.p99_us,
              raw_sync.chunks < chunks ? "   (first 5 s)" : "");
  std::printf("\nengine vs raw %s:\n", base_name.c_str());
  std::printf("        append MB/s on disk   %6.1f%% of raw\n", Pct(disk_mb_s, base_mb_s));
  std::printf("        append p50 latency    %6.1f%% of raw chunk write\n",
              Pct(lp.p50_us, base.latency.p50_us));
  std::printf("        append p99 latency    %6.1f%% of raw chunk write\n",
              Pct(lp.p99_us, base.latency.p99_us));
  if (!o.plot.empty()) std::printf("\nchart written to %s\n", o.plot.c_str());
  return kExitOk;
}

}  // namespace

void AddBenchCommand(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Disk-throughput benchmark: the engine's write and read paths against the raw device");
  cmd->add_option("--records", o->records, "Records to write")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--record-size", o->record_size, "Bytes per record value")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--batch", o->batch, "Records per batch (one Append each)")
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--partitions", o->partitions, "Partitions of the temporary topic")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--producers", o->producers, "Producer threads")->check(CLI::Range(1, 256));
  cmd->add_option("--compression", o->compression,
                  "Codec the producers compress batches with: none, zstd or lz4")
      ->check(CLI::IsMember({"none", "zstd", "lz4"}));
  cmd->add_option("--flush", o->flush, "none (page cache) or sync (fdatasync before the ack)")
      ->check(CLI::IsMember({"none", "sync"}));
  cmd->add_option("--topic", o->topic,
                  "Temporary topic (must not exist; deleted afterwards, also on SIGINT/SIGTERM; "
                  "default sluice-bench-<pid>)");
  cmd->add_option("--plot", o->plot, "Write an SVG chart of throughput and p99 latency over time");
  cmd->callback([&ctx, o] {
    if (ctx.RejectRemote("bench",
                         "it measures the engine and the disk under a --data-dir; run it there")) {
      return;
    }
    ctx.exit_code = RunBench(ctx, *o);
  });
}

}  // namespace sluice::cli

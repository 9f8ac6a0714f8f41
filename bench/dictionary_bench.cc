// Trained zstd dictionaries (compression.zstd.dictionary=auto) on small telemetry batches: the
// compression ratio and speed of zstd with and without a partition dictionary, and what serving
// such batches to Kafka clients costs (Fetch transcoding: decompress with the dictionary, then
// compress again with plain zstd, or send them decompressed).
//
// Data: ~150-byte JSON telemetry records of 64 hosts and five metrics (the sample of issue 15),
// in batches of 1, 10 and 100 records. The dictionary (64 KiB) is trained as the engine trains it
// (base::TrainZstdDictionary) on the records sections of the first 20,000 records' batches of 10,
// and measured on the next 200,000 records. Every configuration runs once per round, rounds
// interleaved, so that machine load hits all alike; figures are median [min, max] over rounds.
//
//   sluice_dictionary_bench [rounds=7]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "segment/base/codec.h"
#include "segment/dictionary.h"
#include "segment/record_batch.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

const char* kMetrics[] = {"cpu.user", "mem.used_bytes", "disk.read_bytes", "net.rx_bytes",
                          "http.latency_ms"};

std::string Record(int i) {
  char buf[256];
  // Values drift like real gauges: a per-host level plus noise.
  const int host = i % 64;
  const int metric = (i / 64) % 5;
  const unsigned noise = static_cast<unsigned>(i) * 2654435761u >> 20;
  std::snprintf(buf, sizeof(buf),
                "{\"ts\":%lld,\"host\":\"web-%02d.eu-west-1.prod\",\"metric\":\"%s\","
                "\"value\":%u.%02u,\"unit\":\"%s\",\"tags\":{\"dc\":\"dub%d\",\"rack\":\"r%02d\"}}",
                1767225600000LL + i * 15, host, kMetrics[metric],
                (host * 37 + metric * 11) % 900 + noise % 100, noise % 97,
                metric == 0 ? "percent" : "bytes", host % 3, host % 16);
  return buf;
}

struct Batch {
  std::string bytes;  // uncompressed
  segment::BatchHeader header;
};

std::vector<Batch> MakeBatches(int first, int count, int per_batch) {
  std::vector<Batch> out;
  segment::BatchBuilder b;
  for (int i = first; i < first + count; ++i) {
    b.Add("web-" + std::to_string(i % 64), Record(i), 1767225600000LL + i * 15);
    if (b.record_count() == per_batch) {
      auto built = b.Build();
      auto h = segment::ParseBatchHeader(base::AsBytes(*built));
      out.push_back({std::move(*built), *h});
    }
  }
  return out;
}

struct Stats {
  std::vector<double> v;
  std::string Text(const char* fmt) const {
    auto s = v;
    std::sort(s.begin(), s.end());
    char a[32], b[32], c[32];
    std::snprintf(a, sizeof(a), fmt, s[s.size() / 2]);
    std::snprintf(b, sizeof(b), fmt, s.front());
    std::snprintf(c, sizeof(c), fmt, s.back());
    return std::string(a) + " [" + b + ", " + c + "]";
  }
};

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void Check(const base::Status& s) {
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().ToString().c_str());
    std::exit(1);
  }
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  using namespace sluice;
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
  constexpr int kTrainRecords = 20000;
  constexpr int kRecords = 200000;

  // Training, as PartitionDictionary does it.
  std::vector<std::string> samples;
  for (const Batch& b : MakeBatches(0, kTrainRecords, 10)) {
    samples.push_back(b.bytes.substr(segment::kBatchHeaderSize));
  }
  const auto t_train = Clock::now();
  auto content = base::TrainZstdDictionary(samples, 64 << 10, segment::kFirstDictionaryId, 3);
  const double train_s = Seconds(t_train);
  Check(content.has_value() ? base::Status() : base::Status(content.error()));
  std::map<int, std::shared_ptr<const base::ZstdDictionary>> dicts;
  for (int level : {1, 3}) {
    auto d = base::ZstdDictionary::Load(base::AsBytes(*content), level);
    Check(d.has_value() ? base::Status() : base::Status(d.error()));
    dicts[level] = *d;
  }
  size_t sample_bytes = 0;
  for (const auto& s : samples) sample_bytes += s.size();
  std::printf("dictionary: %zu bytes, trained on %zu batches (%zu bytes) in %.2f s\n",
              content->size(), samples.size(), sample_bytes, train_s);

  std::map<int, std::vector<Batch>> sets;
  for (int per : {1, 10, 100}) sets[per] = MakeBatches(kTrainRecords, kRecords, per);

  // (batch size, level, with dictionary) -> ratio, MB/s.
  std::map<std::tuple<int, int, bool>, std::pair<Stats, Stats>> compress;
  Stats fetch_recompress, fetch_decompress;
  std::vector<std::string> stored;  // batches of 10, level 3, with the dictionary
  for (int round = 0; round < rounds; ++round) {
    for (int per : {1, 10, 100}) {
      for (int level : {1, 3}) {
        for (bool with : {false, true}) {
          const auto& set = sets[per];
          size_t in = 0;
          size_t out = 0;
          if (per == 10 && level == 3 && with) stored.clear();
          const auto t0 = Clock::now();
          for (const Batch& b : set) {
            auto c = with ? segment::CompressBatch(base::AsBytes(b.bytes), b.header, *dicts[level])
                          : segment::CompressBatch(base::AsBytes(b.bytes), b.header,
                                                   base::Codec::kZstd, level);
            in += b.bytes.size();
            out += c->size();
            if (per == 10 && level == 3 && with) stored.push_back(std::move(*c));
          }
          const double s = Seconds(t0);
          auto& [ratio, speed] = compress[{per, level, with}];
          ratio.v.push_back(static_cast<double>(in) / static_cast<double>(out));
          speed.v.push_back(static_cast<double>(in) / s / 1e6);
        }
      }
    }
    // Fetch of the stored dictionary batches (10 records, level 3): decompress with the
    // dictionary and compress again with plain zstd (a zstd topic, Fetch v10+); or decompress
    // only (Fetch below v10, or a topic without zstd). MB/s of the uncompressed batches.
    {
      // The resolver a ReadResult carries, with the one dictionary.
      struct One : base::ZstdDictionaries {
        std::shared_ptr<const base::ZstdDictionary> d;
        base::Result<std::shared_ptr<const base::ZstdDictionary>> Find(uint32_t) const override {
          return d;
        }
      } one;
      one.d = dicts[3];
      size_t in = 0;
      auto t0 = Clock::now();
      for (const std::string& b : stored) {
        auto h = segment::ParseBatchHeader(base::AsBytes(b));
        auto plain = segment::DecompressBatch(base::AsBytes(b), *h, 1 << 20, &one);
        auto ph = segment::ParseBatchHeader(base::AsBytes(*plain));
        auto again = segment::CompressBatch(base::AsBytes(*plain), *ph, base::Codec::kZstd, 3);
        in += plain->size();
        if (again->empty()) std::abort();
      }
      fetch_recompress.v.push_back(static_cast<double>(in) / Seconds(t0) / 1e6);
      in = 0;
      t0 = Clock::now();
      for (const std::string& b : stored) {
        auto h = segment::ParseBatchHeader(base::AsBytes(b));
        auto plain = segment::DecompressBatch(base::AsBytes(b), *h, 1 << 20, &one);
        in += plain->size();
      }
      fetch_decompress.v.push_back(static_cast<double>(in) / Seconds(t0) / 1e6);
    }
  }

  std::printf("\n%-8s %-6s %-26s %-26s %-26s %-26s %s\n", "records", "level", "ratio plain",
              "ratio dictionary", "MB/s plain", "MB/s dictionary",
              "dictionary/plain: ratio, speed");
  for (int per : {1, 10, 100}) {
    for (int level : {1, 3}) {
      const auto& p = compress[{per, level, false}];
      const auto& d = compress[{per, level, true}];
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      std::printf("%-8d %-6d %-26s %-26s %-26s %-26s %.2fx, %.2fx\n", per, level,
                  p.first.Text("%.2f").c_str(), d.first.Text("%.2f").c_str(),
                  p.second.Text("%.0f").c_str(), d.second.Text("%.0f").c_str(),
                  median(d.first.v) / median(p.first.v), median(d.second.v) / median(p.second.v));
    }
  }
  std::printf(
      "\nFetch of dictionary batches (10 records, level 3), MB/s of uncompressed batches:\n");
  std::printf("  decompress + plain zstd-3 again (zstd topic, Fetch v10+): %s\n",
              fetch_recompress.Text("%.0f").c_str());
  std::printf("  decompress only (Fetch below v10, or producer/none topic): %s\n",
              fetch_decompress.Text("%.0f").c_str());
  std::printf("  (a batch without a dictionary is sent as stored: no work)\n");
  return 0;
}

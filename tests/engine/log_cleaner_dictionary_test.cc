// The log cleaner on a topic with trained zstd dictionaries (cleanup.policy=compact with
// compression.zstd.dictionary=auto; engine/log_cleaner.h, engine/partition_dictionary.h): a keyed
// workload with overwrites and tombstones in which a dictionary is trained mid-way, compacted,
// reopened and read back through the engine and through a PartitionReader in another process,
// against a model (the last value per key); every batch the cleaner rewrites names the dictionary
// its source named; a dictionary that is missing or damaged stops the pass, which changes nothing;
// retention removes a dictionary only once no cleaned segment names it; retraining while passes
// run. (The crash sweeps over a pass on a dictionary partition are in log_cleaner_test.cc.)

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/inspect.h"
#include "engine/log_cleaner.h"
#include "engine/partition_reader.h"
#include "segment/dictionary.h"
#include "segment/format.h"
#include "segment/frame.h"
#include "segment/record_batch.h"
#include "segment/segment.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;

constexpr int64_t kDeleteRetentionMs = 60'000;

// One record as the log holds it (or as the workload wrote it).
struct Rec {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  bool operator==(const Rec&) const = default;
};
using Contents = std::map<int64_t, Rec>;  // offset -> record

// ~150-byte JSON telemetry of 64 hosts and five metrics; the key is host/metric (320 keys), so
// that each key is overwritten every 320 records.
std::string Host(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "web-%02d.eu-west-1", i % 64);
  return buf;
}
const char* Metric(int i) {
  static const char* kMetrics[] = {"cpu.user", "mem.used_bytes", "disk.read_bytes", "net.rx_bytes",
                                   "http.latency_ms"};
  return kMetrics[(i / 64) % 5];
}
std::string TelemetryKey(int i) { return Host(i) + "/" + Metric(i); }
std::string Telemetry(int i) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"ts\":%lld,\"host\":\"%s\",\"metric\":\"%s\",\"value\":%d.%03d,"
                "\"unit\":\"%s\",\"agent\":\"collector/2.1\"}",
                1767225600000LL + i * 7, Host(i).c_str(), Metric(i), (i * 7919) % 1000,
                (i * 104729) % 1000, i % 2 == 0 ? "gauge" : "count");
  return buf;
}
// Records of another shape entirely: what makes a dictionary drift (and a second one trained).
std::string Order(int i) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "order %d|customer=%x|sku=%08x|qty=%d|note=%x%x", i * 31,
                i * 2654435761u, i * 40503u, i % 17, i * 97u, i * 13u);
  return buf;
}

// Decodes the records of `r` from `next` on into `out`; "" or the first error.
std::string Collect(const ReadResult& r, Offset& next, Contents& out) {
  segment::RecordDecoder decoder;
  decoder.set_dictionaries(r.dictionaries.get());
  for (const auto& b : r.batches) {
    Status s = segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
      if (rec.offset < next.value()) return Status();
      out[rec.offset] = {
          std::string(rec.key.value_or("<no key>")),
          rec.value ? std::optional<std::string>(std::string(*rec.value)) : std::nullopt};
      return Status();
    });
    if (!s) return s.error().ToString();
    // Past the batch even when its last records (or all of them) were cleaned away.
    next = std::max(next, Offset(b.header.last_offset() + 1));
  }
  return "";
}

// Every record from the log start to the high watermark through `read(from)` (an engine's or a
// PartitionReader's Read); `error` gets the first read or decode error.
template <typename ReadFn>
Contents ReadAllWith(ReadFn read, Offset from, std::string& error) {
  Contents out;
  Offset next = from;
  for (;;) {
    Result<ReadResult> r = read(next);
    if (!r) {
      error = r.error().ToString();
      return out;
    }
    if (r->batches.empty()) return out;
    const Offset before = next;
    error = Collect(*r, next, out);
    if (!error.empty() || next == before) return out;
  }
}

// What a PartitionReader in a forked child process reads of the partition in `dir`: one line per
// record ("offset\tkey\tvalue", value "\x01" for null), or "error\t<message>".
Contents ReadInAnotherProcess(const std::string& dir, const TopicConfig& config,
                              std::string& error) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    std::ostringstream text;
    io::PosixFs fs;
    auto reader = PartitionReader::Open(fs, dir, config);
    std::string e;
    Contents got;
    if (!reader) {
      e = reader.error().ToString();
    } else {
      auto stats = (*reader)->Stats();
      if (!stats) {
        e = stats.error().ToString();
      } else {
        got = ReadAllWith([&](Offset from) { return (*reader)->Read(from, 1 << 16); },
                          stats->log_start_offset, e);
      }
    }
    for (const auto& [o, r] : got) {
      text << o << '\t' << r.key << '\t' << r.value.value_or("\x01") << '\n';
    }
    if (!e.empty()) text << "error\t" << e << '\n';
    const std::string out = text.str();
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(3);
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "reader process: " << status;
  Contents out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t a = line.find('\t');
    if (line.compare(0, a, "error") == 0) {
      error = line.substr(a + 1);
      continue;
    }
    const size_t b = line.find('\t', a + 1);
    const std::string value = line.substr(b + 1);
    out[std::stoll(line.substr(0, a))] = {
        line.substr(a + 1, b - a - 1),
        value == "\x01" ? std::nullopt : std::optional<std::string>(value)};
  }
  return out;
}

class CleanerDictionaryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(bool train_in_background = false) {
    engine_.reset();
    // PosixFs, not the engine's default UringFs: RetrainingWhilePassesRun's threads come and go,
    // and a new thread's io_uring can be mapped where an exited one's was (liburing maps it with
    // raw syscalls, which ThreadSanitizer does not see), which it reports as a race.
    EngineOptions o = testing::TestEngineOptions(dir_.path(), &fs_, &clock_);
    // Readers beside it (CheckEveryReader) read up to the watermark it publishes.
    o.publish_watermarks = PublishWatermarks::kYes;
    o.dictionary.sample_bytes = 48 << 10;
    o.dictionary.dictionary_bytes = 8 << 10;
    o.dictionary.window_bytes = 32 << 10;
    // Off: the append that fills the sample trains, so a test knows when a dictionary is in use.
    o.dictionary.train_in_background = train_in_background;
    engine_ = testing::OpenTestEngine(o);
    ASSERT_NE(engine_, nullptr);
  }

  void CreateTopic(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> config = {
        {"cleanup.policy", "compact"},
        {"compression.type", "zstd"},
        {"compression.zstd.dictionary", "auto"},
        {"segment.bytes", "8192"},
        {"delete.retention.ms", std::to_string(kDeleteRetentionMs)}};
    for (auto& [k, v] : extra) config[k] = v;
    ASSERT_OK(engine_->CreateTopic("t", 1, config));
  }

  // Appends `batches` uncompressed batches of 10 keyed records (the broker compresses them),
  // record i of the workload being gen(i) under TelemetryKey(i); every 23rd is a tombstone.
  template <typename Gen>
  void Append(int batches, Gen gen) {
    for (int b = 0; b < batches; ++b) {
      segment::BatchBuilder builder;
      std::vector<Rec> recs;
      for (int r = 0; r < 10; ++r, ++next_record_) {
        Rec rec{TelemetryKey(next_record_), std::nullopt};
        if (next_record_ % 23 != 22) rec.value = gen(next_record_);
        builder.Add(rec.key, rec.value, clock_.NowMs());
        recs.push_back(std::move(rec));
      }
      ASSERT_OK_AND_ASSIGN(std::string batch, builder.Build());
      ASSERT_OK_AND_ASSIGN(AppendResult r, engine_->Append("t", 0, base::AsBytes(batch)));
      for (size_t i = 0; i < recs.size(); ++i) {
        written_[r.base_offset.value() + static_cast<int64_t>(i)] = recs[i];
      }
    }
  }

  std::string PartitionDir() const { return dir_.Join("t-0"); }

  std::vector<uint32_t> DictionaryFiles() {
    auto ids = segment::ListDictionaryIds(fs_, PartitionDir());
    EXPECT_TRUE(ids.has_value());
    return ids ? *ids : std::vector<uint32_t>();
  }

  // Base offset -> the dictionary id its stored batch names (0: none), for every batch with
  // records, read from the segment files.
  std::map<int64_t, uint32_t> StoredBatchDictionaries() {
    std::map<int64_t, uint32_t> out;
    for (const auto& e : std::filesystem::directory_iterator(PartitionDir())) {
      if (!segment::Segment::ParseLogName(e.path().filename().string())) continue;
      const std::string data = testing::ReadWholeFile(e.path().string());
      base::FilePos pos(segment::format::kSegmentHeaderSize);
      for (;;) {
        auto r = segment::ReadFrame(base::AsBytes(data), pos, segment::FrameVerify::kChecksum);
        if (r.kind != segment::FrameRead::Kind::kFrame) break;
        if (r.frame.header.record_count > 0) {
          out[r.frame.header.base_offset] =
              segment::BatchDictionaryId(r.frame.batch, r.frame.header);
        }
        pos = r.frame.end();
      }
    }
    return out;
  }
  // Dictionary id -> stored batches naming it.
  std::map<uint32_t, int> StoredDictionaryUse() {
    std::map<uint32_t, int> use;
    for (const auto& [base, id] : StoredBatchDictionaries()) ++use[id];
    return use;
  }

  // Every file of the partition directory and its bytes.
  std::map<std::string, std::string> Files() {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(PartitionDir())) {
      out[e.path().filename().string()] = testing::ReadWholeFile(e.path().string());
    }
    return out;
  }

  Contents ReadAll(const Engine& engine, std::string& error) {
    auto stats = engine.GetPartitionStats("t", 0);
    if (!stats) {
      error = stats.error().ToString();
      return {};
    }
    return ReadAllWith([&](Offset from) { return engine.Read("t", 0, from, 1 << 16); },
                       stats->log_start_offset, error);
  }

  CleanStats Compact() {
    auto done = engine_->CompactTopic("t");
    EXPECT_TRUE(done.has_value()) << done.error().ToString();
    if (!done || done->empty()) return {};
    return done->front().second;
  }

  // `got` against the model: every record is the one written at its offset; every key's latest
  // record is there (a tombstone may go once delete.retention.ms passed since the pass that
  // kept it, at the earliest the clock now minus that much).
  void CheckAgainstModel(const Contents& got, bool tombstones_may_be_gone = false) {
    std::map<std::string, int64_t> latest;
    for (const auto& [o, r] : written_) latest[r.key] = o;
    for (const auto& [o, r] : got) {
      auto w = written_.find(o);
      ASSERT_NE(w, written_.end()) << "offset " << o << " was never written";
      ASSERT_EQ(r, w->second) << "offset " << o;
    }
    for (const auto& [key, o] : latest) {
      if (got.count(o) != 0) continue;
      ASSERT_TRUE(tombstones_may_be_gone && !written_.at(o).value.has_value())
          << "the latest record of " << key << " (offset " << o << ") is gone";
    }
  }

  // The log through the engine, through a read-only engine beside it, and through a
  // PartitionReader in another process: the same records, which pass CheckAgainstModel.
  void CheckEveryReader(bool tombstones_may_be_gone = false) {
    std::string error;
    const Contents got = ReadAll(*engine_, error);
    ASSERT_EQ(error, "");
    ASSERT_NO_FATAL_FAILURE(CheckAgainstModel(got, tombstones_may_be_gone));
    EngineOptions ro = testing::TestEngineOptions(dir_.path(), &fs_);
    ro.access = EngineAccess::kReadOnly;
    auto reader = testing::OpenTestEngine(ro);
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(ReadAll(*reader, error), got);
    EXPECT_EQ(error, "");
    ASSERT_OK_AND_ASSIGN(TopicConfig config, engine_->GetTopicConfig("t"));
    EXPECT_EQ(ReadInAnotherProcess(PartitionDir(), config, error), got);
    EXPECT_EQ(error, "");
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  Contents written_;
  int next_record_ = 0;
};

TEST_F(CleanerDictionaryTest, AKeyedWorkloadWithADictionaryTrainedMidWayCompactsForEveryReader) {
  CreateTopic();
  Append(20, Telemetry);  // ~30 KiB: below the 48 KiB sample, no dictionary yet
  ASSERT_TRUE(DictionaryFiles().empty());
  Append(180, Telemetry);  // the sample fills: a dictionary, and most batches use it
  ASSERT_EQ(DictionaryFiles(), std::vector<uint32_t>{segment::kFirstDictionaryId});
  const std::map<int64_t, uint32_t> before = StoredBatchDictionaries();
  auto use = StoredDictionaryUse();
  ASSERT_GT(use[0], 0);
  ASSERT_GT(use[segment::kFirstDictionaryId], 100);
  ASSERT_OK_AND_ASSIGN(auto stats_before, engine_->GetPartitionStats("t", 0));

  const CleanStats stats = Compact();
  ASSERT_TRUE(stats.cleaned) << stats.why;
  EXPECT_LT(stats.records_after, stats.records_before / 3);
  ASSERT_OK_AND_ASSIGN(auto stats_after, engine_->GetPartitionStats("t", 0));
  EXPECT_LT(stats_after.size_bytes, stats_before.size_bytes / 2);
  // Every batch that is left names the dictionary it named before the pass (rewritten ones
  // included), so that the dictionary retention counts (PartitionDictionary::Collect: the last
  // offset written with each) hold for the cleaned segments.
  const std::map<int64_t, uint32_t> after = StoredBatchDictionaries();
  ASSERT_LT(after.size(), before.size());
  int rewritten_with_dictionary = 0;
  for (const auto& [base, id] : after) {
    ASSERT_EQ(before.count(base), 1u) << "batch " << base;
    EXPECT_EQ(id, before.at(base)) << "batch " << base;
    rewritten_with_dictionary += id != 0 ? 1 : 0;
  }
  EXPECT_GT(rewritten_with_dictionary, 0);
  EXPECT_EQ(DictionaryFiles(), std::vector<uint32_t>{segment::kFirstDictionaryId});
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader());
  // `sluice verify` reads the cleaned segments' batches with their dictionary.
  ASSERT_OK_AND_ASSIGN(auto inspected, InspectDataDir(fs_, dir_.path()));
  EXPECT_TRUE(inspected.healthy()) << VerdictName(inspected.verdict);

  // Reopened; then a pass past the deadline of the tombstones the first pass kept: they go,
  // rewriting their (dictionary) batches again; then more overwrites and another pass.
  Open();
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader());
  clock_.AdvanceMs(kDeleteRetentionMs);
  const CleanStats expired = Compact();
  ASSERT_TRUE(expired.cleaned) << expired.why;
  EXPECT_GT(expired.tombstones_dropped, 0);
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader(/*tombstones_may_be_gone=*/true));
  Append(100, Telemetry);
  ASSERT_TRUE(Compact().cleaned);
  for (const auto& [base, id] : StoredBatchDictionaries()) {
    ASSERT_EQ(id, before.count(base) != 0 ? before.at(base) : id) << "batch " << base;
  }
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader(/*tombstones_may_be_gone=*/true));
  Open();
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader(/*tombstones_may_be_gone=*/true));
}

// A dictionary that the pass needs and cannot load: the pass stops with an error naming the file
// and the repair, counted; nothing in the partition directory changes; appends and reads go on;
// once the file is restored the next pass cleans.
TEST_F(CleanerDictionaryTest, AMissingOrDamagedDictionaryStopsThePassAndChangesNothing) {
  CreateTopic();
  Append(150, Telemetry);
  ASSERT_EQ(DictionaryFiles().size(), 1u);
  const std::string file =
      PartitionDir() + "/" + segment::DictionaryFileName(segment::kFirstDictionaryId);
  const std::string good = testing::ReadWholeFile(file);
  std::string damaged = good;
  damaged[damaged.size() / 2] ^= 0x10;

  struct Case {
    const char* name;
    const char* says;
  };
  for (const Case& c : {Case{"damaged", "checksum"}, Case{"missing", "missing"}}) {
    SCOPED_TRACE(c.name);
    engine_.reset();  // a dictionary loaded once stays loaded: the damage is found at open
    if (std::string(c.name) == "damaged") {
      testing::WriteWholeFile(file, damaged);
    } else {
      std::filesystem::remove(file);
    }
    Open();
    ASSERT_OK(engine_->Read("t", 0, Offset(0), 1));  // opens the partition: its files are set
    const std::map<std::string, std::string> files = Files();
    const uint64_t failed_before = CleanerTotalsNow().failed_passes;
    auto done = engine_->CompactTopic("t");
    ASSERT_FALSE(done.has_value());
    EXPECT_EQ(done.error().code, ErrorCode::kCorruption);
    const std::string e = done.error().ToString();
    EXPECT_NE(e.find(file), std::string::npos) << e;
    EXPECT_NE(e.find(c.says), std::string::npos) << e;
    EXPECT_NE(e.find("the cleaning pass stopped and changed nothing"), std::string::npos) << e;
    EXPECT_NE(e.find("restored"), std::string::npos) << e;
    EXPECT_EQ(CleanerTotalsNow().failed_passes, failed_before + 1);
    // The background round fails the same way, and changes nothing either.
    EXPECT_FALSE(engine_->RunCleaner().has_value());
    EXPECT_EQ(Files(), files) << "the failed pass changed the partition directory";
    // Appends go on (with a new dictionary once it is trained); reads of the batches that do not
    // need the lost dictionary too.
    Append(10, Telemetry);
    ASSERT_OK_AND_ASSIGN(auto read, engine_->Read("t", 0, Offset(0), 1 << 10));
    Offset next(0);
    Contents first;
    EXPECT_EQ(Collect(read, next, first), "");
    EXPECT_FALSE(first.empty());
    if (std::string(c.name) == "damaged") {
      EXPECT_EQ(testing::ReadWholeFile(file), damaged);  // never written over
    }
  }
  // Restored: the store tries the file again, and the pass cleans.
  testing::WriteWholeFile(file, good);
  const CleanStats stats = Compact();
  EXPECT_TRUE(stats.cleaned) << stats.why;
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader());
  Open();
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader());
}

// cleanup.policy=compact,delete: retention removes the old segments, and with them a dictionary
// once no segment left names it, compacted segments included; at every step each dictionary a
// stored batch names is on disk.
TEST_F(CleanerDictionaryTest, RetentionRemovesADictionaryOnlyOnceNoCleanedSegmentNamesIt) {
  CreateTopic({{"cleanup.policy", "compact,delete"}, {"retention.bytes", "4000"}});
  Append(60, Telemetry);
  Append(150, Order);  // another shape: the first dictionary drifts, a second one is trained
  auto ids = DictionaryFiles();
  ASSERT_EQ(ids.size(), 2u);
  bool first_gone = false;
  for (int round = 0; round < 100 && !first_gone; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    if (round % 2 == 0) {
      Compact();
    } else {
      ASSERT_OK(engine_->EnforceRetention());
    }
    const auto use = StoredDictionaryUse();
    for (const auto& [id, batches] : use) {
      if (id == 0) continue;
      ASSERT_TRUE(std::filesystem::exists(PartitionDir() + "/" + segment::DictionaryFileName(id)))
          << "dictionary " << id << " is gone, and " << batches << " stored batches name it";
    }
    first_gone =
        !std::filesystem::exists(PartitionDir() + "/" + segment::DictionaryFileName(ids[0]));
    Append(5, Order);
  }
  EXPECT_TRUE(first_gone);
  EXPECT_EQ(StoredDictionaryUse().count(ids[0]), 0u);
  std::string error;
  ReadAll(*engine_, error);
  EXPECT_EQ(error, "");
  Open();
  ReadAll(*engine_, error);
  EXPECT_EQ(error, "");
}

// Passes run on one thread and reads on another while the test appends records whose shape
// changes, so that the first dictionary drifts and the next one is trained in the background,
// during passes: no pass fails, no read fails, and after a reopen and a last pass every reader
// finds the model.
TEST_F(CleanerDictionaryTest, RetrainingWhilePassesRun) {
  Open(/*train_in_background=*/true);
  CreateTopic();
  std::atomic<bool> stop{false};
  std::atomic<int> passes{0};
  std::vector<std::thread> threads;
  auto start = [&] {
    stop.store(false);
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto done = engine_->CompactTopic("t");
        EXPECT_TRUE(done.has_value()) << done.error().ToString();
        if (done && !done->empty() && done->front().second.cleaned) passes.fetch_add(1);
      }
    });
    threads.emplace_back([&] {
      while (!stop.load()) {
        std::string error;
        ReadAll(*engine_, error);
        EXPECT_EQ(error, "");
      }
    });
  };
  auto finish = [&] {
    stop.store(true);
    for (auto& t : threads) t.join();
    threads.clear();
  };
  // The first dictionary, trained in the background while passes run.
  start();
  Append(100, Telemetry);
  finish();
  Open(/*train_in_background=*/true);  // waits for the training: the dictionary is in use
  ASSERT_EQ(DictionaryFiles().size(), 1u);
  // Its first window of records sets its baseline ratio; then records of another shape make it
  // drift, and the next one is trained in the background, while passes run.
  start();
  Append(60, Telemetry);
  Append(250, Order);
  finish();
  EXPECT_GT(passes.load(), 0);
  Open();  // waits for a training still running
  EXPECT_EQ(DictionaryFiles().size(), 2u);
  Compact();  // cleans what the passes above left, if anything
  ASSERT_NO_FATAL_FAILURE(CheckEveryReader());
}

}  // namespace
}  // namespace sluice::engine

// The log cleaner (engine/log_cleaner.h): a keyed workload with overwrites and tombstones, rolled
// by size and by time, against a model (the last value per key, tombstone expiry); readers across
// a swap; idempotent producers' batches kept; a crash at every file-system operation of a pass
// (the old segments or the new ones, never a mix; also on a partition with zstd dictionaries);
// keyless records refused by a compacted topic.

#include "engine/log_cleaner.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "engine/partition_log.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/record_batch.h"
#include "segment/segment.h"
#include "segment/small_file.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;

// One record as the log holds it (or as the workload wrote it).
struct Rec {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  bool operator==(const Rec&) const = default;
};
using Contents = std::map<int64_t, Rec>;  // offset -> record

// Every record of `log` from its start to its high watermark, checking that offsets increase.
Contents ReadAll(const PartitionLog& log) {
  Contents out;
  Offset next = log.log_start_offset();
  segment::RecordDecoder decoder;
  for (;;) {
    auto r = log.Read(next, 64 * 1024);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r || r->batches.empty()) break;
    decoder.set_dictionaries(r->dictionaries.get());
    const Offset before = next;
    for (const auto& b : r->batches) {
      auto s = segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
        if (rec.offset < next.value()) return base::Status();
        EXPECT_TRUE(rec.key.has_value()) << "offset " << rec.offset;
        out[rec.offset] = {
            std::string(rec.key.value_or("")),
            rec.value ? std::optional<std::string>(std::string(*rec.value)) : std::nullopt};
        next = Offset(rec.offset + 1);
        return base::Status();
      });
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
      // Past the batch even when its last records (or all of them) were cleaned away.
      next = std::max(next, Offset(b.header.last_offset() + 1));
    }
    if (next == before) break;
  }
  return out;
}

TopicConfig CompactedConfig() {
  TopicConfig c;
  c.compression = CompressionPolicy::kNone;
  c.cleanup_compact = true;
  c.cleanup_delete = false;
  c.segment_bytes = 2048;
  c.index_interval_bytes = 256;
  c.delete_retention_ms = 60'000;
  c.segment_ms = 10'000;
  return c;
}

class LogCleanerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    log_.reset();
    std::vector<segment::RecoveryReport> reports;
    auto log = PartitionLog::Open(fs_, dir_.Join("t-0"), config_, clock_, &reports, {},
                                  PartitionOpen::kCreate);
    ASSERT_TRUE(log.has_value()) << log.error().ToString();
    log_ = std::move(log).value();
  }

  // Appends one batch of (key, value) records (value nullopt = tombstone) and records it.
  void Append(const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
              base::Codec codec = base::Codec::kNone, segment::ProducerInfo producer = {}) {
    segment::BatchBuilder b;
    for (const auto& [k, v] : records) {
      if (v) {
        b.Add(k, *v, clock_.NowMs());
      } else {
        b.Add(k, std::nullopt, clock_.NowMs());
      }
    }
    auto batch = b.Build(codec, 0, producer);
    ASSERT_OK(batch);
    auto header = segment::ParseBatchHeader(base::AsBytes(*batch));
    ASSERT_OK(header);
    auto r = log_->Append(base::AsBytes(*batch), *header);
    ASSERT_OK(r);
    int64_t o = r->base_offset.value();
    for (const auto& [k, v] : records) {
      written_[o] = {k, v};
      written_ms_[o] = clock_.NowMs();
      ++o;
    }
  }

  CleanStats Clean(CleanTrigger trigger = CleanTrigger::kNow) {
    auto stats = log_->Clean(options_, trigger);
    EXPECT_TRUE(stats.has_value()) << stats.error().ToString();
    if (!stats) return {};
    if (stats->cleaned) cleaned_up_to_ = std::max(cleaned_up_to_, stats->cleaned_up_to.value());
    return *stats;
  }

  // The log against the model: every record there was written at that offset; every key's last
  // record is there (a tombstone may be gone once delete.retention.ms passed since it was
  // written); below the cleaned point, no record has a later one of its key there too.
  void CheckAgainstModel() {
    const Contents got = ReadAll(*log_);
    std::map<std::string, int64_t> latest;
    for (const auto& [o, r] : written_) latest[r.key] = o;
    for (const auto& [o, r] : got) {
      auto w = written_.find(o);
      ASSERT_NE(w, written_.end()) << "offset " << o << " was never written";
      ASSERT_EQ(r, w->second) << "offset " << o;
    }
    for (const auto& [key, o] : latest) {
      const Rec& last = written_.at(o);
      if (got.count(o) != 0) continue;
      ASSERT_FALSE(last.value.has_value())
          << "the latest value of " << key << " (offset " << o << ") is gone";
      ASSERT_GE(clock_.NowMs() - written_ms_.at(o), config_.delete_retention_ms)
          << "the tombstone of " << key << " at " << o << " went before delete.retention.ms";
    }
    std::map<std::string, int64_t> last_below;  // per key, the last offset below the clean point
    for (const auto& [o, r] : written_) {
      if (o < cleaned_up_to_) last_below[r.key] = o;
    }
    for (const auto& [o, r] : got) {
      if (o >= cleaned_up_to_) continue;
      EXPECT_EQ(last_below.at(r.key), o)
          << "offset " << o << " of key " << r.key << " survived a later record of its key below "
          << cleaned_up_to_;
    }
  }

  size_t SegmentCount() const { return log_->Stats().segment_count; }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  TopicConfig config_ = CompactedConfig();
  CleanerOptions options_;
  std::unique_ptr<PartitionLog> log_;
  Contents written_;
  std::map<int64_t, int64_t> written_ms_;
  int64_t cleaned_up_to_ = 0;
};

TEST_F(LogCleanerTest, KeepsTheLatestRecordPerKeyAndPreservesOffsets) {
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 5; ++k) {
      Append({{"k" + std::to_string(k), "v" + std::to_string(round) + std::string(30, 'x')}});
    }
  }
  const size_t segments_before = SegmentCount();
  ASSERT_GT(segments_before, 3u);
  const uint64_t before_bytes = log_->Stats().size_bytes;
  const CleanStats stats = Clean();
  ASSERT_TRUE(stats.cleaned) << stats.why;
  EXPECT_GT(stats.records_before, stats.records_after);
  // Segments are grouped by their size before cleaning (as Kafka groups them): full ones are
  // rewritten one by one, and merged by the next pass once they shrank.
  EXPECT_LE(stats.segments_after, stats.segments_before);
  EXPECT_LT(log_->Stats().size_bytes, before_bytes);
  CheckAgainstModel();
  // Reopening reads the cleaned segments (their gaps, their empty last batches) as they are.
  log_->Close().IgnoreError();
  Open();
  CheckAgainstModel();
  // The records after the pass's end are all there (the active segment is never cleaned).
  EXPECT_EQ(log_->high_watermark(), Offset(100));
  // Later passes with nothing new only merge the shrunk segments, then change nothing.
  bool cleaned = true;
  for (int pass = 0; pass < 5 && cleaned; ++pass) {
    cleaned = Clean().cleaned;
    CheckAgainstModel();
  }
  EXPECT_FALSE(cleaned);
  EXPECT_LT(SegmentCount(), segments_before);
  EXPECT_EQ(log_->high_watermark(), Offset(100));
}

TEST_F(LogCleanerTest, TombstonesGoAfterDeleteRetention) {
  for (int k = 0; k < 10; ++k) Append({{"k" + std::to_string(k), std::string(100, 'a')}});
  for (int k = 0; k < 5; ++k) Append({{"k" + std::to_string(k), std::nullopt}});
  for (int i = 0; i < 20; ++i) Append({{"filler" + std::to_string(i), std::string(100, 'f')}});
  ASSERT_TRUE(Clean().cleaned);
  CheckAgainstModel();
  // The tombstones are kept (their deadline is set), and the values they delete are gone.
  Contents got = ReadAll(*log_);
  int tombstones = 0;
  for (const auto& [o, r] : got) {
    if (!r.value) ++tombstones;
    if (r.value) {
      EXPECT_TRUE(r.key.rfind("filler", 0) == 0 || r.key >= "k5") << r.key;
    }
  }
  EXPECT_EQ(tombstones, 5);
  // Not yet expired.
  clock_.AdvanceMs(config_.delete_retention_ms - 1);
  Clean();
  got = ReadAll(*log_);
  EXPECT_EQ(std::count_if(got.begin(), got.end(), [](const auto& kv) { return !kv.second.value; }),
            5);
  // Expired: gone on the next pass, and nothing else with them.
  clock_.AdvanceMs(1);
  const CleanStats stats = Clean();
  EXPECT_TRUE(stats.cleaned);
  EXPECT_EQ(stats.tombstones_dropped, 5);
  got = ReadAll(*log_);
  EXPECT_EQ(std::count_if(got.begin(), got.end(), [](const auto& kv) { return !kv.second.value; }),
            0);
  CheckAgainstModel();
}

TEST_F(LogCleanerTest, ModelWorkloadRolledBySizeAndTimeWithReopensAndCrashes) {
  auto rng = testing::SeededRng(15);
  const base::Codec codecs[] = {base::Codec::kNone, base::Codec::kZstd, base::Codec::kLz4};
  for (int op = 0; op < 600; ++op) {
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 75) {
      std::vector<std::pair<std::string, std::optional<std::string>>> records;
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        std::string key = "key" + std::to_string(rng() % 40);
        if (rng() % 10 == 0) {
          records.emplace_back(key, std::nullopt);
        } else {
          records.emplace_back(key, "op" + std::to_string(op) + "." + std::to_string(i) +
                                        std::string(rng() % 60, 'v'));
        }
      }
      ASSERT_NO_FATAL_FAILURE(Append(records, codecs[rng() % 3]));
    } else if (dice < 83) {
      clock_.AdvanceMs(static_cast<int64_t>(rng() % 20'000));  // rolls by segment.ms, expiry
    } else if (dice < 93) {
      Clean(rng() % 2 == 0 ? CleanTrigger::kNow : CleanTrigger::kIfDue);
      ASSERT_NO_FATAL_FAILURE(CheckAgainstModel());
    } else if (dice < 97) {
      ASSERT_OK(log_->Close());
      ASSERT_NO_FATAL_FAILURE(Open());
      ASSERT_NO_FATAL_FAILURE(CheckAgainstModel());
    } else {
      log_->AbandonForTesting();  // the page cache survives: nothing acknowledged is lost
      ASSERT_NO_FATAL_FAILURE(Open());
      ASSERT_NO_FATAL_FAILURE(CheckAgainstModel());
    }
  }
  Clean();
  CheckAgainstModel();
  EXPECT_GT(cleaned_up_to_, 0);
}

TEST_F(LogCleanerTest, ReadersHoldingTheOldSegmentsKeepReadingThem) {
  for (int i = 0; i < 60; ++i) Append({{"k" + std::to_string(i % 3), "v" + std::to_string(i)}});
  auto before = log_->Read(Offset(0), 1 << 20);
  ASSERT_OK(before);
  std::vector<std::string> values_before;
  segment::RecordDecoder decoder;
  auto collect = [&](const ReadResult& r, std::vector<std::string>& out) {
    for (const auto& b : r.batches) {
      ASSERT_OK(segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
        out.emplace_back(rec.value.value_or("<null>"));
        return base::Status();
      }));
    }
  };
  collect(*before, values_before);
  ASSERT_TRUE(Clean().cleaned);
  // The old files are gone or replaced; the views pinned before the swap still read them.
  std::vector<std::string> values_after;
  collect(*before, values_after);
  EXPECT_EQ(values_after, values_before);
  CheckAgainstModel();
}

TEST_F(LogCleanerTest, AppendsAndReadsRunWhileItCleans) {
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::thread reader([&] {
    while (!stop.load()) {
      const Contents got = ReadAll(*log_);
      if (!got.empty()) {
        EXPECT_GE(got.rbegin()->first, 0);
      }
    }
  });
  std::thread cleaner([&] {
    while (!stop.load()) {
      auto s = log_->Clean(options_, CleanTrigger::kNow);
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
    }
  });
  for (int i = 0; i < 400; ++i) {
    segment::BatchBuilder b;
    b.Add("k" + std::to_string(i % 7), "v" + std::to_string(i) + std::string(40, 'p'),
          clock_.NowMs());
    auto batch = b.Build();
    ASSERT_OK(batch);
    auto header = segment::ParseBatchHeader(base::AsBytes(*batch));
    ASSERT_OK(log_->Append(base::AsBytes(*batch), *header));
    appended.fetch_add(1);
  }
  stop.store(true);
  reader.join();
  cleaner.join();
  // The last value of each key is the last one written.
  const Contents got = ReadAll(*log_);
  std::map<std::string, std::string> last;
  for (const auto& [o, r] : got) last[r.key] = *r.value;
  for (int k = 0; k < 7; ++k) {
    int i = 399 - ((399 - k) % 7);
    EXPECT_EQ(last["k" + std::to_string(k)].substr(0, 1 + std::to_string(i).size()),
              "v" + std::to_string(i));
  }
  EXPECT_EQ(log_->high_watermark(), Offset(400));
}

TEST_F(LogCleanerTest, IdempotentProducersLastBatchesSurviveAsEmptyBatches) {
  // A producer writes keys that later records overwrite, so that its batches lose every record.
  for (int seq = 0; seq < 6; ++seq) {
    Append({{"p" + std::to_string(seq % 2), std::string(50, 'p')}}, base::Codec::kNone,
           segment::ProducerInfo{7, 0, seq});
  }
  for (int i = 0; i < 40; ++i) Append({{"p" + std::to_string(i % 2), std::string(80, 'o')}});
  ASSERT_GT(SegmentCount(), 2u);
  ASSERT_TRUE(Clean().cleaned);
  CheckAgainstModel();
  // Lose the producer snapshots: open rebuilds the state from the batch headers, which the
  // cleaner kept (empty) for the producer's remembered batches.
  ASSERT_OK(log_->Close());
  auto names = fs_.ListDir(dir_.Join("t-0"));
  ASSERT_OK(names);
  for (const auto& n : *names) {
    if (n.size() > 9 && n.ends_with(".snapshot")) ASSERT_OK(fs_.Remove(dir_.Join("t-0/" + n)));
  }
  Open();
  segment::BatchBuilder b;
  b.Add("p1", std::string(50, 'p'), clock_.NowMs());
  auto retry = b.Build(base::Codec::kNone, 0, segment::ProducerInfo{7, 0, 5});
  ASSERT_OK(retry);
  auto header = segment::ParseBatchHeader(base::AsBytes(*retry));
  ASSERT_OK_AND_ASSIGN(AppendResult r, log_->Append(base::AsBytes(*retry), *header));
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.base_offset, Offset(5));
  // The next sequence is accepted, a gap is not.
  b.Add("p0", "next", clock_.NowMs());
  auto gap = b.Build(base::Codec::kNone, 0, segment::ProducerInfo{7, 0, 9});
  ASSERT_OK(gap);
  header = segment::ParseBatchHeader(base::AsBytes(*gap));
  auto refused = log_->Append(base::AsBytes(*gap), *header);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kOutOfOrderSequence);
}

TEST_F(LogCleanerTest, ASmallOffsetMapCleansWhatFitsAndMovesOn) {
  options_.dedupe_buffer_bytes = 24 * 40;  // 36 keys
  for (int i = 0; i < 200; ++i) Append({{"k" + std::to_string(i % 50), "v" + std::to_string(i)}});
  const CleanStats first = Clean();
  EXPECT_TRUE(first.map_full);
  EXPECT_TRUE(first.cleaned);
  CheckAgainstModel();
  for (int pass = 0; pass < 10; ++pass) Clean();
  CheckAgainstModel();
  options_.dedupe_buffer_bytes = 1 << 20;
  Clean();
  CheckAgainstModel();
}

// Memory for the offset map that the kernel refuses (a real mmap failing: RLIMIT_DATA set just
// above what the process has) is an error of the pass, which changes nothing; the next pass, with
// the memory, cleans. (RLIMIT_DATA rather than RLIMIT_AS: the sanitizers' shadow reserves
// terabytes of address space, but counts in the data size like any mapping, so a limit relative
// to the current size works in every build.)
TEST_F(LogCleanerTest, AnOffsetMapTheKernelRefusesFailsThePassAndChangesNothing) {
  config_.segment_bytes = 1 << 20;
  Open();
  // 200,000 records: a map of ~5 MiB (24 bytes a slot, filled to 90%).
  for (int b = 0; b < 200; ++b) {
    std::vector<std::pair<std::string, std::optional<std::string>>> batch;
    for (int i = 0; i < 1000; ++i) {
      batch.emplace_back("k" + std::to_string((b * 1000 + i) % 150'000), std::string(8, 'v'));
    }
    Append(batch);
  }
  ASSERT_GT(SegmentCount(), 2u);
  const Contents before = ReadAll(*log_);
  const uint64_t failed_before = CleanerTotalsNow().failed_passes;

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_DATA, &saved), 0);
  rlimit tight = saved;
  // Room for the pass's small allocations, not for its ~5 MiB map.
  tight.rlim_cur = testing::ProcessMemoryNow().data_bytes + (2 << 20);
  ASSERT_EQ(setrlimit(RLIMIT_DATA, &tight), 0);
  auto refused = log_->Clean(options_, CleanTrigger::kNow);
  ASSERT_EQ(setrlimit(RLIMIT_DATA, &saved), 0);

  ASSERT_FALSE(refused.has_value())
      << "the pass ran with a data limit of " << (tight.rlim_cur >> 20) << " MiB";
  EXPECT_EQ(refused.error().code, ErrorCode::kIoError);
  EXPECT_NE(refused.error().context.find("offset map"), std::string::npos)
      << refused.error().context;
  EXPECT_EQ(CleanerTotalsNow().failed_passes, failed_before + 1);
  EXPECT_EQ(ReadAll(*log_), before);
  ASSERT_OK_AND_ASSIGN(auto names, fs_.ListDir(dir_.Join("t-0")));
  for (const std::string& name : names) {
    EXPECT_EQ(name.find(kCleanedSuffix), std::string::npos) << name;
    EXPECT_NE(name, kCleanerSwapFile);
  }

  const CleanStats cleaned = Clean();
  EXPECT_TRUE(cleaned.cleaned);
  EXPECT_LT(cleaned.records_after, cleaned.records_before);
  CheckAgainstModel();
}

TEST_F(LogCleanerTest, APacedPassTakesTheTimeItsPaceGivesAndStillStopsWhenAsked) {
  for (int i = 0; i < 300; ++i) {
    Append({{"k" + std::to_string(i % 20), "v" + std::to_string(i) + std::string(60, 'p')}});
  }
  const uint64_t segments = SegmentCount();
  ASSERT_GT(segments, 5u);
  // The pass reads the dirty segments' frames twice and writes what it keeps: a second's work at
  // this pace is more than the first read alone.
  const uint64_t frames = log_->Stats().size_bytes - segments * segment::format::kSegmentHeaderSize;
  options_.io_max_bytes_per_second = frames;
  auto start = std::chrono::steady_clock::now();
  const CleanStats stats = Clean();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(stats.cleaned) << stats.why;
  // At least the first read's share (the pace's credit is for passes that fall behind it).
  EXPECT_GE(took.count(), 0.9) << "a pass paced at " << frames << " B/s over " << frames
                               << " B of frames";
  CheckAgainstModel();

  // A pass paced to take minutes stops soon after it is asked to, and changes nothing.
  for (int i = 0; i < 300; ++i) Append({{"k" + std::to_string(i % 20), "w" + std::to_string(i)}});
  const Contents before = ReadAll(*log_);
  options_.io_max_bytes_per_second = 100;
  std::atomic<bool> stop{false};
  options_.stop = &stop;
  start = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.store(true);
  });
  auto stopped = log_->Clean(options_, CleanTrigger::kNow);
  stopper.join();
  const std::chrono::duration<double> stop_took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(stopped.has_value());
  EXPECT_EQ(stopped.error().code, ErrorCode::kClosed) << stopped.error().ToString();
  EXPECT_LT(stop_took.count(), 10.0);
  EXPECT_EQ(ReadAll(*log_), before);
}

TEST_F(LogCleanerTest, DeleteRecordsDoesNotWaitForAPacedPass) {
  for (int i = 0; i < 300; ++i) Append({{"k" + std::to_string(i % 20), "v" + std::to_string(i)}});
  options_.io_max_bytes_per_second = 100;  // minutes
  std::optional<base::Result<CleanStats>> pass;
  std::thread cleaner([&] { pass = log_->Clean(options_, CleanTrigger::kNow); });
  // Once the pass holds the cleaner lock (it sleeps in its pace from its first frame on).
  while (!log_->CleanerBusyForTesting()) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(Offset start_offset, log_->DeleteRecordsBefore(Offset(100)));
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  cleaner.join();
  EXPECT_EQ(start_offset, Offset(100));
  EXPECT_LT(took.count(), 10.0);
  ASSERT_TRUE(pass.has_value());
  ASSERT_TRUE(pass->has_value()) << (*pass).error().ToString();
  EXPECT_FALSE((*pass)->cleaned);
  EXPECT_EQ(log_->log_start_offset(), Offset(100));
  // Nothing but the deleted records changed, and the next pass cleans.
  const Contents got = ReadAll(*log_);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.begin()->first, 100);
  EXPECT_EQ(got.size(), 200u);
  options_.io_max_bytes_per_second = 0;
  EXPECT_TRUE(Clean().cleaned);
}

TEST_F(LogCleanerTest, RecordsBeyondTheSupersededBitsAreDecidedByTheMap) {
  // 960 bytes of dedupe buffer: 36 keys in the map, and bits for the first 960 dirty offsets;
  // 2,000 records over 20 keys fit the map but not the bits.
  options_.dedupe_buffer_bytes = 24 * 40;
  for (int i = 0; i < 2000; ++i) {
    Append({{"k" + std::to_string(i % 20), "v" + std::to_string(i)}});
  }
  const CleanStats stats = Clean();
  ASSERT_TRUE(stats.cleaned) << stats.why;
  EXPECT_FALSE(stats.map_full);
  CheckAgainstModel();  // no record below the cleaned point has a later one of its key
  EXPECT_LE(stats.records_after, 20 + 40);  // the keys' latest, and the active segment's
}

TEST_F(LogCleanerTest, MinCompactionLagKeepsRecentSegmentsDirty) {
  config_.min_compaction_lag_ms = 50'000;
  log_->SetConfig(config_);
  for (int i = 0; i < 50; ++i) Append({{"k" + std::to_string(i % 2), std::string(80, 'a')}});
  CleanStats stats = Clean();
  EXPECT_FALSE(stats.cleaned) << "cleaned records younger than min.compaction.lag.ms";
  clock_.AdvanceMs(50'000);
  stats = Clean();
  EXPECT_TRUE(stats.cleaned) << stats.why;
  CheckAgainstModel();
}

TEST_F(LogCleanerTest, DirtyRatioDecidesWhenThePassIsDue) {
  config_.min_cleanable_dirty_ratio = 0.9;
  log_->SetConfig(config_);
  for (int i = 0; i < 50; ++i) Append({{"k" + std::to_string(i % 2), std::string(80, 'a')}});
  ASSERT_TRUE(Clean(CleanTrigger::kIfDue).cleaned);  // everything is dirty: ratio 1
  for (int i = 0; i < 30; ++i) Append({{"k" + std::to_string(i % 2), std::string(80, 'a')}});
  // The cleaned part is small after the first pass, so the new segments dominate again.
  const CleanStats stats = Clean(CleanTrigger::kIfDue);
  EXPECT_TRUE(stats.cleaned || stats.why.find("dirty ratio") != std::string::npos) << stats.why;
  CheckAgainstModel();
}

TEST_F(LogCleanerTest, ScratchFilesWithoutAManifestAreRemovedAtOpen) {
  for (int i = 0; i < 50; ++i) Append({{"k" + std::to_string(i % 2), std::string(80, 'a')}});
  ASSERT_OK(log_->Close());
  const std::string stray = dir_.Join("t-0/00000000000000000000.cleaned");
  ASSERT_OK(io::WriteFileAtomic(fs_, stray, base::AsBytes(std::string("half a pass"))));
  Open();
  ASSERT_OK_AND_ASSIGN(bool exists, fs_.Exists(stray));
  EXPECT_FALSE(exists);
  CheckAgainstModel();
}

TEST_F(LogCleanerTest, ADamagedManifestTakesThePartitionOfflineAndChangesNothing) {
  for (int i = 0; i < 50; ++i) Append({{"k" + std::to_string(i % 2), std::string(80, 'a')}});
  ASSERT_OK(log_->Close());
  log_.reset();
  const std::string manifest = dir_.Join("t-0/cleaner-swap");
  ASSERT_OK(io::WriteFileAtomic(fs_, manifest, base::AsBytes(std::string("garbage, not a swap"))));
  auto names_before = fs_.ListDir(dir_.Join("t-0"));
  std::vector<segment::RecoveryReport> reports;
  auto log = PartitionLog::Open(fs_, dir_.Join("t-0"), config_, clock_, &reports);
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code, ErrorCode::kOffline);
  auto names_after = fs_.ListDir(dir_.Join("t-0"));
  EXPECT_EQ(*names_after, *names_before);
}

// A manifest whose cleaned file is gone (lost some other way after the manifest was written):
// the old segment of the same name must not be taken for the cleaned one, or finishing the swap
// would remove the old segments the cleaned file was to replace, and their records with them.
TEST_F(LogCleanerTest, AManifestWhoseCleanedFileIsLostRemovesNothing) {
  for (int i = 0; i < 50; ++i) Append({{"k" + std::to_string(i), std::string(80, 'a')}});
  ASSERT_OK(log_->Close());
  log_.reset();
  const std::string dir = dir_.Join("t-0");
  ASSERT_OK_AND_ASSIGN(auto names, fs_.ListDir(dir));
  std::vector<int64_t> bases;
  for (const auto& name : names) {
    if (auto b = segment::Segment::ParseLogName(name)) bases.push_back(b->value());
  }
  ASSERT_GE(bases.size(), 3u);
  // olds = the first two segments, news = one file merging them: 00..0.cleaned, which is absent.
  std::string payload(8 + 8 * 3, '\0');
  auto* p = reinterpret_cast<std::byte*>(payload.data());
  base::StoreLE<uint32_t>(p, 2);
  base::StoreLE<uint32_t>(p + 4, 1);
  base::StoreLE<int64_t>(p + 8, bases[0]);
  base::StoreLE<int64_t>(p + 16, bases[1]);
  base::StoreLE<int64_t>(p + 24, bases[0]);
  const std::string manifest = io::JoinPath(dir, kCleanerSwapFile);
  const segment::SmallFileKind kind{segment::format::kCleanerSwapMagic,
                                    segment::format::kCleanerSwapMinReadableVersion,
                                    segment::format::kCleanerSwapCurrentVersion};
  ASSERT_OK(segment::WriteSmallFile(fs_, manifest, kind, base::AsBytes(payload)));
  ASSERT_OK_AND_ASSIGN(auto before, fs_.ListDir(dir));

  std::vector<segment::RecoveryReport> reports;
  auto log = PartitionLog::Open(fs_, dir, config_, clock_, &reports);
  ASSERT_FALSE(log.has_value());
  EXPECT_EQ(log.error().code, ErrorCode::kOffline);
  EXPECT_NE(log.error().context.find(".cleaned is missing"), std::string::npos)
      << log.error().ToString();
  ASSERT_OK_AND_ASSIGN(auto after, fs_.ListDir(dir));
  EXPECT_EQ(after, before);  // nothing removed
  // The repair the error names: the manifest moved aside, every record is there.
  ASSERT_OK(fs_.Rename(manifest, dir_.Join("cleaner-swap.aside")));
  Open();
  CheckAgainstModel();
  EXPECT_EQ(ReadAll(*log_).size(), 50u);
}

// --- crash sweep over one pass -------------------------------------------------------------------

// The crash tests' workload: 120 keyed batches (12 keys, some tombstones, half compressed)
// appended with flush=sync to small segments. On a dictionary partition the compressed half is
// compressed with a zstd dictionary the partition trained first (as Engine::PrepareBatch does),
// so that the pass decodes and rewrites dictionary batches.
TopicConfig CrashConfig() {
  TopicConfig config = CompactedConfig();
  config.flush = FlushMode::kSync;
  config.segment_bytes = 1024;
  return config;
}

enum class WithDictionary : bool { kNo, kYes };

DictionaryOptions CrashDictionaryOptions() {
  DictionaryOptions o;
  o.sample_bytes = 48 << 10;
  o.dictionary_bytes = 8 << 10;
  o.train_in_background = false;  // the sample that fills it trains it, on this thread
  return o;
}

// Trains the partition's dictionary on JSON-like records sections (PartitionDictionary::Observe,
// the way the engine samples what it compresses).
void TrainDictionary(PartitionLog& log) {
  for (int i = 0; log.dictionary().Acquire(0).get() == nullptr; ++i) {
    ASSERT_LT(i, 2000) << "no dictionary trained";
    segment::BatchBuilder b;
    for (int r = 0; r < 10; ++r) {
      const int n = i * 10 + r;
      b.Add("k" + std::to_string(n % 12),
            "{\"host\":\"web-" + std::to_string(n % 64) + "\",\"metric\":\"cpu" +
                std::to_string(n % 5) + "\",\"value\":" + std::to_string(n * 7919 % 1000) +
                ",\"unit\":\"gauge\"}",
            1000);
    }
    auto batch = b.Build();
    ASSERT_OK(batch);
    const Bytes records = base::AsBytes(*batch).subspan(segment::kBatchHeaderSize);
    log.dictionary().Observe(records, records.size() / 3, nullptr, log.high_watermark());
  }
}

void AppendCrashWorkload(PartitionLog& log, const base::Clock& clock, std::mt19937_64& rng,
                         WithDictionary with_dictionary) {
  if (with_dictionary == WithDictionary::kYes) {
    ASSERT_NO_FATAL_FAILURE(TrainDictionary(log));
  }
  for (int i = 0; i < 120; ++i) {
    segment::BatchBuilder b;
    const std::string key = "k" + std::to_string(rng() % 12);
    if (rng() % 8 == 0) {
      b.Add(key, std::nullopt, clock.NowMs());
    } else {
      b.Add(key, "v" + std::to_string(i) + std::string(rng() % 40, 'x'), clock.NowMs());
    }
    const bool compressed = rng() % 2 != 0;
    Result<std::string> batch = std::string();
    if (compressed && with_dictionary == WithDictionary::kYes) {
      auto plain = b.Build();
      ASSERT_OK(plain);
      auto header = segment::ParseBatchHeader(base::AsBytes(*plain));
      ASSERT_OK(header);
      const PartitionDictionary::Use use = log.dictionary().Acquire(0);
      ASSERT_NE(use.get(), nullptr);
      batch = segment::CompressBatch(base::AsBytes(*plain), *header, *use.get());
    } else {
      batch = b.Build(compressed ? base::Codec::kZstd : base::Codec::kNone);
    }
    ASSERT_OK(batch);
    auto header = segment::ParseBatchHeader(base::AsBytes(*batch));
    ASSERT_OK(header);
    ASSERT_OK(log.Append(base::AsBytes(*batch), *header));
  }
}

// Stored batches (with records) of `log` that name a zstd dictionary.
int DictionaryBatches(const PartitionLog& log) {
  int n = 0;
  Offset next = log.log_start_offset();
  for (;;) {
    auto r = log.Read(next, 1 << 20);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r || r->batches.empty()) return n;
    for (const auto& b : r->batches) {
      if (b.header.record_count > 0 && segment::BatchDictionaryId(b.bytes, b.header) != 0) ++n;
      next = Offset(b.header.last_offset() + 1);
    }
  }
}

// The error paths: the pass runs with every operation from the kth on failing (a dying disk,
// FaultFs::CrashAfterOps), for every k; the log in memory must still read as before or after the
// pass, and after a crash there (unsynced changes dropped) the reopened log too (every dictionary
// a batch names loading from the files that survived), and a pass on it must end at the same log
// as an uninterrupted one.
void APassFailingAtAnyStep(WithDictionary with_dictionary) {
  const TopicConfig config = CrashConfig();
  const std::string dir = "/data/t-0";
  CleanerOptions options;
  // One uninterrupted run: the logs before and after, and how many operations the pass takes.
  Contents before;
  Contents after;
  uint64_t pass_ops = 0;
  {
    io::testing::MemFs mem;
    io::testing::FaultFs fault(mem, 7);
    base::ManualClock clock;
    ASSERT_OK(mem.CreateDir("/data"));
    ASSERT_OK(mem.SyncDir("/"));
    std::vector<segment::RecoveryReport> reports;
    ASSERT_OK_AND_ASSIGN(auto log,
                         PartitionLog::Open(fault, dir, config, clock, &reports, {},
                                            PartitionOpen::kCreate, CrashDictionaryOptions()));
    std::mt19937_64 rng(99);
    ASSERT_NO_FATAL_FAILURE(AppendCrashWorkload(*log, clock, rng, with_dictionary));
    before = ReadAll(*log);
    if (with_dictionary == WithDictionary::kYes) {
      EXPECT_GT(DictionaryBatches(*log), 40);  // about half of the 120
    }
    const uint64_t ops = fault.TotalOpCount();
    ASSERT_OK_AND_ASSIGN(CleanStats stats, log->Clean(options, CleanTrigger::kNow));
    ASSERT_TRUE(stats.cleaned);
    pass_ops = fault.TotalOpCount() - ops;
    after = ReadAll(*log);
    if (with_dictionary == WithDictionary::kYes) {
      EXPECT_GT(DictionaryBatches(*log), 0);  // the batches kept still name it
    }
    ASSERT_OK(log->Close());
  }
  ASSERT_GT(pass_ops, 10u);
  size_t failed = 0;
  for (uint64_t k = 0; k < pass_ops; ++k) {
    SCOPED_TRACE("operations after the " + std::to_string(k) + "th of the pass fail");
    io::testing::MemFs mem;
    io::testing::FaultFs fault(mem, 7);
    base::ManualClock clock;
    ASSERT_OK(mem.CreateDir("/data"));
    ASSERT_OK(mem.SyncDir("/"));
    std::vector<segment::RecoveryReport> reports;
    ASSERT_OK_AND_ASSIGN(auto log,
                         PartitionLog::Open(fault, dir, config, clock, &reports, {},
                                            PartitionOpen::kCreate, CrashDictionaryOptions()));
    std::mt19937_64 rng(99);
    ASSERT_NO_FATAL_FAILURE(AppendCrashWorkload(*log, clock, rng, with_dictionary));
    fault.CrashAfterOps(fault.TotalOpCount() + k);
    auto cleaned = log->Clean(options, CleanTrigger::kNow);
    if (!cleaned) ++failed;
    const Contents live = ReadAll(*log);
    EXPECT_TRUE(live == before || live == after) << "the log in memory is neither";
    log->AbandonForTesting();
    log.reset();
    fault.ClearCrash();
    mem.DropUnsynced();
    auto reopened = PartitionLog::Open(mem, dir, config, clock, &reports);
    ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
    const Contents found = ReadAll(**reopened);
    EXPECT_TRUE(found == before || found == after) << "the reopened log is neither";
    ASSERT_OK_AND_ASSIGN(bool leftovers, CleanerLeftovers(mem, dir));
    EXPECT_FALSE(leftovers);
    ASSERT_OK((*reopened)->Clean(options, CleanTrigger::kNow));
    EXPECT_EQ(ReadAll(**reopened), after);
    ASSERT_OK((*reopened)->Close());
  }
  std::printf("the pass failed at %zu of %llu points\n", failed,
              static_cast<unsigned long long>(pass_ops));
  EXPECT_GT(failed, 0u);
}

TEST(LogCleanerCrashTest, APassFailingAtAnyStepLeavesTheOldSegmentsOrTheNew) {
  APassFailingAtAnyStep(WithDictionary::kNo);
}

TEST(LogCleanerCrashTest, APassFailingAtAnyStepOnADictionaryPartitionLosesNoDictionary) {
  APassFailingAtAnyStep(WithDictionary::kYes);
}

// A keyed workload on MemFs (flush=sync: everything is durable before the pass), then one pass
// through FaultFs. Before each of the pass's file-system operations the disk is copied as a crash
// there would leave it (all unsynced changes dropped, or a random part of them); each copy is
// reopened and must hold exactly the log before the pass or exactly the log after it (reading
// every batch, so every dictionary a batch names is there), and a pass on it must end at the same
// log as the pass that was not interrupted.
void ACrashAtAnyStep(WithDictionary with_dictionary) {
  io::testing::MemFs mem;
  io::testing::FaultFs fault(mem, 7);
  base::ManualClock clock;
  ASSERT_OK(mem.CreateDir("/data"));
  ASSERT_OK(mem.SyncDir("/"));
  const std::string dir = "/data/t-0";
  const TopicConfig config = CrashConfig();
  CleanerOptions options;
  Contents before;
  {
    std::vector<segment::RecoveryReport> reports;
    ASSERT_OK_AND_ASSIGN(auto log,
                         PartitionLog::Open(fault, dir, config, clock, &reports, {},
                                            PartitionOpen::kCreate, CrashDictionaryOptions()));
    auto rng = testing::SeededRng(99);
    ASSERT_NO_FATAL_FAILURE(AppendCrashWorkload(*log, clock, rng, with_dictionary));
    before = ReadAll(*log);
    ASSERT_GT(log->Stats().segment_count, 4u);
    if (with_dictionary == WithDictionary::kYes) {
      EXPECT_GT(DictionaryBatches(*log), 40);  // about half of the 120
    }

    struct Seen {
      uint64_t op;
      bool partial;
      Result<Contents> contents;
      Result<Contents> after_clean;
    };
    std::vector<Seen> seen;
    auto check_copy = [&](uint64_t op, bool partial) {
      std::unique_ptr<io::testing::MemFs> copy = mem.Clone();
      if (partial) {
        copy->DropUnsyncedPartially(op);
      } else {
        copy->DropUnsynced();
      }
      Seen s{op, partial, Contents(), Contents()};
      std::vector<segment::RecoveryReport> r;
      auto reopened = PartitionLog::Open(*copy, dir, config, clock, &r);
      if (!reopened) {
        s.contents = reopened.error();
        seen.push_back(std::move(s));
        return;
      }
      s.contents = ReadAll(**reopened);
      auto left = CleanerLeftovers(*copy, dir);
      if (!left || *left) s.contents = base::MakeError(ErrorCode::kInternal, "leftovers");
      auto cleaned = (*reopened)->Clean(options, CleanTrigger::kNow);
      if (cleaned) {
        s.after_clean = ReadAll(**reopened);
      } else {
        s.after_clean = cleaned.error();
      }
      (*reopened)->Close().IgnoreError();
      seen.push_back(std::move(s));
    };
    fault.SetObserver([&](uint64_t op) {
      check_copy(op, false);
      check_copy(op, true);
    });
    ASSERT_OK_AND_ASSIGN(CleanStats stats, log->Clean(options, CleanTrigger::kNow));
    fault.SetObserver(nullptr);
    ASSERT_TRUE(stats.cleaned);
    check_copy(0, false);  // after the pass
    const Contents after = ReadAll(*log);
    ASSERT_LT(after.size(), before.size());
    if (with_dictionary == WithDictionary::kYes) {
      EXPECT_GT(DictionaryBatches(*log), 0);  // the batches kept still name it
    }
    std::printf("checked %zu crash points\n", seen.size());
    ASSERT_GT(seen.size(), 20u);
    size_t old_logs = 0;
    size_t new_logs = 0;
    for (const Seen& s : seen) {
      if (s.contents.has_value()) {
        old_logs += *s.contents == before ? 1 : 0;
        new_logs += *s.contents == after ? 1 : 0;
      }
    }
    // The sweep crossed the swap: crashes before it leave the old log, after it the new.
    EXPECT_GT(old_logs, 0u);
    EXPECT_GT(new_logs, 0u);
    for (const Seen& s : seen) {
      ASSERT_TRUE(s.contents.has_value())
          << "crash before op " << s.op << (s.partial ? " (partial)" : "") << ": "
          << s.contents.error().ToString();
      EXPECT_TRUE(*s.contents == before || *s.contents == after)
          << "crash before op " << s.op << (s.partial ? " (partial)" : "")
          << ": neither the old log nor the new (" << s.contents->size() << " records; before "
          << before.size() << ", after " << after.size() << ")";
      ASSERT_TRUE(s.after_clean.has_value()) << s.after_clean.error().ToString();
      EXPECT_EQ(*s.after_clean, after) << "crash before op " << s.op;
    }
    ASSERT_OK(log->Close());
  }
}

TEST(LogCleanerCrashTest, ACrashAtAnyStepLeavesTheOldSegmentsOrTheNew) {
  ACrashAtAnyStep(WithDictionary::kNo);
}

TEST(LogCleanerCrashTest, ACrashAtAnyStepOnADictionaryPartitionLosesNoDictionary) {
  ACrashAtAnyStep(WithDictionary::kYes);
}

// --- through the engine --------------------------------------------------------------------------

class CompactedTopicTest : public testing::EngineTestBase {};

TEST_F(CompactedTopicTest, KeylessRecordsAreRefusedWithInvalidRecord) {
  ASSERT_OK(engine_->CreateTopic("c", 1, {{"cleanup.policy", "compact"}}));
  segment::BatchBuilder b;
  b.Add("key", "with a key", 1000);
  b.Add(std::nullopt, "without", 1000);
  auto batch = b.Build();
  ASSERT_OK(batch);
  auto r = engine_->Append("c", 0, base::AsBytes(*batch));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidRecord);
  EXPECT_NE(r.error().context.find("Compacted topic cannot accept message without key"),
            std::string::npos);
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("c", 0));
  EXPECT_EQ(stats.high_watermark, Offset(0));
  // A topic that does not compact takes them.
  ASSERT_OK(engine_->CreateTopic("d", 1, {}));
  ASSERT_OK(engine_->Append("d", 0, base::AsBytes(*batch)));
}

TEST_F(CompactedTopicTest, PoliciesAreKafkasAndRetentionSparesCompactOnlyTopics) {
  ASSERT_OK(engine_->CreateTopic("c", 1,
                                 {{"cleanup.policy", "compact"},
                                  {"segment.bytes", "4096"},
                                  {"retention.ms", "1000"},
                                  {"delete.retention.ms", "5"},
                                  {"min.cleanable.dirty.ratio", "0.1"}}));
  ASSERT_OK(engine_->CreateTopic("cd", 1, {{"cleanup.policy", "compact,delete"}}));
  ASSERT_OK_AND_ASSIGN(TopicConfig c, engine_->GetTopicConfig("c"));
  EXPECT_TRUE(c.cleanup_compact);
  EXPECT_FALSE(c.cleanup_delete);
  EXPECT_EQ(c.delete_retention_ms, 5);
  EXPECT_DOUBLE_EQ(c.min_cleanable_dirty_ratio, 0.1);
  EXPECT_EQ(ConfigToMap(c).at("cleanup.policy"), "compact");
  ASSERT_OK_AND_ASSIGN(TopicConfig cd, engine_->GetTopicConfig("cd"));
  EXPECT_TRUE(cd.cleanup_compact && cd.cleanup_delete);
  EXPECT_EQ(ConfigToMap(cd).at("cleanup.policy"), "compact,delete");
  EXPECT_FALSE(engine_->CreateTopic("bad", 1, {{"cleanup.policy", "compress"}}).has_value());

  for (int i = 0; i < 100; ++i) {
    segment::BatchBuilder b;
    b.Add("k" + std::to_string(i % 4), std::string(100, 'v'), clock_.NowMs());
    auto batch = b.Build();
    ASSERT_OK(batch);
    ASSERT_OK(engine_->Append("c", 0, base::AsBytes(*batch)));
  }
  clock_.AdvanceMs(10'000);
  ASSERT_OK(engine_->EnforceRetention());
  ASSERT_OK_AND_ASSIGN(auto stats, engine_->GetPartitionStats("c", 0));
  EXPECT_EQ(stats.log_start_offset, Offset(0)) << "retention deleted a compact-only topic";
  // The background round cleans it (due: everything is dirty).
  ASSERT_OK(engine_->RunCleaner());
  ASSERT_OK_AND_ASSIGN(auto after, engine_->GetPartitionStats("c", 0));
  EXPECT_LT(after.size_bytes, stats.size_bytes);
  EXPECT_EQ(after.high_watermark, Offset(100));
  // A topic that does not compact is refused by `topic compact`.
  ASSERT_OK(engine_->CreateTopic("plain", 1, {}));
  auto refused = engine_->CompactTopic("plain");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(CompactedTopicTest, TheBackgroundRoundIsPacedAndACompactionAskedForIsNot) {
  auto options = testing::TestEngineOptions(dir_.path(), &fs_, &clock_);
  engine_.reset();
  // A pace at which the round's passes take about a second (unpaced: milliseconds).
  constexpr uint64_t kPace = 64 << 10;
  options.cleaner.io_max_bytes_per_second = kPace;
  engine_ = testing::OpenTestEngine(options);
  ASSERT_NE(engine_, nullptr);
  auto fill = [&](const std::string& topic) {
    ASSERT_OK(
        engine_->CreateTopic(topic, 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "8192"}}));
    for (int i = 0; i < 400; ++i) {
      segment::BatchBuilder b;
      b.Add("k" + std::to_string(i % 10), std::string(80, 'v'), 1000);
      auto batch = b.Build();
      ASSERT_OK(batch);
      ASSERT_OK(engine_->Append(topic, 0, base::AsBytes(*batch)));
    }
  };
  auto timed = [](auto&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  ASSERT_NO_FATAL_FAILURE(fill("asked"));
  ASSERT_OK_AND_ASSIGN(auto asked_before, engine_->GetPartitionStats("asked", 0));
  const double asked = timed([&] { ASSERT_OK(engine_->CompactTopic("asked")); });
  ASSERT_OK_AND_ASSIGN(auto asked_after, engine_->GetPartitionStats("asked", 0));
  EXPECT_LT(asked_after.size_bytes, asked_before.size_bytes);
  EXPECT_LT(asked, 0.5 * static_cast<double>(asked_before.size_bytes) / kPace);

  ASSERT_NO_FATAL_FAILURE(fill("background"));
  ASSERT_OK_AND_ASSIGN(auto before, engine_->GetPartitionStats("background", 0));
  ASSERT_GT(before.size_bytes, kPace / 2);
  const double round = timed([&] { ASSERT_OK(engine_->RunCleaner()); });
  ASSERT_OK_AND_ASSIGN(auto after, engine_->GetPartitionStats("background", 0));
  EXPECT_LT(after.size_bytes, before.size_bytes);
  // It read the sealed segments twice: more than the active segment's share below the whole.
  EXPECT_GE(round, 1.0 * static_cast<double>(before.size_bytes - 8192) / kPace);
}

}  // namespace
}  // namespace sluice::engine

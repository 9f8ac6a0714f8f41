// Per-partition trained zstd dictionaries (compression.zstd.dictionary=auto;
// engine/partition_dictionary.h, segment/dictionary.h): batches compressed with a dictionary read
// back through every engine reader, across restarts and retraining; a dictionary is removed only
// once no retained segment needs it; a missing or damaged one is a clear error, never wrong data.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/inspect.h"
#include "engine/replay.h"
#include "segment/dictionary.h"
#include "segment/frame.h"
#include "segment/record_batch.h"
#include "segment/segment.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using testing::ReadValues;

// ~150-byte JSON telemetry records of 64 hosts and five metrics, deterministic.
std::string Telemetry(int i) {
  static const char* kMetrics[] = {"cpu.user", "mem.used_bytes", "disk.read_bytes", "net.rx_bytes",
                                   "http.latency_ms"};
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"ts\":%lld,\"host\":\"web-%02d.eu-west-1\",\"metric\":\"%s\",\"value\":%d.%03d,"
                "\"unit\":\"%s\",\"agent\":\"collector/2.1\"}",
                1767225600000LL + i * 7, i % 64, kMetrics[(i / 64) % 5], (i * 7919) % 1000,
                (i * 104729) % 1000, i % 2 == 0 ? "gauge" : "count");
  return buf;
}

// Records of another shape entirely: what makes a dictionary drift.
std::string Other(int i) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "order %d|customer=%x|sku=%08x|qty=%d|note=%x%x", i * 31,
                i * 2654435761u, i * 40503u, i % 17, i * 97u, i * 13u);
  return buf;
}

class DictionaryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    engine_.reset();
    EngineOptions o = testing::TestEngineOptions(dir_.path(), nullptr, &clock_);
    o.dictionary.sample_bytes = 48 << 10;
    o.dictionary.dictionary_bytes = 8 << 10;
    o.dictionary.window_bytes = 32 << 10;
    o.dictionary.train_in_background = false;  // deterministic: the filling append trains
    engine_ = testing::OpenTestEngine(o);
    ASSERT_NE(engine_, nullptr);
  }

  void CreateTopic(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> config = {{"compression.type", "zstd"},
                                                 {"compression.zstd.dictionary", "auto"},
                                                 {"segment.bytes", "65536"}};
    for (auto& [k, v] : extra) config[k] = v;
    ASSERT_OK(engine_->CreateTopic("t", 1, config));
  }

  // Appends `batches` uncompressed batches of 10 records from `gen`, remembering the values.
  template <typename Gen>
  void Append(int batches, Gen gen) {
    for (int b = 0; b < batches; ++b) {
      segment::BatchBuilder builder;
      for (int r = 0; r < 10; ++r) {
        std::string v = gen(next_record_++);
        builder.Add("k", v, 1000 + next_record_);
        values_.push_back(v);
      }
      ASSERT_OK_AND_ASSIGN(std::string batch, builder.Build());
      ASSERT_OK(engine_->Append("t", 0, base::AsBytes(batch)));
    }
  }

  std::string PartitionDir() const { return dir_.Join("t-0"); }

  std::vector<uint32_t> DictionaryFiles() {
    auto ids = segment::ListDictionaryIds(fs_, PartitionDir());
    EXPECT_TRUE(ids.has_value());
    return ids ? *ids : std::vector<uint32_t>();
  }

  // Dictionary id -> stored batches naming it (0: none), read from the segment files.
  std::map<uint32_t, int> StoredDictionaryUse() {
    std::map<uint32_t, int> out;
    for (const auto& e : std::filesystem::directory_iterator(PartitionDir())) {
      if (!segment::Segment::ParseLogName(e.path().filename().string())) continue;
      const std::string data = testing::ReadWholeFile(e.path().string());
      base::FilePos pos(segment::format::kSegmentHeaderSize);
      for (;;) {
        auto r = segment::ReadFrame(base::AsBytes(data), pos, segment::FrameVerify::kChecksum);
        if (r.kind != segment::FrameRead::Kind::kFrame) break;
        ++out[segment::BatchDictionaryId(r.frame.batch, r.frame.header)];
        pos = r.frame.end();
      }
    }
    return out;
  }

  std::vector<std::string> Replayed(const Engine& engine) {
    std::vector<std::string> out;
    ReplayOptions o;
    o.topic = "t";
    auto stats = Replay(engine, o, [&](int32_t, const segment::RecordView& r) -> Status {
      out.emplace_back(r.value.value_or("<null>"));
      return {};
    });
    EXPECT_TRUE(stats.has_value()) << stats.error().ToString();
    return out;
  }

  // The first read error of the partition's records, or "" when every record reads.
  std::string ReadError() {
    segment::RecordDecoder decoder;
    auto stats = engine_->GetPartitionStats("t", 0);
    if (!stats) return stats.error().ToString();
    Offset next = stats->log_start_offset;
    for (;;) {
      auto r = engine_->Read("t", 0, next, 1 << 20);
      if (!r) return r.error().ToString();
      if (r->batches.empty()) return "";
      decoder.set_dictionaries(r->dictionaries.get());
      for (const auto& b : r->batches) {
        Status s = segment::ForEachRecord(b.bytes, decoder,
                                          [](const segment::RecordView&) { return Status(); });
        if (!s) return s.error().ToString();
        next = Offset(b.header.last_offset() + 1);
      }
    }
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> values_;
  int next_record_ = 0;
};

TEST_F(DictionaryTest, TrainsOnceSampledAndEveryReaderReadsTheBatchesBack) {
  CreateTopic();
  Append(40, Telemetry);  // ~60 KiB: past the 48 KiB sample, so a dictionary is trained
  ASSERT_EQ(DictionaryFiles(), std::vector<uint32_t>{segment::kFirstDictionaryId});
  Append(60, Telemetry);
  auto use = StoredDictionaryUse();
  EXPECT_GT(use[0], 0);                             // before the dictionary
  EXPECT_GE(use[segment::kFirstDictionaryId], 60);  // every batch after it
  // Smaller than the batches without it.
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
  EXPECT_EQ(Replayed(*engine_), values_);
  // A reader in "another process": a read-only engine beside the writer.
  EngineOptions ro = testing::TestEngineOptions(dir_.path());
  ro.access = EngineAccess::kReadOnly;
  auto reader = testing::OpenTestEngine(ro);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(ReadValues(*reader, "t", 0), values_);
  EXPECT_EQ(Replayed(*reader), values_);
  // Time lookups decode records too.
  ASSERT_OK_AND_ASSIGN(auto found, engine_->OffsetForTimestamp("t", 0, 1000 + 900));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->offset, Offset(899));
  ASSERT_OK_AND_ASSIGN(auto found_ro, reader->OffsetForTimestamp("t", 0, 1000 + 900));
  ASSERT_TRUE(found_ro.has_value());
  EXPECT_EQ(found_ro->offset, Offset(899));
  // verify: healthy.
  ASSERT_OK_AND_ASSIGN(auto inspected, InspectDataDir(fs_, dir_.path()));
  EXPECT_TRUE(inspected.healthy()) << VerdictName(inspected.verdict);
}

TEST_F(DictionaryTest, DictionaryBatchesAreSmallerThanPlainZstdOnes) {
  CreateTopic();
  Append(80, Telemetry);
  ASSERT_EQ(DictionaryFiles().size(), 1u);
  // The same kind of records, stored with and without the dictionary: mean bytes per batch.
  std::map<bool, std::pair<size_t, size_t>> sizes;  // with a dictionary -> (bytes, batches)
  Offset next(0);
  for (;;) {
    ASSERT_OK_AND_ASSIGN(auto read, engine_->Read("t", 0, next, 1 << 20));
    if (read.batches.empty()) break;
    for (const auto& b : read.batches) {
      auto& s = sizes[segment::BatchDictionaryId(b.bytes, b.header) != 0];
      s.first += b.bytes.size();
      ++s.second;
      next = Offset(b.header.last_offset() + 1);
    }
  }
  ASSERT_GT(sizes[false].second, 0u);
  ASSERT_GT(sizes[true].second, 0u);
  const double plain = static_cast<double>(sizes[false].first) / sizes[false].second;
  const double with = static_cast<double>(sizes[true].first) / sizes[true].second;
  EXPECT_LT(with, plain * 0.8) << "with " << with << " plain " << plain;
}

TEST_F(DictionaryTest, RestartReloadsTheDictionaryAndKeepsUsingIt) {
  CreateTopic();
  Append(60, Telemetry);
  ASSERT_EQ(DictionaryFiles().size(), 1u);
  Open();
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
  const int before = StoredDictionaryUse()[segment::kFirstDictionaryId];
  Append(20, Telemetry);
  EXPECT_EQ(StoredDictionaryUse()[segment::kFirstDictionaryId], before + 20);
  EXPECT_EQ(DictionaryFiles().size(), 1u);  // no retraining after a restart
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
}

TEST_F(DictionaryTest, DriftRetrainsAndOldSegmentsStayReadable) {
  CreateTopic();
  Append(60, Telemetry);
  ASSERT_EQ(DictionaryFiles().size(), 1u);
  // Another shape of record: the first dictionary's ratio falls, a second one is trained.
  Append(150, Other);
  const auto ids = DictionaryFiles();
  ASSERT_EQ(ids.size(), 2u);
  auto use = StoredDictionaryUse();
  EXPECT_GT(use[ids[0]], 0);
  EXPECT_GT(use[ids[1]], 0);
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
  Open();
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
  EXPECT_EQ(Replayed(*engine_), values_);
}

TEST_F(DictionaryTest, RetentionRemovesADictionaryOnlyOnceNoSegmentNeedsIt) {
  CreateTopic({{"segment.bytes", "16384"}, {"retention.bytes", "40000"}});
  Append(60, Telemetry);
  Append(150, Other);
  auto ids = DictionaryFiles();
  ASSERT_EQ(ids.size(), 2u);
  // Retention removes old segments; while any remaining one holds a batch of the first
  // dictionary, its file stays.
  for (int round = 0; round < 200; ++round) {
    ASSERT_OK(engine_->EnforceRetention());
    const bool needed = StoredDictionaryUse()[ids[0]] > 0;
    const bool present =
        std::filesystem::exists(PartitionDir() + "/" + segment::DictionaryFileName(ids[0]));
    ASSERT_TRUE(present || !needed) << "round " << round;
    if (!present) break;
    Append(5, Other);
  }
  EXPECT_FALSE(std::filesystem::exists(PartitionDir() + "/" + segment::DictionaryFileName(ids[0])));
  EXPECT_TRUE(std::filesystem::exists(PartitionDir() + "/" + segment::DictionaryFileName(ids[1])));
  EXPECT_GT(StoredDictionaryUse()[ids[1]], 0);
  EXPECT_EQ(ReadError(), "");
  Open();
  EXPECT_EQ(ReadError(), "");
}

TEST_F(DictionaryTest, AMissingDictionaryIsAClearErrorAndNothingIsDeleted) {
  CreateTopic();
  Append(60, Telemetry);
  ASSERT_EQ(DictionaryFiles().size(), 1u);
  engine_.reset();
  const std::string file =
      PartitionDir() + "/" + segment::DictionaryFileName(segment::kFirstDictionaryId);
  const std::string kept = dir_.Join("kept.zdict");
  std::filesystem::rename(file, kept);
  std::map<std::string, uintmax_t> sizes;
  for (const auto& e : std::filesystem::directory_iterator(PartitionDir())) {
    if (e.path().extension() == ".log") sizes[e.path().string()] = e.file_size();
  }
  Open();
  const std::string error = ReadError();
  EXPECT_NE(error.find(file), std::string::npos) << error;
  EXPECT_NE(error.find("missing"), std::string::npos) << error;
  EXPECT_NE(error.find("restored"), std::string::npos) << error;
  // verify names it, as a partition whose reads fail.
  ASSERT_OK_AND_ASSIGN(auto inspected, InspectDataDir(fs_, dir_.path()));
  EXPECT_EQ(inspected.verdict, Verdict::kOffline);
  bool named = false;
  for (const auto& p : inspected.partitions) {
    for (const auto& f : p.findings) named = named || f.path == file;
  }
  EXPECT_TRUE(named);
  // Nothing was cut or removed.
  engine_.reset();
  for (const auto& [path, size] : sizes) EXPECT_EQ(std::filesystem::file_size(path), size);
  // Restored, everything reads again.
  std::filesystem::rename(kept, file);
  Open();
  EXPECT_EQ(ReadError(), "");
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
}

TEST_F(DictionaryTest, ADamagedDictionaryIsAClearErrorNeverWrongData) {
  CreateTopic();
  Append(60, Telemetry);
  engine_.reset();
  const std::string file =
      PartitionDir() + "/" + segment::DictionaryFileName(segment::kFirstDictionaryId);
  std::string bytes = testing::ReadWholeFile(file);
  const std::string good = bytes;
  bytes[bytes.size() / 2] ^= 0x10;
  testing::WriteWholeFile(file, bytes);
  Open();
  const std::string error = ReadError();
  EXPECT_NE(error.find(file), std::string::npos) << error;
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  // Appends go on (with a new dictionary): the damaged file is never written over.
  Append(60, Telemetry);
  EXPECT_EQ(testing::ReadWholeFile(file), bytes);
  testing::WriteWholeFile(file, good);
  engine_.reset();
  Open();
  EXPECT_EQ(ReadValues(*engine_, "t", 0), values_);
}

TEST_F(DictionaryTest, OnlyServerCompressedBatchesUseTheDictionary) {
  CreateTopic();
  Append(60, Telemetry);
  // A producer's own zstd batch is stored as it came: no dictionary.
  const std::string client = testing::MakeBatch(10, "client", 5000, base::Codec::kZstd);
  ASSERT_OK_AND_ASSIGN(auto appended, engine_->Append("t", 0, base::AsBytes(client)));
  ASSERT_OK_AND_ASSIGN(auto read, engine_->Read("t", 0, appended.base_offset, 1));
  ASSERT_FALSE(read.batches.empty());
  EXPECT_EQ(read.batches[0].bytes.size(), client.size());
  EXPECT_EQ(segment::BatchDictionaryId(read.batches[0].bytes, read.batches[0].header), 0u);
  // A batch that names a dictionary is refused: only the partition's own may be named.
  ASSERT_OK_AND_ASSIGN(auto r0, engine_->Read("t", 0, Offset(590), 1));
  ASSERT_NE(segment::BatchDictionaryId(r0.batches[0].bytes, r0.batches[0].header), 0u);
  auto refused = engine_->Append("t", 0, r0.batches[0].bytes);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, base::ErrorCode::kInvalidArgument);
}

TEST_F(DictionaryTest, ConfigIsValidatedAndDescribed) {
  auto bad = engine_->CreateTopic("b", 1, {{"compression.zstd.dictionary", "yes"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().context.find("compression.zstd.dictionary"), std::string::npos);
  CreateTopic();
  ASSERT_OK_AND_ASSIGN(TopicConfig config, engine_->GetTopicConfig("t"));
  EXPECT_EQ(ConfigToMap(config).at("compression.zstd.dictionary"), "auto");
  EXPECT_EQ(ConfigToMap(TopicConfig{}).at("compression.zstd.dictionary"), "none");
}

}  // namespace
}  // namespace sluice::engine

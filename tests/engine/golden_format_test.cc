// Reads a data directory written by format version 1 and checked in under tests/data/format-v1.
// As long as sluice claims to read version 1, this test must keep passing unchanged. To write the
// directory afresh (only when adding a new format version's golden data), run the test with
// SLUICE_REGENERATE_GOLDEN=1.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "engine/engine.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

namespace fs = std::filesystem;
using base::Codec;

const fs::path kGolden = fs::path(SLUICE_SOURCE_DIR) / "tests/data/format-v1";

// What the golden directory holds: topic "golden", 2 partitions, batches with every codec.
struct Expected {
  int32_t partition;
  int count;
  std::string prefix;
  Codec codec;
};
const std::vector<Expected>& Batches() {
  static const std::vector<Expected> batches = {
      {0, 20, "none", Codec::kNone},     {0, 30, "zstd", Codec::kZstd},
      {0, 15, "lz4", Codec::kLz4},       {0, 10, "gzip", Codec::kGzip},
      {0, 12, "snappy", Codec::kSnappy}, {1, 40, "p1", Codec::kNone},
      {0, 150, "tail", Codec::kNone},
  };
  return batches;
}

void Regenerate() {
  fs::remove_all(kGolden);
  EngineOptions o;
  o.data_dir = kGolden.string();
  o.background = BackgroundWork::kManual;
  auto engine = Engine::Open(o);
  ASSERT_OK(engine);
  ASSERT_OK((*engine)->CreateTopic("golden", 2,
                                   {{"compression.type", "producer"}, {"segment.bytes", "4096"}}));
  int64_t ts = 1'700'000'000'000;
  for (const auto& b : Batches()) {
    ASSERT_OK((*engine)->Append("golden", b.partition,
                                base::AsBytes(testing::MakeBatch(b.count, b.prefix, ts, b.codec))));
    ts += 1000;
  }
  ASSERT_OK((*engine)->Close());
}

TEST(GoldenFormatTest, ReadsVersion1DataDirectory) {
  if (const char* regen = std::getenv("SLUICE_REGENERATE_GOLDEN"); regen && *regen == '1') {
    Regenerate();
  }
  ASSERT_TRUE(fs::exists(kGolden / "catalog.json")) << kGolden;
  testing::TempDir dir;
  fs::copy(kGolden, dir.path(), fs::copy_options::recursive);

  // The first bytes of a segment are the version-1 header.
  const std::string seg = testing::ReadWholeFile(dir.Join("golden-0/00000000000000000000.log"));
  ASSERT_GE(seg.size(), segment::format::kSegmentHeaderSize);
  EXPECT_EQ(seg.substr(0, 8), "SLUICELG");
  EXPECT_EQ(static_cast<int>(seg[8]), 1);

  EngineOptions o;
  o.data_dir = dir.path();
  o.background = BackgroundWork::kManual;
  auto engine = Engine::Open(o);
  ASSERT_OK(engine);
  EXPECT_TRUE((*engine)->opened_after_clean_shutdown());
  ASSERT_OK_AND_ASSIGN(auto desc, (*engine)->DescribeTopic("golden"));
  EXPECT_GE(desc.partitions[0].segment_count, 2u);

  std::map<int32_t, std::vector<std::pair<std::string, Codec>>> want;
  for (const auto& b : Batches()) {
    for (int i = 0; i < b.count; ++i) {
      want[b.partition].emplace_back(b.prefix + "-" + std::to_string(i), b.codec);
    }
  }
  for (auto& [partition, records] : want) {
    ASSERT_OK_AND_ASSIGN(auto r, (*engine)->Read("golden", partition, base::Offset(0), 1 << 20));
    std::vector<std::pair<std::string, Codec>> got;
    segment::RecordDecoder decoder;
    for (const auto& b : r.batches) {
      EXPECT_OK(segment::VerifyBatchCrc(b.bytes, b.header));
      ASSERT_OK(segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
        got.emplace_back(std::string(rec.value.value_or("")), b.header.codec());
        return base::Status();
      }));
    }
    EXPECT_EQ(got, records) << "partition " << partition;
  }
  ASSERT_OK_AND_ASSIGN(auto at, (*engine)->OffsetForTimestamp("golden", 0, 1'700'000'002'005));
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->offset, base::Offset(20 + 30 + 5));
}

}  // namespace
}  // namespace sluice::engine

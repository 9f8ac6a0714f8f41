// Issue 10's findings 1-3, done as an operator would do them, on real files: nothing sluice
// acknowledged is destroyed or hidden because another file is missing, short or damaged.

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/catalog.h"
#include "engine/engine.h"
#include "engine/group_offsets.h"
#include "engine/repair.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/small_file.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using base::Offset;
using testing::MakeBatch;

class StorageSafetyTest : public testing::EngineTestBase {
 protected:
  // Appends `batches` batches of 10 records each; returns every value appended.
  std::vector<std::string> Fill(const std::string& topic, int32_t partition, int batches) {
    std::vector<std::string> values;
    for (int i = 0; i < batches; ++i) {
      std::string batch =
          MakeBatch(10, topic + "-" + std::to_string(partition) + "-b" + std::to_string(i) + "-");
      for (const auto& v : testing::BatchValues(batch)) values.push_back(v);
      EXPECT_TRUE(engine_->Append(topic, partition, base::AsBytes(batch)).has_value());
    }
    return values;
  }

  std::string PartitionPath(const std::string& topic, int32_t p) {
    return dir_.Join(topic + "-" + std::to_string(p));
  }
  std::string SegmentPath(const std::string& topic, int32_t p) {
    return PartitionPath(topic, p) + "/00000000000000000000.log";
  }
};

// Finding 1: catalog missing. The topics are rebuilt from their directories, loudly; creating
// the topic again is refused instead of replacing its data; group offsets survive.
TEST_F(StorageSafetyTest, MissingCatalogIsRebuiltFromPartitionDirectories) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {{"flush", "sync"}, {"retention.ms", "-1"}}));
  const auto want0 = Fill("ev", 0, 100);  // 1,000 acknowledged records
  const auto want1 = Fill("ev", 1, 3);
  ASSERT_OK_AND_ASSIGN(GroupOffsetStore * store, engine_->GroupOffsets());
  const OffsetCommit commit{"ev", 0, Offset(700), "m"};
  ASSERT_OK(store->Commit("billing", {&commit, 1}));
  engine_.reset();

  ASSERT_TRUE(fs::remove(dir_.Join(kCatalogFile)));
  Reopen();
  EXPECT_FALSE(engine_->catalog_changes().empty());
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  EXPECT_EQ(described.info.partitions, 2);
  EXPECT_EQ(described.info.config.flush, FlushMode::kSync);
  EXPECT_EQ(described.info.config.retention_ms, -1);
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0), want0);
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 1), want1);

  auto again = engine_->CreateTopic("ev", 1, {});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0), want0);

  ASSERT_OK_AND_ASSIGN(store, engine_->GroupOffsets());
  auto fetched = store->Fetch("billing", "ev", 0);
  ASSERT_TRUE(fetched.has_value());
  EXPECT_EQ(fetched->offset, Offset(700));

  // The rebuilt catalog was written: the next open changes nothing.
  Reopen();
  EXPECT_TRUE(engine_->catalog_changes().empty());
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0), want0);
}

TEST_F(StorageSafetyTest, DamagedCatalogIsKeptAsideAndRebuilt) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  const auto want = Fill("ev", 0, 5);
  engine_.reset();
  std::string bytes = testing::ReadWholeFile(dir_.Join(kCatalogFile));
  bytes[bytes.size() / 2] ^= 0x20;
  testing::WriteWholeFile(dir_.Join(kCatalogFile), bytes);
  Reopen();
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0), want);
  bool kept = false;
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    if (e.path().filename().string().rfind("catalog.damaged-", 0) == 0) {
      kept = testing::ReadWholeFile(e.path().string()) == bytes;
    }
  }
  EXPECT_TRUE(kept) << "the damaged catalog's bytes are kept";
}

// A directory that the catalog does not know is never replaced by a new topic of that name.
TEST_F(StorageSafetyTest, CreateNeverReplacesAnUnknownDirectory) {
  fs::create_directories(PartitionPath("x", 0));
  testing::WriteWholeFile(PartitionPath("x", 0) + "/notes.txt", "someone's");
  auto created = engine_->CreateTopic("x", 1, {});
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::kAlreadyExists) << created.error().ToString();
  EXPECT_EQ(testing::ReadWholeFile(PartitionPath("x", 0) + "/notes.txt"), "someone's");
}

// Finding 2: the active segment lost its tail below the recovery point (flush=sync: all of it was
// acknowledged as durable). The partition goes offline; nothing is cut; the error names the file,
// the position and the offsets at risk; the other partition works.
TEST_F(StorageSafetyTest, ShortSegmentBelowRecoveryPointGoesOfflineUntouched) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {{"flush", "sync"}}));
  Fill("ev", 0, 500);  // 5,000 records
  const auto want1 = Fill("ev", 1, 2);
  engine_.reset();  // a clean close: the recovery point covers every record

  const std::string seg = SegmentPath("ev", 0);
  const auto full = fs::file_size(seg);
  std::string bytes = testing::ReadWholeFile(seg);
  // Cut at four fifths of the written data (the file is preallocated: find the data's end).
  size_t data_end = bytes.size();
  while (data_end > 0 && bytes[data_end - 1] == '\0') --data_end;
  bytes.resize(data_end * 4 / 5);
  testing::WriteWholeFile(seg, bytes);
  const std::string rp_before = testing::ReadWholeFile(PartitionPath("ev", 0) + "/recovery-point");
  ASSERT_LT(bytes.size(), full);

  Reopen();
  auto read = engine_->Read("ev", 0, Offset(0), 1 << 20);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kOffline);
  EXPECT_NE(read.error().context.find(seg), std::string::npos) << read.error().context;
  EXPECT_NE(read.error().context.find("offsets ["), std::string::npos) << read.error().context;
  EXPECT_NE(read.error().context.find(", 5000)"), std::string::npos) << read.error().context;
  auto append = engine_->Append("ev", 0, base::AsBytes(MakeBatch(1)));
  ASSERT_FALSE(append.has_value());
  EXPECT_EQ(append.error().code, ErrorCode::kOffline);
  // Untouched: same bytes, same recovery point.
  EXPECT_EQ(testing::ReadWholeFile(seg), bytes);
  EXPECT_EQ(testing::ReadWholeFile(PartitionPath("ev", 0) + "/recovery-point"), rp_before);
  // Everything else works.
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 1), want1);
  ASSERT_OK(engine_->Append("ev", 1, base::AsBytes(MakeBatch(1))));
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  ASSERT_EQ(described.partitions.size(), 2u);
  EXPECT_TRUE(described.partitions[0].offline.has_value());
  EXPECT_FALSE(described.partitions[1].offline.has_value());
  EXPECT_EQ(engine_->OfflinePartitions().size(), 1u);
}

// Damage above the recovery point is a torn write of a crash: truncated as before, and reported.
TEST_F(StorageSafetyTest, DamagedUnsyncedTailIsTruncatedAndReported) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {{"flush", "none"}}));
  Fill("ev", 0, 3);
  ASSERT_OK(engine_->Flush());
  Fill("ev", 0, 3);  // not flushed: above the recovery point
  engine_->SimulateCrashForTesting();
  engine_.reset();
  std::string bytes = testing::ReadWholeFile(SegmentPath("ev", 0));
  size_t data_end = bytes.size();
  while (data_end > 0 && bytes[data_end - 1] == '\0') --data_end;
  bytes[data_end - 5] ^= 0x01;  // in the last batch
  testing::WriteWholeFile(SegmentPath("ev", 0), bytes);
  Reopen();
  const auto reports = engine_->recovery_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].truncated);
  EXPECT_EQ(reports[0].first_lost_offset, Offset(50));
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0).size(), 50u);
}

// Finding 3: one flipped byte in __consumer_offsets takes only the group offsets offline: topics
// list, reads without a group and writes all keep working.
TEST_F(StorageSafetyTest, DamagedConsumerOffsetsDoesNotStopAnythingElse) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  const auto want = Fill("ev", 0, 2);
  ASSERT_OK_AND_ASSIGN(GroupOffsetStore * store, engine_->GroupOffsets());
  const OffsetCommit commit{"ev", 0, Offset(3), ""};
  ASSERT_OK(store->Commit("g", {&commit, 1}));
  engine_.reset();  // clean close: the segment is sealed-clean, its index covers it

  const std::string seg = SegmentPath(kConsumerOffsetsTopic, 0);
  std::string bytes = testing::ReadWholeFile(seg);
  bytes[segment::format::kSegmentHeaderSize + 40] ^= 0x04;  // inside the first frame's batch
  testing::WriteWholeFile(seg, bytes);
  fs::remove(PartitionPath(kConsumerOffsetsTopic, 0) + "/00000000000000000000.index");

  Reopen();
  EXPECT_EQ(engine_->ListTopics().size(), 2u);
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0), want);
  ASSERT_OK(engine_->Append("ev", 0, base::AsBytes(MakeBatch(1))));
  auto groups = engine_->GroupOffsets();
  ASSERT_FALSE(groups.has_value());
  EXPECT_EQ(testing::ReadWholeFile(seg), bytes) << "the damaged file is left as it is";
}

// Finding 3, second part: a zeroed segment header in partition 0 leaves partition 1 readable.
TEST_F(StorageSafetyTest, ZeroedHeaderInOnePartitionLeavesTheOthersWorking) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {{"flush", "sync"}}));
  Fill("ev", 0, 4);
  const auto want1 = Fill("ev", 1, 4);
  engine_.reset();
  std::string bytes = testing::ReadWholeFile(SegmentPath("ev", 0));
  std::fill(bytes.begin(), bytes.begin() + segment::format::kSegmentHeaderSize, '\0');
  testing::WriteWholeFile(SegmentPath("ev", 0), bytes);
  Reopen();
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 1), want1);
  auto read = engine_->Read("ev", 0, Offset(0), 1 << 20);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(testing::ReadWholeFile(SegmentPath("ev", 0)), bytes);
}

TEST_F(StorageSafetyTest, MissingPartitionDirectoryIsOfflineNotRecreated) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {}));
  Fill("ev", 0, 1);
  const auto want1 = Fill("ev", 1, 1);
  engine_.reset();
  fs::rename(PartitionPath("ev", 0), dir_.Join("moved-away"));
  Reopen();
  auto read = engine_->Read("ev", 0, Offset(0), 1 << 20);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kOffline);
  EXPECT_FALSE(fs::exists(PartitionPath("ev", 0)));
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 1), want1);
}

// A creation interrupted after some of its directories were made, before the catalog named the
// topic: open adopts the topic with the partition count its partition files carry (not just the
// directories present). The partitions it did not make are offline, never created by open (see
// PlanCatalog); `sluice repair --recreate-missing` creates them.
TEST_F(StorageSafetyTest, InterruptedCreationIsAdoptedWithItsWholePartitionCount) {
  ASSERT_OK(engine_->CreateTopic("ev", 3, {{"retention.ms", "-1"}}));
  ASSERT_OK(engine_->CreateTopic("other", 1, {}));
  engine_.reset();
  // As if the crash came after ev-0 and ev-1 were made: ev-2 and the catalog entry never were.
  ASSERT_OK_AND_ASSIGN(TopicMap catalog, LoadCatalog(fs_, dir_.path()));
  catalog.erase("ev");
  ASSERT_OK(SaveCatalog(fs_, dir_.path(), catalog));
  fs::remove_all(PartitionPath("ev", 2));

  Reopen();
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  EXPECT_EQ(described.info.partitions, 3);
  EXPECT_EQ(described.info.config.retention_ms, -1);
  ASSERT_EQ(described.partitions.size(), 3u);
  EXPECT_FALSE(described.partitions[0].offline.has_value());
  EXPECT_FALSE(described.partitions[1].offline.has_value());
  ASSERT_TRUE(described.partitions[2].offline.has_value());
  EXPECT_FALSE(fs::exists(PartitionPath("ev", 2)));
  bool reported = false;
  for (const auto& change : engine_->catalog_changes()) {
    reported |= change.find("partitions missing") != std::string::npos &&
                change.find(" 2") != std::string::npos;
  }
  EXPECT_TRUE(reported);
  Fill("ev", 0, 1);
  auto refused = engine_->Append("ev", 2, base::AsBytes(MakeBatch(1, "x")));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kOffline);
  // A retried creation is refused: the topic exists.
  EXPECT_FALSE(engine_->CreateTopic("ev", 3, {}).has_value());
  engine_.reset();

  // The catalog now names ev with 3 partitions; repair creates the missing one on request.
  RepairOptions o;
  o.data_dir = dir_.path();
  o.fs = &fs_;
  o.clock = &clock_;
  o.mode = RepairMode::kExecute;
  o.recreate_missing = RecreateMissing::kYes;
  ASSERT_OK(Repair(o));
  Reopen();
  Fill("ev", 2, 1);
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 2).size(), 10u);
  ASSERT_OK_AND_ASSIGN(PartitionMeta meta, LoadPartitionMeta(fs_, PartitionPath("ev", 2)));
  EXPECT_EQ(meta.topic_partitions, 3);
}

// Partition files of version 1 (no partition count) are still read: the count then comes from the
// directories.
TEST_F(StorageSafetyTest, PartitionFilesOfVersionOneAreStillRead) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {{"retention.ms", "-1"}}));
  const auto want = Fill("ev", 1, 1);
  engine_.reset();
  const segment::SmallFileKind v1{segment::format::kPartitionMetaMagic,
                                  segment::format::kPartitionMetaVersion1,
                                  segment::format::kPartitionMetaVersion1};
  for (int32_t p = 0; p < 2; ++p) {
    const std::string json = R"({"topic": "ev", "topic_id": "0123456789abcdef0123456789abcdef", )"
                             R"("partition": )" +
                             std::to_string(p) + R"(, "config": {"retention.ms": "-1"}})";
    ASSERT_OK(segment::WriteSmallFile(fs_, PartitionPath("ev", p) + "/" + kPartitionMetaFile, v1,
                                      base::AsBytes(json)));
  }
  ASSERT_OK_AND_ASSIGN(PartitionMeta meta, LoadPartitionMeta(fs_, PartitionPath("ev", 1)));
  EXPECT_EQ(meta.topic, "ev");
  EXPECT_EQ(meta.partition, 1);
  EXPECT_EQ(meta.topic_partitions, 0);
  ASSERT_TRUE(fs::remove(dir_.Join(kCatalogFile)));
  Reopen();
  ASSERT_OK_AND_ASSIGN(auto described, engine_->DescribeTopic("ev"));
  EXPECT_EQ(described.info.partitions, 2);
  EXPECT_EQ(described.info.config.retention_ms, -1);
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 1), want);
}

TEST(CatalogTest, PartitionFileOfVersionTwoMustCarryAHoldingPartitionCount) {
  const std::string base = R"({"topic": "t", "topic_id": "x", "partition": 2, "config": {})";
  ASSERT_OK_AND_ASSIGN(PartitionMeta meta,
                       DecodePartitionMetaPayload(base + R"(, "partitions": 3})", "p"));
  EXPECT_EQ(meta.topic_partitions, 3);
  for (const std::string& bad :
       {base + "}", base + R"(, "partitions": 2})", base + R"(, "partitions": 100001})",
        base + R"(, "partitions": "3"})"}) {
    auto r = DecodePartitionMetaPayload(bad, "p");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
  // Version 1 had no count.
  ASSERT_OK_AND_ASSIGN(
      meta, DecodePartitionMetaPayload(base + "}", "p", segment::format::kPartitionMetaVersion1));
  EXPECT_EQ(meta.topic_partitions, 0);
}

TEST_F(StorageSafetyTest, InternalTopicsCannotBeDeleted) {
  ASSERT_OK(engine_->GroupOffsets());
  auto deleted = engine_->DeleteTopic(kConsumerOffsetsTopic);
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().code, ErrorCode::kRefused);
  EXPECT_TRUE(fs::exists(PartitionPath(kConsumerOffsetsTopic, 0)));
}

TEST_F(StorageSafetyTest, InternalTopicsConfigurationCannotBeChanged) {
  ASSERT_OK(engine_->GroupOffsets());
  ASSERT_OK_AND_ASSIGN(auto before, engine_->DescribeTopic(kConsumerOffsetsTopic));
  auto altered = engine_->AlterTopicConfig(kConsumerOffsetsTopic, {{"retention.ms", "1"}});
  ASSERT_FALSE(altered.has_value());
  EXPECT_EQ(altered.error().code, ErrorCode::kRefused);
  ASSERT_OK_AND_ASSIGN(auto after, engine_->DescribeTopic(kConsumerOffsetsTopic));
  EXPECT_EQ(ConfigToMap(after.info.config), ConfigToMap(before.info.config));
}

// A deletion that crashed after renaming its directories is finished by the next open; the
// directories of other topics are never touched.
TEST_F(StorageSafetyTest, InterruptedDeletionIsFinishedAtOpen) {
  ASSERT_OK(engine_->CreateTopic("gone", 2, {}));
  ASSERT_OK(engine_->CreateTopic("kept", 1, {}));
  const auto want = Fill("kept", 0, 2);
  engine_.reset();
  fs::rename(PartitionPath("gone", 0), PartitionPath("gone", 0) + ".123.deleted");
  Reopen();
  EXPECT_FALSE(engine_->DescribeTopic("gone").has_value());
  EXPECT_FALSE(fs::exists(PartitionPath("gone", 0) + ".123.deleted"));
  EXPECT_FALSE(fs::exists(PartitionPath("gone", 1)));
  EXPECT_EQ(testing::ReadValues(*engine_, "kept", 0), want);
}

// A renamed directory of an earlier topic of the same name, beside a partition directory that
// went missing, removes nothing of the current topic: a missing file never triggers a deletion.
TEST_F(StorageSafetyTest, StaleDeletedDirectoryNeverTakesTheCurrentTopicWithIt) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {}));
  ASSERT_OK(engine_->DeleteTopic("ev"));
  ASSERT_OK(engine_->CreateTopic("ev", 2, {}));
  const auto want = Fill("ev", 1, 3);
  engine_.reset();
  // The first topic's renamed directory, as a failed removal would have left it.
  fs::create_directories(PartitionPath("ev", 0) + ".1.deleted");
  ASSERT_OK(SavePartitionMeta(fs_, PartitionPath("ev", 0) + ".1.deleted",
                              PartitionMeta{"ev", NewTopicId(), 0, TopicConfig{}, 1}));
  fs::rename(PartitionPath("ev", 0), dir_.Join("lost"));
  Reopen();
  ASSERT_TRUE(engine_->DescribeTopic("ev").has_value());
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 1), want);
  EXPECT_EQ(engine_->Read("ev", 0, Offset(0), 1).error().code, ErrorCode::kOffline);
}

TEST(CatalogTest, RejectsOutOfRangePartitionCounts) {
  for (const char* count : {"0", "-3", "100001", "4294967297"}) {
    auto r = DecodeCatalogPayload(
        std::string(R"({"topics": {"t": {"partitions": )") + count + R"(, "config": {}}}})", "c");
    ASSERT_FALSE(r.has_value()) << count;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
}

TEST(CatalogTest, ParsesPartitionDirectoryNames) {
  auto p = ParsePartitionDirName("my.topic-12");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->topic, "my.topic");
  EXPECT_EQ(p->partition, 12);
  EXPECT_FALSE(p->deleted);
  auto d = ParsePartitionDirName("a-b-3.1700000000000.deleted");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->topic, "a-b");
  EXPECT_EQ(d->partition, 3);
  EXPECT_TRUE(d->deleted);
  for (const char* bad : {"t-", "-1", "t-01", "t-x", "catalog", "t-1.deleted", "t-100000"}) {
    EXPECT_FALSE(ParsePartitionDirName(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace sluice::engine

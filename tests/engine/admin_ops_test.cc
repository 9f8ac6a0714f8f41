// The engine's side of the admin APIs of issue 13: CreatePartitions (a topic grows, durably, and
// an interrupted growth never leaves a catalog naming a missing partition), DeleteRecords (a
// durable log start, across clean and unclean restarts and a crash part way), the record with the
// largest timestamp (ListOffsets -3) and the producers a partition remembers.

#include <gtest/gtest.h>

#include "engine/catalog.h"
#include "engine/engine.h"
#include "engine/partition_log.h"
#include "segment/io/file_system.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using testing::MakeBatch;

class AdminOpsTest : public testing::EngineTestBase {
 protected:
  std::vector<std::string> ReadFrom(const std::string& topic, int32_t partition, int64_t from) {
    return testing::ReadValues(*engine_, topic, partition, from);
  }
  int32_t PartitionCount(const std::string& topic) {
    auto d = engine_->DescribeTopic(topic);
    EXPECT_TRUE(d.has_value());
    return d ? d->info.partitions : -1;
  }
  // Batch i's record prefix: long enough that a 4 KiB segment holds one or two batches.
  static std::string Prefix(int64_t i) { return "b" + std::to_string(i) + std::string(300, 'x'); }
  // 10 batches of 10 records (timestamps 1000 + 10 i + j), in small segments.
  void FillTopic(const std::string& topic) {
    ASSERT_OK(engine_->CreateTopic(topic, 1, {{"segment.bytes", "4096"}}));
    for (int i = 0; i < 10; ++i) {
      ASSERT_OK(engine_->Append(topic, 0, base::AsBytes(MakeBatch(10, Prefix(i), 1000 + 10 * i))));
    }
  }
  std::vector<std::string> Expected(int64_t from) {
    std::vector<std::string> out;
    for (int64_t o = from; o < 100; ++o)
      out.push_back(Prefix(o / 10) + "-" + std::to_string(o % 10));
    return out;
  }
};

TEST_F(AdminOpsTest, CreatePartitionsGrowsATopicDurably) {
  ASSERT_OK(engine_->CreateTopic("t", 2, {{"retention.ms", "12345"}}));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(3, "old"))));
  ASSERT_OK(engine_->CreatePartitions("t", 5));
  EXPECT_EQ(PartitionCount("t"), 5);
  ASSERT_OK(engine_->Append("t", 4, base::AsBytes(MakeBatch(2, "new"))));
  EXPECT_EQ(ReadFrom("t", 4, 0), (std::vector<std::string>{"new-0", "new-1"}));
  EXPECT_EQ(ReadFrom("t", 0, 0), (std::vector<std::string>{"old-0", "old-1", "old-2"}));
  // The new partitions have the topic's configuration.
  ASSERT_OK_AND_ASSIGN(TopicConfig config, engine_->GetTopicConfig("t"));
  EXPECT_EQ(config.retention_ms, 12345);

  ASSERT_OK(engine_->Close());
  Reopen();
  EXPECT_EQ(PartitionCount("t"), 5);
  EXPECT_EQ(ReadFrom("t", 4, 0), (std::vector<std::string>{"new-0", "new-1"}));
  ASSERT_OK(engine_->CreatePartitions("t", 6));
  engine_->SimulateCrashForTesting();
  Reopen();
  EXPECT_EQ(PartitionCount("t"), 6);
  EXPECT_TRUE(engine_->OfflinePartitions().empty());
  EXPECT_TRUE(engine_->catalog_changes().empty());
}

TEST_F(AdminOpsTest, CreatePartitionsNeverShrinksAndValidateOnlyChangesNothing) {
  ASSERT_OK(engine_->CreateTopic("t", 3, {}));
  auto same = engine_->CreatePartitions("t", 3);
  ASSERT_FALSE(same.has_value());
  EXPECT_EQ(same.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(same.error().context, "Topic already has 3 partition(s).");
  auto fewer = engine_->CreatePartitions("t", 2);
  ASSERT_FALSE(fewer.has_value());
  EXPECT_EQ(fewer.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(fewer.error().context,
            "The topic t currently has 3 partition(s); 2 would not be an increase.");
  ASSERT_OK(engine_->CreatePartitions("t", 7, ValidateOnly::kYes));
  EXPECT_EQ(PartitionCount("t"), 3);
  ASSERT_OK_AND_ASSIGN(bool exists, fs_.Exists(io::JoinPath(dir_.path(), "t-3")));
  EXPECT_FALSE(exists);
  EXPECT_EQ(engine_->CreatePartitions("nope", 4).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(engine_->CreatePartitions("__consumer_offsets", 4).error().code, ErrorCode::kRefused);
}

TEST_F(AdminOpsTest, AnInterruptedCreatePartitionsNamesNoMissingPartition) {
  ASSERT_OK(engine_->CreateTopic("t", 2, {}));
  ASSERT_OK_AND_ASSIGN(TopicDescription d, engine_->DescribeTopic("t"));
  ASSERT_OK(engine_->Close());
  // What a crash leaves after CreatePartitions("t", 4) made the directory of partition 2 (its
  // partition file says what CreatePartitions writes: the count up to itself) and before it
  // made partition 3's and wrote the catalog.
  const std::string dir = io::JoinPath(dir_.path(), PartitionDirFor("t", 2));
  ASSERT_OK(fs_.CreateDir(dir));
  ASSERT_OK(SavePartitionMeta(fs_, dir, PartitionMeta{"t", d.info.id, 2, d.info.config, 3}));
  Reopen();
  EXPECT_EQ(PartitionCount("t"), 3);  // adopted; nothing offline
  EXPECT_TRUE(engine_->OpenAllPartitions().empty());
  ASSERT_OK(engine_->Append("t", 2, base::AsBytes(MakeBatch(1, "x"))));
  // Growing on from there works, reusing nothing that holds data.
  ASSERT_OK(engine_->CreatePartitions("t", 4));
  EXPECT_EQ(PartitionCount("t"), 4);
  EXPECT_EQ(ReadFrom("t", 2, 0), (std::vector<std::string>{"x-0"}));
}

TEST_F(AdminOpsTest, DeleteRecordsMovesTheLogStartDurably) {
  FillTopic("t");
  ASSERT_OK_AND_ASSIGN(PartitionStats before, engine_->GetPartitionStats("t", 0));
  ASSERT_GT(before.segment_count, 3u);
  ASSERT_OK_AND_ASSIGN(Offset start, engine_->DeleteRecords("t", 0, Offset(35)));
  EXPECT_EQ(start, Offset(35));
  ASSERT_OK_AND_ASSIGN(PartitionStats after, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(after.log_start_offset, Offset(35));
  EXPECT_LT(after.segment_count, before.segment_count);  // whole segments below it are gone
  auto below = engine_->Read("t", 0, Offset(34), 1 << 20);
  ASSERT_FALSE(below.has_value());
  EXPECT_EQ(below.error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(ReadFrom("t", 0, 35), Expected(35));
  // Time lookups start at the log start too.
  ASSERT_OK_AND_ASSIGN(auto first, engine_->OffsetForTimestamp("t", 0, 0));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->offset, Offset(35));
  // At or below the log start: nothing changes; past the HW: OFFSET_OUT_OF_RANGE.
  ASSERT_OK_AND_ASSIGN(Offset again, engine_->DeleteRecords("t", 0, Offset(20)));
  EXPECT_EQ(again, Offset(35));
  EXPECT_EQ(engine_->DeleteRecords("t", 0, Offset(101)).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(engine_->DeleteRecords("__consumer_offsets", 0, Offset(0)).error().code,
            ErrorCode::kRefused);

  // A clean restart (stats read without opening the partition), then an unclean one.
  ASSERT_OK(engine_->Close());
  Reopen();
  ASSERT_OK_AND_ASSIGN(auto topic, engine_->DescribeTopic("t"));
  EXPECT_EQ(topic.partitions[0].log_start_offset, Offset(35));
  EXPECT_EQ(ReadFrom("t", 0, 35), Expected(35));
  engine_->SimulateCrashForTesting();
  Reopen();
  ASSERT_OK_AND_ASSIGN(PartitionStats reopened, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(reopened.log_start_offset, Offset(35));
  EXPECT_EQ(reopened.high_watermark, Offset(100));
  EXPECT_EQ(ReadFrom("t", 0, 35), Expected(35));

  // -1: up to the high watermark; the log is then empty but keeps its offsets.
  ASSERT_OK_AND_ASSIGN(Offset all, engine_->DeleteRecords("t", 0, PartitionLog::kLatest));
  EXPECT_EQ(all, Offset(100));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(1, "later"))));
  EXPECT_EQ(ReadFrom("t", 0, 100), (std::vector<std::string>{"later-0"}));
}

TEST_F(AdminOpsTest, ACrashAfterTheLogStartIsWrittenLosesNothingAboveIt) {
  FillTopic("t");
  ASSERT_OK_AND_ASSIGN(PartitionStats before, engine_->GetPartitionStats("t", 0));
  ASSERT_OK(engine_->Close());
  // The log-start file is written first; a crash before the segments below it go leaves them.
  const std::string part = io::JoinPath(dir_.path(), PartitionDirFor("t", 0));
  ASSERT_OK(WriteLogStartFile(fs_, part, Offset(47)));
  Reopen();
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.log_start_offset, Offset(47));
  EXPECT_EQ(stats.high_watermark, Offset(100));
  EXPECT_EQ(ReadFrom("t", 0, 47), Expected(47));
  // Opening deleted the whole segments below it, and only those.
  EXPECT_LT(stats.segment_count, before.segment_count);
  ASSERT_OK_AND_ASSIGN(auto list, engine_->Read("t", 0, Offset(47), 1));
  ASSERT_FALSE(list.batches.empty());
  EXPECT_LE(list.batches[0].header.base_offset, 47);
  EXPECT_GT(list.batches[0].header.last_offset(), 40);
  // A damaged log-start file takes the partition offline rather than expose deleted records.
  ASSERT_OK(engine_->Close());
  testing::WriteWholeFile(io::JoinPath(part, kLogStartFile), "garbage");
  Reopen();
  auto damaged = engine_->GetPartitionStats("t", 0);
  EXPECT_TRUE(!damaged.has_value() || damaged->offline.has_value());
}

TEST_F(AdminOpsTest, ALogStartPastTheEndMovesBackAndLaterRecordsStay) {
  FillTopic("t");
  ASSERT_OK(engine_->Close());
  // As if a crash after DeleteRecords up to 150 lost the log's tail above 100.
  const std::string part = io::JoinPath(dir_.path(), PartitionDirFor("t", 0));
  ASSERT_OK(WriteLogStartFile(fs_, part, Offset(150)));
  Reopen();
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, engine_->GetPartitionStats("t", 0));
  EXPECT_EQ(stats.log_start_offset, Offset(100));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(3, "after"))));
  ASSERT_OK(engine_->Close());
  Reopen();
  EXPECT_EQ(ReadFrom("t", 0, 100), (std::vector<std::string>{"after-0", "after-1", "after-2"}));
  ASSERT_OK_AND_ASSIGN(std::optional<Offset> on_disk, ReadLogStartFile(fs_, part));
  EXPECT_EQ(on_disk, std::optional<Offset>(Offset(100)));
}

TEST_F(AdminOpsTest, MaxTimestampIsTheFirstRecordWithTheLargestTimestamp) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  ASSERT_OK_AND_ASSIGN(auto empty, engine_->OffsetForMaxTimestamp("t", 0));
  EXPECT_FALSE(empty.has_value());
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(5, "a", 1000))));  // 0-4
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(5, "b", 5000))));  // 5-9: 5004 at 9
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(5, "c", 2000))));  // 10-14
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(1, "d", 5004))));  // 15: a tie
  ASSERT_OK_AND_ASSIGN(auto max, engine_->OffsetForMaxTimestamp("t", 0));
  ASSERT_TRUE(max.has_value());
  EXPECT_EQ(max->offset, Offset(9));
  EXPECT_EQ(max->timestamp, 5004);
  ASSERT_OK(engine_->DeleteRecords("t", 0, Offset(10)));
  ASSERT_OK_AND_ASSIGN(auto after, engine_->OffsetForMaxTimestamp("t", 0));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->offset, Offset(15));
  EXPECT_EQ(after->timestamp, 5004);
}

}  // namespace
}  // namespace sluice::engine

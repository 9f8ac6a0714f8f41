// InspectDataDir classifies each kind of damage exactly as Engine::Open then treats it: each test
// damages real files, inspects (which must change nothing), then opens the engine and checks that
// it did what the inspection said.

#include "engine/inspect.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/engine.h"
#include "engine/producer_state.h"
#include "engine/repair.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

namespace fs = std::filesystem;
using base::ErrorCode;
using base::Offset;
using testing::MakeBatch;

class InspectTest : public testing::EngineTestBase {
 protected:
  void Close() {
    ASSERT_OK(engine_->Close());
    engine_.reset();
  }
  void Fill(const std::string& topic, int32_t partition, int batches) {
    for (int i = 0; i < batches; ++i) {
      ASSERT_OK(engine_->Append(topic, partition, base::AsBytes(MakeBatch(10, "v"))));
    }
  }
  std::string Dir(const std::string& topic, int32_t p) {
    return dir_.Join(topic + "-" + std::to_string(p));
  }
  std::string Segment0(const std::string& topic, int32_t p) {
    return Dir(topic, p) + "/00000000000000000000.log";
  }
  // Inspects, checking that inspecting changed no byte of the directory.
  DataDirInspection Inspect() {
    const auto before = Tree();
    auto inspected = InspectDataDir(fs_, dir_.path());
    EXPECT_TRUE(inspected.has_value()) << inspected.error().ToString();
    EXPECT_EQ(Tree(), before) << "inspecting wrote something";
    return inspected.has_value() ? *inspected : DataDirInspection{};
  }
  std::map<std::string, std::string> Tree() {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
      out[e.path().string()] = e.is_regular_file() ? testing::ReadWholeFile(e.path().string()) : "";
    }
    return out;
  }
  static const PartitionInspection& Part(const DataDirInspection& in, const std::string& topic,
                                         int32_t p) {
    for (const auto& part : in.partitions) {
      if (part.topic == topic && part.partition == p) return part;
    }
    ADD_FAILURE() << "no partition " << topic << "-" << p;
    static const PartitionInspection kNone;
    return kNone;
  }
  // The first finding of `part` with this verdict.
  static const Finding* FindingOf(const PartitionInspection& part, Verdict verdict) {
    for (const auto& f : part.findings) {
      if (f.verdict == verdict) return &f;
    }
    return nullptr;
  }
};

TEST_F(InspectTest, CleanlyClosedDirectoryIsHealthy) {
  ASSERT_OK(engine_->CreateTopic("ev", 2, {{"segment.bytes", "4096"}}));
  Fill("ev", 0, 100);
  Fill("ev", 1, 1);
  Close();
  const auto in = Inspect();
  EXPECT_TRUE(in.healthy()) << VerdictName(in.verdict);
  EXPECT_EQ(in.catalog.source, CatalogPlan::Source::kCurrent);
  ASSERT_EQ(in.partitions.size(), 2u);
  EXPECT_GT(Part(in, "ev", 0).segments->segments, 1);
  EXPECT_EQ(Part(in, "ev", 0).segments->next_offset, Offset(1000));
}

// Above the recovery point, an invalid frame is a torn write: open truncates exactly there.
TEST_F(InspectTest, TornTailAboveRecoveryPointIsWhereOpenTruncates) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  Fill("ev", 0, 3);
  ASSERT_OK(engine_->Flush());
  Fill("ev", 0, 3);
  engine_->SimulateCrashForTesting();
  engine_.reset();
  std::string bytes = testing::ReadWholeFile(Segment0("ev", 0));
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == '\0') --end;
  bytes[end - 5] ^= 0x01;
  testing::WriteWholeFile(Segment0("ev", 0), bytes);

  const auto in = Inspect();
  EXPECT_FALSE(in.healthy());
  const auto& part = Part(in, "ev", 0);
  EXPECT_EQ(part.verdict, Verdict::kOpenRepairs);
  const Finding* torn = FindingOf(part, Verdict::kOpenRepairs);
  ASSERT_NE(torn, nullptr);
  ASSERT_TRUE(torn->position.has_value());
  EXPECT_FALSE(part.cut.has_value());

  Reopen();
  const auto reports = engine_->recovery_reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].truncated);
  EXPECT_EQ(reports[0].truncated_at.value(), *torn->position);
  EXPECT_EQ(reports[0].first_lost_offset, Offset(50));
  EXPECT_NE(torn->action.find("offset 50 on"), std::string::npos) << torn->action;
}

// Below the recovery point the same damage is offline, untouched; the offsets the inspection
// names are those the engine's error names.
TEST_F(InspectTest, ShortFileBelowRecoveryPointIsOfflineWithTheOffsetsOpenNames) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {{"flush", "sync"}}));
  Fill("ev", 0, 50);
  Close();
  std::string bytes = testing::ReadWholeFile(Segment0("ev", 0));
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == '\0') --end;
  bytes.resize(end / 2);
  testing::WriteWholeFile(Segment0("ev", 0), bytes);

  const auto in = Inspect();
  const auto& part = Part(in, "ev", 0);
  EXPECT_EQ(part.verdict, Verdict::kOffline);
  ASSERT_TRUE(part.cut.has_value());
  EXPECT_EQ(part.cut->lost_to, Offset(500));
  EXPECT_FALSE(part.cut->more_may_be_lost);
  EXPECT_EQ(part.cut->tail.end.value(), part.cut->keep_bytes);

  Reopen();
  auto read = engine_->Read("ev", 0, Offset(0), 1 << 20);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kOffline);
  // Open names the end of the range (it does not scan a short file to find its start).
  EXPECT_NE(read.error().context.find(", 500)"), std::string::npos) << read.error().context;
  EXPECT_GT(part.cut->lost_from, Offset(0));
  EXPECT_LT(part.cut->lost_from, Offset(500));
}

// A cleanly closed segment is not scanned at open (its index covers it): the damage shows only
// when read. The inspection finds it all the same, and repair cuts there.
TEST_F(InspectTest, DamageInACleanlyClosedSegmentIsFoundAndCut) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  Fill("ev", 0, 6);
  Close();
  std::string bytes = testing::ReadWholeFile(Segment0("ev", 0));
  bytes[bytes.size() / 2] ^= 0x02;
  testing::WriteWholeFile(Segment0("ev", 0), bytes);

  const auto in = Inspect();
  const auto& part = Part(in, "ev", 0);
  EXPECT_EQ(part.verdict, Verdict::kOffline);
  ASSERT_TRUE(part.cut.has_value());
  const Offset lost_from = part.cut->lost_from;
  EXPECT_EQ(part.cut->lost_to, Offset(60));
  const Finding* found = FindingOf(part, Verdict::kOffline);
  ASSERT_NE(found, nullptr);
  EXPECT_NE(
      found->action.find("reads from offset " + std::to_string(lost_from.value()) + " on fail"),
      std::string::npos)
      << found->action;

  Reopen();
  auto read = engine_->Read("ev", 0, lost_from, 1 << 20);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kCorruption);
  Close();

  RepairOptions o;
  o.data_dir = dir_.path();
  o.fs = &fs_;
  o.clock = &clock_;
  o.mode = RepairMode::kExecute;
  ASSERT_OK_AND_ASSIGN(auto repaired, Repair(o));
  ASSERT_EQ(repaired.actions.size(), 1u);
  ASSERT_TRUE(repaired.actions[0].lost.has_value());
  EXPECT_EQ(repaired.actions[0].lost->first, lost_from);
  EXPECT_EQ(repaired.actions[0].lost->second, Offset(60));
  ASSERT_TRUE(repaired.after.has_value());
  EXPECT_TRUE(repaired.after->healthy()) << VerdictName(repaired.after->verdict);
  Reopen();
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0).size(), static_cast<size_t>(lost_from.value()));
}

// A damaged producer snapshot: verify names it, open works around it (an older snapshot or a
// replay) and keeps it, repair moves it aside; a snapshot past the log's end is moved aside by
// open, and verify says so first.
TEST_F(InspectTest, DamagedProducerSnapshotIsNamedKeptByOpenAndMovedAsideByRepair) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  Fill("ev", 0, 3);
  Close();
  const std::string snapshot = Dir("ev", 0) + "/00000000000000000030.snapshot";
  std::string bytes = testing::ReadWholeFile(snapshot);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x04;
  testing::WriteWholeFile(snapshot, bytes);
  const std::string beyond = Dir("ev", 0) + "/00000000000000000099.snapshot";
  testing::WriteWholeFile(beyond, EncodeProducerSnapshot(ProducerSnapshot{Offset(99), {}}));

  auto in = Inspect();
  auto part = Part(in, "ev", 0);
  EXPECT_EQ(part.verdict, Verdict::kOpenRepairs);  // the snapshot past the end; the other damaged
  EXPECT_FALSE(in.healthy());
  ASSERT_EQ(part.damaged_producer_snapshots, std::vector<std::string>{snapshot});
  bool beyond_found = false;
  for (const auto& f : part.findings) {
    if (f.path == beyond) beyond_found = f.verdict == Verdict::kOpenRepairs;
  }
  EXPECT_TRUE(beyond_found);

  Reopen();
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0).size(), 30u);
  Close();
  EXPECT_EQ(testing::ReadWholeFile(snapshot), bytes);
  EXPECT_FALSE(fs::exists(beyond));
  part = Part(Inspect(), "ev", 0);
  EXPECT_EQ(part.verdict, Verdict::kDamaged);

  RepairOptions o;
  o.data_dir = dir_.path();
  o.fs = &fs_;
  o.clock = &clock_;
  o.mode = RepairMode::kExecute;
  ASSERT_OK_AND_ASSIGN(auto repaired, Repair(o));
  ASSERT_TRUE(repaired.after.has_value());
  EXPECT_TRUE(repaired.after->healthy()) << VerdictName(repaired.after->verdict);
  // The engine repair opens wrote a good snapshot in its place at its close.
  EXPECT_NE(testing::ReadWholeFile(snapshot), bytes);
  bool kept = false;
  for (const auto& e : fs::directory_iterator(Dir("ev", 0))) {
    const std::string name = e.path().filename().string();
    if (name.rfind("00000000000000000030.snapshot.quarantine-", 0) == 0) {
      kept = testing::ReadWholeFile(e.path().string()) == bytes;
    }
  }
  EXPECT_TRUE(kept);
}

// Without a recovery point an invalid frame cannot be told from a torn write: offline, as open.
TEST_F(InspectTest, InvalidFrameWithoutRecoveryPointIsOffline) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  Fill("ev", 0, 4);
  engine_->SimulateCrashForTesting();
  engine_.reset();
  std::string bytes = testing::ReadWholeFile(Segment0("ev", 0));
  bytes[segment::format::kSegmentHeaderSize + 30] ^= 0x08;
  testing::WriteWholeFile(Segment0("ev", 0), bytes);
  ASSERT_TRUE(fs::remove(Dir("ev", 0) + "/" + kRecoveryPointFile));

  const auto in = Inspect();
  EXPECT_EQ(Part(in, "ev", 0).verdict, Verdict::kOffline);
  ASSERT_TRUE(Part(in, "ev", 0).cut.has_value());
  EXPECT_EQ(Part(in, "ev", 0).cut->lost_from, Offset(0));
  Reopen();
  EXPECT_EQ(engine_->OfflinePartitions().size(), 1u);
}

// A missing recovery point over a whole log is repaired by open: it verifies and rewrites it.
TEST_F(InspectTest, MissingRecoveryPointOverAWholeLogIsRewrittenByOpen) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  Fill("ev", 0, 4);
  Close();
  ASSERT_TRUE(fs::remove(Dir("ev", 0) + "/" + kRecoveryPointFile));
  const auto in = Inspect();
  EXPECT_EQ(Part(in, "ev", 0).verdict, Verdict::kOpenRepairs);
  Reopen();
  EXPECT_EQ(testing::ReadValues(*engine_, "ev", 0).size(), 40u);
  Close();
  EXPECT_TRUE(Inspect().healthy());
}

// The recovery point names a segment whose file is gone: offline, and the cut loses the offsets
// the recovery point vouched for.
TEST_F(InspectTest, RecoveryPointInAMissingSegmentIsOffline) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {{"segment.bytes", "4096"}}));
  Fill("ev", 0, 100);
  Close();
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(Dir("ev", 0))) {
    if (e.path().extension() == ".log") logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  ASSERT_GE(logs.size(), 3u);
  fs::rename(logs.back(), dir_.Join("moved"));

  const auto in = Inspect();
  const auto& part = Part(in, "ev", 0);
  EXPECT_EQ(part.verdict, Verdict::kOffline);
  ASSERT_TRUE(part.cut.has_value());
  EXPECT_EQ(part.cut->lost_to, Offset(1000));
  Reopen();
  auto read = engine_->Read("ev", 0, Offset(0), 1 << 20);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kOffline);
}

// With the catalog gone, the inspection plans the very catalog that open then rebuilds.
TEST_F(InspectTest, MissingCatalogPlanIsTheCatalogOpenRebuilds) {
  ASSERT_OK(engine_->CreateTopic("a", 3, {{"retention.ms", "-1"}}));
  ASSERT_OK(engine_->CreateTopic("b", 1, {}));
  Close();
  ASSERT_TRUE(fs::remove(dir_.Join(kCatalogFile)));
  const auto in = Inspect();
  EXPECT_EQ(in.catalog.source, CatalogPlan::Source::kMissing);
  EXPECT_EQ(in.verdict, Verdict::kOpenRepairs);
  Reopen();
  const auto topics = engine_->ListTopics();
  ASSERT_EQ(topics.size(), in.catalog.catalog.size());
  for (const auto& t : topics) {
    const TopicInfo& planned = in.catalog.catalog.at(t.name);
    EXPECT_EQ(planned.partitions, t.partitions) << t.name;
    EXPECT_EQ(planned.id, t.id) << t.name;
    EXPECT_EQ(ConfigToMap(planned.config), ConfigToMap(t.config)) << t.name;
  }
  EXPECT_EQ(engine_->catalog_changes(), in.catalog.changes);
}

TEST_F(InspectTest, CatalogOfANewerVersionIsRefusedByBothAndRepairChangesNothing) {
  ASSERT_OK(engine_->CreateTopic("ev", 1, {}));
  Close();
  // A catalog from the future (a legacy-format file naming a version this build does not know).
  testing::WriteWholeFile(dir_.Join(kLegacyCatalogFile), R"({"version": 7, "topics": {}})");
  ASSERT_TRUE(fs::remove(dir_.Join(kCatalogFile)));
  const auto in = Inspect();
  EXPECT_EQ(in.verdict, Verdict::kRefused);
  EXPECT_EQ(in.catalog.source, CatalogPlan::Source::kNewer);
  EXPECT_EQ(in.partitions.size(), 1u) << "the directories are inspected all the same";
  EXPECT_FALSE(Engine::Open(testing::TestEngineOptions(dir_.path(), &fs_, &clock_)).has_value());
  RepairOptions o;
  o.data_dir = dir_.path();
  o.fs = &fs_;
  o.clock = &clock_;
  o.mode = RepairMode::kExecute;
  const auto before = Tree();
  auto repaired = Repair(o);
  ASSERT_FALSE(repaired.has_value());
  EXPECT_EQ(repaired.error().code, ErrorCode::kRefused);
  EXPECT_EQ(Tree(), before);
}

}  // namespace
}  // namespace sluice::engine

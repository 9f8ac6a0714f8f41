// Replay snapshots (engine/snapshot.h): save/list round trip, keep-N pruning, damaged files skipped
// with a warning, and Rebuild restoring the newest usable snapshot and replaying only the tail.

#include "engine/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "segment/base/checksum.h"
#include "segment/base/log.h"
#include "segment/io/posix_fs.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using testing::MakeBatch;
using testing::ReadWholeFile;
using testing::WriteWholeFile;

constexpr char kTopic[] = "events";
constexpr int64_t kRecordsPerPartition = 40;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base::SetLogSink([this](base::LogLevel level, std::string_view m) {
      if (level == base::LogLevel::kWarning) warnings_.emplace_back(m);
    });
    Reopen();
    // Two partitions of 40 records each, in batches of 10.
    ASSERT_OK(engine_->CreateTopic(kTopic, 2, {}));
    for (int32_t p = 0; p < 2; ++p) {
      for (int b = 0; b < 4; ++b) {
        ASSERT_OK(
            engine_->Append(kTopic, p, base::AsBytes(MakeBatch(10, "p" + std::to_string(p)))));
      }
    }
  }
  void TearDown() override {
    engine_.reset();
    base::SetLogSink(nullptr);
  }

  void Reopen() {
    engine_.reset();
    auto o = testing::TestEngineOptions(dir_.path(), &fs_, &clock_);
    o.default_topic_config.segment_bytes = 1 << 20;
    engine_ = testing::OpenTestEngine(o);
    ASSERT_NE(engine_, nullptr);
  }

  Result<SnapshotInfo> Save(const std::string& name, int64_t offset, const std::string& blob,
                            int keep = 3) {
    return SaveSnapshot(*engine_, name, kTopic, {{0, Offset(offset)}, {1, Offset(offset)}},
                        base::AsBytes(blob), keep);
  }

  // The sequences ListSnapshots returns, in its order.
  std::vector<uint64_t> Sequences(const std::string& name) {
    std::vector<uint64_t> out;
    auto list = ListSnapshots(*engine_, name);
    EXPECT_TRUE(list.has_value()) << list.error().ToString();
    if (list) {
      for (const auto& s : *list) out.push_back(s.sequence);
    }
    return out;
  }

  // Snapshot files in the directory of `name`.
  std::set<std::string> Files(const std::string& name) {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Join("snapshots/" + name))) {
      out.insert(e.path().filename().string());
    }
    return out;
  }

  bool Warned(const std::string& what) {
    for (const auto& w : warnings_) {
      if (w.find(what) != std::string::npos) return true;
    }
    return false;
  }

  struct Rebuilt {
    RebuildResult result;
    std::vector<std::string> restored;                // blobs passed to restore, in order
    std::vector<std::pair<int32_t, int64_t>> folded;  // (partition, offset) of records replayed
  };

  Result<Rebuilt> RunRebuild(const std::string& name, ReplayTo to = ReplayTo::Now()) {
    Rebuilt out;
    ReplayOptions options;
    options.topic = kTopic;
    options.to = to;
    // Ignored by Rebuild: a snapshot decides where each partition starts.
    options.start_offsets = {{0, Offset(3)}};
    auto r = Rebuild(
        *engine_, name, options,
        [&](Bytes blob) -> Status {
          out.restored.emplace_back(base::AsString(blob));
          return {};
        },
        [&](int32_t partition, const segment::RecordView& rec) -> Status {
          out.folded.emplace_back(partition, rec.offset);
          return {};
        });
    if (!r) return r.error();
    out.result = std::move(r).value();
    return out;
  }

  // The (partition, offset) pairs of a replay of [from, to) in both partitions.
  static std::vector<std::pair<int32_t, int64_t>> Range(int64_t from, int64_t to) {
    std::vector<std::pair<int32_t, int64_t>> out;
    for (int32_t p = 0; p < 2; ++p) {
      for (int64_t o = from; o < to; ++o) out.emplace_back(p, o);
    }
    return out;
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> warnings_;
};

TEST_F(SnapshotTest, ListsSavedSnapshotsNewestFirst) {
  const int64_t t0 = clock_.NowMs();
  ASSERT_OK_AND_ASSIGN(SnapshotInfo first, Save("state", 10, "one"));
  clock_.AdvanceMs(1000);
  ASSERT_OK_AND_ASSIGN(SnapshotInfo second,
                       SaveSnapshot(*engine_, "state", kTopic, {{0, Offset(20)}, {1, Offset(17)}},
                                    base::AsBytes(std::string("second blob")), 3));
  EXPECT_EQ(first.sequence, 0u);
  EXPECT_EQ(second.sequence, 1u);
  EXPECT_EQ(second.created_ms, t0 + 1000);
  EXPECT_EQ(second.blob_bytes, 11u);
  EXPECT_TRUE(std::filesystem::exists(second.path)) << second.path;

  Reopen();  // what is listed comes from the files
  ASSERT_OK_AND_ASSIGN(auto list, ListSnapshots(*engine_, "state"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "state");
  EXPECT_EQ(list[0].sequence, 1u);
  EXPECT_EQ(list[0].topic, kTopic);
  EXPECT_EQ(list[0].offsets, (std::map<int32_t, Offset>{{0, Offset(20)}, {1, Offset(17)}}));
  EXPECT_EQ(list[0].created_ms, t0 + 1000);
  EXPECT_EQ(list[0].blob_bytes, 11u);
  EXPECT_EQ(list[0].path, second.path);
  EXPECT_EQ(list[1].sequence, 0u);
  EXPECT_EQ(list[1].offsets, (std::map<int32_t, Offset>{{0, Offset(10)}, {1, Offset(10)}}));
  EXPECT_EQ(list[1].created_ms, t0);
  ASSERT_OK_AND_ASSIGN(std::string blob, LoadSnapshotBlob(*engine_, list[0]));
  EXPECT_EQ(blob, "second blob");
  ASSERT_OK_AND_ASSIGN(blob, LoadSnapshotBlob(*engine_, list[1]));
  EXPECT_EQ(blob, "one");
  EXPECT_TRUE(warnings_.empty());

  // Names are separate; an unknown name has no snapshots.
  ASSERT_OK(Save("other", 5, "x"));
  EXPECT_EQ(Sequences("other"), std::vector<uint64_t>{0});
  EXPECT_EQ(Sequences("state"), (std::vector<uint64_t>{1, 0}));
  EXPECT_TRUE(Sequences("never-saved").empty());
}

TEST_F(SnapshotTest, KeepsOnlyTheNewestN) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(Save("s", i, "blob" + std::to_string(i), 2));
  EXPECT_EQ(Sequences("s"), (std::vector<uint64_t>{4, 3}));
  EXPECT_EQ(Files("s"),
            (std::set<std::string>{"00000000000000000003.snap", "00000000000000000004.snap"}));
  // Sequences keep increasing after pruning, and a smaller keep prunes further.
  ASSERT_OK_AND_ASSIGN(SnapshotInfo info, Save("s", 6, "latest", 1));
  EXPECT_EQ(info.sequence, 5u);
  EXPECT_EQ(Sequences("s"), std::vector<uint64_t>{5});
  EXPECT_EQ(Files("s").size(), 1u);
  // The default keeps three.
  for (int i = 0; i < 4; ++i) ASSERT_OK(Save("s", 7 + i, "b"));
  EXPECT_EQ(Sequences("s"), (std::vector<uint64_t>{9, 8, 7}));
  EXPECT_EQ(Save("s", 1, "b", 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Sequences("s"), (std::vector<uint64_t>{9, 8, 7}));
}

TEST_F(SnapshotTest, RestoreReceivesExactlyTheSavedBlob) {
  auto rng = testing::SeededRng();
  std::string blob(std::uniform_int_distribution<size_t>(1, 300'000)(rng), '\0');
  for (char& c : blob) c = static_cast<char>(rng());
  blob[0] = '\0';  // binary, NULs included
  ASSERT_OK(Save("s", 30, blob));
  ASSERT_OK_AND_ASSIGN(Rebuilt r, RunRebuild("s"));
  ASSERT_EQ(r.restored.size(), 1u);
  EXPECT_EQ(r.restored[0].size(), blob.size());
  EXPECT_TRUE(r.restored[0] == blob);
  ASSERT_TRUE(r.result.snapshot.has_value());
  EXPECT_EQ(r.result.snapshot->sequence, 0u);
  // Only the tail after the snapshot is replayed.
  EXPECT_EQ(r.folded, Range(30, kRecordsPerPartition));
  EXPECT_EQ(r.result.stats.records, 2 * (kRecordsPerPartition - 30));
  EXPECT_EQ(r.result.stats.start_offsets,
            (std::map<int32_t, Offset>{{0, Offset(30)}, {1, Offset(30)}}));

  // An empty blob round-trips too.
  ASSERT_OK(Save("s", 35, ""));
  ASSERT_OK_AND_ASSIGN(r, RunRebuild("s"));
  ASSERT_EQ(r.restored.size(), 1u);
  EXPECT_TRUE(r.restored[0].empty());
  EXPECT_EQ(r.folded, Range(35, kRecordsPerPartition));
}

TEST_F(SnapshotTest, WithoutAnySnapshotRebuildReplaysFromTheStart) {
  ASSERT_OK_AND_ASSIGN(Rebuilt r, RunRebuild("none"));
  EXPECT_TRUE(r.restored.empty());
  EXPECT_FALSE(r.result.snapshot.has_value());
  EXPECT_EQ(r.folded, Range(0, kRecordsPerPartition));
  EXPECT_EQ(r.result.stats.start_offsets,
            (std::map<int32_t, Offset>{{0, Offset(0)}, {1, Offset(0)}}));
}

TEST_F(SnapshotTest, RebuildToAnOffsetUsesTheNewestSnapshotAtOrBeforeIt) {
  ASSERT_OK(Save("s", 10, "at10", 10));
  ASSERT_OK(Save("s", 20, "at20", 10));
  ASSERT_OK(Save("s", 30, "at30", 10));
  // Newest of all, but partition 1 is beyond every target below 38.
  ASSERT_OK(SaveSnapshot(*engine_, "s", kTopic, {{0, Offset(12)}, {1, Offset(38)}},
                         base::AsBytes(std::string("mixed")), 10));
  // A snapshot of another topic under the same name is never used for this one.
  ASSERT_OK(engine_->CreateTopic("elsewhere", 2, {}));
  ASSERT_OK(SaveSnapshot(*engine_, "s", "elsewhere", {{0, Offset(0)}, {1, Offset(0)}},
                         base::AsBytes(std::string("elsewhere")), 10));

  struct Case {
    int64_t to;
    std::string blob;  // empty: none
    int64_t from;
  };
  for (const Case& c : std::vector<Case>{{25, "at20", 20},
                                         {20, "at20", 20},
                                         {19, "at10", 10},
                                         {10, "at10", 10},
                                         {9, "", 0},
                                         {35, "at30", 30},
                                         {38, "mixed", -1}}) {
    SCOPED_TRACE("to " + std::to_string(c.to));
    ASSERT_OK_AND_ASSIGN(Rebuilt r, RunRebuild("s", ReplayTo::Offset(c.to)));
    if (c.blob.empty()) {
      EXPECT_TRUE(r.restored.empty());
      EXPECT_FALSE(r.result.snapshot.has_value());
    } else {
      EXPECT_EQ(r.restored, std::vector<std::string>{c.blob});
      ASSERT_TRUE(r.result.snapshot.has_value());
    }
    if (c.from >= 0) {
      EXPECT_EQ(r.folded, Range(c.from, c.to));
    } else {
      // The mixed snapshot: partition 0 from 12, partition 1 from 38, both to 38.
      std::vector<std::pair<int32_t, int64_t>> want;
      for (int64_t o = 12; o < 38; ++o) want.emplace_back(0, o);
      EXPECT_EQ(r.folded, want);
    }
    EXPECT_EQ(r.result.stats.end_offsets,
              (std::map<int32_t, Offset>{{0, Offset(c.to)}, {1, Offset(c.to)}}));
  }
  // Up to now: the newest snapshot for this topic (the mixed one).
  ASSERT_OK_AND_ASSIGN(Rebuilt r, RunRebuild("s"));
  EXPECT_EQ(r.restored, std::vector<std::string>{"mixed"});
  EXPECT_EQ(r.folded.size(), 28u + 2u);
}

TEST_F(SnapshotTest, RebuildOfSomePartitionsNeedsOnlyTheirOffsets) {
  ASSERT_OK(SaveSnapshot(*engine_, "s", kTopic, {{1, Offset(25)}},
                         base::AsBytes(std::string("p1 only")), 3));
  std::vector<std::string> restored;
  std::vector<int64_t> folded;
  ReplayOptions options;
  options.topic = kTopic;
  options.partitions = {1};
  auto r = Rebuild(
      *engine_, "s", options,
      [&](Bytes blob) -> Status {
        restored.emplace_back(base::AsString(blob));
        return {};
      },
      [&](int32_t partition, const segment::RecordView& rec) -> Status {
        EXPECT_EQ(partition, 1);
        folded.push_back(rec.offset);
        return {};
      });
  ASSERT_OK(r);
  EXPECT_EQ(restored, std::vector<std::string>{"p1 only"});
  ASSERT_EQ(folded.size(), 15u);
  EXPECT_EQ(folded.front(), 25);
  // For both partitions the snapshot does not qualify (no offset for partition 0).
  ASSERT_OK_AND_ASSIGN(Rebuilt all, RunRebuild("s"));
  EXPECT_TRUE(all.restored.empty());
  EXPECT_EQ(all.folded, Range(0, kRecordsPerPartition));
}

TEST_F(SnapshotTest, RestoreErrorsEndTheRebuild) {
  ASSERT_OK(Save("s", 10, "x"));
  ReplayOptions options;
  options.topic = kTopic;
  int folded = 0;
  auto r = Rebuild(
      *engine_, "s", options,
      [](Bytes) -> Status { return base::MakeError(ErrorCode::kCorruption, "bad state"); },
      [&](int32_t, const segment::RecordView&) -> Status {
        ++folded;
        return {};
      });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(folded, 0);
}

TEST_F(SnapshotTest, InvalidNamesAreInvalidArgument) {
  for (const std::string name : {"", ".", "..", "a/b", "../escape", "with space", "x\ny"}) {
    SCOPED_TRACE("name '" + name + "'");
    EXPECT_EQ(Save(name, 1, "b").error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(ListSnapshots(*engine_, name).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(RunRebuild(name).error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("escape")));
  EXPECT_EQ(Save(std::string(250, 'n'), 1, "b").error().code, ErrorCode::kInvalidArgument);
  ASSERT_OK(Save("Good_name-1.v2", 1, "b"));
}

// How a snapshot file is damaged, and the reason the warning gives.
struct Damage {
  const char* name;
  const char* reason;
  std::function<void(std::string&)> apply;
};

// Recomputes the trailing XXH3-64 so that only the damage in the body is seen.
void Reseal(std::string& file) {
  const uint64_t h = base::Xxh3(base::AsBytes(file).first(file.size() - 8));
  base::StoreLE<uint64_t>(reinterpret_cast<std::byte*>(file.data() + file.size() - 8), h);
}

// Layout: magic 8, version 2, reserved 2, count 4, created 8, topic length 2, topic,
// count x (partition 4, offset 8), blob length 8, blob, xxh3 8.
const std::vector<Damage>& Damages() {
  static const std::vector<Damage> kDamages = {
      {"FlippedBlobByte", "checksum mismatch", [](std::string& f) { f[f.size() - 12] ^= 0x20; }},
      {"FlippedOffsetByte", "checksum mismatch", [](std::string& f) { f[26 + 6 + 4] ^= 1; }},
      {"FlippedChecksumByte", "checksum mismatch", [](std::string& f) { f.back() ^= 0x80; }},
      {"FlippedMagic", "bad magic", [](std::string& f) { f[0] ^= 1; }},
      {"TruncatedToHalf", "checksum mismatch", [](std::string& f) { f.resize(f.size() / 2); }},
      {"TruncatedByOneByte", "checksum mismatch", [](std::string& f) { f.pop_back(); }},
      {"TruncatedToTheMagic", "too short", [](std::string& f) { f.resize(8); }},
      {"Empty", "too short", [](std::string& f) { f.clear(); }},
      {"UnknownVersion", "snapshot version 2",
       [](std::string& f) {
         f[8] = 2;
         Reseal(f);
       }},
      {"TopicLengthPastTheEnd", "truncated header",
       [](std::string& f) {
         f[24] = '\xff';
         f[25] = '\x7f';
         Reseal(f);
       }},
      {"PartitionCountPastTheEnd", "truncated header",
       [](std::string& f) {
         f[14] = 1;  // count += 2^16
         Reseal(f);
       }},
      {"BlobLengthMismatch", "blob length does not match",
       [](std::string& f) {
         f[f.size() - 8 - 16 - 8] += 1;  // the blob below is 16 bytes
         Reseal(f);
       }},
  };
  return kDamages;
}

class SnapshotDamageTest : public SnapshotTest, public ::testing::WithParamInterface<size_t> {
 protected:
  const Damage& damage() const { return Damages()[GetParam()]; }

  // Saves the older snapshot "s" (offsets 10, blob "older snapshot!!") and a newer one (offsets
  // 30), damages the newer one, and returns its path.
  std::string SaveTwoAndDamageTheNewer() {
    EXPECT_OK(Save("s", 10, "older snapshot!!"));
    auto newer = Save("s", 30, "newer snapshot!!");
    EXPECT_TRUE(newer.has_value());
    if (!newer) return "";
    std::string file = ReadWholeFile(newer->path);
    damage().apply(file);
    WriteWholeFile(newer->path, file);
    warnings_.clear();
    return newer->path;
  }
};

TEST_P(SnapshotDamageTest, ListSkipsTheDamagedSnapshotWithAWarning) {
  const std::string path = SaveTwoAndDamageTheNewer();
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(Sequences("s"), std::vector<uint64_t>{0});
  EXPECT_TRUE(Warned(path)) << ::testing::PrintToString(warnings_);
  EXPECT_TRUE(Warned(damage().reason)) << ::testing::PrintToString(warnings_);
  // Loading it directly fails too.
  SnapshotInfo info;
  info.path = path;
  EXPECT_FALSE(LoadSnapshotBlob(*engine_, info).has_value());
}

TEST_P(SnapshotDamageTest, RebuildFallsBackToTheOlderSnapshot) {
  ASSERT_FALSE(SaveTwoAndDamageTheNewer().empty());
  ASSERT_OK_AND_ASSIGN(Rebuilt r, RunRebuild("s"));
  EXPECT_EQ(r.restored, std::vector<std::string>{"older snapshot!!"});
  ASSERT_TRUE(r.result.snapshot.has_value());
  EXPECT_EQ(r.result.snapshot->sequence, 0u);
  EXPECT_EQ(r.folded, Range(10, kRecordsPerPartition));
  EXPECT_TRUE(Warned(damage().reason)) << ::testing::PrintToString(warnings_);
}

TEST_P(SnapshotDamageTest, RebuildReplaysFromTheStartWhenNoSnapshotIsValid) {
  const std::string path = SaveTwoAndDamageTheNewer();
  ASSERT_FALSE(path.empty());
  // Damage the older one the same way: no valid snapshot is left.
  const std::string older = io::JoinPath(io::DirName(path), "00000000000000000000.snap");
  std::string file = ReadWholeFile(older);
  damage().apply(file);
  WriteWholeFile(older, file);
  ASSERT_OK_AND_ASSIGN(Rebuilt r, RunRebuild("s"));
  EXPECT_TRUE(r.restored.empty());
  EXPECT_FALSE(r.result.snapshot.has_value());
  EXPECT_EQ(r.folded, Range(0, kRecordsPerPartition));
  EXPECT_TRUE(Warned(older)) << ::testing::PrintToString(warnings_);
  // A later save still gets a new sequence and is used.
  ASSERT_OK(Save("s", 5, "fresh"));
  ASSERT_OK_AND_ASSIGN(r, RunRebuild("s"));
  EXPECT_EQ(r.restored, std::vector<std::string>{"fresh"});
  EXPECT_EQ(r.result.snapshot->sequence, 2u);
}

INSTANTIATE_TEST_SUITE_P(Damages, SnapshotDamageTest, ::testing::Range<size_t>(0, 12),
                         [](const ::testing::TestParamInfo<size_t>& param) {
                           return std::string(Damages()[param.param].name);
                         });

}  // namespace
}  // namespace sluice::engine

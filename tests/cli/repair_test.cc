// `sluice verify` and `sluice repair` with the real binary, done as an operator would: damage a
// data directory the way disks, copies and people do, check that verify says exactly what is
// wrong, that a dry run changes nothing, that an execution keeps every byte it cuts and says which
// offsets were lost, and that afterwards verify exits 0 and the partition reads and appends on.

#include <signal.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/producer_state.h"
#include "engine/snapshot.h"
#include "tests/support/sluice_process.h"
#include "tests/support/test_util.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Lines;
using testing::ReadWholeFile;
using testing::RunResult;
using testing::RunSluice;
using testing::TempDir;
using testing::WriteWholeFile;

constexpr char kFirstSegment[] = "00000000000000000000.log";

// Every file under `dir` (relative path -> contents): a dry run must leave it exactly as it was.
std::map<std::string, std::string> Tree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).string();
    out[rel] = e.is_regular_file() ? ReadWholeFile(e.path().string()) : "<dir>";
  }
  return out;
}

// One past the last non-zero byte: where the written data of a (preallocated) segment ends.
size_t DataEnd(const std::string& bytes) {
  size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == '\0') --end;
  return end;
}

// The one file in `dir` whose name starts with `prefix` and holds ".quarantine-".
std::string QuarantineOf(const std::string& dir, const std::string& prefix) {
  std::string found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix + ".quarantine-", 0) == 0) {
      EXPECT_TRUE(found.empty()) << "two quarantine files for " << prefix;
      found = e.path().string();
    }
  }
  return found;
}

class RepairTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  RunResult Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--data-dir", data_});
    return RunSluice(args, input);
  }
  RunResult Ok(std::vector<std::string> args, const std::string& input = "") {
    RunResult r = Run(args, input);
    EXPECT_EQ(r.exit_code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
    return r;
  }
  // `sluice verify --output json`, expecting exit code `code`.
  json Verify(int code) {
    RunResult r = Run({"verify", "--output", "json"});
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    return json::parse(r.out);
  }
  // Produces "<prefix><i>" for i in [0, n) to partition `p`, one line each.
  std::vector<std::string> Produce(const std::string& topic, int32_t p, int n,
                                   const std::string& prefix) {
    std::string input;
    std::vector<std::string> values;
    for (int i = 0; i < n; ++i) {
      values.push_back(prefix + std::to_string(i));
      input += values.back() + "\n";
    }
    Ok({"produce", topic, "--partition", std::to_string(p)}, input);
    return values;
  }
  // `batches` produce runs of `per_batch` records each, so that the log holds several batches.
  std::vector<std::string> ProduceBatches(const std::string& topic, int32_t p, int batches,
                                          int per_batch, const std::string& prefix) {
    std::vector<std::string> values;
    for (int b = 0; b < batches; ++b) {
      auto some = Produce(topic, p, per_batch, prefix + std::to_string(b) + "-");
      values.insert(values.end(), some.begin(), some.end());
    }
    return values;
  }
  std::vector<std::string> Consume(const std::string& topic, int32_t p) {
    RunResult r = Ok({"consume", topic, "--partition", std::to_string(p), "--from-beginning",
                      "--format", "%o %v\n"});
    return Lines(r.out);
  }
  static std::vector<std::string> WithOffsets(const std::vector<std::string>& values,
                                              int64_t first = 0) {
    std::vector<std::string> out;
    for (size_t i = 0; i < values.size(); ++i) {
      out.push_back(std::to_string(first + static_cast<int64_t>(i)) + " " + values[i]);
    }
    return out;
  }
  std::string Partition(const std::string& topic, int32_t p) {
    return data_ + "/" + topic + "-" + std::to_string(p);
  }
  const json* PartitionJson(const json& verify, const std::string& topic, int32_t p) {
    for (const auto& jp : verify["partitions"]) {
      if (jp["topic"] == topic && jp["partition"] == p) return &jp;
    }
    ADD_FAILURE() << "no " << topic << "-" << p << " in " << verify.dump();
    return nullptr;
  }

  TempDir dir_;
  std::string data_ = dir_.Join("data");
};

// Issue 10, finding 2: the active segment lost its tail below the recovery point (flush=sync:
// every record was acknowledged as durable).
TEST_F(RepairTest, ShortSegmentBelowRecoveryPointIsReportedQuarantinedAndCut) {
  Ok({"topic", "create", "ev", "--partitions", "2", "--config", "flush=sync"});
  const auto values = ProduceBatches("ev", 0, 10, 30, "v");  // 300 records in 10 batches
  const auto other = Produce("ev", 1, 20, "w");
  const std::string seg = Partition("ev", 0) + "/" + kFirstSegment;
  const std::string original = ReadWholeFile(seg);
  std::string bytes = original.substr(0, DataEnd(original) * 4 / 5);
  WriteWholeFile(seg, bytes);

  // verify names the file, the position and the offsets at risk, and exits non-zero.
  json v = Verify(1);
  EXPECT_FALSE(v["ok"].get<bool>());
  const json* p0 = PartitionJson(v, "ev", 0);
  ASSERT_NE(p0, nullptr);
  EXPECT_EQ((*p0)["state"], "offline");
  ASSERT_TRUE(p0->contains("repair")) << p0->dump();
  const uint64_t keep = (*p0)["repair"]["keep_bytes"];
  const int64_t lost_from = (*p0)["repair"]["lost_from"];
  EXPECT_EQ((*p0)["repair"]["cut_file"], seg);
  EXPECT_EQ((*p0)["repair"]["lost_to"], 300);
  EXPECT_GT(lost_from, 0);
  EXPECT_LT(lost_from, 300);
  EXPECT_LE(keep, bytes.size());
  bool named = false;
  for (const auto& f : (*p0)["findings"]) {
    if (f["state"] == "offline" && f["path"] == seg && f["position"] == keep) {
      named = f["what"].get<std::string>().find("offsets [" + std::to_string(lost_from) +
                                                ", 300)") != std::string::npos;
    }
  }
  EXPECT_TRUE(named) << p0->dump(2);
  EXPECT_EQ((*PartitionJson(v, "ev", 1))["state"], "ok");
  RunResult table = Run({"verify"});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_NE(table.out.find(seg + " at byte " + std::to_string(keep)), std::string::npos)
      << table.out;

  // A dry run says what it would do and changes nothing.
  const auto before = Tree(data_);
  RunResult dry = Ok({"repair"});
  EXPECT_NE(dry.out.find("dry run"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("offsets [" + std::to_string(lost_from) + ", 300) are lost"),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(Tree(data_), before);

  // The execution keeps the exact bytes it cuts, then cuts, and says what was lost.
  RunResult done = Ok({"repair", "--execute"});
  EXPECT_NE(done.out.find("offsets [" + std::to_string(lost_from) + ", 300) are lost"),
            std::string::npos)
      << done.out;
  const std::string kept = QuarantineOf(Partition("ev", 0), kFirstSegment);
  ASSERT_FALSE(kept.empty());
  EXPECT_EQ(ReadWholeFile(kept), bytes.substr(keep));
  EXPECT_EQ(ReadWholeFile(seg), bytes.substr(0, keep));

  v = Verify(0);
  EXPECT_TRUE(v["ok"].get<bool>()) << v.dump(2);
  const std::vector<std::string> survivors(values.begin(), values.begin() + lost_from);
  EXPECT_EQ(Consume("ev", 0), WithOffsets(survivors));
  EXPECT_EQ(Consume("ev", 1), WithOffsets(other));
  Produce("ev", 0, 1, "after-repair-");
  const auto now = Consume("ev", 0);
  ASSERT_EQ(now.size(), survivors.size() + 1);
  EXPECT_EQ(now.back(), std::to_string(lost_from) + " after-repair-0");
}

// A flipped byte in the middle of a sealed segment: the log is cut at the damaged batch, every
// later segment is moved aside (offsets must stay contiguous), nothing is deleted.
TEST_F(RepairTest, FlippedByteInSealedSegmentIsCutThereAndLaterSegmentsKeptAside) {
  Ok({"topic", "create", "ev", "--partitions", "1", "--config", "segment.bytes=4096", "--config",
      "compression.type=none"});
  const auto values = Produce("ev", 0, 400, "value-");
  std::vector<std::string> logs;
  for (const auto& e : fs::directory_iterator(Partition("ev", 0))) {
    if (e.path().extension() == ".log") logs.push_back(e.path().filename().string());
  }
  std::sort(logs.begin(), logs.end());
  ASSERT_GE(logs.size(), 4u);
  const std::string damaged = Partition("ev", 0) + "/" + logs[1];  // sealed
  std::string bytes = ReadWholeFile(damaged);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteWholeFile(damaged, bytes);
  std::map<std::string, std::string> originals;
  for (size_t i = 2; i < logs.size(); ++i) {
    originals[logs[i]] = ReadWholeFile(Partition("ev", 0) + "/" + logs[i]);
  }

  json v = Verify(1);
  const json* p0 = PartitionJson(v, "ev", 0);
  ASSERT_NE(p0, nullptr);
  EXPECT_EQ((*p0)["state"], "offline");
  ASSERT_TRUE(p0->contains("repair")) << p0->dump(2);
  EXPECT_EQ((*p0)["repair"]["cut_file"], damaged);
  EXPECT_EQ((*p0)["repair"]["lost_to"], 400);
  EXPECT_EQ((*p0)["repair"]["segments_moved_aside"], logs.size() - 2);
  const uint64_t keep = (*p0)["repair"]["keep_bytes"];
  const int64_t lost_from = (*p0)["repair"]["lost_from"];
  EXPECT_LT(keep, bytes.size() / 2 + 1);

  RunResult done = Ok({"repair", "--execute"});
  EXPECT_NE(done.out.find("offsets [" + std::to_string(lost_from) + ", 400) are lost"),
            std::string::npos)
      << done.out;
  EXPECT_EQ(ReadWholeFile(QuarantineOf(Partition("ev", 0), logs[1])), bytes.substr(keep));
  for (const auto& [name, contents] : originals) {
    EXPECT_FALSE(fs::exists(Partition("ev", 0) + "/" + name)) << name;
    EXPECT_EQ(ReadWholeFile(QuarantineOf(Partition("ev", 0), name)), contents) << name;
  }

  Verify(0);
  const std::vector<std::string> survivors(values.begin(), values.begin() + lost_from);
  EXPECT_EQ(Consume("ev", 0), WithOffsets(survivors));
  Produce("ev", 0, 2, "next-");
  auto now = Consume("ev", 0);
  ASSERT_EQ(now.size(), survivors.size() + 2);
  EXPECT_EQ(now.back(), std::to_string(lost_from + 1) + " next-1");
}

// Issue 10, finding 1: catalog.json missing. verify says so (it used to exit 0 with the
// directories still there); repair's open rebuilds it; then verify is clean.
TEST_F(RepairTest, MissingCatalogIsReportedAndRebuilt) {
  Ok({"topic", "create", "ev", "--partitions", "2"});
  const auto values = Produce("ev", 1, 10, "x");
  ASSERT_TRUE(fs::remove(data_ + "/catalog"));

  json v = Verify(1);
  EXPECT_EQ(v["catalog"]["source"], "missing");
  EXPECT_EQ(v["state"], "open-repairs");
  RunResult table = Run({"verify"});
  EXPECT_NE(table.out.find(data_ + "/catalog: missing, while 2 partition directories exist"),
            std::string::npos)
      << table.out;

  const auto before = Tree(data_);
  Ok({"repair"});
  EXPECT_EQ(Tree(data_), before);

  RunResult done = Ok({"repair", "--execute"});
  EXPECT_NE(done.out.find("open: adopted topic 'ev' to 2 partition(s)"), std::string::npos)
      << done.out;
  Verify(0);
  EXPECT_EQ(Consume("ev", 1), WithOffsets(values));
}

// verify reads producer ids and snapshots too; repair keeps the damaged files aside and makes
// producer-id allocation work again, past every id in the logs.
TEST_F(RepairTest, DamagedProducerIdsAndSnapshotAreReportedAndKeptAside) {
  Ok({"topic", "create", "ev", "--partitions", "1"});
  Produce("ev", 0, 5, "x");
  std::string snapshot_path;
  {
    auto e = testing::OpenTestEngine(testing::TestEngineOptions(data_));
    ASSERT_NE(e, nullptr);
    ASSERT_OK(e->AllocateProducerId());
    ASSERT_OK_AND_ASSIGN(auto snap,
                         engine::SaveSnapshot(*e, "balances", "ev", {{0, base::Offset(5)}},
                                              base::AsBytes(std::string("state"))));
    snapshot_path = snap.path;
    ASSERT_OK(e->Close());
  }
  const std::string ids = data_ + "/" + engine::ProducerIdAllocator::kFileName;
  std::string ids_bytes = ReadWholeFile(ids);
  ids_bytes[18] ^= 0x01;
  WriteWholeFile(ids, ids_bytes);
  std::string snap_bytes = ReadWholeFile(snapshot_path);
  snap_bytes[snap_bytes.size() - 12] ^= 0x01;
  WriteWholeFile(snapshot_path, snap_bytes);

  RunResult table = Run({"verify"});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_NE(table.out.find("offline      " + ids + ": "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("damaged      " + snapshot_path + ": "), std::string::npos) << table.out;

  Ok({"repair", "--execute"});
  EXPECT_EQ(ReadWholeFile(QuarantineOf(data_, engine::ProducerIdAllocator::kFileName)), ids_bytes);
  EXPECT_EQ(ReadWholeFile(QuarantineOf(fs::path(snapshot_path).parent_path().string(),
                                       fs::path(snapshot_path).filename().string())),
            snap_bytes);
  EXPECT_FALSE(fs::exists(snapshot_path));
  Verify(0);
  auto e = testing::OpenTestEngine(testing::TestEngineOptions(data_));
  ASSERT_NE(e, nullptr);
  ASSERT_OK_AND_ASSIGN(int64_t id, e->AllocateProducerId());
  EXPECT_GE(id, engine::ProducerIdAllocator::kBlockSize) << "never an id handed out before";
}

// A topic deletion that crashed after renaming its directory: verify reports the pending removal;
// repair's open finishes it.
TEST_F(RepairTest, PendingDeletedDirectoryIsReportedAndRemovedByRepair) {
  Ok({"topic", "create", "gone", "--partitions", "1"});
  Ok({"topic", "create", "kept", "--partitions", "1"});
  const auto values = Produce("kept", 0, 3, "k");
  const std::string deleted = Partition("gone", 0) + ".1700000000000.deleted";
  fs::rename(Partition("gone", 0), deleted);

  json v = Verify(1);
  bool reported = false;
  for (const auto& f : v["findings"]) {
    reported |= f["path"] == deleted && f["state"] == "open-repairs";
  }
  EXPECT_TRUE(reported) << v.dump(2);

  RunResult done = Ok({"repair", "--execute"});
  EXPECT_NE(done.out.find("finished the deletion of topic 'gone'"), std::string::npos) << done.out;
  EXPECT_FALSE(fs::exists(deleted));
  Verify(0);
  EXPECT_EQ(Consume("kept", 0), WithOffsets(values));
}

// While another process has the data directory open (as `sluice serve` does), repair --execute
// refuses and changes nothing.
TEST_F(RepairTest, ExecuteRefusesWhileAnotherProcessHoldsTheLock) {
  Ok({"topic", "create", "ev", "--partitions", "1", "--config", "flush=sync"});
  Produce("ev", 0, 50, "v");
  const std::string seg = Partition("ev", 0) + "/" + kFirstSegment;
  const std::string original = ReadWholeFile(seg);
  WriteWholeFile(seg, original.substr(0, DataEnd(original) / 2));

  auto holder = testing::OpenTestEngine(testing::TestEngineOptions(data_));
  ASSERT_NE(holder, nullptr);
  const auto before = Tree(data_);
  RunResult r = Run({"repair", "--execute"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("in use by another process"), std::string::npos) << r.err;
  EXPECT_EQ(Tree(data_), before);
  ASSERT_OK(holder->Close());
  holder.reset();
  Ok({"repair", "--execute"});
  Verify(0);
}

// A mistyped data directory is an error naming it, and is never created.
TEST_F(RepairTest, MissingDataDirectoryIsAnErrorNamingIt) {
  const std::string missing = dir_.Join("no-such-dir");
  for (const auto& cmd :
       std::vector<std::vector<std::string>>{{"verify"}, {"repair"}, {"repair", "--execute"}}) {
    std::vector<std::string> args{"--data-dir", missing};
    args.insert(args.end(), cmd.begin(), cmd.end());
    RunResult r = RunSluice(args);
    EXPECT_EQ(r.exit_code, 1) << cmd.back();
    EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(missing));
  }
}

// A partition whose directory is gone comes back only when asked, empty, and says so.
TEST_F(RepairTest, MissingPartitionDirectoryIsRecreatedOnlyWhenAsked) {
  Ok({"topic", "create", "ev", "--partitions", "2"});
  Produce("ev", 0, 3, "a");
  const auto values = Produce("ev", 1, 3, "b");
  fs::rename(Partition("ev", 0), dir_.Join("elsewhere"));

  json v = Verify(1);
  EXPECT_EQ((*PartitionJson(v, "ev", 0))["state"], "offline");
  RunResult plain = Run({"repair", "--execute"});
  EXPECT_EQ(plain.exit_code, 1) << plain.out;
  EXPECT_NE(plain.out.find("--recreate-missing"), std::string::npos) << plain.out;
  EXPECT_FALSE(fs::exists(Partition("ev", 0)));

  RunResult done = Ok({"repair", "--execute", "--recreate-missing"});
  EXPECT_NE(done.out.find("offsets restart at 0"), std::string::npos) << done.out;
  Verify(0);
  EXPECT_TRUE(Consume("ev", 0).empty());
  EXPECT_EQ(Consume("ev", 1), WithOffsets(values));
}

}  // namespace
}  // namespace sluice::cli

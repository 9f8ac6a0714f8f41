// Runs the real `sluice` binary against a temporary data directory: produce, consume, group,
// replay. The binary and the test never have the data directory open at the same time.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "engine/snapshot.h"
#include "tests/support/sluice_process.h"
#include "tests/support/test_util.h"

extern char** environ;

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::TempDir;

using testing::Lines;
using testing::RunResult;
using testing::RunSluice;
using Child = testing::SluiceProcess;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  // Runs sluice on this test's data directory.
  RunResult Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--data-dir", dir_.path()});
    return RunSluice(args, input);
  }
  // Runs sluice and expects exit code 0.
  RunResult Ok(std::vector<std::string> args, const std::string& input = "") {
    RunResult r = Run(args, input);
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err;
    return r;
  }
  void CreateTopic(const std::string& name, int partitions) {
    Ok({"topic", "create", name, "--partitions", std::to_string(partitions)});
  }
  // Runs sluice and expects a failure with exactly one line on stderr.
  void ExpectOneLineError(std::vector<std::string> args, int code) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, code) << shown << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << shown << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("sluice: ", 0), 0u) << shown << "\nstderr: " << r.err;
    EXPECT_EQ(r.out, "") << shown;
  }
  // Opens the engine in this process (the binary must not be running).
  std::unique_ptr<engine::Engine> OpenEngine() {
    engine::EngineOptions o;
    o.data_dir = dir_.path();
    auto e = engine::Engine::Open(o);
    SLUICE_CHECK(e.has_value(), e.error().ToString());
    return std::move(e).value();
  }
  json GroupPartition(const std::string& group, int partition) {
    RunResult r = Ok({"group", "describe", group, "--output", "json"});
    json d = json::parse(r.out);
    for (const auto& p : d["partitions"]) {
      if (p["partition"] == partition) return p;
    }
    ADD_FAILURE() << "no partition " << partition << " in " << r.out;
    return {};
  }

  TempDir dir_;
};

TEST_F(CliTest, ProducesAndConsumesHundredThousandLinesByteIdentical) {
  CreateTopic("lines", 1);
  // Lines with every byte but '\n' (NUL, \r, tabs, UTF-8 and invalid UTF-8), empty lines, and a
  // last line without a newline.
  auto rng = testing::SeededRng(1);
  std::string input;
  for (int i = 0; i < 100'000; ++i) {
    input += "line " + std::to_string(i) + " ";
    const int extra = static_cast<int>(rng() % 24);
    for (int j = 0; j < extra; ++j) {
      char c = static_cast<char>(rng() % 256);
      input += c == '\n' ? ' ' : c;
    }
    if (i % 1000 == 7) input += "\r";
    if (i % 5000 == 3) input += "\n";  // an empty line follows
    if (i + 1 < 100'000) input += '\n';
  }
  const int64_t expected_records = 100'000 + 20;
  RunResult p = Ok({"produce", "lines"}, input);
  EXPECT_NE(p.err.find("produced " + std::to_string(expected_records) + " records"),
            std::string::npos)
      << p.err;
  RunResult c = Ok({"consume", "lines", "--from-beginning"});
  EXPECT_TRUE(c.out == input + "\n")
      << "output differs from input (" << c.out.size() << " vs " << input.size() + 1 << " bytes)";
  EXPECT_EQ(c.err, "");
  RunResult n = Ok({"consume", "lines", "--offset", "99000", "--count", "5", "--format", "%o\\n"});
  EXPECT_EQ(n.out, "99000\n99001\n99002\n99003\n99004\n");
}

TEST_F(CliTest, ProducesKeysAndHeaders) {
  CreateTopic("kv", 1);
  Ok({"produce", "kv", "--key-separator", "\\t", "--header", "source=test", "-H", "empty="},
     "k1\tv1\nno separator\n\tempty key\nk2\tv\twith tab");
  RunResult c = Ok({"consume", "kv", "--from-beginning", "--format", "%k|%v|%h|%K|%S|%T|%p|%o\\n"});
  EXPECT_EQ(c.out,
            "k1|v1|source=test,empty=|2|2|kv|0|0\n"
            "|no separator|source=test,empty=|-1|12|kv|0|1\n"
            "|empty key|source=test,empty=|0|9|kv|0|2\n"
            "k2|v\twith tab|source=test,empty=|2|10|kv|0|3\n");
}

// --io chooses the engine's write path for any command (the engine logs which one with -v);
// records written through one are read back through the other.
TEST_F(CliTest, IoFlagChoosesTheWritePath) {
  RunResult u = Ok({"-v", "--io", "uring", "topic", "create", "w"});
  EXPECT_TRUE(u.err.find("writing files with io_uring") != std::string::npos ||
              u.err.find("io_uring is not available") != std::string::npos)
      << u.err;
  Ok({"produce", "w", "--io", "uring"}, "a\nb\n");  // a global flag, after the subcommand too
  RunResult p = Ok({"-v", "--io", "posix", "produce", "w"}, "c\n");
  EXPECT_NE(p.err.find("writing files with pwritev (write path posix)"), std::string::npos)
      << p.err;
  RunResult d = Ok({"-v", "consume", "w", "--from-beginning"});
  EXPECT_EQ(d.out, "a\nb\nc\n");
  const std::string default_path = engine::WritePathName(engine::kDefaultWritePath);
  EXPECT_NE(d.err.find("write path " + default_path), std::string::npos) << d.err;
  ExpectOneLineError({"--io", "aio", "topic", "list"}, 2);
}

TEST_F(CliTest, PartitionsByKafkaMurmur2AndRoundRobinWithoutKeys) {
  CreateTopic("hashed", 7);
  // Kafka's Utils.murmur2 of these keys (from Kafka's own tests).
  const std::vector<std::pair<std::string, int32_t>> kafka = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"abc", 479470107}};
  std::string input;
  for (const auto& [key, hash] : kafka) input += key + ":v\n";
  Ok({"produce", "hashed", "--key-separator", ":"}, input);
  RunResult c = Ok({"consume", "hashed", "--from-beginning", "--format", "%k %p\\n"});
  std::set<std::string> got;
  for (const auto& line : Lines(c.out)) got.insert(line);
  std::set<std::string> want;
  for (const auto& [key, hash] : kafka) {
    want.insert(key + " " + std::to_string((static_cast<uint32_t>(hash) & 0x7fffffffu) % 7));
  }
  EXPECT_EQ(got, want);

  // Without keys: one batch per partition in turn.
  CreateTopic("spread", 3);
  std::string many;
  for (int i = 0; i < 9; ++i) many += "r" + std::to_string(i) + "\n";
  Ok({"produce", "spread", "--batch-records", "3"}, many);
  RunResult s = Ok({"consume", "spread", "--from-beginning", "--format", "%p:%v "});
  EXPECT_EQ(s.out, "0:r0 0:r1 0:r2 1:r3 1:r4 1:r5 2:r6 2:r7 2:r8 ");
  // --partition overrides both.
  Ok({"produce", "spread", "--partition", "2", "--key-separator", ":"}, "x:1\ny:2\n");
  RunResult p = Ok({"consume", "spread", "--partition", "2", "--offset", "3", "--format", "%k "});
  EXPECT_EQ(p.out, "x y ");
}

TEST_F(CliTest, JsonInputAndOutputRoundTrip) {
  CreateTopic("j", 1);
  const std::string input =
      R"({"key":"a","value":"first","headers":{"h":"1","n":null},"timestamp":1700000000000})"
      "\n"
      R"({"key":null,"value":"no key","timestamp":"2023-11-14T22:13:20.500Z"})"
      "\n"
      "\n"
      R"({"key":"tomb","value":null})"
      "\n"
      R"({"value":{"nested":[1,2]},"extra":"ignored"})"
      "\n";
  Ok({"produce", "j", "--format", "json"}, input);
  RunResult c = Ok({"consume", "j", "--from-beginning", "--output", "json"});
  auto lines = Lines(c.out);
  ASSERT_EQ(lines.size(), 4u) << c.out;
  json r0 = json::parse(lines[0]);
  EXPECT_EQ(r0["topic"], "j");
  EXPECT_EQ(r0["partition"], 0);
  EXPECT_EQ(r0["offset"], 0);
  EXPECT_EQ(r0["timestamp"], 1700000000000);
  EXPECT_EQ(r0["key"], "a");
  EXPECT_EQ(r0["value"], "first");
  EXPECT_EQ(r0["headers"], json({{"h", "1"}, {"n", nullptr}}));
  json r1 = json::parse(lines[1]);
  EXPECT_TRUE(r1["key"].is_null());
  EXPECT_EQ(r1["timestamp"], 1700000000500);
  json r2 = json::parse(lines[2]);
  EXPECT_EQ(r2["key"], "tomb");
  EXPECT_TRUE(r2["value"].is_null());
  json r3 = json::parse(lines[3]);
  EXPECT_EQ(r3["value"], R"({"nested":[1,2]})");
  EXPECT_EQ(r3["offset"], 3);

  // consume's JSON is produce's JSON: copy the topic and compare.
  CreateTopic("copy", 1);
  Ok({"produce", "copy", "--format", "json"}, c.out);
  RunResult copy = Ok({"consume", "copy", "--from-beginning", "-o", "json"});
  auto copied = Lines(copy.out);
  ASSERT_EQ(copied.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    json a = json::parse(lines[i]);
    json b = json::parse(copied[i]);
    a.erase("topic");
    b.erase("topic");
    EXPECT_EQ(a, b);
  }
}

TEST_F(CliTest, MalformedJsonLineFailsNamingTheLineAndKeepsEarlierRecords) {
  CreateTopic("j", 1);
  RunResult r =
      Run({"produce", "j", "--format", "json"},
          "{\"value\":\"one\"}\n{\"value\":\"two\"}\n{\"value\": tr}\n{\"value\":\"four\"}\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 records before it were produced"), std::string::npos) << r.err;
  EXPECT_EQ(Ok({"consume", "j", "--from-beginning"}).out, "one\ntwo\n");

  RunResult not_object = Run({"produce", "j", "--format", "json"}, "[1,2]\n");
  EXPECT_EQ(not_object.exit_code, 1);
  EXPECT_NE(not_object.err.find("line 1: expected a JSON object"), std::string::npos);
  RunResult bad_time = Run({"produce", "j", "--format", "json"}, "{\"timestamp\":\"noon\"}\n");
  EXPECT_EQ(bad_time.exit_code, 1);
  EXPECT_NE(bad_time.err.find("line 1: bad \"timestamp\""), std::string::npos) << bad_time.err;
}

TEST_F(CliTest, ConsumesFromTime) {
  CreateTopic("t", 2);
  std::string input;
  for (int i = 0; i < 10; ++i) {
    input += R"({"key":"k)" + std::to_string(i) + R"(","value":"v)" + std::to_string(i) +
             R"(","timestamp":)" + std::to_string(1'700'000'000'000 + i * 1000) + "}\n";
  }
  Ok({"produce", "t", "--format", "json", "--partition", "1"}, input);
  // 1700000005000 ms = 2023-11-14T22:13:25Z
  EXPECT_EQ(Ok({"consume", "t", "--from-time", "1700000005000", "--format", "%v "}).out,
            "v5 v6 v7 v8 v9 ");
  EXPECT_EQ(Ok({"consume", "t", "--from-time", "2023-11-14T22:13:27.5Z", "--format", "%v "}).out,
            "v8 v9 ");
  EXPECT_EQ(Ok({"consume", "t", "--from-time", "2023-11-14T23:13:27+01:00", "--format", "%v "}).out,
            "v7 v8 v9 ");
  EXPECT_EQ(Ok({"consume", "t", "--from-time", "2030-01-01T00:00:00Z"}).out, "");
}

TEST_F(CliTest, DefaultStartIsLatestAndCountStops) {
  CreateTopic("t", 1);
  Ok({"produce", "t"}, "a\nb\nc\n");
  RunResult latest = Ok({"consume", "t"});  // only new records, and not following
  EXPECT_EQ(latest.out, "");
  EXPECT_NE(latest.err.find("--from-beginning"), std::string::npos) << latest.err;
  EXPECT_EQ(Ok({"consume", "t", "--from-beginning", "--count", "2"}).out, "a\nb\n");
  // --follow with --count ends once the records are there.
  EXPECT_EQ(Ok({"consume", "t", "--offset", "1", "--follow", "--count", "2"}).out, "b\nc\n");
  // An offset past the end starts at the end.
  EXPECT_EQ(Ok({"consume", "t", "--offset", "50"}).out, "");
}

TEST_F(CliTest, GroupsCommitShowLagAndReset) {
  CreateTopic("t", 2);
  std::string input;
  for (int i = 0; i < 100; ++i) input += std::to_string(i) + "\n";
  Ok({"produce", "t", "--partition", "0"}, input);
  Ok({"produce", "t", "--partition", "1"}, "x\ny\n");

  EXPECT_EQ(Lines(Ok({"consume", "t", "--group", "g", "--from-beginning", "--partition", "0",
                      "--count", "30"})
                      .out)
                .size(),
            30u);
  json p0 = GroupPartition("g", 0);
  EXPECT_EQ(p0["committed_offset"], 30);
  EXPECT_EQ(p0["end_offset"], 100);
  EXPECT_EQ(p0["lag_records"], 70);
  EXPECT_TRUE(p0["lag_ms"].is_number()) << p0;
  EXPECT_GE(p0["lag_ms"].get<int64_t>(), 0);
  // The table, exactly; only LAG-TIME depends on the clock: a duration under a minute ("850ms",
  // "1.2s"), no less than the lag the JSON showed a moment earlier.
  RunResult table = Ok({"group", "describe", "g"});
  const std::string header = "TOPIC  PARTITION  COMMITTED  END-OFFSET  LAG  LAG-TIME  METADATA";
  const std::string row_start = "t      0          30         100         70   ";
  const size_t at = ("GROUP g\n\n" + header + "\n" + row_start).size();
  const std::string lag_time = table.out.substr(at, table.out.find(' ', at) - at);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lag_time, m, std::regex(R"(([0-9]+)ms|([0-9]+)\.([0-9])s)")))
      << "LAG-TIME '" << lag_time << "' in:\n"
      << table.out;
  const int64_t lag_time_ms =
      m[1].matched ? std::stoll(m[1]) : std::stoll(m[2]) * 1000 + std::stoll(m[3]) * 100;
  EXPECT_GE(lag_time_ms + 100, p0["lag_ms"].get<int64_t>()) << table.out;
  EXPECT_EQ(table.out, "GROUP g\n\n" + header + "\n" + row_start + lag_time +
                           std::string(10 - lag_time.size(), ' ') + "\n");

  // The group continues where it stopped (its committed offset wins over the default start).
  EXPECT_EQ(Ok({"consume", "t", "--group", "g", "--partition", "0", "--count", "2"}).out,
            "30\n31\n");
  EXPECT_EQ(GroupPartition("g", 0)["committed_offset"], 32);

  // Dry run: prints the plan and changes nothing.
  RunResult dry =
      Ok({"group", "reset-offsets", "g", "--topic", "t", "--to-offset", "10", "--dry-run"});
  EXPECT_NE(dry.out.find("nothing was changed"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("32"), std::string::npos) << dry.out;
  EXPECT_EQ(GroupPartition("g", 0)["committed_offset"], 32);
  RunResult dry_json = Ok(
      {"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--dry-run", "-o", "json"});
  json plan = json::parse(dry_json.out);
  EXPECT_EQ(plan["changed"], false);
  EXPECT_EQ(plan["plan"][0]["current"], 32);
  EXPECT_EQ(plan["plan"][0]["target"], 0);
  EXPECT_TRUE(plan["plan"][1]["current"].is_null());
  EXPECT_EQ(GroupPartition("g", 0)["committed_offset"], 32);

  // A real reset moves the group: it reads from there on.
  Ok({"group", "reset-offsets", "g", "--topic", "t", "--to-offset", "97", "--execute"});
  EXPECT_EQ(GroupPartition("g", 0)["committed_offset"], 97);
  EXPECT_EQ(GroupPartition("g", 1)["committed_offset"], 2);  // clamped to the end
  EXPECT_EQ(Ok({"consume", "t", "--group", "g"}).out, "97\n98\n99\n");
  EXPECT_EQ(GroupPartition("g", 0)["lag_records"], 0);
  Ok({"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--execute"});
  EXPECT_EQ(GroupPartition("g", 1)["lag_records"], 2);

  RunResult list = Ok({"group", "list", "-o", "json"});
  EXPECT_EQ(json::parse(list.out), json::parse(R"([{"group":"g","partitions":2,"topics":["t"]}])"));
  Ok({"group", "delete", "g"});
  EXPECT_EQ(json::parse(Ok({"group", "list", "-o", "json"}).out), json::array());
  ExpectOneLineError({"group", "describe", "g"}, 1);
}

TEST_F(CliTest, FollowStopsCleanlyOnSignalsAndCommits) {
  CreateTopic("t", 2);
  std::string input;
  for (int i = 0; i < 10; ++i) input += "r" + std::to_string(i) + "\n";
  Ok({"produce", "t"}, input);
  Child child(
      {"--data-dir", dir_.path(), "consume", "t", "--follow", "--from-beginning", "--group", "f"});
  child.Pump("", [](const std::string& out) { return Lines(out).size() == 10; });
  ASSERT_EQ(Lines(child.out).size(), 10u) << child.err;
  child.Signal(SIGTERM);
  child.Pump("");
  EXPECT_EQ(child.Wait(), 0) << child.err;
  // Only where the new group starts (README, consume --group).
  EXPECT_EQ(child.err,
            "sluice: group f has no committed offset for t-0: starting at offset 0 "
            "(--from-beginning)\n"
            "sluice: group f has no committed offset for t-1: starting at offset 0 "
            "(--from-beginning)\n");
  EXPECT_EQ(GroupPartition("f", 0)["committed_offset"], 10);
  EXPECT_EQ(GroupPartition("f", 1)["committed_offset"], 0);

  // replay --to follow stops on SIGINT, also cleanly.
  Child replay({"--data-dir", dir_.path(), "replay", "t", "--to", "follow"});
  replay.Pump("", [](const std::string& out) { return Lines(out).size() == 10; });
  ASSERT_EQ(Lines(replay.out).size(), 10u) << replay.err;
  replay.Signal(SIGINT);
  replay.Pump("");
  EXPECT_EQ(replay.Wait(), 0) << replay.err;
  EXPECT_EQ(replay.out, input);
}

TEST_F(CliTest, ReplaysRangesPartitionsAndMergedOrder) {
  CreateTopic("t", 2);
  // Partition 0 holds even timestamps, partition 1 odd ones.
  std::string p0, p1;
  for (int i = 0; i < 10; ++i) {
    std::string line = R"({"value":"v)" + std::to_string(i) + R"(","timestamp":)" +
                       std::to_string(1'700'000'000'000 + i * 1000) + "}\n";
    (i % 2 == 0 ? p0 : p1) += line;
  }
  Ok({"produce", "t", "--format", "json", "--partition", "0"}, p0);
  Ok({"produce", "t", "--format", "json", "--partition", "1"}, p1);
  EXPECT_EQ(Ok({"replay", "t", "--format", "%v "}).out, "v0 v2 v4 v6 v8 v1 v3 v5 v7 v9 ");
  EXPECT_EQ(Ok({"replay", "t", "--merge", "--format", "%v "}).out,
            "v0 v1 v2 v3 v4 v5 v6 v7 v8 v9 ");
  EXPECT_EQ(Ok({"replay", "t", "--from", "1", "--to", "3", "--format", "%p/%o "}).out,
            "0/1 0/2 1/1 1/2 ");
  EXPECT_EQ(
      Ok({"replay", "t", "--partition", "1", "--from", "2023-11-14T22:13:23Z", "--format", "%v "})
          .out,
      "v3 v5 v7 v9 ");
  EXPECT_EQ(Ok({"replay", "t", "--merge", "--from", "2023-11-14T22:13:22Z", "--to",
                "2023-11-14T22:13:25Z", "--format", "%v "})
                .out,
            "v2 v3 v4 ");
  RunResult j = Ok({"replay", "t", "--partition", "0", "--to", "1", "-o", "json"});
  EXPECT_EQ(json::parse(j.out)["value"], "v0");
}

TEST_F(CliTest, ReplaysFromTheNewestSnapshot) {
  CreateTopic("t", 2);
  Ok({"produce", "t", "--partition", "0"}, "a0\na1\na2\na3\na4\n");
  Ok({"produce", "t", "--partition", "1"}, "b0\nb1\nb2\n");
  RunResult none = Ok({"replay", "t", "--snapshot", "state", "--format", "%v "});
  EXPECT_EQ(none.out, "a0 a1 a2 a3 a4 b0 b1 b2 ");
  EXPECT_NE(none.err.find("no usable snapshot state"), std::string::npos) << none.err;
  {
    auto e = OpenEngine();
    using base::Offset;
    ASSERT_OK(engine::SaveSnapshot(*e, "state", "t", {{0, Offset(2)}, {1, Offset(1)}},
                                   base::AsBytes(std::string_view("old"))));
    ASSERT_OK(engine::SaveSnapshot(*e, "state", "t", {{0, Offset(4)}, {1, Offset(2)}},
                                   base::AsBytes(std::string_view("new"))));
    ASSERT_OK(e->Close());
  }
  RunResult r = Ok({"replay", "t", "--snapshot", "state", "--format", "%v "});
  EXPECT_EQ(r.out, "a4 b2 ");
  EXPECT_NE(r.err.find("snapshot state #"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0:4 1:2"), std::string::npos) << r.err;
  // A target before the newest snapshot falls back to the older one.
  RunResult older = Ok({"replay", "t", "--snapshot", "state", "--to", "3", "--format", "%v "});
  EXPECT_EQ(older.out, "a2 b1 b2 ");
  EXPECT_NE(older.err.find("0:2 1:1"), std::string::npos) << older.err;
}

TEST_F(CliTest, ReplayExecRunsACommandPerRecord) {
  CreateTopic("t", 1);
  Ok({"produce", "t", "--key-separator", "="}, "k1=one\ntwo\nk3=three\nk4=four\n");
  const std::string values = dir_.Join("values");
  const std::string env = dir_.Join("env");
  Ok({"replay", "t", "--to", "3", "--exec",
      "cat >> " + values + "; echo \"$SLUICE_TOPIC $SLUICE_PARTITION $SLUICE_OFFSET " +
          "${SLUICE_KEY-null} $SLUICE_TIMESTAMP\" >> " + env});
  EXPECT_EQ(testing::ReadWholeFile(values), "onetwothree");
  auto lines = Lines(testing::ReadWholeFile(env));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("t 0 0 k1 ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("t 0 1 null ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("t 0 2 k3 ", 0), 0u) << lines[2];

  // A failing command stops the replay and names the offset.
  RunResult r = Run({"replay", "t", "--exec", "test \"$SLUICE_OFFSET\" -lt 2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("offset 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("status 1"), std::string::npos) << r.err;
  // A command that ignores its stdin is fine.
  Ok({"replay", "t", "--exec", "true"});
}

TEST_F(CliTest, BadArgumentsGiveOneLineAndExitCodeTwo) {
  CreateTopic("t", 2);
  const std::vector<std::vector<std::string>> cases = {
      {"produce"},
      {"produce", "t", "--no-such-flag"},
      {"produce", "t", "--partition"},
      {"produce", "t", "--partition", "two"},
      {"produce", "t", "--partition", "2"},
      {"produce", "t", "--format", "xml"},
      {"produce", "t", "--header", "novalue"},
      {"produce", "t", "--format", "json", "--key-separator", ":"},
      {"produce", "t", "--key-separator", ""},
      {"produce", "t", "--batch-records", "0"},
      {"produce", "__consumer_offsets"},
      {"consume", "t", "--from-beginning", "--offset", "3"},
      {"consume", "t", "--offset", "1", "--from-time", "0"},
      {"consume", "t", "--from-time", "yesterday"},
      {"consume", "t", "--from-time", "2026-13-01T00:00:00Z"},
      {"consume", "t", "--partition", "5"},
      {"consume", "t", "--partition", "-1"},
      {"consume", "t", "--count", "0"},
      {"consume", "t", "--format", "%q"},
      {"consume", "t", "--format", "\\x"},
      {"consume", "t", "--format", "%v", "--output", "json"},
      {"consume", "t", "--group", ""},
      {"consume", "t", "unexpected"},
      {"group"},
      {"group", "describe"},
      {"group", "reset-offsets", "g", "--topic", "t"},
      {"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest"},
      {"group", "reset-offsets", "g", "--topic", "t", "--to-offset", "-4"},
      {"group", "reset-offsets", "g", "--topic", "t", "--to-time", "soon"},
      {"group", "reset-offsets", "g", "--to-earliest"},
      {"replay", "t", "--from", "beginning"},
      {"replay", "t", "--to", "later"},
      {"replay", "t", "--partition", "9"},
      {"replay", "t", "--exec"},
      {"replay", "t", "--exec", "cat", "--format", "%v"},
      {"replay", "t", "--snapshot", "bad/name"},
      {"consume", "t", "--broker", "localhost:9092"},
      {"produce", "t", "--broker", "localhost:9092"},
      {"group", "list", "--broker", "localhost:9092"},
      {"replay", "t", "--broker", "localhost:9092"},
  };
  for (const auto& args : cases) ExpectOneLineError(args, 2);
}

TEST_F(CliTest, MissingTopicIsARuntimeError) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"produce", "nope"},
           {"consume", "nope"},
           {"replay", "nope"},
           {"group", "reset-offsets", "g", "--topic", "nope", "--to-latest"},
           {"group", "delete", "nobody"}}) {
    ExpectOneLineError(args, 1);
  }
}

}  // namespace
}  // namespace sluice::cli

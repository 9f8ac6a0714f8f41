// Operator mistakes must not destroy or create data (issue 10, finding 4). Each test runs the real
// `sluice` binary on a temporary data directory as an operator would, then checks the files.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/catalog.h"
#include "segment/frame.h"
#include "segment/io/posix_fs.h"
#include "tests/support/sluice_process.h"
#include "tests/support/test_util.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Lines;
using testing::RunResult;
using testing::RunSluice;
using testing::TempDir;
using Child = testing::SluiceProcess;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(60);

// Polls `cond` until it holds; false after kDeadline.
template <typename Cond>
bool PollUntil(Cond&& cond) {
  const auto deadline = Clock::now() + kDeadline;
  while (!cond()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The names in `dir` (empty if it does not exist).
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// Whole, checksummed frames at the start of a segment file that is being written.
int CountFrames(const std::string& log_path) {
  std::ifstream in(log_path, std::ios::binary);
  std::string head(64 << 10, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.size() < segment::format::kSegmentHeaderSize) return 0;
  int frames = 0;
  base::FilePos pos(segment::format::kSegmentHeaderSize);
  for (;;) {
    auto r = segment::ReadFrame(base::AsBytes(head), pos, segment::FrameVerify::kChecksum);
    if (r.kind != segment::FrameRead::Kind::kFrame) return frames;
    ++frames;
    pos = r.frame.end();
  }
}

// Names of the default temporary topics of `sluice bench` in the catalog of `dir`.
std::vector<std::string> BenchTopicsInCatalog(const std::string& dir) {
  io::PosixFs posix;
  std::vector<std::string> out;
  auto catalog = engine::LoadCatalog(posix, dir);
  if (!catalog) return out;
  for (const auto& [name, info] : *catalog) {
    if (name.rfind("sluice-bench-", 0) == 0) out.push_back(name);
  }
  return out;
}

class OperatorSafetyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  RunResult Run(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--data-dir", dir_.path()});
    return RunSluice(args, input, kDeadline);
  }
  RunResult Ok(std::vector<std::string> args, const std::string& input = "") {
    RunResult r = Run(args, input);
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err;
    return r;
  }
  static void ExpectOneLineError(const RunResult& r, int code, const std::string& what) {
    EXPECT_EQ(r.exit_code, code) << what << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("sluice", 0), 0u) << what << "\nstderr: " << r.err;
    EXPECT_EQ(r.out, "") << what;
  }
  // Topic t with records a, b, c, and group g committed at 3.
  void TopicWithCommittedGroup() {
    Ok({"topic", "create", "t"});
    Ok({"produce", "t"}, "a\nb\nc\n");
    EXPECT_EQ(Ok({"consume", "t", "--group", "g", "--from-beginning"}).out, "a\nb\nc\n");
  }
  // What TopicWithCommittedGroup made is all there.
  void ExpectTopicAndOffsetsKept() {
    json topics = json::parse(Ok({"topic", "list", "--internal", "-o", "json"}).out);
    std::vector<std::string> names;
    for (const auto& t : topics) names.push_back(t["topic"]);
    EXPECT_EQ(names, (std::vector<std::string>{"__consumer_offsets", "t"}));
    json g = json::parse(Ok({"group", "describe", "g", "-o", "json"}).out);
    ASSERT_EQ(g["partitions"].size(), 1u) << g;
    EXPECT_EQ(g["partitions"][0]["committed_offset"], 3);
    EXPECT_EQ(Ok({"consume", "t", "--from-beginning"}).out, "a\nb\nc\n");
  }

  // The temporary topic of a running bench once the catalog lists it and its directory exists.
  std::string WaitForBenchTopic() {
    std::string topic;
    EXPECT_TRUE(PollUntil([&] {
      auto names = BenchTopicsInCatalog(dir_.path());
      if (names.size() != 1 || !fs::exists(dir_.Join(names[0] + "-0"))) return false;
      topic = names[0];
      return true;
    })) << "bench never created its topic";
    return topic;
  }
  Child StartLongBench() {
    // Far more records than it can write before the signal: a bench that ignored the signal
    // would run past the deadline.
    return Child({"--data-dir", dir_.path(), "bench", "--records", "100000000", "--record-size",
                  "10", "--partitions", "1", "--producers", "1"});
  }

  TempDir dir_;
};

// --- internal topics -------------------------------------------------------------------------

TEST_F(OperatorSafetyTest, TopicDeleteRefusesTheOffsetsTopicAndKeepsCommittedOffsets) {
  TopicWithCommittedGroup();
  RunResult r = Run({"topic", "delete", "__consumer_offsets"});
  ExpectOneLineError(r, 1, "delete __consumer_offsets");
  EXPECT_EQ(r.err,
            "sluice: refused: topic '__consumer_offsets' is internal and cannot be deleted\n");
  ExpectTopicAndOffsetsKept();
}

TEST_F(OperatorSafetyTest, TopicDeleteThroughTheBrokerRefusesTheOffsetsTopic) {
  TopicWithCommittedGroup();
  {
    Child server({"serve", "--listen", "127.0.0.1:0", "--data-dir", dir_.path()});
    server.Pump("", [](const std::string& out) { return out.find('\n') != std::string::npos; });
    const std::string prefix = "listening on 127.0.0.1:";
    ASSERT_EQ(server.out.rfind(prefix, 0), 0u) << server.out << server.err;
    const std::string broker =
        "127.0.0.1:" + server.out.substr(prefix.size(), server.out.find('\n') - prefix.size());
    RunResult r =
        RunSluice({"--broker", broker, "topic", "delete", "__consumer_offsets"}, "", kDeadline);
    ExpectOneLineError(r, 1, "delete __consumer_offsets through the broker");
    // The broker's answer (INVALID_TOPIC_EXCEPTION, net/PROTOCOL.md) and why.
    EXPECT_EQ(r.err.rfind("sluice: refused: topic '__consumer_offsets' is internal and cannot "
                          "be deleted (",
                          0),
              0u)
        << r.err;
    EXPECT_NE(r.err.find("Invalid topic"), std::string::npos) << r.err;
    server.Signal(SIGTERM);
    if (!server.Pump("", {}, kDeadline)) server.Signal(SIGKILL);
    EXPECT_EQ(server.Wait(), 0) << server.err;
  }
  ExpectTopicAndOffsetsKept();
}

// topic alter: the offsets topic's configuration is the engine's (retention set by hand could
// delete committed offsets); refused like delete, embedded and through the broker.
TEST_F(OperatorSafetyTest, TopicAlterRefusesTheOffsetsTopicAndChangesNothing) {
  TopicWithCommittedGroup();
  const std::string before = Ok({"topic", "describe", "__consumer_offsets", "-o", "json"}).out;
  RunResult r = Run({"topic", "alter", "__consumer_offsets", "--config", "retention.ms=1"});
  ExpectOneLineError(r, 1, "alter __consumer_offsets");
  EXPECT_EQ(r.err,
            "sluice: refused: topic '__consumer_offsets' is internal and its configuration "
            "cannot be changed\n");
  EXPECT_EQ(Ok({"topic", "describe", "__consumer_offsets", "-o", "json"}).out, before);
  ExpectTopicAndOffsetsKept();
}

TEST_F(OperatorSafetyTest, TopicAlterThroughTheBrokerRefusesTheOffsetsTopic) {
  TopicWithCommittedGroup();
  const std::string before = Ok({"topic", "describe", "__consumer_offsets", "-o", "json"}).out;
  {
    Child server({"serve", "--listen", "127.0.0.1:0", "--data-dir", dir_.path()});
    server.Pump("", [](const std::string& out) { return out.find('\n') != std::string::npos; });
    const std::string prefix = "listening on 127.0.0.1:";
    ASSERT_EQ(server.out.rfind(prefix, 0), 0u) << server.out << server.err;
    const std::string broker =
        "127.0.0.1:" + server.out.substr(prefix.size(), server.out.find('\n') - prefix.size());
    RunResult r = RunSluice(
        {"--broker", broker, "topic", "alter", "__consumer_offsets", "--config", "retention.ms=1"},
        "", kDeadline);
    ExpectOneLineError(r, 1, "alter __consumer_offsets through the broker");
    EXPECT_EQ(r.err.rfind("sluice: refused: topic '__consumer_offsets' is internal and its "
                          "configuration cannot be changed (",
                          0),
              0u)
        << r.err;
    server.Signal(SIGTERM);
    if (!server.Pump("", {}, kDeadline)) server.Signal(SIGKILL);
    EXPECT_EQ(server.Wait(), 0) << server.err;
  }
  EXPECT_EQ(Ok({"topic", "describe", "__consumer_offsets", "-o", "json"}).out, before);
  ExpectTopicAndOffsetsKept();
}

// --- demo --------------------------------------------------------------------------------------

TEST_F(OperatorSafetyTest, DemoRefusesAnExistingTopicAndLeavesItsRecords) {
  Ok({"topic", "create", "telemetry", "--partitions", "3"});
  Ok({"produce", "telemetry", "--partition", "1"}, "mine-1\nmine-2\n");
  // Asked for by name, an existing topic is refused.
  RunResult r = Run({"demo", "--records", "1000", "--topic", "telemetry"});
  ExpectOneLineError(r, 1, "demo on an existing telemetry");
  EXPECT_EQ(r.err, "sluice demo: topic 'telemetry' already exists in " + dir_.path() +
                       " and the demo only writes to a topic it creates; pick another name with "
                       "--topic NAME\n");
  // By default (the quick start, run again) it takes a free name of its own.
  RunResult again = Ok({"demo", "--records", "1000", "--partitions", "1"});
  EXPECT_NE(again.out.find("into topic 'telemetry-2'"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("read back matches every record produced"), std::string::npos)
      << again.out;
  EXPECT_EQ(Ok({"consume", "telemetry", "--from-beginning", "--format", "%p:%v\\n"}).out,
            "1:mine-1\n1:mine-2\n");
  EXPECT_EQ(
      json::parse(Ok({"topic", "describe", "telemetry", "-o", "json"}).out)["partitions"].size(),
      3u);

  // With a name of its own it runs, and leaves telemetry alone.
  RunResult own = Ok({"demo", "--records", "1000", "--partitions", "1", "--topic", "demo-own"});
  EXPECT_NE(own.out.find("read back matches every record produced"), std::string::npos) << own.out;
  EXPECT_EQ(Ok({"consume", "telemetry", "--from-beginning", "--format", "%p:%v\\n"}).out,
            "1:mine-1\n1:mine-2\n");
  // A second run does not replace what the first made either.
  ExpectOneLineError(Run({"demo", "--records", "1000", "--topic", "demo-own"}), 1, "demo again");
  EXPECT_EQ(json::parse(Ok({"topic", "describe", "demo-own", "-o", "json"})
                            .out)["partitions"][0]["high_watermark"],
            1000);
}

// --- data directories --------------------------------------------------------------------------

TEST_F(OperatorSafetyTest, CommandsOnAMissingDataDirFailNamingItAndCreateNothing) {
  const std::string missing = dir_.Join("typo");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"topic", "list"},
           {"topic", "describe", "t"},
           {"consume", "t", "--from-beginning"},
           {"consume", "t", "--group", "g", "--from-beginning"},
           {"group", "list"},
           {"group", "describe", "g"},
           {"replay", "t"},
           {"verify"},
           {"produce", "t"},
           {"topic", "delete", "t"},
           {"topic", "alter", "t", "-c", "retention.ms=1000"},
           {"group", "reset-offsets", "g", "--topic", "t", "--to-earliest"},
           {"group", "delete", "g"},
       }) {
    std::vector<std::string> full{"--data-dir", missing};
    full.insert(full.end(), args.begin(), args.end());
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    RunResult r = RunSluice(full, "x\n", kDeadline);
    ExpectOneLineError(r, 1, shown);
    EXPECT_EQ(r.err, "sluice: data directory " + missing +
                         " does not exist (check --data-dir or SLUICE_DATA_DIR; `sluice topic "
                         "create` starts a new one)\n")
        << shown;
    EXPECT_FALSE(fs::exists(missing)) << shown << "created " << missing;
  }
  // Creating a topic is what starts a data directory.
  EXPECT_EQ(RunSluice({"--data-dir", missing, "topic", "create", "t"}).exit_code, 0);
  EXPECT_TRUE(fs::is_directory(missing + "/t-0"));
}

TEST_F(OperatorSafetyTest, EmptyDataDirIsAUsageErrorForEveryCommandAndTouchesNothing) {
  // The commands run in an empty directory of their own, which must stay empty.
  TempDir cwd;
  const fs::path previous = fs::current_path();
  fs::current_path(cwd.path());
  const std::vector<std::vector<std::string>> commands = {
      {"demo", "--records", "10"},
      {"topic", "create", "t"},
      {"topic", "list"},
      {"topic", "describe", "t"},
      {"topic", "delete", "t"},
      {"topic", "alter", "t", "-c", "retention.ms=1000"},
      {"produce", "t"},
      {"consume", "t", "--from-beginning"},
      {"group", "list"},
      {"group", "describe", "g"},
      {"group", "reset-offsets", "g", "--topic", "t", "--to-earliest"},
      {"group", "delete", "g"},
      {"replay", "t"},
      {"verify"},
      {"dump", "00000000000000000000.log"},
      {"bench", "--records", "10"},
      {"serve", "--listen", "127.0.0.1:0"},
  };
  for (const auto& args : commands) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    std::vector<std::string> flag{"--data-dir", ""};
    flag.insert(flag.end(), args.begin(), args.end());
    RunResult r = RunSluice(flag, "", kDeadline);
    ExpectOneLineError(r, 2, "--data-dir '' " + shown);
    EXPECT_NE(r.err.find("--data-dir is empty"), std::string::npos) << shown << r.err;
  }
  ASSERT_EQ(::setenv("SLUICE_DATA_DIR", "", 1), 0);
  for (const auto& args : commands) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    RunResult r = RunSluice(args, "", kDeadline);
    ExpectOneLineError(r, 2, "SLUICE_DATA_DIR='' " + shown);
    EXPECT_NE(r.err.find("SLUICE_DATA_DIR is set but empty"), std::string::npos) << shown << r.err;
  }
  ::unsetenv("SLUICE_DATA_DIR");
  fs::current_path(previous);
  EXPECT_EQ(Entries(cwd.path()), std::vector<std::string>{});
}

// --- bench ---------------------------------------------------------------------------------------

class BenchSignalTest : public OperatorSafetyTest, public ::testing::WithParamInterface<int> {};

TEST_P(BenchSignalTest, RemovesItsTemporaryTopic) {
  const int sig = GetParam();
  Child bench = StartLongBench();
  const std::string topic = WaitForBenchTopic();
  ASSERT_FALSE(topic.empty());
  bench.Signal(sig);
  if (!bench.Pump("", {}, kDeadline)) bench.Signal(SIGKILL);  // it ignored the signal
  EXPECT_EQ(bench.Wait(), 128 + sig) << bench.err;
  EXPECT_EQ(bench.err, "sluice: bench interrupted by signal " + std::to_string(sig) +
                           "; its temporary topic " + topic + " was removed\n");
  EXPECT_FALSE(fs::exists(dir_.Join(topic + "-0")));
  EXPECT_EQ(BenchTopicsInCatalog(dir_.path()), std::vector<std::string>{});
  for (const auto& name : Entries(dir_.path())) {
    EXPECT_EQ(name.find("bench"), std::string::npos) << name << " left behind";
  }
}

INSTANTIATE_TEST_SUITE_P(SigintAndSigterm, BenchSignalTest, ::testing::Values(SIGINT, SIGTERM));

TEST_F(OperatorSafetyTest, TopicOfAKilledBenchDoesNotBlockTheNextRun) {
  std::string stale;
  {
    Child bench = StartLongBench();
    stale = WaitForBenchTopic();
    ASSERT_FALSE(stale.empty());
    bench.Signal(SIGKILL);
    EXPECT_EQ(bench.Wait(), 128 + SIGKILL);
  }
  RunResult r = Run({"bench", "--records", "2000", "--partitions", "1", "--producers", "1",
                     "--batch", "100", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["read"]["records"], 2000);
  // It names what was left behind, and leaves it: it removes only what it made in this run.
  EXPECT_NE(r.err.find("sluice bench: note: an interrupted bench left topic " + stale),
            std::string::npos)
      << r.err;
  EXPECT_EQ(BenchTopicsInCatalog(dir_.path()), std::vector<std::string>{stale});
  EXPECT_TRUE(fs::is_directory(dir_.Join(stale + "-0")));
}

// --- produce -------------------------------------------------------------------------------------

class ProduceSignalTest : public OperatorSafetyTest, public ::testing::WithParamInterface<int> {};

// The input stays open (a producer upstream still runs) when the signal comes: every record read
// before it is stored, counted in the summary, and readable afterwards.
TEST_P(ProduceSignalTest, FinishesTheBatchInHandAndExitsWithTheSignal) {
  const int sig = GetParam();
  Ok({"topic", "create", "t"});
  Child produce({"--data-dir", dir_.path(), "produce", "t", "--batch-records", "10"});
  // 25 lines in one write (below PIPE_BUF, so one read takes them all): two full batches are
  // appended at once, five records stay in hand, and an unfinished line follows.
  std::string input, expected;
  for (int i = 1; i <= 25; ++i) input += "r" + std::to_string(i) + "\n";
  expected = input;
  input += "cut-off";
  produce.WriteStdin(input);
  const std::string log = dir_.Join("t-0/00000000000000000000.log");
  ASSERT_TRUE(PollUntil([&] { return CountFrames(log) == 2; })) << "no batch was appended";
  produce.Signal(sig);
  if (!produce.Pump("", {}, kDeadline)) produce.Signal(SIGKILL);  // it ignored the signal
  EXPECT_EQ(produce.Wait(), 128 + sig) << produce.err;
  auto lines = Lines(produce.err);
  ASSERT_EQ(lines.size(), 2u) << produce.err;
  EXPECT_EQ(lines[0].rfind("produced 25 records (", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" to t in "), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "sluice: produce interrupted by signal " + std::to_string(sig) +
                          ": the 25 records read before it were all produced; an unfinished "
                          "last line (7 bytes without a newline) was not produced");
  EXPECT_EQ(produce.out, "");
  EXPECT_EQ(Ok({"consume", "t", "--from-beginning"}).out, expected);
}

INSTANTIATE_TEST_SUITE_P(SigintAndSigterm, ProduceSignalTest, ::testing::Values(SIGINT, SIGTERM));

}  // namespace
}  // namespace sluice::cli

// Two processes on one data directory: `sluice produce` or `sluice serve` writing while
// `sluice consume --follow` reads beside it (engine/partition_reader.h). The follower sees every
// record the producer appended, within a bound, in order, and nothing the producer had not appended
// yet. Commands that only look (topic/group list and describe) work beside the writer too.

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/sluice_process.h"
#include "tests/support/test_util.h"

namespace sluice::cli {
namespace {

using Child = testing::SluiceProcess;
using testing::Lines;
using testing::RunSluice;
using testing::TempDir;

class FollowCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data-dir", dir_.path()});
    return args;
  }
  TempDir dir_;
};

TEST_F(FollowCliTest, FollowerSeesEveryRecordAProducerAppendsWhileItHoldsTheDirectory) {
  ASSERT_EQ(RunSluice(Args({"topic", "create", "t", "--config", "flush=sync"})).exit_code, 0);
  Child follower(Args({"consume", "t", "--follow", "--from-beginning", "--format", "%o %v\n"}));
  // The producer appends a batch each time 100 lines have arrived (and the rest at the end).
  Child producer(Args({"produce", "t", "--batch-records", "100"}));
  std::vector<std::string> expected;
  int64_t slowest_ms = 0;
  for (int round = 0; round < 5; ++round) {
    std::string chunk;
    for (int i = 0; i < 100; ++i) {
      const int64_t n = round * 100 + i;
      chunk += "record-" + std::to_string(n) + "\n";
      expected.push_back(std::to_string(n) + " record-" + std::to_string(n));
    }
    const auto sent = std::chrono::steady_clock::now();
    producer.WriteStdin(chunk);
    ASSERT_TRUE(follower.Pump(
        "", [&](const std::string& out) { return Lines(out).size() >= expected.size(); }))
        << "the follower saw " << Lines(follower.out).size() << " of " << expected.size();
    slowest_ms =
        std::max<int64_t>(slowest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - sent)
                                          .count());
    // Exactly what the producer appended (whole batches of 100): no more, in order.
    EXPECT_EQ(Lines(follower.out), expected);
  }
  // Writers still need the lock, and say who holds it.
  auto refused = RunSluice(Args({"topic", "create", "u"}));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("locked by another process"), std::string::npos) << refused.err;

  // 50 lines do not fill a batch: the producer has not appended them, so nobody may see them.
  producer.WriteStdin("tail-1\ntail-2\n");
  // ... until the producer ends and appends them: then the follower gets them too.
  producer.CloseStdin();
  ASSERT_TRUE(producer.Pump(""));
  EXPECT_EQ(producer.Wait(), 0) << producer.err;
  expected.push_back("500 tail-1");
  expected.push_back("501 tail-2");
  ASSERT_TRUE(follower.Pump(
      "", [&](const std::string& out) { return Lines(out).size() >= expected.size(); }));
  follower.Signal(SIGTERM);
  ASSERT_TRUE(follower.Pump(""));
  EXPECT_EQ(follower.Wait(), 0) << follower.err;
  EXPECT_EQ(Lines(follower.out), expected);
  std::printf("follower: slowest round %lld ms after the producer's input\n",
              static_cast<long long>(slowest_ms));
}

TEST_F(FollowCliTest, ReplayRunsBesideAProducer) {
  ASSERT_EQ(RunSluice(Args({"topic", "create", "t"})).exit_code, 0);
  Child producer(Args({"produce", "t", "--batch-records", "10"}));
  std::string chunk;
  for (int i = 0; i < 30; ++i) chunk += "v" + std::to_string(i) + "\n";
  producer.WriteStdin(chunk);
  // The three batches are appended as the producer reads them; replay sees them (bounded wait).
  Child follower(Args({"replay", "t", "--to", "follow", "--format", "%v\n"}));
  ASSERT_TRUE(follower.Pump("", [](const std::string& out) { return Lines(out).size() >= 30; }));
  EXPECT_EQ(Lines(follower.out).front(), "v0");
  EXPECT_EQ(Lines(follower.out).back(), "v29");
  follower.Signal(SIGTERM);
  follower.Pump("");
  follower.Wait();
  producer.CloseStdin();
  ASSERT_TRUE(producer.Pump(""));
  EXPECT_EQ(producer.Wait(), 0) << producer.err;
}

TEST_F(FollowCliTest, FollowerAndInspectionBesideServe) {
  Child server(Args({"serve", "--listen", "127.0.0.1:0", "--admin-listen", "none"}));
  ASSERT_TRUE(
      server.Pump("", [](const std::string& out) { return out.find('\n') != std::string::npos; }));
  const std::string prefix = "listening on ";
  ASSERT_EQ(server.out.rfind(prefix, 0), 0u) << server.out << server.err;
  const std::string broker =
      server.out.substr(prefix.size(), server.out.find('\n') - prefix.size());
  std::thread drain([&] { server.Pump("", {}, std::chrono::seconds(600)); });
  auto remote = [&](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--broker", broker});
    return RunSluice(args, input);
  };
  ASSERT_EQ(remote({"topic", "create", "t", "--config", "flush=sync"}).exit_code, 0);

  // The server writes; the follower reads the same directory with no lock, no network.
  Child follower(Args({"consume", "t", "--follow", "--from-beginning", "--format", "%o %v\n"}));
  std::vector<std::string> expected;
  for (int round = 0; round < 3; ++round) {
    std::string chunk;
    for (int i = 0; i < 50; ++i) {
      const int64_t n = round * 50 + i;
      chunk += "r" + std::to_string(n) + "\n";
      expected.push_back(std::to_string(n) + " r" + std::to_string(n));
    }
    auto produced = remote({"produce", "t"}, chunk);  // returns once every record is acked
    ASSERT_EQ(produced.exit_code, 0) << produced.err;
    ASSERT_TRUE(follower.Pump(
        "", [&](const std::string& out) { return Lines(out).size() >= expected.size(); }))
        << "the follower saw " << Lines(follower.out).size() << " of " << expected.size();
    EXPECT_EQ(Lines(follower.out), expected);
  }
  ASSERT_EQ(remote({"consume", "t", "--group", "g", "--from-beginning", "--count", "150",
                    "--format", "%o\n"})
                .exit_code,
            0);

  // Looking at the directory while the server holds it: read-only, beside it.
  auto topics = RunSluice(Args({"--output", "json", "topic", "list"}));
  EXPECT_EQ(topics.exit_code, 0) << topics.err;
  EXPECT_NE(topics.out.find("\"topic\":\"t\""), std::string::npos) << topics.out;
  EXPECT_NE(topics.out.find("\"records\":150"), std::string::npos) << topics.out;
  auto described = RunSluice(Args({"--output", "json", "topic", "describe", "t"}));
  EXPECT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("\"high_watermark\":150"), std::string::npos) << described.out;
  auto groups = RunSluice(Args({"--output", "json", "group", "list"}));
  EXPECT_EQ(groups.exit_code, 0) << groups.err;
  EXPECT_NE(groups.out.find("\"group\":\"g\""), std::string::npos) << groups.out;
  auto group = RunSluice(Args({"--output", "json", "group", "describe", "g"}));
  EXPECT_EQ(group.exit_code, 0) << group.err;
  EXPECT_NE(group.out.find("\"committed_offset\":150"), std::string::npos) << group.out;
  EXPECT_NE(group.out.find("\"lag_records\":0"), std::string::npos) << group.out;
  // Writing commands still need the lock, and say who holds it.
  auto refused = RunSluice(Args({"topic", "create", "u"}));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("locked by another process"), std::string::npos) << refused.err;

  follower.Signal(SIGTERM);
  ASSERT_TRUE(follower.Pump(""));
  EXPECT_EQ(follower.Wait(), 0) << follower.err;
  EXPECT_EQ(Lines(follower.out), expected);
  server.Signal(SIGTERM);
  drain.join();
  EXPECT_EQ(server.Wait(), 0) << server.err;
}

}  // namespace
}  // namespace sluice::cli

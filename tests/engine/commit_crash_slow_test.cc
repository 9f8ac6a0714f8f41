// A real crash test of committed consumer offsets: a child process commits increasing offsets for
// a group (__consumer_offsets is flush=sync) and reports each attempt and each acknowledged commit
// through a pipe; the parent kills it with SIGKILL at a random point, reopens the data directory,
// and checks that the committed offset is never behind the last acknowledged commit nor ahead of
// the last attempted one, and that a commit of two partitions is all-or-nothing.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "engine/engine.h"
#include "engine/group_offsets.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

constexpr int kRounds = 25;
constexpr char kGroup[] = "crash-group";
constexpr char kTopic[] = "events";

// Child: commits offsets first, first + 1, ... for partitions 0 and 1 of kTopic (both in one
// call), writing "a <offset>\n" before each commit and "c <offset>\n" once it returned. Never
// returns.
[[noreturn]] void RunChild(const std::string& dir, int fd, int64_t first, int round) {
  EngineOptions o;
  o.data_dir = dir;
  auto engine = Engine::Open(o);
  if (!engine) _exit(3);
  GroupOffsetStore& store = *(*engine)->GroupOffsets().value();
  const std::string metadata = "round " + std::to_string(round);
  for (int64_t offset = first;; ++offset) {
    char line[64];
    int len = std::snprintf(line, sizeof(line), "a %lld\n", static_cast<long long>(offset));
    if (write(fd, line, static_cast<size_t>(len)) != len) _exit(6);
    std::vector<OffsetCommit> commits{{kTopic, 0, base::Offset(offset), metadata},
                                      {kTopic, 1, base::Offset(offset), metadata}};
    if (!store.Commit(kGroup, commits)) _exit(5);
    len = std::snprintf(line, sizeof(line), "c %lld\n", static_cast<long long>(offset));
    if (write(fd, line, static_cast<size_t>(len)) != len) _exit(6);
  }
}

// Reads "a <n>" / "c <n>" lines, keeping the highest attempted and acknowledged offsets, until
// `limit` acknowledgements were read (or the pipe ends). Returns false at the end of the pipe.
bool ReadReports(FILE* in, int limit, int64_t& attempted, int64_t& acked) {
  char kind = 0;
  long long n = 0;
  for (int seen = 0; seen < limit;) {
    if (std::fscanf(in, " %c %lld", &kind, &n) != 2) return false;
    if (kind == 'a') {
      attempted = std::max<int64_t>(attempted, n);
    } else {
      acked = std::max<int64_t>(acked, n);
      ++seen;
    }
  }
  return true;
}

TEST(CommitCrashTest, AcknowledgedCommitsSurviveSigkill) {
  testing::TempDir dir;
  {
    EngineOptions o;
    o.data_dir = dir.path();
    o.background = BackgroundWork::kManual;
    auto engine = Engine::Open(o);
    ASSERT_OK(engine);
    ASSERT_OK((*engine)->CreateTopic(kTopic, 2, {{"segment.bytes", "1048576"}}));
    ASSERT_OK((*engine)->GroupOffsets());  // creates __consumer_offsets
    ASSERT_OK_AND_ASSIGN(auto config, (*engine)->DescribeTopic(kConsumerOffsetsTopic));
    ASSERT_EQ(config.info.config.flush, FlushMode::kSync);
    ASSERT_OK((*engine)->Close());
  }
  auto rng = testing::SeededRng();
  int64_t committed = -1;  // what the last reopen found (-1: nothing yet)
  int64_t total_acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int64_t first = committed + 1;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(dir.path(), fds[1], first, round);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    ASSERT_NE(in, nullptr);
    // Let it run for a random number of acknowledgements, then a random few microseconds more.
    int64_t attempted = -1;
    int64_t acked = -1;
    const int kill_after = std::uniform_int_distribution<int>(0, 200)(rng);
    ReadReports(in, kill_after, attempted, acked);
    const auto spin = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng));
    const auto until = std::chrono::steady_clock::now() + spin;
    while (std::chrono::steady_clock::now() < until) {
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    // Reports the child wrote before it died count too.
    ReadReports(in, INT32_MAX, attempted, acked);
    fclose(in);
    if (acked >= 0) total_acked += acked - first + 1;

    EngineOptions o;
    o.data_dir = dir.path();
    o.background = BackgroundWork::kManual;
    auto engine = Engine::Open(o);
    ASSERT_OK(engine);
    // (A child killed before it got as far as opening the engine left the directory clean.)
    if (attempted >= 0) {
      EXPECT_FALSE((*engine)->opened_after_clean_shutdown());
    }
    GroupOffsetStore& store = *(*engine)->GroupOffsets().value();
    auto p0 = store.Fetch(kGroup, kTopic, 0);
    auto p1 = store.Fetch(kGroup, kTopic, 1);
    ASSERT_EQ(p0.has_value(), p1.has_value());
    const int64_t now = p0 ? p0->offset.value() : -1;
    SCOPED_TRACE("round " + std::to_string(round) + ": first " + std::to_string(first) +
                 ", acknowledged " + std::to_string(acked) + ", attempted " +
                 std::to_string(attempted) + ", found " + std::to_string(now));
    // Both partitions were committed in one call: the log holds both or neither.
    if (p0) {
      EXPECT_EQ(p1->offset.value(), now);
      EXPECT_EQ(p0->metadata, p1->metadata);
    }
    EXPECT_GE(now, std::max(acked, committed)) << "an acknowledged commit was lost";
    EXPECT_LE(now, std::max(attempted, committed)) << "a commit that was never made appeared";
    if (now >= first) {
      EXPECT_EQ(p0->metadata, "round " + std::to_string(round));
    }
    committed = now;
    ASSERT_OK((*engine)->Close());
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GE(total_acked, kRounds);  // the children did make progress
}

}  // namespace
}  // namespace sluice::engine

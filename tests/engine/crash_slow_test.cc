// A real crash test: a child process appends with flush=sync from several threads and reports
// every acknowledged batch through a pipe; the parent kills it with SIGKILL at a random point,
// reopens the data directory, and checks that every acknowledged record is there, in order,
// exactly once.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "engine/engine.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

constexpr int kThreads = 4;
constexpr int kPartitions = 2;
constexpr int kRounds = 25;

// Child: appends batches "r<round>.t<thread>.<seq>" forever, reporting "<thread> <last seq>\n"
// after each acknowledged append. Never returns.
[[noreturn]] void RunChild(const std::string& dir, int fd, int round) {
  EngineOptions o;
  o.data_dir = dir;
  auto engine = Engine::Open(o);
  if (!engine) _exit(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int64_t seq = 0;
      for (int i = 0;; ++i) {
        segment::BatchBuilder b;
        const int n = 1 + (i * 7 + t) % 5;
        for (int k = 0; k < n; ++k) {
          std::string v = "r" + std::to_string(round) + ".t" + std::to_string(t) + "." +
                          std::to_string(seq + k);
          b.Add(std::nullopt, v, 1000 + seq + k);
        }
        auto batch = b.Build();
        if (!batch) _exit(4);
        auto r = (*engine)->Append("crash", t % kPartitions, base::AsBytes(*batch));
        if (!r) _exit(5);
        seq += n;
        char line[64];
        int len =
            std::snprintf(line, sizeof(line), "%d %lld\n", t, static_cast<long long>(seq - 1));
        if (write(fd, line, static_cast<size_t>(len)) != len) _exit(6);
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

TEST(CrashTest, AcknowledgedSyncAppendsSurviveSigkill) {
  testing::TempDir dir;
  {
    EngineOptions o;
    o.data_dir = dir.path();
    auto engine = Engine::Open(o);
    ASSERT_OK(engine);
    ASSERT_OK((*engine)->CreateTopic("crash", kPartitions,
                                     {{"flush", "sync"}, {"segment.bytes", "65536"}}));
    ASSERT_OK((*engine)->Close());
  }
  auto rng = testing::SeededRng();
  // (round, thread) -> highest acknowledged seq.
  std::map<std::pair<int, int>, int64_t> acked;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(dir.path(), fds[1], round);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    ASSERT_NE(in, nullptr);
    // Let it run for a random number of acknowledgements, then a random few microseconds more.
    const int kill_after = std::uniform_int_distribution<int>(1, 300)(rng);
    int t = 0;
    long long seq = 0;
    for (int n = 0; n < kill_after && std::fscanf(in, "%d %lld", &t, &seq) == 2; ++n) {
      acked[{round, t}] = std::max<int64_t>(acked[{round, t}], seq);
    }
    const auto spin = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng));
    const auto until = std::chrono::steady_clock::now() + spin;
    while (std::chrono::steady_clock::now() < until) {
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    // Acknowledgements the child sent before it died count too.
    while (std::fscanf(in, "%d %lld", &t, &seq) == 2) {
      acked[{round, t}] = std::max<int64_t>(acked[{round, t}], seq);
    }
    fclose(in);

    // Reopen (recovery runs) and check every round so far.
    EngineOptions o;
    o.data_dir = dir.path();
    o.background = BackgroundWork::kManual;
    auto engine = Engine::Open(o);
    ASSERT_OK(engine);
    EXPECT_FALSE((*engine)->opened_after_clean_shutdown());
    // (round, thread) -> next seq expected in the log.
    std::map<std::pair<int, int>, int64_t> next_seq;
    segment::RecordDecoder decoder;
    for (int p = 0; p < kPartitions; ++p) {
      base::Offset next(0);
      for (;;) {
        auto r = (*engine)->Read("crash", p, next, 1 << 20);
        ASSERT_OK(r);
        if (r->batches.empty()) break;
        auto check = [&](const segment::RecordView& rec) {
          if (rec.offset < next.value()) return base::Status();
          next = base::Offset(rec.offset + 1);
          int rr = 0;
          int tt = 0;
          long long ss = 0;
          std::string v(rec.value.value_or(""));
          EXPECT_EQ(std::sscanf(v.c_str(), "r%d.t%d.%lld", &rr, &tt, &ss), 3) << v;
          EXPECT_EQ(tt % kPartitions, p) << v;
          // In order and exactly once: each thread's records are 0, 1, 2, ... with no gap.
          int64_t& expected = next_seq[std::make_pair(rr, tt)];
          EXPECT_EQ(ss, expected) << "round " << rr << " thread " << tt;
          expected = ss + 1;
          return base::Status();
        };
        for (const auto& b : r->batches) ASSERT_OK(segment::ForEachRecord(b.bytes, decoder, check));
      }
    }
    for (const auto& [key, last] : acked) {
      EXPECT_GT(next_seq[key], last) << "round " << key.first << " thread " << key.second
                                     << ": acknowledged seq " << last << " is missing";
    }
    ASSERT_OK((*engine)->Close());
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GE(acked.size(), static_cast<size_t>(kRounds));  // the children did make progress
}

}  // namespace
}  // namespace sluice::engine

// SignalStop (cli/record_format.h): SIGINT/SIGTERM become a stop request, and its watcher thread
// waits on no timer. A watcher that slept 20 ms between looks held every command's exit up to its
// next wake-up (the destructor joins it): half of a `sluice --broker ... produce` (issue 12).
// Checked on what the kernel says the thread is blocked in, not by timing the destructor.

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/record_format.h"
#include "gtest/gtest.h"

namespace sluice::cli {
namespace {

// The ids of this process's threads.
std::set<std::string> Threads() {
  std::set<std::string> ids;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    ids.insert(e.path().filename().string());
  }
  return ids;
}

// /proc/self/task/TID/syscall: the number and arguments of the system call the thread is blocked
// in; empty while it runs.
std::vector<uint64_t> BlockedIn(const std::string& tid) {
  std::ifstream in("/proc/self/task/" + tid + "/syscall");
  std::string first;
  in >> first;
  if (first.empty() || first == "running" || first[0] == '-') return {};
  std::vector<uint64_t> call{std::stoull(first)};
  for (std::string arg; in >> arg;) call.push_back(std::stoull(arg, nullptr, 16));
  return call;
}

TEST(SignalStopTest, WatcherBlocksInPollWithoutATimeout) {
  const std::set<std::string> before = Threads();
  SignalStop stop;
  std::vector<std::string> started;
  for (const std::string& tid : Threads()) {
    if (!before.contains(tid)) started.push_back(tid);
  }
  ASSERT_EQ(started.size(), 1u) << "SignalStop starts one watcher thread";
  // Wait (bounded) until the watcher is blocked in a poll or a sleep; its start-up calls are
  // neither.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<uint64_t> call;
  for (;;) {
    call = BlockedIn(started[0]);
    if (!call.empty()) {
      const uint64_t nr = call[0];
      bool waiting = nr == SYS_ppoll || nr == SYS_clock_nanosleep;
#ifdef SYS_poll
      waiting = waiting || nr == SYS_poll;
#endif
#ifdef SYS_nanosleep
      waiting = waiting || nr == SYS_nanosleep;
#endif
      if (waiting) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the watcher never blocked";
    std::this_thread::yield();
  }
  ASSERT_GE(call.size(), 4u);
#ifdef SYS_poll
  if (call[0] == SYS_poll) {
    EXPECT_EQ(static_cast<int32_t>(call[3]), -1) << "poll() with a timeout: the watcher polls";
    return;
  }
#endif
  ASSERT_EQ(call[0], static_cast<uint64_t>(SYS_ppoll))
      << "the watcher sleeps (system call " << call[0] << ") instead of blocking in poll()";
  EXPECT_EQ(call[3], 0u) << "ppoll() with a timeout: the watcher polls";
}

TEST(SignalStopTest, SigtermBecomesAStopRequest) {
  SignalStop stop;
  std::promise<void> requested;
  std::stop_callback on_stop(stop.token(), [&requested] { requested.set_value(); });
  ASSERT_FALSE(stop.stop_requested());
  ASSERT_EQ(::raise(SIGTERM), 0);  // handled by SignalStop: the test process lives on
  EXPECT_TRUE(stop.stop_requested());
  EXPECT_EQ(stop.signal_number(), SIGTERM);
  ASSERT_EQ(requested.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the watcher did not turn the signal into a stop request";
}

}  // namespace
}  // namespace sluice::cli

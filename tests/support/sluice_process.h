#pragma once

// The real `sluice` binary (built beside the tests) as a child process, for CLI tests: pipes on
// stdin, stdout and stderr, signals, exit codes.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sluice::testing {

// The lines of `text`, without their newlines.
std::vector<std::string> Lines(const std::string& text);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class SluiceProcess {
 public:
  explicit SluiceProcess(const std::vector<std::string>& args);
  // Kills the child if it still runs.
  ~SluiceProcess();
  SluiceProcess(const SluiceProcess&) = delete;
  SluiceProcess& operator=(const SluiceProcess&) = delete;

  // Writes `input` to stdin (then closes it, unless WriteStdin held it open) while collecting
  // stdout and stderr, until both are closed or `done(out)` holds. Fails the test after `timeout`
  // and returns false (the child may still run: kill it before Wait).
  bool Pump(const std::string& input, const std::function<bool(const std::string&)>& done = {},
            std::chrono::seconds timeout = std::chrono::seconds(20));
  // Writes all of `data` to stdin and keeps stdin open (as a pipe from a producer that is still
  // running) until CloseStdin. Fails the test if the child does not take it within 20 s.
  void WriteStdin(const std::string& data);
  void CloseStdin();
  void Signal(int sig);
  // Waits for the exit; returns the exit code (128 + signal if killed).
  int Wait();

  std::string out;
  std::string err;

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  bool hold_stdin_ = false;  // WriteStdin was called: Pump leaves stdin open
};

// Runs `sluice args...` to completion with `input` on stdin.
RunResult RunSluice(const std::vector<std::string>& args, const std::string& input = "",
                    std::chrono::seconds timeout = std::chrono::seconds(20));

}  // namespace sluice::testing

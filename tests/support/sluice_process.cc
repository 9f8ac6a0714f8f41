#include "tests/support/sluice_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "segment/base/check.h"

extern char** environ;

namespace sluice::testing {

namespace {
void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}
}  // namespace

SluiceProcess::SluiceProcess(const std::vector<std::string>& args) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  SLUICE_CHECK(::pipe2(in_pipe, O_CLOEXEC) == 0 && ::pipe2(out_pipe, O_CLOEXEC) == 0 &&
                   ::pipe2(err_pipe, O_CLOEXEC) == 0,
               "pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);  // the test ignores it; the binary gets the default
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::string binary = SLUICE_BINARY_DIR "/sluice";
  std::vector<std::string> argv_storage{binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = posix_spawn(&pid_, binary.c_str(), &actions, &attr, argv.data(), environ);
  SLUICE_CHECK(rc == 0, "posix_spawn " + binary + ": " + std::strerror(rc));
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  in_ = in_pipe[1];
  out_ = out_pipe[0];
  err_ = err_pipe[0];
  ::fcntl(in_, F_SETFL, O_NONBLOCK);
}
SluiceProcess::~SluiceProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait();
  }
  for (int fd : {in_, out_, err_}) {
    if (fd >= 0) ::close(fd);
  }
}
bool SluiceProcess::Pump(const std::string& input,
                         const std::function<bool(const std::string&)>& done,
                         std::chrono::seconds timeout) {
  size_t written = 0;
  if (input.empty() && !hold_stdin_) CloseFd(in_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[1 << 16];
  while (out_ >= 0 || err_ >= 0) {
    if (done && done(out)) return true;
    std::vector<pollfd> fds;
    if (in_ >= 0 && written < input.size()) fds.push_back({in_, POLLOUT, 0});
    if (out_ >= 0) fds.push_back({out_, POLLIN, 0});
    if (err_ >= 0) fds.push_back({err_, POLLIN, 0});
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "sluice did not finish in time; stderr so far: " << err;
      return false;
    }
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in_) {
        const ssize_t n = ::write(in_, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN) written = input.size();  // EPIPE: the child stopped reading
        if (written == input.size() && !hold_stdin_) CloseFd(in_);
      } else {
        const ssize_t n = ::read(p.fd, buf, sizeof(buf));
        std::string& sink = p.fd == out_ ? out : err;
        if (n > 0) {
          sink.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          CloseFd(p.fd == out_ ? out_ : err_);
        }
      }
    }
  }
  return true;
}

void SluiceProcess::WriteStdin(const std::string& data) {
  hold_stdin_ = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  size_t written = 0;
  while (written < data.size()) {
    ASSERT_GE(in_, 0) << "stdin is closed";
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "sluice does not read its stdin";
    pollfd p{in_, POLLOUT, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::write(in_, data.data() + written, data.size() - written);
    if (n > 0) written += static_cast<size_t>(n);
    ASSERT_FALSE(n < 0 && errno != EAGAIN && errno != EINTR) << std::strerror(errno);
  }
}

void SluiceProcess::CloseStdin() { CloseFd(in_); }

void SluiceProcess::Signal(int sig) { ::kill(pid_, sig); }

int SluiceProcess::Wait() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

RunResult RunSluice(const std::vector<std::string>& args, const std::string& input,
                    std::chrono::seconds timeout) {
  SluiceProcess child(args);
  if (!child.Pump(input, {}, timeout)) child.Signal(SIGKILL);  // the test failed; do not hang
  RunResult r;
  r.exit_code = child.Wait();
  r.out = std::move(child.out);
  r.err = std::move(child.err);
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace sluice::testing

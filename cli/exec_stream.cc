#include "cli/exec_stream.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "cli/record_format.h"

extern char** environ;

namespace sluice::cli {

using base::ErrorCode;
using base::MakeError;
using base::Offset;
using base::Status;

namespace {
constexpr size_t kWriteBytes = 64 << 10;  // queue this much before writing to the pipe
}  // namespace

base::Result<std::unique_ptr<StreamExecutor>> StreamExecutor::Start(const std::string& command,
                                                                    const std::string& topic) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return base::ErrnoError(errno, "pipe for", "--exec-stream");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  std::fflush(stdout);  // the command shares our stdout: keep the order
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[0]);
  if (err != 0) {
    ::close(fds[1]);
    return base::ErrnoError(err, "spawn /bin/sh for", "--exec-stream");
  }
  return std::unique_ptr<StreamExecutor>(new StreamExecutor(pid, fds[1], command, topic));
}

StreamExecutor::StreamExecutor(pid_t pid, int fd, std::string command, std::string topic)
    : pid_(pid), fd_(fd), command_(std::move(command)), topic_(std::move(topic)) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &old_pipe_);
}

StreamExecutor::~StreamExecutor() {
  if (fd_ >= 0) ::close(fd_);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  sigaction(SIGPIPE, &old_pipe_, nullptr);
}

Status StreamExecutor::Write(int32_t partition, const segment::RecordView& record) {
  AppendRecordJson(pending_, topic_, partition, record);
  queued_bytes_ = bytes_written_ + pending_.size();
  unread_.push_back({queued_bytes_, partition, Offset(record.offset + 1)});
  written_positions_[partition] = Offset(record.offset + 1);
  ++records_written_;
  if (pending_.size() >= kWriteBytes) return Flush();
  return {};
}

Status StreamExecutor::Flush() {
  if (pending_.empty()) return {};
  std::string bytes;
  bytes.swap(pending_);
  return WriteAll(bytes);
}

Status StreamExecutor::WriteAll(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EPIPE) {
        return MakeError(ErrorCode::kInternal,
                         "--exec-stream: the command stopped reading its stdin (it exited?)");
      }
      return base::ErrnoError(errno, "writing to", "--exec-stream's command");
    }
    done += static_cast<size_t>(n);
    bytes_written_ += static_cast<uint64_t>(n);
  }
  return {};
}

std::map<int32_t, Offset> StreamExecutor::ReadPositions() {
  if (fd_ >= 0) UpdateReadPositions(fd_);
  return read_positions_;
}

void StreamExecutor::UpdateReadPositions(int pipe_fd) {
  int unread_bytes = 0;
  // FIONREAD on a pipe counts the bytes in it, from either end.
  if (::ioctl(pipe_fd, FIONREAD, &unread_bytes) != 0 || unread_bytes < 0) return;
  const uint64_t consumed = bytes_written_ - static_cast<uint64_t>(unread_bytes);
  while (!unread_.empty() && unread_.front().end_byte <= consumed) {
    read_positions_[unread_.front().partition] = unread_.front().next;
    unread_.pop_front();
  }
}

Status StreamExecutor::Finish() {
  Status flushed = Flush();
  // A read end of our own, so that once the command has exited the pipe still tells (FIONREAD)
  // how much of it the command read. Opened before our write end closes (the command then sees
  // EOF); nothing is written after this, so holding a reader cannot block a write.
  const int probe =
      ::open(("/proc/self/fd/" + std::to_string(fd_)).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ::close(fd_);
  fd_ = -1;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      if (probe >= 0) ::close(probe);
      return base::ErrnoError(errno, "wait for", "--exec-stream's command");
    }
  }
  pid_ = -1;
  if (probe >= 0) {
    UpdateReadPositions(probe);
    ::close(probe);
  }
  if (WIFSIGNALED(status)) {
    return MakeError(ErrorCode::kInternal,
                     "--exec-stream: command killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return MakeError(ErrorCode::kInternal, "--exec-stream: command exited with status " +
                                               std::to_string(WEXITSTATUS(status)));
  }
  if (!flushed) return flushed;
  if (probe < 0) {
    // No /proc: the command succeeded after its stdin closed; count everything as read.
    read_positions_ = written_positions_;
    unread_.clear();
  } else if (!unread_.empty()) {
    std::fprintf(stderr,
                 "replay: the command exited (status 0) before reading %zu of the records; "
                 "only what it read counts as done\n",
                 unread_.size());
  }
  return {};
}

ProgressBar::ProgressBar(int64_t total) : total_(total), enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::Update(int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  Draw(done);
}

void ProgressBar::Done(int64_t done) {
  if (!enabled_) return;
  Draw(done);
  std::fputc('\n', stderr);
}

void ProgressBar::Draw(int64_t done) {
  if (total_ <= 0) {
    std::fprintf(stderr, "\r%lld records", static_cast<long long>(done));
    return;
  }
  constexpr int kWidth = 30;
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  std::fprintf(stderr, "\r[%s] %3d%%  %lld/%lld records", bar, static_cast<int>(fraction * 100),
               static_cast<long long>(done), static_cast<long long>(total_));
}

}  // namespace sluice::cli

#pragma once

// replay --exec-stream: one long-running command (/bin/sh -c CMD) that gets the records as JSON
// lines on its stdin (the lines of consume -o json), instead of one shell per record; and a
// progress bar on stderr when stderr is a terminal.
//
// Progress: a record counts as read once the command has read its whole line from the pipe (what
// is still in the pipe is known from FIONREAD), so ReadPositions() never runs ahead of the
// command. Lines the command has read but not yet acted on are its own to keep: a command killed
// mid-way may lose those (at most one pipe buffer, 64 KiB by default), never more.
//
// Thread-safety: used by one thread. While it exists SIGPIPE is ignored (a command that exits
// early is an error from Write, not a signal).

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/record_batch.h"

namespace sluice::cli {

class StreamExecutor {
 public:
  // Spawns the command with a pipe on its stdin (stdout and stderr are ours).
  static base::Result<std::unique_ptr<StreamExecutor>> Start(const std::string& command,
                                                             const std::string& topic);
  // Kills the command if Finish was not called.
  ~StreamExecutor();
  StreamExecutor(const StreamExecutor&) = delete;
  StreamExecutor& operator=(const StreamExecutor&) = delete;

  // Queues the record's JSON line, writing to the pipe when enough is queued (blocking while the
  // command does not read). Fails if the command has exited.
  base::Status Write(int32_t partition, const segment::RecordView& record);
  // Writes everything queued.
  base::Status Flush();
  // Per partition, the offset after the last record whose line the command has read.
  std::map<int32_t, base::Offset> ReadPositions();
  // Per partition, the offset after the last record written to the pipe.
  const std::map<int32_t, base::Offset>& WrittenPositions() const { return written_positions_; }
  // Closes the command's stdin and waits for it: kInternal naming the exit status or signal
  // unless it exited 0. Afterwards ReadPositions() is what the command read before it exited
  // (a command that exits 0 without reading everything gets a note on stderr).
  base::Status Finish();
  int64_t records_written() const { return records_written_; }

 private:
  StreamExecutor(pid_t pid, int fd, std::string command, std::string topic);
  base::Status WriteAll(const std::string& bytes);
  // Moves read_positions_ past the lines no longer in the pipe (`pipe_fd`: either end of it).
  void UpdateReadPositions(int pipe_fd);

  pid_t pid_ = -1;
  int fd_ = -1;  // the write end of the command's stdin
  const std::string command_;
  const std::string topic_;
  std::string pending_;          // lines not yet written to the pipe
  uint64_t bytes_written_ = 0;   // into the pipe, in total
  int64_t records_written_ = 0;  // records queued or written
  struct LineEnd {
    uint64_t end_byte;  // the stream position just past the record's line
    int32_t partition;
    base::Offset next;  // the record's offset + 1
  };
  std::deque<LineEnd> unread_;  // lines written or queued that the command may not have read
  uint64_t queued_bytes_ = 0;   // bytes written + pending, in total
  std::map<int32_t, base::Offset> read_positions_;
  std::map<int32_t, base::Offset> written_positions_;
  struct sigaction old_pipe_ {};
};

// "[#########.........]  45%  12345/27000 records" on stderr, redrawn at most ten times a second,
// only when stderr is a terminal. Done() ends the line.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t total);  // total <= 0: a count without a bar (following)
  void Update(int64_t done);
  void Done(int64_t done);

 private:
  void Draw(int64_t done);
  const int64_t total_;
  const bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace sluice::cli

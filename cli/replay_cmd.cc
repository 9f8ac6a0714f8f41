// sluice replay TOPIC: a topic's history through the engine's replay API (a consistent cut, per
// partition or merged by timestamp, optionally following), printed like `consume` or fed to a
// command once per record; with --snapshot, only the records after the newest usable snapshot.
// With --broker the same replay runs over the Kafka protocol (RemoteReplay); --snapshot needs the
// data directory.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <queue>

#include "cli/commands.h"
#include "cli/exec_stream.h"
#include "cli/record_format.h"
#include "engine/replay.h"
#include "engine/snapshot.h"

extern char** environ;

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::MakeError;

struct ReplayArgs {
  std::string topic;
  std::string from = "earliest";
  std::string to = "now";
  std::vector<int32_t> partitions;
  bool merge = false;
  std::string format = kDefaultRecordFormat;
  bool format_given = false;
  std::string exec;
  bool exec_given = false;
  std::string snapshot;
  bool snapshot_given = false;
  std::string exec_stream;  // one command, the records as JSON lines on its stdin
  bool exec_stream_given = false;
  std::string group;  // with --exec-stream: commit progress, resume from it
};

bool AllDigits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

std::optional<engine::ReplayFrom> ParseFrom(const std::string& s) {
  if (s == "earliest") return engine::ReplayFrom::Earliest();
  if (AllDigits(s)) return engine::ReplayFrom::Offset(std::stoll(s));
  if (auto t = ParseTime(s)) return engine::ReplayFrom::Timestamp(*t);
  return std::nullopt;
}

std::optional<engine::ReplayTo> ParseTo(const std::string& s) {
  if (s == "now") return engine::ReplayTo::Now();
  if (s == "follow") return engine::ReplayTo::Follow();
  if (AllDigits(s)) return engine::ReplayTo::Offset(std::stoll(s));
  if (auto t = ParseTime(s)) return engine::ReplayTo::Timestamp(*t);
  return std::nullopt;
}

// Runs a shell command once per record: the value on its stdin (a null value: empty stdin), the
// rest in SLUICE_TOPIC, SLUICE_PARTITION, SLUICE_OFFSET, SLUICE_TIMESTAMP and SLUICE_KEY (unset
// for a null key; a key is cut at its first NUL byte, which an environment cannot hold).
// While it exists SIGPIPE is ignored, so a command that does not read its stdin is no error.
class Executor {
 public:
  Executor(std::string command, std::string topic)
      : command_(std::move(command)), topic_(std::move(topic)) {
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "SLUICE_", 7) == 0) {
        const std::string name(*e, std::strcspn(*e, "="));
        if (name == "SLUICE_TOPIC" || name == "SLUICE_PARTITION" || name == "SLUICE_OFFSET" ||
            name == "SLUICE_TIMESTAMP" || name == "SLUICE_KEY") {
          continue;
        }
      }
      base_env_.emplace_back(*e);
    }
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
  ~Executor() { sigaction(SIGPIPE, &old_pipe_, nullptr); }
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  Status Run(int32_t partition, const segment::RecordView& r) {
    std::vector<std::string> env = base_env_;
    env.push_back("SLUICE_TOPIC=" + topic_);
    env.push_back("SLUICE_PARTITION=" + std::to_string(partition));
    env.push_back("SLUICE_OFFSET=" + std::to_string(r.offset));
    env.push_back("SLUICE_TIMESTAMP=" + std::to_string(r.timestamp));
    if (r.key) env.push_back("SLUICE_KEY=" + std::string(r.key->substr(0, r.key->find('\0'))));
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = "/bin/sh", dash_c = "-c";
    char* argv[] = {sh.data(), dash_c.data(), command_.data(), nullptr};

    const std::string where = "--exec at offset " + std::to_string(r.offset) + " of " + topic_ +
                              "-" + std::to_string(partition);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return base::ErrnoError(errno, "pipe for", where);
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
    std::fflush(stdout);  // the command shares our stdout: keep the order
    pid_t pid = 0;
    const int err = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[0]);
    if (err != 0) {
      ::close(fds[1]);
      return base::ErrnoError(err, "spawn /bin/sh for", where);
    }
    if (r.value) {
      const char* p = r.value->data();
      size_t left = r.value->size();
      while (left > 0) {
        const ssize_t n = ::write(fds[1], p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EPIPE: the command did not read all of its stdin
        p += n;
        left -= static_cast<size_t>(n);
      }
    }
    ::close(fds[1]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return base::ErrnoError(errno, "wait for", where);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFSIGNALED(status)) {
      return MakeError(ErrorCode::kInternal,
                       where + ": command killed by signal " + std::to_string(WTERMSIG(status)));
    }
    return MakeError(ErrorCode::kInternal,
                     where + ": command exited with status " + std::to_string(WEXITSTATUS(status)));
  }

 private:
  std::string command_;
  const std::string topic_;
  std::vector<std::string> base_env_;
  struct sigaction old_pipe_ {};
};

// --- replay through a backend (--broker) ---------------------------------------------------------
// engine::Replay's semantics (engine/replay.h: the cut, both orders, follow) over a RecordReader,
// for a topic on a running server. The engine's own Replay serves the embedded mode.

// One partition's records in offset order, in [start, end); the current record is copied, so
// that it stays valid while other partitions are read (merged order).
class RemoteCursor {
 public:
  RemoteCursor(RecordReader& reader, const engine::ReplayOptions& options, int32_t partition,
               base::Offset start, base::Offset end)
      : reader_(reader), options_(options), partition_(partition), next_(start), end_(end) {}

  int32_t partition() const { return partition_; }
  base::Offset next() const { return next_; }
  const segment::RecordView& record() const { return view_; }
  void set_end(base::Offset end) { end_ = end; }

  // Moves to the next record below the end. Before the end it waits for records still on their
  // way (they exist: the end is at most the high watermark taken at the start) unless `now_only`;
  // false at the end, when stopped, or (now_only) when no record is there yet.
  Result<bool> Advance(bool now_only) {
    while (next_ < end_ && !options_.stop.stop_requested()) {
      bool got = false;
      bool past_end = false;
      RETURN_IF_ERROR(reader_.Read(partition_, next_, [&](const segment::RecordView& r) {
        if (r.offset >= end_.value()) {
          past_end = true;
        } else {
          Copy(r);
          got = true;
        }
        return false;  // one record at a time
      }));
      if (got) {
        next_ = base::Offset(view_.offset + 1);
        return true;
      }
      if (past_end || now_only) return false;
      RETURN_IF_ERROR(reader_.Wait(partition_, next_, 200));
    }
    return false;
  }

 private:
  void Copy(const segment::RecordView& r) {
    key_ = r.key.value_or("");
    value_ = r.value.value_or("");
    header_storage_.clear();
    for (const auto& h : r.headers) {
      header_storage_.emplace_back(std::string(h.key),
                                   h.value ? std::optional<std::string>(*h.value) : std::nullopt);
    }
    headers_.clear();
    for (const auto& [k, v] : header_storage_) {
      headers_.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    }
    view_.offset = r.offset;
    view_.timestamp = r.timestamp;
    view_.key = r.key ? std::optional<std::string_view>(key_) : std::nullopt;
    view_.value = r.value ? std::optional<std::string_view>(value_) : std::nullopt;
    view_.headers = headers_;
  }

  RecordReader& reader_;
  const engine::ReplayOptions& options_;
  const int32_t partition_;
  base::Offset next_;
  base::Offset end_;
  std::string key_;
  std::string value_;
  std::vector<std::pair<std::string, std::optional<std::string>>> header_storage_;
  std::vector<segment::RecordHeader> headers_;
  segment::RecordView view_;
};

Status RemoteReplay(Backend& backend, const engine::ReplayOptions& o,
                    const engine::ReplayFold& fold) {
  ASSIGN_OR_RETURN(std::vector<PartitionSummary> stats, backend.Partitions(o.topic));
  std::vector<int32_t> partitions = o.partitions;
  if (partitions.empty()) {
    for (const auto& p : stats) partitions.push_back(p.partition);
  }
  // The cut: every partition's bounds are fixed before any record is read.
  std::vector<std::pair<int32_t, base::Offset>> starts;
  std::vector<base::Offset> ends;
  for (int32_t p : partitions) {
    const PartitionSummary& ps = stats[static_cast<size_t>(p)];
    base::Offset start = ps.log_start_offset;
    if (o.from.kind == engine::ReplayFrom::Kind::kOffset) {
      start = base::Offset(o.from.value);
    } else if (o.from.kind == engine::ReplayFrom::Kind::kTimestamp) {
      ASSIGN_OR_RETURN(auto found, backend.OffsetForTimestamp(o.topic, p, o.from.value));
      start = found.value_or(ps.high_watermark);
    }
    if (start < ps.log_start_offset) {
      return MakeError(ErrorCode::kOutOfRange,
                       o.topic + "-" + std::to_string(p) + ": replay from offset " +
                           std::to_string(start.value()) + ", but the log now starts at " +
                           std::to_string(ps.log_start_offset.value()) +
                           " (older records were deleted by retention)");
    }
    start = std::min(start, ps.high_watermark);
    base::Offset end = ps.high_watermark;
    if (o.to.kind == engine::ReplayTo::Kind::kOffset) {
      end = std::min(base::Offset(o.to.value), ps.high_watermark);
    } else if (o.to.kind == engine::ReplayTo::Kind::kTimestamp) {
      ASSIGN_OR_RETURN(auto found, backend.OffsetForTimestamp(o.topic, p, o.to.value));
      if (found) end = std::min(*found, ps.high_watermark);
    }
    starts.emplace_back(p, start);
    ends.push_back(std::max(start, end));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader, backend.OpenReader(o.topic));
  RETURN_IF_ERROR(reader->Assign(starts));
  std::vector<RemoteCursor> cursors;
  cursors.reserve(partitions.size());
  for (size_t i = 0; i < partitions.size(); ++i) {
    cursors.emplace_back(*reader, o, partitions[i], starts[i].second, ends[i]);
  }

  if (o.order == engine::ReplayOrder::kByTimestamp) {
    // A min-heap of cursors by (timestamp, partition, offset) of their current record.
    auto later = [&](size_t a, size_t b) {
      const auto& ra = cursors[a].record();
      const auto& rb = cursors[b].record();
      return engine::MergedBefore(rb.timestamp, cursors[b].partition(), rb.offset, ra.timestamp,
                                  cursors[a].partition(), ra.offset);
    };
    std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
    for (size_t i = 0; i < cursors.size(); ++i) {
      ASSIGN_OR_RETURN(bool more, cursors[i].Advance(false));
      if (more) heap.push(i);
    }
    while (!heap.empty()) {
      const size_t i = heap.top();
      heap.pop();
      RETURN_IF_ERROR(fold(cursors[i].partition(), cursors[i].record()));
      ASSIGN_OR_RETURN(bool more, cursors[i].Advance(false));
      if (more) heap.push(i);
    }
  } else {
    for (RemoteCursor& c : cursors) {
      for (;;) {
        ASSIGN_OR_RETURN(bool more, c.Advance(false));
        if (!more) break;
        RETURN_IF_ERROR(fold(c.partition(), c.record()));
      }
    }
  }
  if (o.to.kind != engine::ReplayTo::Kind::kFollow) return {};
  // After the cut: new records per partition in offset order, until stopped.
  for (RemoteCursor& c : cursors) c.set_end(base::Offset(std::numeric_limits<int64_t>::max()));
  size_t waiting_on = 0;
  while (!o.stop.stop_requested()) {
    bool delivered = false;
    for (RemoteCursor& c : cursors) {
      for (;;) {
        ASSIGN_OR_RETURN(bool more, c.Advance(true));
        if (!more) break;
        delivered = true;
        RETURN_IF_ERROR(fold(c.partition(), c.record()));
      }
    }
    if (delivered || cursors.empty()) continue;
    RemoteCursor& c = cursors[waiting_on++ % cursors.size()];
    RETURN_IF_ERROR(reader->Wait(c.partition(), c.next(), cursors.size() == 1 ? 200 : 50));
  }
  return {};
}

std::string OffsetsText(const std::map<int32_t, base::Offset>& offsets) {
  std::string out;
  for (const auto& [p, o] : offsets) {
    if (!out.empty()) out += ' ';
    out += std::to_string(p) + ":" + std::to_string(o.value());
  }
  return out;
}

int Replay(Context& ctx, ReplayArgs& args) {
  auto from = ParseFrom(args.from);
  if (!from) {
    return ctx.Usage("--from: want earliest, an offset or a time (-1h, -15m, ISO-8601), got '" +
                     args.from + "'");
  }
  auto to = ParseTo(args.to);
  if (!to) {
    return ctx.Usage("--to: want now, follow, an offset or a time (-1h, -15m, ISO-8601), got '" +
                     args.to + "'");
  }
  if (args.exec_given && (args.format_given || ctx.format() == OutputFormat::kJson)) {
    return ctx.Usage("--exec excludes --format and --output json");
  }
  if (args.exec_given && args.exec.empty()) return ctx.Usage("--exec: empty command");
  if (args.exec_stream_given &&
      (args.exec_given || args.format_given || ctx.format() == OutputFormat::kJson)) {
    return ctx.Usage("--exec-stream excludes --exec, --format and --output json");
  }
  if (args.exec_stream_given && args.exec_stream.empty()) {
    return ctx.Usage("--exec-stream: empty command");
  }
  if (!args.group.empty() && !args.exec_stream_given) {
    return ctx.Usage("replay --group: only with --exec-stream (its committed progress)");
  }
  if (!args.group.empty() && args.snapshot_given) {
    return ctx.Usage("replay --group excludes --snapshot");
  }
  if (args.format_given && ctx.format() == OutputFormat::kJson) {
    return ctx.Usage("--format and --output json exclude each other");
  }
  if (args.snapshot_given) {
    if (auto s = engine::ValidateTopicName(args.snapshot); !s) {
      return ctx.Usage("--snapshot: bad name '" + args.snapshot + "'");
    }
  }
  auto printer = RecordPrinter::Create(args.topic, args.format, ctx.format());
  if (!printer) return ctx.Usage(printer.error().context);

  engine::Engine* e = nullptr;
  int32_t partition_count = 0;
  if (ctx.remote()) {
    Backend* b = ctx.OpenBackend();
    if (b == nullptr) return ctx.exit_code;
    auto parts = b->Partitions(args.topic);
    if (!parts) return ctx.Fail(parts.error());
    partition_count = static_cast<int32_t>(parts->size());
  } else {
    // Replaying only reads (a snapshot may be written with --snapshot, a group's progress
    // committed with --group): beside a writer, it follows the high watermark that process
    // publishes.
    const bool writes = args.snapshot_given || !args.group.empty();
    e = ctx.Engine(engine::CreateIfMissing::kNo,
                   writes ? engine::EngineAccess::kReadWrite : engine::EngineAccess::kReadOnly);
    if (e == nullptr) return kExitFailure;
    auto desc = e->DescribeTopic(args.topic);
    if (!desc) return ctx.Fail(desc.error());
    partition_count = desc->info.partitions;
  }
  if (auto m = CheckPartitions(args.partitions, partition_count, args.topic); !m.empty()) {
    return ctx.Usage(m);
  }

  const bool follow = to->kind == engine::ReplayTo::Kind::kFollow;
  // --exec-stream --group: where the last run's command got to, per partition; partitions without
  // a commit start at --from.
  Backend* backend = nullptr;
  std::map<int32_t, base::Offset> skip_below;
  std::map<int32_t, base::Offset> committed;
  int64_t total_records = 0;
  if (args.exec_stream_given) {
    backend = ctx.OpenBackend();
    if (backend == nullptr) return ctx.exit_code;
    auto parts = backend->Partitions(args.topic);
    if (!parts) return ctx.Fail(parts.error());
    std::map<int32_t, engine::CommittedOffset> fetched;
    if (!args.group.empty()) {
      auto f = backend->FetchCommitted(args.group, args.topic);
      if (!f) return ctx.Fail(f.error());
      fetched = std::move(f).value();
    }
    for (const PartitionSummary& ps : *parts) {
      if (!args.partitions.empty() && std::find(args.partitions.begin(), args.partitions.end(),
                                                ps.partition) == args.partitions.end()) {
        continue;
      }
      base::Offset start = ps.log_start_offset;
      if (auto c = fetched.find(ps.partition); c != fetched.end()) {
        start = c->second.offset;
        committed[ps.partition] = start;
      } else if (from->kind == engine::ReplayFrom::Kind::kOffset) {
        start = base::Offset(from->value);
      } else if (from->kind == engine::ReplayFrom::Kind::kTimestamp) {
        auto found = backend->OffsetForTimestamp(args.topic, ps.partition, from->value);
        if (!found) return ctx.Fail(found.error());
        start = found->value_or(ps.high_watermark);
      }
      start = std::clamp(start, ps.log_start_offset, ps.high_watermark);
      skip_below[ps.partition] = start;
      total_records += ps.high_watermark.value() - start.value();
    }
    if (!committed.empty()) {
      std::fprintf(stderr, "replay: group %s resumes %s at %s\n", args.group.c_str(),
                   args.topic.c_str(), OffsetsText(committed).c_str());
      from = engine::ReplayFrom::Earliest();  // the fold skips what is done
    } else {
      skip_below.clear();
    }
  }

  SignalStop signals;
  std::optional<Executor> executor;
  if (args.exec_given) executor.emplace(args.exec, args.topic);
  std::unique_ptr<StreamExecutor> stream;
  if (args.exec_stream_given) {
    auto started = StreamExecutor::Start(args.exec_stream, args.topic);
    if (!started) return ctx.Fail(started.error());
    stream = std::move(started).value();
  }
  ProgressBar progress(follow ? 0 : total_records);
  auto last_commit = std::chrono::steady_clock::now();
  // Commits what the command has read since the last commit.
  auto commit_progress = [&](const std::map<int32_t, base::Offset>& positions) -> Status {
    if (args.group.empty()) return {};
    std::vector<engine::OffsetCommit> commits;
    for (const auto& [p, o] : positions) {
      if (auto c = committed.find(p); c != committed.end() && c->second == o) continue;
      commits.push_back({args.topic, p, o, "sluice replay --exec-stream"});
    }
    if (commits.empty()) return {};
    RETURN_IF_ERROR(backend->Commit(args.group, commits));
    for (const auto& c : commits) committed[c.partition] = c.offset;
    return {};
  };

  engine::ReplayOptions options;
  options.topic = args.topic;
  options.partitions = args.partitions;
  options.from = *from;
  options.to = *to;
  options.order =
      args.merge ? engine::ReplayOrder::kByTimestamp : engine::ReplayOrder::kPerPartition;
  options.stop = signals.token();
  bool interrupted = false;
  auto fold = [&](int32_t partition, const segment::RecordView& r) -> Status {
    if (!follow && signals.stop_requested()) {
      interrupted = true;
      return MakeError(ErrorCode::kClosed, "interrupted");
    }
    if (executor) return executor->Run(partition, r);
    if (stream) {
      if (auto it = skip_below.find(partition);
          it != skip_below.end() && r.offset < it->second.value()) {
        return {};  // done by an earlier run
      }
      RETURN_IF_ERROR(stream->Write(partition, r));
      if (follow) RETURN_IF_ERROR(stream->Flush());
      progress.Update(stream->records_written());
      if (std::chrono::steady_clock::now() - last_commit >= std::chrono::seconds(1)) {
        last_commit = std::chrono::steady_clock::now();
        RETURN_IF_ERROR(commit_progress(stream->ReadPositions()));
      }
      return {};
    }
    printer->Print(partition, r);
    // Following, a record should show up as soon as it arrives.
    if (follow && !printer->Flush()) {
      return MakeError(ErrorCode::kIoError,
                       std::string("writing to stdout: ") + std::strerror(errno));
    }
    return {};
  };

  Status status;
  if (args.snapshot_given) {
    auto rebuilt = engine::Rebuild(
        *e, args.snapshot, options, [](base::Bytes) { return Status(); }, fold);
    if (rebuilt) {
      if (rebuilt->snapshot) {
        const auto& s = *rebuilt->snapshot;
        std::fprintf(stderr,
                     "replay: started after snapshot %s #%llu of %s (created %s; offsets %s)\n",
                     s.name.c_str(), static_cast<unsigned long long>(s.sequence), s.topic.c_str(),
                     FormatTime(s.created_ms).c_str(), OffsetsText(s.offsets).c_str());
      } else {
        std::fprintf(stderr, "replay: no usable snapshot %s of %s; replayed from --from %s\n",
                     args.snapshot.c_str(), args.topic.c_str(), args.from.c_str());
      }
    } else {
      status = rebuilt.error();
    }
  } else if (ctx.remote()) {
    status = RemoteReplay(*ctx.OpenBackend(), options, fold);
  } else {
    auto stats = engine::Replay(*e, options, fold);
    if (!stats) status = stats.error();
  }
  if (stream) {
    // The command gets EOF and finishes; what it read is committed even if it failed.
    Status finished = stream->Finish();
    progress.Done(stream->records_written());
    Status commit = commit_progress(stream->ReadPositions());
    if (!finished) status = finished;  // the command's failure explains a broken pipe
    if (!commit && status) status = commit;
  }
  const bool flushed = printer->Flush();
  if (interrupted || signals.stop_requested()) {
    // Following, a signal is the normal end (an --exec command it also killed is no error).
    if (follow && flushed) return kExitOk;
    ctx.Fail("replay interrupted by signal " + std::to_string(signals.signal_number()));
    return 128 + signals.signal_number();
  }
  if (!status) {
    return ctx.Fail(status.error().code == ErrorCode::kInternal ? status.error().context
                                                                : status.error().ToString());
  }
  if (!flushed) return ctx.Fail(std::string("writing to stdout: ") + std::strerror(errno));
  return kExitOk;
}

}  // namespace

void AddReplayCommand(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replay", "Replay a topic's history (a consistent cut), printed or piped to a command");
  cmd->fallthrough();  // global flags (--data-dir, --output, ...) may follow the subcommand
  cmd->footer(
      "On a data directory, replay (without --snapshot) runs beside a `sluice produce` or "
      "`sluice serve` writing it: it reads up to the high watermark that process publishes, and "
      "--to follow wakes on its new records.");
  cmd->add_option("topic", a->topic, "Topic to replay")->required();
  cmd->add_option("--from", a->from,
                  "earliest, an offset, or a time: -1h, -15m, -2d (before now), ISO-8601")
      ->capture_default_str();
  cmd->add_option("--to", a->to,
                  "now (the high watermarks at the start), an offset (exclusive), an ISO-8601 "
                  "time (exclusive), or follow (then wait for new records until SIGINT/SIGTERM)")
      ->capture_default_str();
  cmd->add_option("--partition", a->partitions, "Only this partition (repeatable; default: all)")
      ->allow_extra_args(false)
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  cmd->add_flag("--merge", a->merge,
                "Merge partitions by timestamp (ties by partition, then offset) instead of one "
                "partition after the other");
  auto* format = cmd->add_option("--format", a->format, kRecordFormatHelp)->capture_default_str();
  auto* exec = cmd->add_option(
      "--exec", a->exec,
      "Run CMD with /bin/sh once per record: the value on its stdin; SLUICE_TOPIC, "
      "SLUICE_PARTITION, SLUICE_OFFSET, SLUICE_TIMESTAMP, SLUICE_KEY in its environment. A "
      "non-zero exit stops the replay");
  auto* exec_stream = cmd->add_option(
      "--exec-stream", a->exec_stream,
      "Run CMD with /bin/sh once, the records as JSON lines (as consume -o json) on its stdin; a "
      "progress bar on stderr when it is a terminal. Exits with the command's failure");
  cmd->add_option("--group", a->group,
                  "With --exec-stream: commit the command's progress as this consumer group, "
                  "and resume from it");
  auto* snapshot = cmd->add_option(
      "--snapshot", a->snapshot,
      "Start after the newest valid snapshot NAME of this topic (see the replay API)");
  cmd->callback([&ctx, a, format, exec, exec_stream, snapshot] {
    a->format_given = format->count() > 0;
    a->exec_stream_given = exec_stream->count() > 0;
    a->exec_given = exec->count() > 0;
    a->snapshot_given = snapshot->count() > 0;
    if (a->snapshot_given &&
        ctx.RejectRemote("replay --snapshot",
                         "snapshots are files in the data directory; run it on the server's "
                         "--data-dir")) {
      return;
    }
    ctx.exit_code = Replay(ctx, *a);
  });
}

}  // namespace sluice::cli

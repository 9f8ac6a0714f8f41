// sluice replay TOPIC: a topic's history through the engine's replay API (a consistent cut, per
// partition or merged by timestamp, optionally following), printed like `consume` or fed to a
// command once per record; with --snapshot, only the records after the newest usable snapshot.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
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
    return ctx.Usage("--from: want earliest, an offset or an ISO-8601 time, got '" + args.from +
                     "'");
  }
  auto to = ParseTo(args.to);
  if (!to) {
    return ctx.Usage("--to: want now, follow, an offset or an ISO-8601 time, got '" + args.to +
                     "'");
  }
  if (args.exec_given && (args.format_given || ctx.format() == OutputFormat::kJson)) {
    return ctx.Usage("--exec excludes --format and --output json");
  }
  if (args.exec_given && args.exec.empty()) return ctx.Usage("--exec: empty command");
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

  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  auto desc = e->DescribeTopic(args.topic);
  if (!desc) return ctx.Fail(desc.error());
  if (auto m = CheckPartitions(args.partitions, desc->info.partitions, args.topic); !m.empty()) {
    return ctx.Usage(m);
  }

  SignalStop signals;
  std::optional<Executor> executor;
  if (args.exec_given) executor.emplace(args.exec, args.topic);
  const bool follow = to->kind == engine::ReplayTo::Kind::kFollow;

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
  } else {
    auto stats = engine::Replay(*e, options, fold);
    if (!stats) status = stats.error();
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
  cmd->add_option("topic", a->topic, "Topic to replay")->required();
  cmd->add_option("--from", a->from, "earliest, an offset, or an ISO-8601 time")
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
  auto* snapshot = cmd->add_option(
      "--snapshot", a->snapshot,
      "Start after the newest valid snapshot NAME of this topic (see the replay API)");
  cmd->callback([&ctx, a, format, exec, snapshot] {
    if (ctx.RejectRemote("replay")) return;
    a->format_given = format->count() > 0;
    a->exec_given = exec->count() > 0;
    a->snapshot_given = snapshot->count() > 0;
    ctx.exit_code = Replay(ctx, *a);
  });
}

}  // namespace sluice::cli

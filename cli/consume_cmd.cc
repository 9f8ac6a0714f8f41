// sluice consume TOPIC: prints records of one or all partitions, from the beginning, an offset, a
// time, a group's committed offsets or (by default) only new ones; commits a group's progress.
// The same steps on a data directory and, with --broker, on a running server (cli/backend.h).
//
// Order: partitions take turns, about 1 MiB each (remotely: what has arrived of it); within a
// partition, offset order. Without --follow it stops at the high watermarks it saw when it started.
// With --group the positions are committed after each round of output (once that output was
// flushed: at-least-once) and at exit; remotely as a simple consumer (OffsetCommit with no group
// membership), so the group must have no active members.

#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/record_format.h"
#include "engine/group_offsets.h"
#include "segment/base/time_text.h"

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::Offset;

struct ConsumeArgs {
  std::string topic;
  bool from_beginning = false;
  int64_t offset = -1;
  std::string from_time;
  int32_t partition = -1;
  std::string group;
  int64_t count = -1;
  int64_t last = -1;  // --last N: the last N offsets of each partition
  std::string reset;  // --reset earliest|latest: where partitions without a commit start
  bool follow = false;
  std::string format = kDefaultRecordFormat;
  bool format_given = false;
  bool group_given = false;
};

struct PartitionState {
  int32_t partition = 0;
  Offset position;                  // next offset to print
  Offset end;                       // stop here unless following
  std::optional<Offset> committed;  // the group's committed offset, as far as we know
  std::string metadata;             // the group's commit metadata, kept on our commits
};

// Reads through a backend's RecordReader, so that the embedded and the remote mode take the same
// steps and print the same.
class Consumer {
 public:
  Consumer(Context& ctx, Backend& backend, const ConsumeArgs& args, RecordPrinter& printer)
      : ctx_(ctx), backend_(backend), args_(args), printer_(printer) {}

  // Sets each partition's start and end. Returns an exit code on failure.
  std::optional<int> Start(std::optional<int64_t> from_time) {
    auto stats = backend_.Partitions(args_.topic);
    if (!stats) return ctx_.Fail(stats.error());
    const auto count = static_cast<int32_t>(stats->size());
    std::vector<int32_t> partitions;
    if (args_.partition >= 0) {
      partitions.push_back(args_.partition);
      if (auto m = CheckPartitions(partitions, count, args_.topic); !m.empty()) {
        return ctx_.Usage(m);
      }
    } else {
      for (int32_t p = 0; p < count; ++p) partitions.push_back(p);
    }
    std::map<int32_t, engine::CommittedOffset> committed;
    if (!args_.group.empty()) {
      auto fetched = backend_.FetchCommitted(args_.group, args_.topic);
      if (!fetched) return ctx_.Fail(fetched.error());
      committed = std::move(fetched).value();
    }
    std::vector<std::pair<int32_t, Offset>> starts;
    for (int32_t p : partitions) {
      const PartitionSummary& st = (*stats)[static_cast<size_t>(p)];
      PartitionState s;
      s.partition = p;
      s.end = st.high_watermark;
      if (auto c = committed.find(p); c != committed.end()) {
        s.committed = c->second.offset;
        s.metadata = c->second.metadata;
        s.position = c->second.offset;
      } else if (args_.from_beginning || args_.reset == "earliest") {
        s.position = st.log_start_offset;
      } else if (args_.last >= 0) {
        s.position = Offset(
            std::max(st.log_start_offset.value(),
                     st.high_watermark.value() - std::min(args_.last, st.high_watermark.value())));
      } else if (args_.offset >= 0) {
        s.position = Offset(args_.offset);
      } else if (from_time) {
        auto found = backend_.OffsetForTimestamp(args_.topic, p, *from_time);
        if (!found) return ctx_.Fail(found.error());
        s.position = found->value_or(st.high_watermark);
      } else {
        s.position = st.high_watermark;  // latest: only new records
      }
      if (s.position < st.log_start_offset) {
        std::fprintf(stderr,
                     "sluice: %s-%d: offset %lld was deleted by retention; starting at %lld\n",
                     args_.topic.c_str(), p, static_cast<long long>(s.position.value()),
                     static_cast<long long>(st.log_start_offset.value()));
        s.position = st.log_start_offset;
      }
      s.position = std::min(s.position, st.high_watermark);
      if (!args_.group.empty() && !s.committed) {
        // Where a group without a commit on this partition starts (Kafka's auto.offset.reset).
        const bool earliest = s.position == st.log_start_offset && s.position < st.high_watermark;
        std::fprintf(stderr,
                     "sluice: group %s has no committed offset for %s-%d: starting at offset "
                     "%lld (%s)\n",
                     args_.group.c_str(), args_.topic.c_str(), p,
                     static_cast<long long>(s.position.value()), StartReason(earliest).c_str());
      }
      starts.emplace_back(p, s.position);
      states_.push_back(std::move(s));
    }
    auto reader = backend_.OpenReader(args_.topic);
    if (!reader) return ctx_.Fail(reader.error());
    reader_ = std::move(reader).value();
    if (auto s = reader_->Assign(starts); !s) return ctx_.Fail(s.error());
    return std::nullopt;
  }

  // Why a partition without a commit starts where it does, for the message above.
  std::string StartReason(bool at_earliest) const {
    if (!args_.reset.empty()) return "--reset " + args_.reset;
    if (args_.from_beginning) return "--from-beginning";
    if (args_.offset >= 0) return "--offset";
    if (!args_.from_time.empty()) return "--from-time " + args_.from_time;
    if (args_.last >= 0) return "--last " + std::to_string(args_.last);
    return at_earliest ? "earliest" : "latest, the default; --reset earliest reads from the start";
  }

  // Prints records until the end, --count, or a signal. Returns the exit code.
  int Run(const SignalStop& signals) {
    int64_t remaining = args_.count;  // -1: no limit
    size_t wait_turn = 0;
    for (;;) {
      bool delivered = false;
      for (PartitionState& s : states_) {
        if (remaining == 0 || signals.stop_requested()) break;
        if (!args_.follow && s.position >= s.end) continue;
        auto n = Poll(s, remaining);
        if (!n) return Finish(ctx_.Fail(n.error()));
        delivered |= *n > 0;
      }
      if (!printer_.Flush()) {
        return ctx_.Fail(std::string("writing to stdout: ") + std::strerror(errno));
      }
      if (auto code = CommitPositions()) return *code;
      if (remaining == 0) break;
      if (signals.stop_requested()) {
        if (args_.follow) return Finish(kExitOk);
        const int code = Finish(128 + signals.signal_number());
        ctx_.Fail("consume interrupted by signal " + std::to_string(signals.signal_number()));
        return code;
      }
      std::vector<const PartitionState*> waiting;  // partitions that may get records
      for (const PartitionState& s : states_) {
        if (args_.follow || s.position < s.end) waiting.push_back(&s);
      }
      if (waiting.empty()) break;
      if (!delivered) {
        // Nothing new anywhere (following), or records still on their way (remote): wait a
        // little on one partition, taking turns.
        const PartitionState& s = *waiting[wait_turn++ % waiting.size()];
        if (auto st = reader_->Wait(s.partition, s.position, waiting.size() == 1 ? 200 : 50); !st) {
          return Finish(ctx_.Fail(st.error()));
        }
      }
    }
    return Finish(kExitOk);
  }

 private:
  // Reads one chunk of a partition and prints its records. Returns how many were printed.
  Result<int64_t> Poll(PartitionState& s, int64_t& remaining) {
    int64_t printed = 0;
    auto read = reader_->Read(s.partition, s.position, [&](const segment::RecordView& rec) {
      if (!args_.follow && rec.offset >= s.end.value()) return false;
      printer_.Print(s.partition, rec);
      s.position = Offset(rec.offset + 1);
      ++printed;
      return !(remaining > 0 && --remaining == 0);
    });
    if (!read && read.error().code == ErrorCode::kOutOfRange) {
      // Retention deleted the segments we were about to read: skip to the new log start.
      auto stats = backend_.Partitions(args_.topic);
      if (stats && static_cast<size_t>(s.partition) < stats->size()) {
        const Offset start = (*stats)[static_cast<size_t>(s.partition)].log_start_offset;
        if (s.position < start) {
          std::fprintf(stderr,
                       "sluice: %s-%d: records from %lld were deleted by retention; "
                       "skipping to %lld\n",
                       args_.topic.c_str(), s.partition, static_cast<long long>(s.position.value()),
                       static_cast<long long>(start.value()));
          s.position = start;
          return int64_t{0};
        }
      }
    }
    if (!read) return read.error();
    return printed;
  }

  // Commits every position that moved (or was never committed). Returns an exit code on failure.
  std::optional<int> CommitPositions() {
    if (args_.group.empty()) return std::nullopt;
    std::vector<engine::OffsetCommit> commits;
    for (const PartitionState& s : states_) {
      if (s.committed != s.position) {
        commits.push_back({args_.topic, s.partition, s.position, s.metadata});
      }
    }
    if (commits.empty()) return std::nullopt;
    if (auto st = backend_.Commit(args_.group, commits); !st) {
      return ctx_.Fail("committing offsets of group '" + args_.group +
                       "': " + st.error().ToString());
    }
    for (PartitionState& s : states_) s.committed = s.position;
    return std::nullopt;
  }

  // Flushes output and makes the final commit; returns `code` unless that fails.
  int Finish(int code) {
    if (!printer_.Flush()) {
      return ctx_.Fail(std::string("writing to stdout: ") + std::strerror(errno));
    }
    if (auto c = CommitPositions()) return *c;
    return code;
  }

  Context& ctx_;
  Backend& backend_;
  const ConsumeArgs& args_;
  RecordPrinter& printer_;
  std::vector<PartitionState> states_;
  std::unique_ptr<RecordReader> reader_;
};

int Consume(Context& ctx, const ConsumeArgs& args) {
  if (args.group_given && args.group.empty()) return ctx.Usage("--group: empty group id");
  if (!args.reset.empty() && args.group.empty()) {
    return ctx.Usage("--reset applies to --group (where a group without offsets starts)");
  }
  std::optional<int64_t> from_time;
  if (!args.from_time.empty()) {
    from_time = ParseTime(args.from_time);
    if (!from_time) {
      return ctx.Usage("--from-time: bad time '" + args.from_time + "' (" + base::kTimeFormsHelp +
                       ")");
    }
  }
  if (args.format_given && ctx.format() == OutputFormat::kJson) {
    return ctx.Usage("--format and --output json exclude each other");
  }
  auto printer = RecordPrinter::Create(args.topic, args.format, ctx.format());
  if (!printer) return ctx.Usage(printer.error().context);

  // Without a group to commit to, consuming only reads: it works beside the process that writes
  // the directory (produce, serve), whose published high watermark it follows.
  Backend* b = ctx.OpenBackend(
      engine::CreateIfMissing::kNo,
      args.group.empty() ? engine::EngineAccess::kReadOnly : engine::EngineAccess::kReadWrite);
  if (b == nullptr) return ctx.exit_code;
  Consumer consumer(ctx, *b, args, *printer);
  SignalStop signals;
  if (auto code = consumer.Start(from_time)) return *code;
  if (!args.follow && args.group.empty() && !args.from_beginning && args.offset < 0 && !from_time &&
      args.last < 0) {
    std::fprintf(stderr,
                 "sluice: consume starts after the last record by default, so without --follow "
                 "there is nothing to print (use --from-beginning, --offset or --from-time)\n");
    return kExitOk;
  }
  return consumer.Run(signals);
}

}  // namespace

void AddConsumeCommand(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ConsumeArgs>();
  CLI::App* cmd = app.add_subcommand("consume", "Print the records of a topic");
  cmd->fallthrough();  // global flags (--data-dir, --output, ...) may follow the subcommand
  cmd->add_option("topic", a->topic, "Topic to consume")->required();
  auto* beginning =
      cmd->add_flag("--from-beginning", a->from_beginning, "Start at the oldest record");
  auto* offset = cmd->add_option("--offset", a->offset, "Start at this offset (in every partition)")
                     ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()))
                     ->default_str("");  // -1 means "not given": do not show it
  auto* time = cmd->add_option("--from-time", a->from_time,
                               "Start at the first record at or after this time: -1h, -15m, -2d "
                               "(before now), ISO-8601 or epoch ms");
  auto* last = cmd->add_option("--last", a->last,
                               "Start at the last N records of each partition (N offsets before "
                               "its end)")
                   ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()))
                   ->default_str("");
  auto* reset = cmd->add_option("--reset", a->reset,
                                "With --group: where partitions without a committed offset "
                                "start (Kafka's auto.offset.reset; default latest)")
                    ->check(CLI::IsMember({"earliest", "latest"}));
  beginning->excludes(offset)->excludes(time)->excludes(last)->excludes(reset);
  offset->excludes(time)->excludes(last)->excludes(reset);
  time->excludes(last)->excludes(reset);
  last->excludes(reset);
  cmd->add_option("--partition", a->partition, "Only this partition (default: all)")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()))
      ->default_str("");
  auto* group = cmd->add_option(
      "--group", a->group,
      "Consumer group: start at its committed offsets where it has them, and commit "
      "progress");
  cmd->add_option("--count", a->count, "Stop after this many records")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()))
      ->default_str("");
  cmd->add_flag("--follow,-f", a->follow,
                "Wait for new records (until --count, SIGINT or SIGTERM) instead of exiting at the "
                "end (default start without --group or a --from-* flag: only new records). On a "
                "data directory, consume without --group runs beside a `sluice produce` or "
                "`sluice serve` writing it, up to the high watermark that process publishes");
  auto* format = cmd->add_option("--format", a->format, kRecordFormatHelp)->capture_default_str();
  cmd->callback([&ctx, a, format, group] {
    a->format_given = format->count() > 0;
    a->group_given = group->count() > 0;
    ctx.exit_code = Consume(ctx, *a);
  });
}

}  // namespace sluice::cli

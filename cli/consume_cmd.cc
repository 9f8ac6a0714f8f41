// sluice consume TOPIC: prints records of one or all partitions, from the beginning, an offset, a
// time, a group's committed offsets or (by default) only new ones; commits a group's progress.
//
// Order: partitions take turns, about 1 MiB each; within a partition, offset order. Without
// --follow it stops at the high watermarks it saw when it started. With --group the positions are
// committed after each round of output (once that output was flushed: at-least-once) and at exit.

#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/record_format.h"
#include "engine/group_offsets.h"

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
  bool follow = false;
  std::string format = kDefaultRecordFormat;
  bool format_given = false;
  bool group_given = false;
};

constexpr size_t kReadBytes = 1 << 20;

struct PartitionState {
  int32_t partition = 0;
  Offset position;                  // next offset to print
  Offset end;                       // stop here unless following
  std::optional<Offset> committed;  // the group's committed offset, as far as we know
  std::string metadata;             // the group's commit metadata, kept on our commits
};

class Consumer {
 public:
  Consumer(Context& ctx, engine::Engine& engine, const ConsumeArgs& args, RecordPrinter& printer)
      : ctx_(ctx), engine_(engine), args_(args), printer_(printer) {}

  // Sets each partition's start and end. Returns an exit code on failure.
  std::optional<int> Start(std::optional<int64_t> from_time) {
    auto desc = engine_.DescribeTopic(args_.topic);
    if (!desc) return ctx_.Fail(desc.error());
    std::vector<int32_t> partitions;
    if (args_.partition >= 0) {
      partitions.push_back(args_.partition);
      if (auto m = CheckPartitions(partitions, desc->info.partitions, args_.topic); !m.empty()) {
        return ctx_.Usage(m);
      }
    } else {
      for (int32_t p = 0; p < desc->info.partitions; ++p) partitions.push_back(p);
    }
    for (int32_t p : partitions) {
      auto stats = engine_.GetPartitionStats(args_.topic, p);
      if (!stats) return ctx_.Fail(stats.error());
      PartitionState s;
      s.partition = p;
      s.end = stats->high_watermark;
      std::optional<engine::CommittedOffset> committed;
      if (!args_.group.empty())
        committed = engine_.group_offsets().Fetch(args_.group, args_.topic, p);
      if (committed) {
        s.committed = committed->offset;
        s.metadata = committed->metadata;
        s.position = committed->offset;
      } else if (args_.from_beginning) {
        s.position = stats->log_start_offset;
      } else if (args_.offset >= 0) {
        s.position = Offset(args_.offset);
      } else if (from_time) {
        auto found = engine_.OffsetForTimestamp(args_.topic, p, *from_time);
        if (!found) return ctx_.Fail(found.error());
        s.position = *found ? (*found)->offset : stats->high_watermark;
      } else {
        s.position = stats->high_watermark;  // latest: only new records
      }
      if (s.position < stats->log_start_offset) {
        std::fprintf(stderr,
                     "sluice: %s-%d: offset %lld was deleted by retention; starting at %lld\n",
                     args_.topic.c_str(), p, static_cast<long long>(s.position.value()),
                     static_cast<long long>(stats->log_start_offset.value()));
        s.position = stats->log_start_offset;
      }
      s.position = std::min(s.position, stats->high_watermark);
      states_.push_back(std::move(s));
    }
    return std::nullopt;
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
      if (!args_.follow) {
        bool done = true;
        for (const PartitionState& s : states_) done &= s.position >= s.end;
        if (done) break;
      } else if (!delivered && !states_.empty()) {
        // Nothing new anywhere: wait a little on one partition, taking turns.
        const PartitionState& s = states_[wait_turn++ % states_.size()];
        auto hw = engine_.WaitForData(args_.topic, s.partition, s.position,
                                      states_.size() == 1 ? 200 : 50);
        if (!hw) return Finish(ctx_.Fail(hw.error()));
      }
    }
    return Finish(kExitOk);
  }

 private:
  // Reads one chunk of a partition and prints its records. Returns how many were printed.
  Result<int64_t> Poll(PartitionState& s, int64_t& remaining) {
    auto read = engine_.Read(args_.topic, s.partition, s.position, kReadBytes);
    if (!read && read.error().code == ErrorCode::kOutOfRange) {
      // Retention deleted the segments we were about to read: skip to the new log start.
      auto stats = engine_.GetPartitionStats(args_.topic, s.partition);
      if (stats && s.position < stats->log_start_offset) {
        std::fprintf(stderr,
                     "sluice: %s-%d: records from %lld were deleted by retention; "
                     "skipping to %lld\n",
                     args_.topic.c_str(), s.partition, static_cast<long long>(s.position.value()),
                     static_cast<long long>(stats->log_start_offset.value()));
        s.position = stats->log_start_offset;
        return int64_t{0};
      }
    }
    if (!read) return read.error();
    int64_t printed = 0;
    for (const auto& batch : read->batches) {
      RETURN_IF_ERROR(decoder_.Reset(batch.bytes, batch.header));
      for (;;) {
        ASSIGN_OR_RETURN(auto rec, decoder_.Next());
        if (!rec) break;
        if (rec->offset < s.position.value()) continue;
        if (!args_.follow && rec->offset >= s.end.value()) return printed;
        printer_.Print(s.partition, *rec);
        s.position = Offset(rec->offset + 1);
        ++printed;
        if (remaining > 0 && --remaining == 0) return printed;
      }
    }
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
    if (auto st = engine_.group_offsets().Commit(args_.group, commits); !st) {
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
  engine::Engine& engine_;
  const ConsumeArgs& args_;
  RecordPrinter& printer_;
  std::vector<PartitionState> states_;
  segment::RecordDecoder decoder_;
};

int Consume(Context& ctx, const ConsumeArgs& args) {
  if (args.group_given && args.group.empty()) return ctx.Usage("--group: empty group id");
  std::optional<int64_t> from_time;
  if (!args.from_time.empty()) {
    from_time = ParseTime(args.from_time);
    if (!from_time) {
      return ctx.Usage("--from-time: bad time '" + args.from_time +
                       "' (want ISO-8601 such as 2026-11-23T10:00:00Z, or epoch milliseconds)");
    }
  }
  if (args.format_given && ctx.format() == OutputFormat::kJson) {
    return ctx.Usage("--format and --output json exclude each other");
  }
  auto printer = RecordPrinter::Create(args.topic, args.format, ctx.format());
  if (!printer) return ctx.Usage(printer.error().context);

  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  Consumer consumer(ctx, *e, args, *printer);
  SignalStop signals;
  if (auto code = consumer.Start(from_time)) return *code;
  if (!args.follow && args.group.empty() && !args.from_beginning && args.offset < 0 && !from_time) {
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
                               "Start at the first record at or after this time (ISO-8601 or "
                               "epoch ms)");
  beginning->excludes(offset)->excludes(time);
  offset->excludes(time);
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
                "end (default start without --group or a --from-* flag: only new records)");
  auto* format = cmd->add_option("--format", a->format, kRecordFormatHelp)->capture_default_str();
  cmd->callback([&ctx, a, format, group] {
    if (ctx.RejectRemote("consume")) return;
    a->format_given = format->count() > 0;
    a->group_given = group->count() > 0;
    ctx.exit_code = Consume(ctx, *a);
  });
}

}  // namespace sluice::cli

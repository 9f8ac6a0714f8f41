// The sluice command-line tool. This file is the program's one exception boundary: libraries
// report errors as values; anything thrown (bad_alloc, a third-party throw) ends here as a message.

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cli/commands.h"
#include "segment/base/log.h"

int main(int argc, char** argv) {
  using namespace sluice::cli;
  try {
    Context ctx;
    CLI::App app{"sluice: an append-only log streaming engine (Kafka-style topics on local disk)"};
    app.require_subcommand(1, 1);
    app.fallthrough();  // global flags (--data-dir, --output, --broker) work after the subcommand
                        // too
    app.set_version_flag("--version", "sluice 0.1.0");
    app.option_defaults()->always_capture_default();
    CLI::Option* data_dir = app.add_option("--data-dir", ctx.data_dir, "Data directory")
                                ->envname("SLUICE_DATA_DIR")
                                ->capture_default_str();
    app.add_option("--broker", ctx.broker,
                   "HOST:PORT of a running `sluice serve`: work through it (remote mode) instead "
                   "of on a data directory");
    bool verbose = false;
    app.add_flag("--verbose,-v", verbose,
                 "Log engine activity (recovery, compaction, retention) or, with --broker, the "
                 "Kafka client's");
    // Runs after the flags and the environment are read, before the subcommand's callback.
    app.parse_complete_callback([&verbose, &ctx, data_dir] {
      sluice::base::SetLogLevel(verbose ? sluice::base::LogLevel::kInfo
                                        : sluice::base::LogLevel::kWarning);
      // An empty path would make the current directory the data directory (and CLI11 skips an
      // empty variable, which would quietly fall back to ./sluice-data): both are usage errors.
      const char* env = std::getenv("SLUICE_DATA_DIR");
      if (data_dir->count() > 0 && ctx.data_dir.empty()) {
        throw CLI::ValidationError("--data-dir is empty: name a directory (. for this one)");
      }
      if (data_dir->count() == 0 && env != nullptr && *env == '\0') {
        throw CLI::ValidationError(
            "SLUICE_DATA_DIR is set but empty: name a directory (. for this one) or unset it");
      }
      // A value equal to SLUICE_DATA_DIR came from the environment, which --broker overrides.
      ctx.data_dir_given = data_dir->count() > 0 && (env == nullptr || ctx.data_dir != env);
      if (ctx.remote() && ctx.data_dir_given) {
        throw CLI::ValidationError(
            "--broker and --data-dir exclude each other: a command works on a running server "
            "or on a data directory");
      }
    });
    app.add_option("--output,-o", ctx.output, "Output format")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    // Usage errors: one line on stderr, exit code 2 (as kcat and rpk do).
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
      return std::string("sluice: ") + e.what() + " (see --help)\n";
    });

    AddDemoCommand(app, ctx);
    AddTopicCommands(app, ctx);
    AddProduceCommand(app, ctx);
    AddConsumeCommand(app, ctx);
    AddGroupCommands(app, ctx);
    AddReplayCommand(app, ctx);
    AddVerifyCommands(app, ctx);
    AddRepairCommand(app, ctx);
    AddBenchCommand(app, ctx);
    AddServeCommand(app, ctx);
    AddAclCommands(app, ctx);
    AddUserCommands(app, ctx);

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);  // prints help/version (exit 0) or the one-line error
      return code == 0 ? kExitOk : kExitUsage;
    }
    if (!ctx.CloseEngine() && ctx.exit_code == kExitOk) ctx.exit_code = kExitFailure;
    return ctx.exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice: fatal: %s\n", e.what());
    return kExitFailure;
  } catch (...) {
    std::fprintf(stderr, "sluice: fatal: unknown error\n");
    return kExitFailure;
  }
}

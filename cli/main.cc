// The sluice command-line tool. This file is the program's one exception boundary: libraries
// report errors as values; anything thrown (bad_alloc, a third-party throw) ends here as a message.

#include <cstdio>
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
    app.add_option("--data-dir", ctx.data_dir, "Data directory")
        ->envname("SLUICE_DATA_DIR")
        ->capture_default_str();
    app.add_option("--broker", ctx.broker, "HOST:PORT of a running `sluice serve` (remote mode)");
    bool verbose = false;
    app.add_flag("--verbose,-v", verbose, "Log engine activity (recovery, compaction, retention)");
    app.parse_complete_callback([&verbose] {
      sluice::base::SetLogLevel(verbose ? sluice::base::LogLevel::kInfo
                                        : sluice::base::LogLevel::kWarning);
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
    AddBenchCommand(app, ctx);
    AddServeCommand(app, ctx);

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

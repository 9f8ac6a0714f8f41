// The sluice command-line tool. This file is the program's one exception boundary: libraries
// report errors as values; anything thrown (bad_alloc, a third-party throw) ends here as a message.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/demo.h"

int main(int argc, char** argv) {
  try {
    CLI::App app{"sluice: an append-only log streaming engine"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "sluice 0.1.0");

    sluice::cli::DemoOptions demo;
    CLI::App* demo_cmd = app.add_subcommand(
        "demo", "Produce telemetry into a topic, read it all back, and print throughput");
    demo_cmd->add_option("--data-dir", demo.data_dir, "Data directory")
        ->envname("SLUICE_DATA_DIR")
        ->capture_default_str();
    demo_cmd->add_option("--topic", demo.topic, "Topic to (re)create")->capture_default_str();
    demo_cmd->add_option("--records", demo.records, "Records to produce")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
        ->capture_default_str();
    demo_cmd->add_option("--partitions", demo.partitions, "Partitions (one producer each)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    demo_cmd->add_option("--batch", demo.batch_records, "Records per batch")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    demo_cmd->add_option("--compression", demo.compression, "zstd, lz4, none or producer")
        ->check(CLI::IsMember({"zstd", "lz4", "none", "producer"}))
        ->capture_default_str();
    demo_cmd->add_option("--flush", demo.flush, "none or sync")
        ->check(CLI::IsMember({"none", "sync"}))
        ->capture_default_str();

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // Usage errors exit with 2, as kcat and rpk do; --help and --version exit 0.
      int code = app.exit(e);
      return code == 0 ? 0 : 2;
    }
    if (*demo_cmd) return sluice::cli::RunDemo(demo);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice: fatal: %s\n", e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "sluice: fatal: unknown error\n");
    return 1;
  }
}

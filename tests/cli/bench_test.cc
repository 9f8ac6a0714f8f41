// Runs the real `sluice bench` briefly against a temporary data directory: JSON figures, the SVG
// chart, the temporary topic cleaned up, and usage errors.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/sluice_process.h"
#include "tests/support/test_util.h"

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::TempDir;

using testing::RunResult;

// `sluice bench` runs take longer than the other CLI commands.
RunResult RunSluice(const std::vector<std::string>& args) {
  return testing::RunSluice(args, "", std::chrono::seconds(120));
}

class BenchTest : public ::testing::Test {
 protected:
  RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--data-dir", dir_.path()});
    return RunSluice(args);
  }
  void ExpectOneLineError(std::vector<std::string> args, int code) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, code) << shown << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << shown << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("sluice: ", 0), 0u) << shown << "\nstderr: " << r.err;
    EXPECT_EQ(r.out, "") << shown;
  }
  // Names in the data directory other than the engine's own bookkeeping.
  std::vector<std::string> Leftovers() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name.find("bench") != std::string::npos) out.push_back(name);
    }
    return out;
  }

  TempDir dir_;
};

void ExpectPositive(const json& j, const std::string& pointer) {
  ASSERT_TRUE(j.contains(json::json_pointer(pointer))) << pointer << " missing in " << j.dump();
  const json& v = j.at(json::json_pointer(pointer));
  ASSERT_TRUE(v.is_number()) << pointer;
  EXPECT_GT(v.get<double>(), 0) << pointer;
}

TEST_F(BenchTest, JsonHoldsFiguresAndBaselinePercentages) {
  RunResult r = Run({"bench", "--records", "20000", "--partitions", "1", "--producers", "1",
                     "--batch", "500", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << "stderr: " << r.err;
  EXPECT_EQ(r.err, "");  // stderr is not a terminal: no progress bar
  const json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["config"]["records"], 20000);
  EXPECT_EQ(j["write"]["records"], 20000);
  EXPECT_EQ(j["write"]["appends"], 40);
  EXPECT_EQ(j["read"]["records"], 20000);
  for (const char* p :
       {"/write/records_per_s", "/write/logical_mb_per_s", "/write/on_disk_mb_per_s",
        "/write/compression_ratio", "/write/stored_bytes", "/write/latency_us/p50",
        "/write/latency_us/p99", "/write/latency_us/p99_9", "/write/latency_us/max",
        "/read/records_per_s", "/read/logical_mb_per_s", "/raw/chunk_bytes",
        "/raw/uring_write/mb_per_s", "/raw/uring_write_fdatasync/mb_per_s",
        "/vs_raw/append_on_disk_mb_per_s_pct", "/vs_raw/append_on_disk_vs_uring_write_pct",
        "/vs_raw/append_on_disk_vs_uring_write_fdatasync_pct"}) {
    ExpectPositive(j, p);
  }
  EXPECT_GT(j["write"]["compression_ratio"].get<double>(), 1.0);  // zstd on telemetry text
  EXPECT_LE(j["write"]["latency_us"]["p50"].get<double>(),
            j["write"]["latency_us"]["max"].get<double>());
  EXPECT_EQ(j["vs_raw"]["baseline"], "uring_write");
  EXPECT_TRUE(Leftovers().empty());  // the topic and the raw file are gone

  // The temporary topic is gone: the same run again works.
  r = Run({"bench", "--records", "2000", "--partitions", "1", "--producers", "1", "--flush", "sync",
           "--compression", "none", "--batch", "100", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << "stderr: " << r.err;
  const json s = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(s.is_discarded()) << r.out;
  EXPECT_EQ(s["vs_raw"]["baseline"], "uring_write_fdatasync");
  ExpectPositive(s, "/vs_raw/append_on_disk_mb_per_s_pct");
  EXPECT_TRUE(Leftovers().empty());
}

TEST_F(BenchTest, TableAndPlot) {
  const std::string plot = dir_.Join("chart.svg");
  RunResult r =
      Run({"bench", "--records", "20000", "--partitions", "1", "--producers", "1", "--plot", plot});
  ASSERT_EQ(r.exit_code, 0) << "stderr: " << r.err;
  for (const char* want : {"records/s", "MB/s logical", "MB/s on disk", "compression", "p99.9",
                           "io_uring write", "fdatasync", "% of raw"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " missing in:\n" << r.out;
  }
  std::ifstream f(plot);
  std::stringstream svg;
  svg << f.rdbuf();
  EXPECT_EQ(svg.str().rfind("<svg", 0), 0u) << svg.str().substr(0, 200);
  EXPECT_NE(svg.str().find("</svg>"), std::string::npos);
  // Both phases are plotted, and the same-run baseline is a line across the write phase.
  for (const char* want :
       {"<polyline id=\"write\"", "<polyline id=\"read\"", "<polyline id=\"write-p99\"",
        "<line id=\"baseline\"", "same-run baseline: io_uring write"}) {
    EXPECT_NE(svg.str().find(want), std::string::npos) << want;
  }
  const size_t read = svg.str().find("<polyline id=\"read\"");
  ASSERT_NE(read, std::string::npos);
  const size_t points = svg.str().find("points=\"", read);
  ASSERT_NE(points, std::string::npos);
  EXPECT_NE(svg.str()[points + 8], '"') << "the read phase has no points";
}

TEST_F(BenchTest, RefusesAnExistingTopic) {
  ASSERT_EQ(Run({"topic", "create", "mine"}).exit_code, 0);
  ExpectOneLineError({"bench", "--topic", "mine", "--records", "100"}, 1);
  RunResult r = Run({"topic", "describe", "mine", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // untouched
}

TEST_F(BenchTest, BadFlagsAreOneLineUsageErrors) {
  ExpectOneLineError({"bench", "--records", "0"}, 2);
  ExpectOneLineError({"bench", "--compression", "brotli"}, 2);
  ExpectOneLineError({"bench", "--flush", "maybe"}, 2);
  ExpectOneLineError({"bench", "--partitions", "x"}, 2);
  ExpectOneLineError({"bench", "--no-such-flag"}, 2);
  ExpectOneLineError({"bench", "--record-size", "1000000", "--batch", "100"}, 2);
}

TEST_F(BenchTest, RejectsBroker) {
  RunResult r = Run({"--broker", "localhost:9092", "bench", "--records", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace sluice::cli

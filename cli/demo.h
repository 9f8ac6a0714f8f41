#pragma once

#include <cstdint>
#include <string>

#include "engine/engine.h"

namespace sluice::cli {

struct DemoOptions {
  std::string data_dir = "./sluice-data";
  engine::WritePath write_path = engine::kDefaultWritePath;  // --io
  std::string topic = "telemetry";
  // Given by the user (--topic): an existing topic of that name is refused. Otherwise the demo
  // takes the first free name of telemetry, telemetry-2, telemetry-3, ...
  bool topic_given = false;
  int64_t records = 2'000'000;
  int32_t partitions = 2;
  int32_t batch_records = 1000;
  std::string compression = "zstd";
  std::string flush = "none";
};

// Produces telemetry into a topic it creates (an existing one is never touched), reads
// every record back and checks it, and prints throughput. Returns the process exit code.
int RunDemo(const DemoOptions& options);

}  // namespace sluice::cli

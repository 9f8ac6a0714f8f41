#pragma once

// Realistic telemetry records (JSON lines, ~150-250 bytes): hosts, regions, metrics and values
// with the repetition and variety real monitoring data has. Deterministic for a given seed. Used
// by `sluice demo` and the benchmarks.

#include <cstdint>
#include <random>
#include <string>

namespace sluice::cli {

class TelemetryGenerator {
 public:
  explicit TelemetryGenerator(uint64_t seed);
  // Appends one record to `out` (no newline) and returns its timestamp (ms).
  int64_t Next(std::string& out);
  // The host name of the last record, a natural key.
  const std::string& last_host() const { return host_; }

 private:
  std::mt19937_64 rng_;
  int64_t ts_ms_;
  uint64_t seq_ = 0;
  std::string host_;
};

}  // namespace sluice::cli

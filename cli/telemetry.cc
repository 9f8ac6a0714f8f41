#include "cli/telemetry.h"

#include <array>
#include <cstdio>

namespace sluice::cli {
namespace {

constexpr std::array<const char*, 6> kRegions = {"eu-west-1", "eu-central-1", "us-east-1",
                                                 "us-west-2", "ap-south-1",   "ap-northeast-1"};
constexpr std::array<const char*, 10> kMetrics = {
    "cpu.user",     "cpu.system",   "mem.used_bytes", "disk.read_bytes", "disk.write_bytes",
    "net.rx_bytes", "net.tx_bytes", "http.requests",  "http.latency_ms", "gc.pause_ms"};
constexpr std::array<const char*, 5> kServices = {"checkout", "search", "auth", "inventory",
                                                  "gateway"};
constexpr std::array<const char*, 3> kEnvs = {"prod", "staging", "canary"};

}  // namespace

TelemetryGenerator::TelemetryGenerator(uint64_t seed)
    : rng_(seed), ts_ms_(1'767'225'600'000 + static_cast<int64_t>(seed % 1000)) {}

int64_t TelemetryGenerator::Next(std::string& out) {
  std::uniform_int_distribution<int> host_d(0, 499);
  std::uniform_int_distribution<size_t> metric_d(0, kMetrics.size() - 1);
  std::uniform_real_distribution<double> value_d(0.0, 1000.0);
  std::uniform_int_distribution<int> jitter_d(0, 3);
  const int host = host_d(rng_);
  const char* region = kRegions[static_cast<size_t>(host) % kRegions.size()];
  const char* service = kServices[static_cast<size_t>(host / 7) % kServices.size()];
  const char* env = kEnvs[static_cast<size_t>(host / 100) % kEnvs.size()];
  ts_ms_ += jitter_d(rng_);
  char hostbuf[32];
  std::snprintf(hostbuf, sizeof(hostbuf), "%s-%03d", service, host);
  host_ = hostbuf;
  char buf[384];
  int n = std::snprintf(buf, sizeof(buf),
                        "{\"ts\":%lld,\"seq\":%llu,\"host\":\"%s\",\"region\":\"%s\","
                        "\"service\":\"%s\",\"env\":\"%s\",\"metric\":\"%s\",\"value\":%.3f,"
                        "\"unit\":\"%s\",\"agent\":\"sluice-telemetry/1.4.2\"}",
                        static_cast<long long>(ts_ms_), static_cast<unsigned long long>(seq_++),
                        hostbuf, region, service, env, kMetrics[metric_d(rng_)], value_d(rng_),
                        host % 2 == 0 ? "count" : "gauge");
  out.append(buf, static_cast<size_t>(n));
  return ts_ms_;
}

}  // namespace sluice::cli

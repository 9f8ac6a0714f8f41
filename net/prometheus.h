#pragma once

// PrometheusWriter: builds a page in the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): per metric family one # HELP and
// one # TYPE line, then its samples, `name{label="value",...} value`. Label values are escaped
// (backslash, double quote, newline), HELP text too (backslash, newline). Used by the broker's
// admin endpoint (GET /metrics).
//
// The caller writes each family's samples right after its Family() call (the format wants a
// family's samples together); Family() refuses a name already started, so a family cannot be split
// by mistake (the second Family call is a bug: SLUICE_CHECK).
//
// Thread-safety: one thread per writer.

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "segment/base/histogram.h"

namespace sluice::net {

// Content-Type of the page.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

using Label = std::pair<std::string_view, std::string_view>;  // name (a valid label name), value

class PrometheusWriter {
 public:
  // Starts the family `name` (a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*).
  void Family(std::string_view name, std::string_view help, MetricType type);
  // One sample of the family started last (for a histogram, use Histogram).
  void Sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void Sample(std::string_view name, std::initializer_list<Label> labels, int64_t value);
  void Sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  // A histogram's samples: name_bucket{...,le="..."} (cumulative, ending with le="+Inf"),
  // name_sum and name_count. Bounds and sum are divided by `scale` (ns -> s: 1e9).
  void Histogram(std::string_view name, std::initializer_list<Label> labels,
                 const base::AtomicHistogram::Snapshot& snapshot, double scale = 1.0);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Labels(std::initializer_list<Label> labels, const Label* extra);

  std::string out_;
  std::set<std::string, std::less<>> families_;
};

// `value` escaped for a label value between double quotes: \ -> \\, " -> \", newline -> \n.
std::string EscapeLabelValue(std::string_view value);
// `text` escaped for a HELP line: \ -> \\, newline -> \n.
std::string EscapeHelp(std::string_view text);
// A sample value: integers exactly, others as the shortest round-tripping decimal; +Inf, -Inf, NaN.
std::string FormatSampleValue(double value);

}  // namespace sluice::net

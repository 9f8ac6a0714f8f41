// The Prometheus text encoder (net/prometheus.h): escaping of label values and HELP text, value
// formatting, family headers, histograms (cumulative buckets, +Inf = _count).

#include "net/prometheus.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

namespace sluice::net {
namespace {

TEST(PrometheusTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain-topic_1.x"), "plain-topic_1.x");
  EXPECT_EQ(EscapeLabelValue("a\"b"), "a\\\"b");
  EXPECT_EQ(EscapeLabelValue("a\\b"), "a\\\\b");
  EXPECT_EQ(EscapeLabelValue("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeLabelValue("\\\"\n"), "\\\\\\\"\\n");
  EXPECT_EQ(EscapeLabelValue("ünïcode\t"), "ünïcode\t");  // UTF-8 and tabs pass as they are
}

TEST(PrometheusTest, EscapesHelpButNotQuotes) {
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");
}

TEST(PrometheusTest, FormatsValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(42), "42");
  EXPECT_EQ(FormatSampleValue(0.25), "0.25");
  EXPECT_EQ(FormatSampleValue(1e-4), "1e-04");  // shortest round-trip; Prometheus parses it
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

TEST(PrometheusTest, WritesFamiliesAndLabelledSamples) {
  PrometheusWriter w;
  w.Family("sluice_x_total", "Things\ncounted", MetricType::kCounter);
  w.Sample("sluice_x_total", {{"topic", "t"}, {"group", "g\"1"}}, uint64_t{7});
  w.Sample("sluice_x_total", {}, int64_t{-3});
  w.Family("sluice_y", "A gauge", MetricType::kGauge);
  w.Sample("sluice_y", {{"a", "b"}}, 1.5);
  EXPECT_EQ(w.text(),
            "# HELP sluice_x_total Things\\ncounted\n"
            "# TYPE sluice_x_total counter\n"
            "sluice_x_total{topic=\"t\",group=\"g\\\"1\"} 7\n"
            "sluice_x_total -3\n"
            "# HELP sluice_y A gauge\n"
            "# TYPE sluice_y gauge\n"
            "sluice_y{a=\"b\"} 1.5\n");
}

TEST(PrometheusTest, WritesCumulativeHistogramEndingInInf) {
  static constexpr std::array<int64_t, 3> kBounds = {1'000'000, 10'000'000, 100'000'000};
  base::AtomicHistogram h(kBounds);
  h.Record(500'000);      // <= 1 ms
  h.Record(1'000'000);    // <= 1 ms (bounds are inclusive)
  h.Record(20'000'000);   // <= 100 ms
  h.Record(900'000'000);  // +Inf
  PrometheusWriter w;
  w.Family("lat_seconds", "Latency", MetricType::kHistogram);
  w.Histogram("lat_seconds", {{"api", "Produce"}}, h.Read(), 1e9);
  EXPECT_EQ(w.text(),
            "# HELP lat_seconds Latency\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{api=\"Produce\",le=\"0.001\"} 2\n"
            "lat_seconds_bucket{api=\"Produce\",le=\"0.01\"} 2\n"
            "lat_seconds_bucket{api=\"Produce\",le=\"0.1\"} 3\n"
            "lat_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{api=\"Produce\"} 0.9215\n"
            "lat_seconds_count{api=\"Produce\"} 4\n");
}

TEST(PrometheusDeathTest, RefusesAFamilyWrittenTwice) {
  PrometheusWriter w;
  w.Family("a", "x", MetricType::kGauge);
  EXPECT_DEATH(w.Family("a", "x", MetricType::kGauge), "written twice");
}

}  // namespace
}  // namespace sluice::net

#include "net/prometheus.h"

#include <charconv>
#include <cmath>

#include "segment/base/check.h"

namespace sluice::net {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

void PrometheusWriter::Family(std::string_view name, std::string_view help, MetricType type) {
  SLUICE_CHECK(families_.emplace(name).second, "metric family written twice");
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += EscapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  switch (type) {
    case MetricType::kCounter:
      out_ += " counter\n";
      break;
    case MetricType::kGauge:
      out_ += " gauge\n";
      break;
    case MetricType::kHistogram:
      out_ += " histogram\n";
      break;
  }
}

void PrometheusWriter::Labels(std::initializer_list<Label> labels, const Label* extra) {
  if (labels.size() == 0 && extra == nullptr) return;
  out_ += '{';
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.first;
    out_ += "=\"";
    out_ += EscapeLabelValue(l.second);
    out_ += '"';
  };
  for (const Label& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out_ += '}';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<Label> labels,
                              double value) {
  out_ += name;
  Labels(labels, nullptr);
  out_ += ' ';
  out_ += FormatSampleValue(value);
  out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<Label> labels,
                              int64_t value) {
  out_ += name;
  Labels(labels, nullptr);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<Label> labels,
                              uint64_t value) {
  out_ += name;
  Labels(labels, nullptr);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void PrometheusWriter::Histogram(std::string_view name, std::initializer_list<Label> labels,
                                 const base::AtomicHistogram::Snapshot& snapshot, double scale) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < snapshot.counts.size(); ++i) {
    cumulative += snapshot.counts[i];
    const std::string le = i < snapshot.bounds.size()
                               ? FormatSampleValue(static_cast<double>(snapshot.bounds[i]) / scale)
                               : "+Inf";
    const Label extra{"le", le};
    out_ += bucket;
    Labels(labels, &extra);
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  Sample(std::string(name) + "_sum", labels, static_cast<double>(snapshot.sum) / scale);
  Sample(std::string(name) + "_count", labels, snapshot.count);
}

}  // namespace sluice::net

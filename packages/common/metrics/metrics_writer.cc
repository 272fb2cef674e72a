// See metrics_writer.h.
#include "common/metrics/metrics_writer.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cassert>
#include <sstream>

namespace common::metrics {

namespace {

prometheus::ClientMetric withLabels(const Labels& labels) {
  prometheus::ClientMetric m;
  m.label.reserve(labels.size());
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  return m;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

Histogram Histogram::latency() {
  return Histogram({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1, 2.5, 5, 10});
}

void Histogram::observe(double v) {
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  ++count_;
  sum_ += v;
}

MetricsWriter& MetricsWriter::family(std::string_view name, std::string_view help, Type type) {
  prometheus::MetricType t = type == Type::kCounter ? prometheus::MetricType::Counter
                             : type == Type::kGauge ? prometheus::MetricType::Gauge
                                                    : prometheus::MetricType::Histogram;
  families_.push_back(prometheus::MetricFamily{std::string(name), std::string(help), t, {}});
  return *this;
}

MetricsWriter& MetricsWriter::sample(double value, const Labels& labels) {
  assert(!families_.empty());
  prometheus::MetricFamily& f = families_.back();
  prometheus::ClientMetric m = withLabels(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return *this;
}

MetricsWriter& MetricsWriter::sample(const Histogram& h, const Labels& labels) {
  assert(!families_.empty() && families_.back().type == prometheus::MetricType::Histogram);
  prometheus::ClientMetric m = withLabels(labels);
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = h.sum();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.bounds().size(); ++i) {
    cumulative += h.counts()[i];
    m.histogram.bucket.push_back({cumulative, h.bounds()[i]});
  }
  // The serializer adds the +Inf bucket from sample_count.
  families_.back().metric.push_back(std::move(m));
  return *this;
}

std::string MetricsWriter::text() const {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, families_);
  return os.str();
}

}  // namespace common::metrics

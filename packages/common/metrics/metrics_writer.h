// common::metrics::MetricsWriter: builds a /metrics answer in the Prometheus text format
// (version 0.0.4) at scrape time from live counters, with prometheus-cpp's serializer; and
// common::metrics::Histogram, a fixed-bucket latency histogram a component keeps and the writer
// prints. Used by the balancer's admin port and the node's /metrics, so both follow one
// convention: names meshkv_<component>_..., counters end in _total, durations in seconds.
// Loop thread only; a writer lives for one scrape.
// The one thing to get right: sample() adds to the family opened last, so open the family, add
// all its samples, then open the next (a name must not appear in two families).
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace common::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Counts observations into cumulative buckets with fixed upper bounds (seconds for latency).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  // Request latencies: 100 us .. 10 s.
  static Histogram latency();
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // per bucket, not cumulative
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // bounds_.size() + 1 (the last is +Inf)
  uint64_t count_ = 0;
  double sum_ = 0;
};

class MetricsWriter {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Opens a family; the samples added next belong to it.
  MetricsWriter& family(std::string_view name, std::string_view help, Type type);
  MetricsWriter& counter(std::string_view name, std::string_view help) {
    return family(name, help, Type::kCounter);
  }
  MetricsWriter& gauge(std::string_view name, std::string_view help) {
    return family(name, help, Type::kGauge);
  }
  // A counter or gauge sample of the open family.
  MetricsWriter& sample(double value, const Labels& labels = {});
  // A histogram sample of the open family (opened with Type::kHistogram).
  MetricsWriter& sample(const Histogram& h, const Labels& labels = {});

  // The whole answer (Content-Type: kContentType).
  std::string text() const;
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  std::vector<prometheus::MetricFamily> families_;
};

}  // namespace common::metrics

// MetricsWriter and Histogram: the text a Prometheus server scrapes (HELP and TYPE once per
// family, labels, cumulative buckets ending with +Inf equal to the count).
#include "common/metrics/metrics_writer.h"

#include <gtest/gtest.h>

namespace common::metrics {
namespace {

TEST(MetricsWriter, FamiliesWithHelpTypeAndLabelledSamples) {
  MetricsWriter w;
  w.counter("meshkv_x_total", "Things done").sample(3, {{"kind", "a"}}).sample(4, {{"kind", "b"}});
  w.gauge("meshkv_y", "A level").sample(1.5);
  const std::string t = w.text();
  EXPECT_NE(t.find("# HELP meshkv_x_total Things done\n# TYPE meshkv_x_total counter\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("meshkv_x_total{kind=\"a\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meshkv_x_total{kind=\"b\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("# TYPE meshkv_y gauge\nmeshkv_y 1.5\n"), std::string::npos) << t;
}

TEST(MetricsWriter, HistogramBucketsAreCumulativeAndEndWithInf) {
  Histogram h({0.3, 1});
  h.observe(0.25);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(7);
  MetricsWriter w;
  w.family("meshkv_t_seconds", "Times", MetricsWriter::Type::kHistogram).sample(h, {{"r", "/x"}});
  const std::string t = w.text();
  EXPECT_NE(t.find("meshkv_t_seconds_bucket{r=\"/x\",le=\"0.3\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meshkv_t_seconds_bucket{r=\"/x\",le=\"1\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meshkv_t_seconds_bucket{r=\"/x\",le=\"+Inf\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meshkv_t_seconds_count{r=\"/x\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meshkv_t_seconds_sum{r=\"/x\"} 8.25\n"), std::string::npos) << t;
}

TEST(MetricsWriter, LabelValuesAreEscaped) {
  MetricsWriter w;
  w.gauge("meshkv_z", "Z").sample(1, {{"name", "a\"b\\c\nd"}});
  EXPECT_NE(w.text().find(R"(meshkv_z{name="a\"b\\c\nd"} 1)"), std::string::npos) << w.text();
}

}  // namespace
}  // namespace common::metrics

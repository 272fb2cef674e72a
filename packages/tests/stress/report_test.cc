// Unit tests for what meshkv-stress shows: the report text, the JSON document (parsed back
// with RapidJSON), the progress bar and line, and the SVG chart's structure.
#include "tests/stress/report.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace stress {
namespace {

Results sampleResults() {
  Results r;
  r.amount = r.issued = 1000;
  r.succeeded = 990;
  r.errors = 10;
  r.errorsByKind = {{"http_500", 7}, {"timeout", 3}};
  r.byOp[static_cast<size_t>(Op::kSet)] = 1000;
  r.connectionsOpened = 20;
  r.elapsedSec = 2.0;
  for (int i = 0; i < 40; ++i) {  // 40 slices of 50 ms, latency rising from 1 ms to ~5 ms
    Histogram h;
    for (int k = 0; k < 25; ++k) {
      uint64_t us = 1000 + i * 100 + k * 4;
      h.record(us);
      r.latencyUs.record(us);
    }
    Slice s;
    s.startSec = i * 0.05;
    s.lengthSec = 0.05;
    s.completed = 25;
    s.errors = i == 10 ? 10 : 0;
    s.latency = h.sparse();
    s.minUs = h.min();
    s.maxUs = h.max();
    s.sumUs = h.sum();
    r.slices.push_back(s);
  }
  return r;
}

ReportInfo sampleInfo() {
  ReportInfo i;
  i.target = "http://proxy:80/?a&b<c>";
  i.mix = "set=100";
  i.clusters = 2;
  i.workers = 10;
  i.connections = 20;
  i.valueSize = 32;
  i.keySpace = 100;
  i.maxErrors = 0;
  return i;
}

TEST(Report, TextNamesTotalsRatePercentilesAndErrorKinds) {
  std::string t = textReport(sampleResults(), sampleInfo());
  EXPECT_NE(t.find("Total requests: 1000"), std::string::npos) << t;
  EXPECT_NE(t.find("Total time: 2.00 sec"), std::string::npos) << t;
  EXPECT_NE(t.find("Requests/s: 500"), std::string::npos) << t;
  EXPECT_NE(t.find("p99.9"), std::string::npos) << t;
  EXPECT_NE(t.find("Errors: 10 (http_500 7, timeout 3)"), std::string::npos) << t;
  EXPECT_NE(t.find("FAILED: 10 errors"), std::string::npos) << t;
  ReportInfo lenient = sampleInfo();
  lenient.maxErrors = 10;
  EXPECT_EQ(textReport(sampleResults(), lenient).find("FAILED"), std::string::npos);
}

TEST(Report, JsonIsValidAndCarriesTheFigures) {
  Results r = sampleResults();
  std::string j = jsonReport(r, sampleInfo());
  rapidjson::Document d;
  d.Parse(j.c_str());
  ASSERT_FALSE(d.HasParseError()) << j;
  EXPECT_EQ(d["issued"].GetUint64(), 1000u);
  EXPECT_EQ(d["errors"].GetUint64(), 10u);
  EXPECT_EQ(d["errorsByKind"]["timeout"].GetUint64(), 3u);
  EXPECT_DOUBLE_EQ(d["requestsPerSecond"].GetDouble(), 500.0);
  EXPECT_STREQ(d["target"].GetString(), "http://proxy:80/?a&b<c>");
  const auto& lat = d["latencyMs"];
  EXPECT_LE(lat["p50"].GetDouble(), lat["p90"].GetDouble());
  EXPECT_LE(lat["p90"].GetDouble(), lat["p99"].GetDouble());
  EXPECT_LE(lat["p99"].GetDouble(), lat["p99.9"].GetDouble());
  EXPECT_LE(lat["p99.9"].GetDouble(), lat["max"].GetDouble());
  EXPECT_NEAR(lat["max"].GetDouble(), r.latencyUs.max() / 1000.0, 0.01);
  EXPECT_FALSE(d["passed"].GetBool());
}

TEST(Report, ProgressShowsHowFarAndHowFast) {
  Progress p;
  p.amount = 1000;
  p.completed = p.succeeded = 250;
  p.elapsedSec = 0.5;
  std::string bar = progressBar(p, 20);
  EXPECT_EQ(bar.substr(0, 22), "[#####...............]");
  EXPECT_NE(bar.find(" 25%"), std::string::npos) << bar;
  EXPECT_NE(bar.find("500 req/s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("ETA 2s"), std::string::npos) << bar;
  EXPECT_EQ(progressLine(p).substr(0, 28), "[<] 750 / [!] 0 / [^] 250  (");
}

TEST(Report, SvgIsOneEscapedDocumentWithBothPanels) {
  std::string svg = svgPlot(sampleResults(), sampleInfo());
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(svg.find("b<c>"), std::string::npos) << "the target must be XML-escaped";
  EXPECT_NE(svg.find("b&lt;c&gt;"), std::string::npos);
  EXPECT_NE(svg.find("Throughput (requests/s)"), std::string::npos);
  EXPECT_NE(svg.find("Latency (ms)"), std::string::npos);
  // 1 throughput line + 4 latency lines, and one error marker (one slice had errors).
  size_t lines = 0, pos = 0;
  while ((pos = svg.find("<polyline", pos)) != std::string::npos) ++lines, ++pos;
  EXPECT_EQ(lines, 5u);
  size_t markers = 0;
  pos = 0;
  while ((pos = svg.find("errors</title>", pos)) != std::string::npos) ++markers, ++pos;
  EXPECT_EQ(markers, 1u);
  // An empty run still draws a valid (empty) chart.
  Results empty;
  std::string e = svgPlot(empty, sampleInfo());
  EXPECT_NE(e.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace stress

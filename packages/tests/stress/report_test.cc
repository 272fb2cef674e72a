// Unit tests for what meshkv-stress shows: the report text, the JSON document (parsed back
// with RapidJSON), the progress bar and line, and the SVG chart's structure.
#include "tests/stress/report.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <sstream>

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

TEST(Report, JsonAndTextCarryTheFourNinesAndTheLoadMode) {
  ReportInfo open = sampleInfo();
  open.rate = 2000;
  std::string j = jsonReport(sampleResults(), open);
  rapidjson::Document d;
  d.Parse(j.c_str());
  ASSERT_FALSE(d.HasParseError()) << j;
  EXPECT_STREQ(d["mode"].GetString(), "open");
  EXPECT_DOUBLE_EQ(d["rate"].GetDouble(), 2000.0);
  EXPECT_LE(d["latencyMs"]["p99.9"].GetDouble(), d["latencyMs"]["p99.99"].GetDouble());
  EXPECT_LE(d["latencyMs"]["p99.99"].GetDouble(), d["latencyMs"]["max"].GetDouble());
  EXPECT_NE(textReport(sampleResults(), open).find("p99.99"), std::string::npos);
  EXPECT_NE(header(open, 1000).find("open loop at 2000 requests/s"), std::string::npos);
  EXPECT_NE(header(sampleInfo(), 1000).find("closed loop"), std::string::npos);
}

TEST(Report, CsvIsOneHeaderAndOneRowOfTheSameWidth) {
  std::string c = csvReport(sampleResults(), sampleInfo());
  size_t nl = c.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string head = c.substr(0, nl), row = c.substr(nl + 1);
  ASSERT_FALSE(row.empty());
  EXPECT_EQ(row.back(), '\n');
  row.pop_back();
  EXPECT_EQ(row.find('\n'), std::string::npos);
  EXPECT_EQ(std::count(head.begin(), head.end(), ','), std::count(row.begin(), row.end(), ','));
  EXPECT_EQ(head.rfind("mode,rate,", 0), 0u) << head;
  EXPECT_NE(head.find("p99_99_ms"), std::string::npos);
  EXPECT_EQ(row.rfind("closed,0.0,20,1000,1000,990,10,", 0), 0u) << row;
}

TEST(Report, HdrPercentileFileHasTheColumnsAndMonotonicRowsToTheMax) {
  Results r = sampleResults();
  std::string t = hdrPercentiles(r.latencyUs);
  std::istringstream in(t);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find("Value"), std::string::npos);
  EXPECT_NE(line.find("Percentile"), std::string::npos);
  EXPECT_NE(line.find("TotalCount"), std::string::npos);
  EXPECT_NE(line.find("1/(1-Percentile)"), std::string::npos);
  double lastValue = -1, lastQ = -1, value = 0, q = 0;
  uint64_t lastCount = 0, count = 0;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream row(line);
    ASSERT_TRUE(row >> value >> q >> count) << line;
    EXPECT_GE(value, lastValue) << line;
    EXPECT_GT(q, lastQ) << line;
    EXPECT_GE(count, lastCount) << line;
    lastValue = value;
    lastQ = q;
    lastCount = count;
    ++rows;
  }
  EXPECT_GT(rows, 10);
  EXPECT_DOUBLE_EQ(q, 1.0);
  EXPECT_EQ(count, r.latencyUs.count());
  EXPECT_NEAR(value, r.latencyUs.max() / 1000.0, 0.001);
  EXPECT_NE(t.find("#[Max     ="), std::string::npos);
  EXPECT_NE(t.find("Total count    =         1000"), std::string::npos) << t;
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
  p.liveRate = 1234;
  EXPECT_NE(progressBar(p, 20).find("(now 1234)"), std::string::npos);
  EXPECT_NE(progressLine(p).find("now 1234 req/s"), std::string::npos) << progressLine(p);
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

// Report: everything meshkv-stress prints or writes about a run: the progress bar (terminal),
// the plain progress lines (logs, CI), the final text report, the --json document and the
// --plot SVG chart (throughput and latency over time), the --csv summary and the --hdr-out
// percentile distribution. Pure functions of the Runner's Results,
// so they are unit-tested on hand-made Results; called by main on the loop thread.
// A newcomer's trap: latencies in Results are microseconds; every text here shows milliseconds.
#pragma once

#include <string>

#include "tests/stress/runner.h"

namespace stress {

struct ReportInfo {
  std::string target;  // the SERVICE_URL as given
  std::string mix;     // Mix::describe()
  uint32_t clusters = 0, workers = 0, connections = 0;
  bool keepAlive = true;
  uint32_t valueSize = 0;
  uint64_t keySpace = 0;
  bool sequentialKeys = false;
  uint64_t maxErrors = 0;
  KeyDist keyDist = KeyDist::kUniform;
  std::string engine = "client";  // client (one URL) or cluster (the client's cluster mode)
  double rate = 0;                // open loop at this many requests/s; 0 = closed loop
};

// One terminal line (no newline):
// "[######....] 45% 45000/100000  9876 req/s (now 9901)  0 errors  ETA 5s" (now: the last second).
std::string progressBar(const Progress& p, int width);
// The original's line, plus the rates:
// "[<] 55000 / [!] 0 / [^] 45000  (9876 req/s, now 9901 req/s, 4.6 s)".
std::string progressLine(const Progress& p);
// The header printed before the run.
std::string header(const ReportInfo& info, uint64_t amount);
std::string textReport(const Results& r, const ReportInfo& info);
std::string jsonReport(const Results& r, const ReportInfo& info);
// One CSV header line and one row: the same summary as the JSON (latencies in ms).
std::string csvReport(const Results& r, const ReportInfo& info);
// HdrHistogram's percentile distribution text (what HistogramLogProcessor / hdr-plot read):
// "Value Percentile TotalCount 1/(1-Percentile)" rows, values in milliseconds, then the
// #[Mean ...] / #[Max ...] footer. Rows step through halving tails like
// outputPercentileDistribution with 5 ticks per half-distance.
std::string hdrPercentiles(const Histogram& h);
// A self-contained SVG (no scripts, no external fonts) of requests/s and latency percentiles.
std::string svgPlot(const Results& r, const ReportInfo& info);

}  // namespace stress

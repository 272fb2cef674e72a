// See report.h. The chart groups the Runner's slices into at most kMaxPoints points, merging
// their sparse histograms, so a 10-minute run draws as cleanly as a 2-second one.
#include "tests/stress/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/http/json.h"

namespace stress {

namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string ms(uint64_t us) {
  return fmt("%.2f", static_cast<double>(us) / 1000.0);
}

double rate(uint64_t n, double sec) {
  return sec > 0 ? static_cast<double>(n) / sec : 0.0;
}

std::string duration(double sec) {
  if (sec < 60) return fmt("%.0fs", std::ceil(sec));
  int s = static_cast<int>(std::ceil(sec));
  return std::to_string(s / 60) + "m" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60) + "s";
}

struct Percentiles {
  uint64_t p50, p90, p99, p999, p9999, max;
};

Percentiles percentiles(const Histogram& h) {
  return {h.percentile(0.50),  h.percentile(0.90),   h.percentile(0.99),
          h.percentile(0.999), h.percentile(0.9999), h.max()};
}

std::string xmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `count` ticks up to `top`.
double niceStep(double top, int count) {
  if (top <= 0) return 1;
  double raw = top / count;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  double m = raw / p;
  double step = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
  return step * p;
}

std::string tickLabel(double v) {
  if (v >= 1e6) return fmt("%.3gM", v / 1e6);
  if (v >= 1e4) return fmt("%.3gk", v / 1e3);
  if (v == std::floor(v)) return fmt("%.0f", v);
  return fmt("%.3g", v);
}

}  // namespace

std::string progressBar(const Progress& p, int width) {
  double done = p.amount ? static_cast<double>(p.completed) / static_cast<double>(p.amount) : 1;
  done = std::clamp(done, 0.0, 1.0);
  int filled = static_cast<int>(done * width);
  std::string bar = "[";
  bar.append(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  bar += "] ";
  bar += fmt("%3.0f%%", done * 100);
  bar += " " + std::to_string(p.completed) + "/" + std::to_string(p.amount);
  double rps = rate(p.completed, p.elapsedSec);
  bar += "  " + fmt("%.0f", rps) + " req/s";
  if (p.liveRate > 0) bar += " (now " + fmt("%.0f", p.liveRate) + ")";
  bar += "  " + std::to_string(p.errors) + " errors";
  if (rps > 0 && p.completed < p.amount) {
    bar += "  ETA " + duration(static_cast<double>(p.amount - p.completed) / rps);
  }
  return bar;
}

std::string progressLine(const Progress& p) {
  return "[<] " + std::to_string(p.amount - std::min(p.amount, p.completed)) + " / [!] " +
         std::to_string(p.errors) + " / [^] " + std::to_string(p.succeeded) + "  (" +
         fmt("%.0f", rate(p.completed, p.elapsedSec)) + " req/s, now " + fmt("%.0f", p.liveRate) +
         " req/s, " + fmt("%.1f", p.elapsedSec) + " s)";
}

std::string header(const ReportInfo& info, uint64_t amount) {
  std::string s = "Stress test of " + info.target + " with:\n";
  s += " - Requests: " + std::to_string(amount) + "\n";
  s += " - Clusters: " + std::to_string(info.clusters) + "\n";
  s += " - Workers per cluster: " + std::to_string(info.workers) + " (" +
       std::to_string(info.connections) + " connections, " +
       (info.keepAlive ? "keep-alive" : "a new connection per request") + ")\n";
  s += " - Load: " +
       (info.rate > 0
            ? "open loop at " + fmt("%.0f", info.rate) +
                  " requests/s (latency from when each request was due)"
            : std::string("closed loop (each connection sends when its last reply came)")) +
       ", engine " + info.engine + "\n";
  s += " - Mix: " + info.mix + "; " +
       (info.sequentialKeys ? std::string("a new key per request")
                            : std::to_string(info.keySpace) + " keys (" +
                                  std::string(keyDistName(info.keyDist)) + ")") +
       ", values of " + std::to_string(info.valueSize) + " bytes\n";
  return s;
}

std::string textReport(const Results& r, const ReportInfo& info) {
  Percentiles p = percentiles(r.latencyUs);
  std::string s = "Report:\n";
  s += " - Total requests: " + std::to_string(r.issued);
  if (r.issued < r.amount)
    s += " of " + std::to_string(r.amount) + " (stopped: " + r.stopReason + ")";
  s += "\n";
  s += " - Total time: " + fmt("%.2f", r.elapsedSec) + " sec\n";
  s += " - Requests/s: " + fmt("%.0f", rate(r.succeeded + r.errors, r.elapsedSec)) + "\n";
  s += " - Latency (ms): p50 " + ms(p.p50) + "  p90 " + ms(p.p90) + "  p99 " + ms(p.p99) +
       "  p99.9 " + ms(p.p999) + "  p99.99 " + ms(p.p9999) + "  max " + ms(p.max) + "  (mean " +
       fmt("%.2f", r.latencyUs.mean() / 1000.0) + ")\n";
  s += " - Success: " + std::to_string(r.succeeded);
  if (r.notFound) s += " (" + std::to_string(r.notFound) + " of them 404 not found)";
  s += "\n";
  s += " - Errors: " + std::to_string(r.errors);
  if (!r.errorsByKind.empty()) {
    s += " (";
    bool first = true;
    for (const auto& [kind, n] : r.errorsByKind) {
      if (!first) s += ", ";
      first = false;
      s += kind + " " + std::to_string(n);
    }
    s += ")";
  }
  s += "\n";
  s += " - Operations:";
  for (size_t i = 0; i < kOpCount; ++i) {
    if (r.byOp[i])
      s += " " + std::string(opName(static_cast<Op>(i))) + " " + std::to_string(r.byOp[i]);
  }
  s += "\n";
  s += " - Connections opened: " + std::to_string(r.connectionsOpened);
  if (r.staleRetries) {
    s += " (" + std::to_string(r.staleRetries) +
         " requests resent after a keep-alive connection closed)";
  }
  s += "\n";
  if (r.errors > info.maxErrors) {
    s += "FAILED: " + std::to_string(r.errors) + " errors, more than --max-errors " +
         std::to_string(info.maxErrors) + "\n";
  }
  return s;
}

std::string csvReport(const Results& r, const ReportInfo& info) {
  Percentiles p = percentiles(r.latencyUs);
  std::string s =
      "mode,rate,connections,requested,issued,succeeded,errors,seconds,requests_per_second,"
      "min_ms,mean_ms,p50_ms,p90_ms,p99_ms,p99_9_ms,p99_99_ms,max_ms\n";
  s += std::string(info.rate > 0 ? "open," : "closed,") + fmt("%.1f", info.rate) + ",";
  s += std::to_string(info.connections) + "," + std::to_string(r.amount) + "," +
       std::to_string(r.issued) + "," + std::to_string(r.succeeded) + "," +
       std::to_string(r.errors) + "," + fmt("%.3f", r.elapsedSec) + "," +
       fmt("%.1f", rate(r.succeeded + r.errors, r.elapsedSec)) + ",";
  s += ms(r.latencyUs.min()) + "," + fmt("%.3f", r.latencyUs.mean() / 1000.0) + "," + ms(p.p50) +
       "," + ms(p.p90) + "," + ms(p.p99) + "," + ms(p.p999) + "," + ms(p.p9999) + "," + ms(p.max) +
       "\n";
  return s;
}

std::string hdrPercentiles(const Histogram& h) {
  std::string s = "       Value     Percentile TotalCount 1/(1-Percentile)\n\n";
  auto row = [&](double q) {
    uint64_t v = h.percentile(q);
    uint64_t total = static_cast<uint64_t>(std::ceil(q * static_cast<double>(h.count())));
    char buf[128];
    if (q < 1.0) {
      std::snprintf(buf, sizeof buf, "%12.3f %14.12f %10llu %14.2f\n",
                    static_cast<double>(v) / 1000.0, q, static_cast<unsigned long long>(total),
                    1.0 / (1.0 - q));
    } else {
      std::snprintf(buf, sizeof buf, "%12.3f %14.12f %10llu\n", static_cast<double>(v) / 1000.0, q,
                    static_cast<unsigned long long>(h.count()));
    }
    s += buf;
  };
  if (h.count() > 0) {
    // Like HdrHistogram's outputPercentileDistribution: 5 ticks per halving of the distance to
    // 100%, until the tail holds less than one recorded value.
    constexpr int kTicksPerHalf = 5;
    double q = 0;
    for (double half = 0.5;; half /= 2) {
      double step = half / kTicksPerHalf;
      for (int i = 0; i < kTicksPerHalf; ++i, q += step) row(q);
      if ((1.0 - q) * static_cast<double>(h.count()) < 1.0 || half < 1e-12) break;
    }
    row(1.0);
  }
  // Standard deviation from the buckets (each value taken at its bucket's middle).
  long double var = 0;
  for (auto [index, n] : h.sparse()) {
    long double mid =
        (static_cast<long double>(Histogram::bucketLow(index)) + Histogram::bucketHigh(index)) / 2;
    long double d = mid - h.mean();
    var += d * d * n;
  }
  double stddev = h.count() ? std::sqrt(static_cast<double>(var / h.count())) : 0.0;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n"
                "#[Max     = %12.3f, Total count    = %12llu]\n"
                "#[Buckets = %12zu, SubBuckets     = %12llu]\n",
                h.mean() / 1000.0, stddev / 1000.0, static_cast<double>(h.max()) / 1000.0,
                static_cast<unsigned long long>(h.count()), Histogram::kBuckets,
                static_cast<unsigned long long>(Histogram::kHalf));
  s += buf;
  return s;
}

std::string jsonReport(const Results& r, const ReportInfo& info) {
  namespace json = common::json;
  Percentiles p = percentiles(r.latencyUs);
  std::string s = "{\"target\":";
  json::appendString(s, info.target);
  s += ",\"mix\":";
  json::appendString(s, info.mix);
  s += ",\"clusters\":" + std::to_string(info.clusters);
  s += ",\"workers\":" + std::to_string(info.workers);
  s += ",\"connections\":" + std::to_string(info.connections);
  s += ",\"keepAlive\":" + std::string(info.keepAlive ? "true" : "false");
  s += ",\"mode\":" + std::string(info.rate > 0 ? "\"open\"" : "\"closed\"");
  s += ",\"rate\":" + fmt("%.1f", info.rate);
  s += ",\"engine\":";
  json::appendString(s, info.engine);
  s += ",\"keyDistribution\":\"" + std::string(keyDistName(info.keyDist)) + "\"";
  s += ",\"requested\":" + std::to_string(r.amount);
  s += ",\"issued\":" + std::to_string(r.issued);
  s += ",\"succeeded\":" + std::to_string(r.succeeded);
  s += ",\"notFound\":" + std::to_string(r.notFound);
  s += ",\"errors\":" + std::to_string(r.errors);
  s += ",\"errorsByKind\":{";
  bool first = true;
  for (const auto& [kind, n] : r.errorsByKind) {
    if (!first) s += ',';
    first = false;
    json::appendString(s, kind);
    s += ':' + std::to_string(n);
  }
  s += "},\"operations\":{";
  first = true;
  for (size_t i = 0; i < kOpCount; ++i) {
    if (!first) s += ',';
    first = false;
    json::appendString(s, opName(static_cast<Op>(i)));
    s += ':' + std::to_string(r.byOp[i]);
  }
  s += "},\"seconds\":" + fmt("%.3f", r.elapsedSec);
  s += ",\"requestsPerSecond\":" + fmt("%.1f", rate(r.succeeded + r.errors, r.elapsedSec));
  s += ",\"latencyMs\":{\"min\":" + ms(r.latencyUs.min()) +
       ",\"mean\":" + fmt("%.3f", r.latencyUs.mean() / 1000.0) + ",\"p50\":" + ms(p.p50) +
       ",\"p90\":" + ms(p.p90) + ",\"p99\":" + ms(p.p99) + ",\"p99.9\":" + ms(p.p999) +
       ",\"p99.99\":" + ms(p.p9999) + ",\"max\":" + ms(p.max) + "}";
  s += ",\"connectionsOpened\":" + std::to_string(r.connectionsOpened);
  s += ",\"staleRetries\":" + std::to_string(r.staleRetries);
  s += ",\"stopReason\":";
  json::appendString(s, r.stopReason);
  s += ",\"passed\":" +
       std::string(r.errors <= info.maxErrors && r.stopReason.empty() ? "true" : "false");
  s += "}\n";
  return s;
}

std::string svgPlot(const Results& r, const ReportInfo& info) {
  constexpr size_t kMaxPoints = 200;
  constexpr int kW = 960, kH = 600, kLeft = 80, kRight = 30;
  constexpr int kTopY = 90, kPanelH = 190, kGap = 70;  // two panels: throughput, then latency
  const int plotW = kW - kLeft - kRight;

  struct Point {
    double t, rps;
    uint64_t errors, p50, p90, p99, max;
  };
  std::vector<Point> pts;
  size_t n = r.slices.size();
  size_t group = std::max<size_t>(1, (n + kMaxPoints - 1) / kMaxPoints);
  for (size_t i = 0; i < n; i += group) {
    Histogram h;
    double len = 0;
    uint64_t done = 0, errs = 0;
    for (size_t j = i; j < std::min(n, i + group); ++j) {
      const Slice& s = r.slices[j];
      h.addSparse(s.latency, s.minUs, s.maxUs, s.sumUs);
      len += s.lengthSec;
      done += s.completed;
      errs += s.errors;
    }
    double mid = r.slices[i].startSec + len / 2;
    pts.push_back({mid, rate(done, len), errs, h.percentile(0.5), h.percentile(0.9),
                   h.percentile(0.99), h.max()});
  }
  double tMax = std::max(r.elapsedSec, 0.001);
  double rpsTop = 0, latTop = 0;
  for (const Point& p : pts) {
    rpsTop = std::max(rpsTop, p.rps);
    latTop = std::max(latTop, static_cast<double>(p.p99) / 1000.0);
  }
  double rpsStep = niceStep(rpsTop * 1.1, 5);
  rpsTop = std::max(rpsStep, std::ceil(rpsTop * 1.1 / rpsStep) * rpsStep);
  double latStep = niceStep(latTop * 1.15, 5);
  latTop = std::max(latStep, std::ceil(latTop * 1.15 / latStep) * latStep);
  double tStep = niceStep(tMax, 8);

  auto x = [&](double t) { return kLeft + t / tMax * plotW; };
  auto coord = [](double v) { return fmt("%.1f", v); };

  Percentiles total = percentiles(r.latencyUs);
  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kW) + "\" height=\"" +
       std::to_string(kH) + "\" viewBox=\"0 0 " + std::to_string(kW) + " " + std::to_string(kH) +
       "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s += "<text x=\"" + std::to_string(kLeft) + "\" y=\"30\" font-size=\"18\" font-weight=\"bold\">" +
       xmlEscape("meshkv-stress: " + std::to_string(r.issued) + " requests to " + info.target) +
       "</text>\n";
  s += "<text x=\"" + std::to_string(kLeft) + "\" y=\"54\" font-size=\"13\" fill=\"#444\">" +
       xmlEscape(info.mix + ", " + std::to_string(info.connections) + " connections (" +
                 std::to_string(info.clusters) + " x " + std::to_string(info.workers) + "), " +
                 (info.keepAlive ? "keep-alive" : "new connection per request") + " | " +
                 fmt("%.0f", rate(r.succeeded + r.errors, r.elapsedSec)) + " req/s, p50 " +
                 ms(total.p50) + " ms, p99 " + ms(total.p99) + " ms, max " + ms(total.max) +
                 " ms, " + std::to_string(r.errors) + " errors in " + fmt("%.2f", r.elapsedSec) +
                 " s") +
       "</text>\n";

  // One panel: frame, horizontal grid with labels, time axis, title.
  auto panel = [&](int top, double yTop, double yStep, const std::string& title) {
    s += "<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(top - 10) +
         "\" font-size=\"14\" font-weight=\"bold\">" + xmlEscape(title) + "</text>\n";
    for (double v = 0; v <= yTop + yStep / 2; v += yStep) {
      double y = top + kPanelH - v / yTop * kPanelH;
      s += "<line x1=\"" + std::to_string(kLeft) + "\" x2=\"" + std::to_string(kLeft + plotW) +
           "\" y1=\"" + coord(y) + "\" y2=\"" + coord(y) + "\" stroke=\"#e3e3e3\"/>\n";
      s += "<text x=\"" + std::to_string(kLeft - 8) + "\" y=\"" + coord(y + 4) +
           "\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">" + tickLabel(v) + "</text>\n";
    }
    for (double t = 0; t <= tMax + 1e-9; t += tStep) {
      s += "<line x1=\"" + coord(x(t)) + "\" x2=\"" + coord(x(t)) + "\" y1=\"" +
           std::to_string(top + kPanelH) + "\" y2=\"" + std::to_string(top + kPanelH + 5) +
           "\" stroke=\"#555\"/>\n";
      s += "<text x=\"" + coord(x(t)) + "\" y=\"" + std::to_string(top + kPanelH + 18) +
           "\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">" + tickLabel(t) +
           "s</text>\n";
    }
    s += "<rect x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(top) + "\" width=\"" +
         std::to_string(plotW) + "\" height=\"" + std::to_string(kPanelH) +
         "\" fill=\"none\" stroke=\"#888\"/>\n";
  };
  auto polyline = [&](int top, double yTop, auto value, const char* color, const char* extra) {
    if (pts.empty()) return;
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\" " + extra + " points=\"";
    for (const Point& p : pts) {
      double v = std::min(value(p), yTop);
      s += coord(x(p.t)) + "," + coord(top + kPanelH - v / yTop * kPanelH) + " ";
    }
    s += "\"/>\n";
  };
  auto legend = [&](int lx, int y, const char* color, const std::string& label, bool dashed) {
    s += "<line x1=\"" + std::to_string(lx) + "\" x2=\"" + std::to_string(lx + 22) + "\" y1=\"" +
         std::to_string(y - 4) + "\" y2=\"" + std::to_string(y - 4) + "\" stroke=\"" + color +
         "\" stroke-width=\"2\"" + (dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>\n";
    s += "<text x=\"" + std::to_string(lx + 28) + "\" y=\"" + std::to_string(y) +
         "\" font-size=\"12\">" + xmlEscape(label) + "</text>\n";
  };

  int top1 = kTopY, top2 = kTopY + kPanelH + kGap;
  panel(top1, rpsTop, rpsStep, "Throughput (requests/s)");
  polyline(
      top1, rpsTop, [](const Point& p) { return p.rps; }, "#1f77b4", "");
  for (const Point& p : pts) {  // error markers along the bottom of the throughput panel
    if (p.errors == 0) continue;
    s += "<circle cx=\"" + coord(x(p.t)) + "\" cy=\"" + std::to_string(top1 + kPanelH - 6) +
         "\" r=\"4\" fill=\"#d62728\"><title>" + std::to_string(p.errors) +
         " errors</title></circle>\n";
  }
  legend(kLeft + plotW - 250, top1 - 10, "#1f77b4", "requests/s", false);
  s += "<circle cx=\"" + std::to_string(kLeft + plotW - 120) + "\" cy=\"" +
       std::to_string(top1 - 14) + "\" r=\"4\" fill=\"#d62728\"/><text x=\"" +
       std::to_string(kLeft + plotW - 110) + "\" y=\"" + std::to_string(top1 - 10) +
       "\" font-size=\"12\">errors</text>\n";

  panel(top2, latTop, latStep, "Latency (ms)");
  polyline(
      top2, latTop, [](const Point& p) { return p.max / 1000.0; }, "#bbbbbb",
      "stroke-dasharray=\"4 3\"");
  polyline(
      top2, latTop, [](const Point& p) { return p.p99 / 1000.0; }, "#d62728", "");
  polyline(
      top2, latTop, [](const Point& p) { return p.p90 / 1000.0; }, "#ff7f0e", "");
  polyline(
      top2, latTop, [](const Point& p) { return p.p50 / 1000.0; }, "#2ca02c", "");
  int ly = top2 - 10, lx = kLeft + plotW - 420;
  legend(lx, ly, "#2ca02c", "p50", false);
  legend(lx + 80, ly, "#ff7f0e", "p90", false);
  legend(lx + 160, ly, "#d62728", "p99", false);
  legend(lx + 240, ly, "#bbbbbb", "max (clipped at top)", true);
  s += "<text x=\"" + std::to_string(kLeft + plotW / 2) + "\" y=\"" + std::to_string(kH - 12) +
       "\" font-size=\"12\" text-anchor=\"middle\" fill=\"#555\">time since start</text>\n";
  s += "</svg>\n";
  return s;
}

}  // namespace stress

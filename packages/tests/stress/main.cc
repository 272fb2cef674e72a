// meshkv-stress: the load generator (the original's `npm run stress`, in C++ on libuv). Reads
// SERVICE_URL and STRESS_* (each also a flag), resolves the target once, runs a stress::Runner
// (the client library: that one address, or the whole cluster with --cluster) on one loop, shows
// progress on stderr (a bar on a terminal, plain lines otherwise), prints the report (or --json) on
// stdout and writes --plot/--ack-log files. Exit status: 0, or 1 when errors exceed --max-errors or
// the run was cut short, 2 on an invalid setting. It only ever targets the one address it is given,
// and stops by itself (count and --max-time).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "common/config/cli.h"
#include "common/http/url.h"
#include "common/log/log.h"
#include "tests/stress/report.h"
#include "tests/stress/runner.h"

namespace {

struct Settings {
  std::string url = "http://127.0.0.1:8080";
  uint64_t amount = 100000;
  uint32_t clusters = 50;
  uint32_t workers = 20;
  std::string mix = "set=100";
  uint64_t keySpace = 100000;
  bool sequentialKeys = false;
  std::string keyPrefix = "stress:";
  std::string extraQuery;
  uint32_t valueSize = 32;
  bool newConnection = false;
  bool noRetry = false;
  uint64_t timeoutMs = 10000;
  double maxTimeSec = 600;
  uint64_t maxErrors = 0;
  bool json = false;
  std::string plot, ackLog;
  std::string progress = "auto";
  uint64_t seed = 0;
  double rate = 0;
  std::string ratio, dist = "uniform";
  std::string engine = "client";
  uint32_t pipeline = 1;
  bool cluster = false;
  std::string csv, hdrOut;
  std::string logLevel = "warn";
};

void raiseFileLimit(uint64_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= wanted) return;
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, wanted);
  setrlimit(RLIMIT_NOFILE, &rl);
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

// Wires progress, acks and SIGINT/SIGTERM to the runner and runs the loop to the end.
void runToEnd(stress::Runner& runner, uv_loop_t& loop, const std::string& mode,
              std::ofstream& ackLog) {
  double lastLine = 0;
  runner.onProgress([&](const stress::Progress& p) {
    if (mode == "bar") {
      std::cerr << "\r" << stress::progressBar(p, 30) << "\033[K" << std::flush;
    } else if (mode == "lines" && (p.elapsedSec - lastLine >= 1.0 || p.completed == p.amount)) {
      lastLine = p.elapsedSec;
      std::cerr << stress::progressLine(p) << "\n";
    }
  });
  if (ackLog.is_open()) {
    runner.onAck([&](std::string_view key, std::string_view value) {
      ackLog << key << ' ' << value << '\n';
    });
  }
  uv_signal_t sigint, sigterm;
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  sigint.data = sigterm.data = &runner;
  auto onSignal = [](uv_signal_t* h, int signum) {
    static_cast<stress::Runner*>(h->data)->stop(signum == SIGINT ? "interrupted" : "terminated");
  };
  uv_signal_start(&sigint, onSignal, SIGINT);
  uv_signal_start(&sigterm, onSignal, SIGTERM);
  runner.start([&] {
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
  });
  uv_run(&loop, UV_RUN_DEFAULT);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  ::signal(SIGPIPE, SIG_IGN);  // AsyncClient's contract: a node reset mid-write must not kill us
  CLI::App app{"meshkv-stress: HTTP load generator for meshkv (and any server with the same API)",
               "meshkv-stress"};
  app.set_version_flag("--version", std::string("meshkv-stress ") + MESHKV_VERSION);
  app.add_option("--url", s.url, "Target base URL")
      ->envname("SERVICE_URL")
      ->check(common::httpUrlValidator())
      ->capture_default_str();
  app.add_option("-n,--amount", s.amount, "Total requests to send")
      ->envname("STRESS_AMOUNT")
      ->capture_default_str();
  app.add_option("-c,--clusters", s.clusters,
                 "Concurrent groups (concurrency = clusters x workers)")
      ->envname("STRESS_CLUSTERS")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("-w,--workers", s.workers, "Connections per cluster")
      ->envname("STRESS_WORKERS")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--mix", s.mix, "Operation weights, e.g. set=80,get=20 (set, get, rm, is)")
      ->envname("STRESS_MIX")
      ->capture_default_str();
  app.add_option("--engine", s.engine,
                 "Kept for scripts: raw and client both run the client library, one request in "
                 "flight per connection (the raw HTTP engine is gone)")
      ->envname("STRESS_ENGINE")
      ->check(CLI::IsMember({"raw", "client"}))
      ->capture_default_str();
  app.add_flag("--cluster", s.cluster,
               "The client's cluster mode: members read from --url's /status, every node loaded "
               "directly (clusters x workers connections to each)")
      ->envname("STRESS_CLUSTER");
  app.add_option("--pipeline", s.pipeline,
                 "Requests in flight on each connection (HTTP/1.1 pipelining); 1 = one at a time")
      ->envname("STRESS_PIPELINE")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--ratio", s.ratio, "SET:GET request ratio, e.g. 1:9 (replaces --mix)")
      ->envname("STRESS_RATIO");
  app.add_option("--dist", s.dist, "How random keys are drawn: uniform or zipfian (theta 0.99)")
      ->envname("STRESS_DIST")
      ->check(CLI::IsMember({"uniform", "zipfian"}))
      ->capture_default_str();
  app.add_option("--keys", s.keySpace, "Key space: keys are PREFIX0 .. PREFIX<keys-1>")
      ->envname("STRESS_KEYS")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX))
      ->capture_default_str();
  app.add_flag("--sequential-keys", s.sequentialKeys,
               "A new key for every request (PREFIX0, PREFIX1, ...)")
      ->envname("STRESS_SEQUENTIAL_KEYS");
  app.add_option("--key-prefix", s.keyPrefix, "Prefix of every key")
      ->envname("STRESS_KEY_PREFIX")
      ->capture_default_str();
  app.add_option("--extra-query", s.extraQuery,
                 "Appended to every request's query string, e.g. w=quorum (write concern)")
      ->envname("STRESS_EXTRA_QUERY");
  app.add_option("--value-size", s.valueSize, "Bytes per value sent by set")
      ->envname("STRESS_VALUE_SIZE")
      ->check(CLI::Range(0u, 1u << 20))
      ->capture_default_str();
  app.add_flag("--new-connection", s.newConnection,
               "A new TCP connection per request (no keep-alive)")
      ->envname("STRESS_NEW_CONNECTION");
  app.add_flag("--no-retry", s.noRetry,
               "Do not resend a request whose reused keep-alive connection closed before any reply")
      ->envname("STRESS_NO_RETRY");
  app.add_option("--timeout-ms", s.timeoutMs, "Per-request timeout, connect included")
      ->envname("STRESS_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--max-time", s.maxTimeSec, "Stop the run after this many seconds")
      ->envname("STRESS_MAX_TIME")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--max-errors", s.maxErrors, "Exit 1 when errors exceed this")
      ->envname("STRESS_MAX_ERRORS")
      ->capture_default_str();
  app.add_flag("--json", s.json, "Print the report as one JSON object")->envname("STRESS_JSON");
  app.add_option("--plot", s.plot, "Write a latency and throughput chart (SVG) to FILE")
      ->envname("STRESS_PLOT");
  app.add_option("--ack-log", s.ackLog, "Write 'key value' for every acknowledged set to FILE")
      ->envname("STRESS_ACK_LOG");
  app.add_option("--progress", s.progress,
                 "auto (bar on a terminal, lines otherwise), bar, lines, none")
      ->envname("STRESS_PROGRESS")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}))
      ->capture_default_str();
  app.add_option("--rate", s.rate,
                 "Open loop: N requests/s spread evenly, latency counted from when each was due "
                 "(wrk2's coordinated-omission correction); 0 = closed loop")
      ->envname("STRESS_RATE")
      ->check(CLI::Range(0.0, 10000000.0))
      ->capture_default_str();
  app.add_option("--csv", s.csv, "Write the summary (one header line, one row) as CSV to FILE")
      ->envname("STRESS_CSV");
  app.add_option("--hdr-out", s.hdrOut,
                 "Write the latency percentile distribution (HdrHistogram text format) to FILE")
      ->envname("STRESS_HDR_OUT");
  app.add_option("--seed", s.seed, "Random seed (0: from the clock)")->envname("STRESS_SEED");
  app.add_option("--log-level", s.logLevel, "trace, debug, info, warn, error, critical, off")
      ->envname("LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  // --key-prefix and --extra-query may well be empty: the stress tool keeps CLI11's handling.
  if (auto code = common::parseCli(app, argc, argv, common::EmptyValues::kAllowed)) return *code;
  common::initLogging(s.logLevel, "meshkv-stress");

  if (!s.ratio.empty()) {
    size_t colon = s.ratio.find(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "meshkv-stress: invalid configuration: --ratio: expected SET:GET\n");
      return 2;
    }
    s.mix = "set=" + s.ratio.substr(0, colon) + ",get=" + s.ratio.substr(colon + 1);
  }
  auto mix = stress::parseMix(s.mix);
  if (!mix.ok()) {
    std::fprintf(stderr, "meshkv-stress: invalid configuration: --mix: %s\n",
                 mix.error().message.c_str());
    return 2;
  }
  auto url = common::parseHttpUrl(s.url);
  if (!url.ok()) {
    std::fprintf(stderr, "meshkv-stress: invalid configuration: --url: %s\n",
                 url.error().message.c_str());
    return 2;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  uv_getaddrinfo_t resolver;
  std::string host = url->host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int rc = uv_getaddrinfo(&loop, &resolver, nullptr, host.c_str(),
                          std::to_string(url->port).c_str(), &hints);
  if (rc != 0 || resolver.addrinfo == nullptr) {
    std::fprintf(stderr, "meshkv-stress: cannot resolve %s: %s\n", url->host.c_str(),
                 uv_strerror(rc));
    uv_loop_close(&loop);
    return 1;
  }
  stress::RunOptions opt;
  const addrinfo* chosen = resolver.addrinfo;
  for (const addrinfo* ai = resolver.addrinfo; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {  // prefer IPv4: compose networks are IPv4
      chosen = ai;
      break;
    }
  }
  sockaddr_storage address{};
  std::memcpy(&address, chosen->ai_addr, chosen->ai_addrlen);
  uv_freeaddrinfo(resolver.addrinfo);

  uint64_t connections = uint64_t{s.clusters} * s.workers;
  // The client gets the address resolved above, so no connection resolves the name again.
  char ip[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&address), ip, sizeof ip);
    opt.url = "http://[" + std::string(ip) + "]:" + std::to_string(url->port);
  } else {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&address), ip, sizeof ip);
    opt.url = "http://" + std::string(ip) + ":" + std::to_string(url->port);
  }
  opt.discovery = s.cluster ? meshkv::Discovery::kCluster : meshkv::Discovery::kSeedOnly;
  opt.pipeline = s.pipeline;
  opt.basePath = url->path == "/" ? "" : url->path;
  while (!opt.basePath.empty() && opt.basePath.back() == '/') opt.basePath.pop_back();
  opt.amount = s.amount;
  opt.connections = static_cast<uint32_t>(std::min<uint64_t>(connections, 1000000));
  opt.mix = *mix;
  opt.keySpace = s.keySpace;
  stress::parseKeyDist(s.dist, &opt.keyDist);  // validated by the option's check
  opt.sequentialKeys = s.sequentialKeys;
  opt.keyPrefix = s.keyPrefix;
  opt.extraQuery = s.extraQuery;
  while (!opt.extraQuery.empty() &&
         (opt.extraQuery.front() == '&' || opt.extraQuery.front() == '?')) {
    opt.extraQuery.erase(0, 1);
  }
  if (opt.extraQuery.find_first_of(" \r\n#") != std::string::npos) {
    std::fprintf(stderr,
                 "meshkv-stress: invalid configuration: --extra-query: must be URL-encoded "
                 "(no spaces, line breaks or '#')\n");
    return 2;
  }
  opt.valueSize = s.valueSize;
  opt.keepAlive = !s.newConnection;
  opt.retryStale = !s.noRetry;
  opt.timeoutMs = s.timeoutMs;
  opt.maxTimeMs = static_cast<uint64_t>(s.maxTimeSec * 1000);
  opt.seed = s.seed ? s.seed : uv_hrtime();
  opt.rate = s.rate;
  // Cluster mode opens clusters x workers connections to every member (how many is not known
  // yet): as many descriptors as allowed (up to Linux's default nr_open).
  raiseFileLimit(s.cluster ? uint64_t{1} << 20 : std::min<uint64_t>(connections, s.amount) + 64);

  stress::ReportInfo info;
  info.target = s.url;
  info.mix = mix->describe();
  info.clusters = s.clusters;
  info.workers = s.workers;
  info.connections = static_cast<uint32_t>(std::min<uint64_t>(connections, s.amount));
  info.keepAlive = opt.keepAlive;
  info.valueSize = s.valueSize;
  info.keySpace = s.keySpace;
  info.sequentialKeys = s.sequentialKeys;
  info.maxErrors = s.maxErrors;
  info.rate = s.rate;
  info.keyDist = opt.keyDist;
  info.engine = s.cluster ? "cluster" : "client";

  std::ofstream ackLog;
  if (!s.ackLog.empty()) {
    ackLog.open(s.ackLog, std::ios::trunc);
    if (!ackLog) {
      std::fprintf(stderr, "meshkv-stress: cannot write --ack-log %s\n", s.ackLog.c_str());
      uv_loop_close(&loop);
      return 2;
    }
  }

  bool tty = isatty(STDERR_FILENO);
  std::string mode = s.progress == "auto" ? (tty ? "bar" : "lines") : s.progress;
  if (!s.json)
    std::cout << stress::header(info, s.amount) << "\n==================\n\n" << std::flush;
  if (mode == "lines") std::cerr << "[<] Left Requests / [!] Errors / [^] Success\n";

  stress::Runner runner(&loop, opt);
  runToEnd(runner, loop, mode, ackLog);
  uv_loop_close(&loop);
  if (mode == "bar") std::cerr << "\n";

  const stress::Results& r = runner.results();
  if (s.json) {
    std::cout << stress::jsonReport(r, info);
  } else {
    std::cout << "\n==================\n\n" << stress::textReport(r, info);
  }
  std::cout << std::flush;
  if (ackLog.is_open()) ackLog.close();
  if (!s.plot.empty() && !writeFile(s.plot, stress::svgPlot(r, info))) {
    std::fprintf(stderr, "meshkv-stress: cannot write --plot %s\n", s.plot.c_str());
    return 1;
  }
  if (!s.csv.empty() && !writeFile(s.csv, stress::csvReport(r, info))) {
    std::fprintf(stderr, "meshkv-stress: cannot write --csv %s\n", s.csv.c_str());
    return 1;
  }
  if (!s.hdrOut.empty() && !writeFile(s.hdrOut, stress::hdrPercentiles(r.latencyUs))) {
    std::fprintf(stderr, "meshkv-stress: cannot write --hdr-out %s\n", s.hdrOut.c_str());
    return 1;
  }
  if (!r.stopReason.empty()) return 1;
  return r.errors > s.maxErrors ? 1 : 0;
}

// Black-box check of meshkv-stress's open-loop mode against wrk2's method: a real meshkv-node
// (memory mode, port 0) takes a fixed-rate load from the real meshkv-stress binary, the test
// freezes the node with SIGSTOP for 1 s in the middle of the run, and the --json report must
// show that pause in its tail (p99.9 about 1 s) because latency counts from when each request
// was due. A tool that timed requests from when it sent them would hide it: only the few
// requests in flight during the pause would be slow. Built as its own binary (it needs the node
// and the stress tool); reuses the mesh tests' process harness. The 1 s sleep IS the fault.
#include <fcntl.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/mesh/harness.h"

namespace {

std::string stressBinary() {
  const char* env = std::getenv("MESHKV_STRESS_BIN");
  return env && *env ? env : MESHKV_STRESS_BIN_DEFAULT;
}

std::string readAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Starts meshkv-stress with `args`, stdout and stderr to files. Returns the pid (or -1).
pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (o < 0 || e < 0) _exit(126);
  dup2(o, STDOUT_FILENO);
  dup2(e, STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

struct StressRun {
  int exitCode = -1;
  std::string json, err;
};

// Runs the stress tool against `url`, pausing `node` for 1 s once the run has gone on for about
// 2 s (its second progress line). Waits for the report.
StressRun runWithPause(const std::string& dir, const std::vector<std::string>& extra,
                       meshtest::NodeProcess& node, bool pause = true) {
  std::vector<std::string> args = {stressBinary(), "--url", node.url(),     "--json",
                                   "--progress",   "lines", "--seed",       "7",
                                   "--keys",       "1000",  "--timeout-ms", "20000"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out = dir + "/stress.json", err = dir + "/stress.err";
  StressRun run;
  pid_t pid = spawn(args, out, err);
  if (pid < 0) return run;
  // Lines mode prints a header line, then one progress line per second.
  bool going =
      pause && meshtest::waitFor([&] { return countOf(readAll(err), "[<] ") >= 3; }, 30000);
  if (going) {
    kill(node.pid(), SIGSTOP);
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the fault itself, not a wait
    kill(node.pid(), SIGCONT);
  }
  int status = 0;
  bool ended = meshtest::waitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 60000);
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  run.exitCode = ended && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.json = readAll(out);
  run.err = readAll(err);
  return run;
}

// Requests per second the node serves to a closed loop of 4 connections over 2 s, no pause.
// The runs below are sized from it: a sanitizer build on a busy 2-core VM served 262/s in CI
// where a quiet one serves 6,000/s, and a fixed rate would measure a saturated server instead
// of the pause.
double closedLoopCapacity(const std::string& dir, meshtest::NodeProcess& node) {
  StressRun run =
      runWithPause(dir, {"-n", "100000000", "-c", "1", "-w", "4", "--max-time", "2"}, node, false);
  rapidjson::Document doc;
  doc.Parse(run.json.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("requestsPerSecond")) return 0;
  return doc["requestsPerSecond"].GetDouble();
}

TEST(StressOpenLoop, ServerPausedOneSecondShowsInTheTail) {
  char tmpl[] = "/tmp/meshkv-stress-openloop-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  meshtest::NodeProcess node("127.0.0.1", dir);
  ASSERT_TRUE(node.start({{"MEMORY", "1"}, {"LOG_LEVEL", "warn"}})) << readAll(node.logPath());
  double capacity = closedLoopCapacity(dir, node);
  ASSERT_GE(capacity, 200.0) << "the node is too slow here to load it at 100 requests/s";

  // A quarter of that rate (100 to 1000 requests/s) for 8 s over 4 connections: the 1 s pause
  // delays one rate's worth of scheduled requests (12.5 %), caught up within a second
  // after it, while only 4 requests are in flight (0.05 % to 0.5 %, below the p99 rank).
  const int rate = std::clamp(static_cast<int>(capacity / 4), 100, 1000);
  StressRun run = runWithPause(
      dir, {"--rate", std::to_string(rate), "-n", std::to_string(rate * 8), "-c", "1", "-w", "4"},
      node);
  ASSERT_EQ(run.exitCode, 0) << run.err << run.json;
  rapidjson::Document doc;
  doc.Parse(run.json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << run.json;
  EXPECT_STREQ(doc["mode"].GetString(), "open");
  EXPECT_EQ(doc["succeeded"].GetUint64(), static_cast<uint64_t>(rate) * 8);
  const auto& lat = doc["latencyMs"];
  EXPECT_GE(lat["p99.9"].GetDouble(), 800.0) << run.json;
  EXPECT_GE(lat["p99"].GetDouble(), 500.0) << run.json;
  EXPECT_GE(lat["max"].GetDouble(), 900.0) << run.json;
  // Most requests never met the pause: the tail comes from it, not from a saturated server.
  EXPECT_LT(lat["p50"].GetDouble(), 500.0) << run.json;

  // The same pause under today's closed loop (4 connections as fast as they go, cut after 5 s,
  // longer on a slow machine so that some 2,000 requests are answered): only the 4 requests in
  // flight wait out the pause, so the max shows it and the tail percentiles do not.
  const int seconds = std::clamp(static_cast<int>(2000 / capacity) + 5, 5, 20);
  StressRun closed = runWithPause(
      dir, {"-n", "100000000", "-c", "1", "-w", "4", "--max-time", std::to_string(seconds)}, node);
  EXPECT_EQ(closed.exitCode, 1) << "a run cut by --max-time exits 1" << closed.err;
  rapidjson::Document cdoc;
  cdoc.Parse(closed.json.c_str());
  ASSERT_FALSE(cdoc.HasParseError()) << closed.json;
  EXPECT_STREQ(cdoc["mode"].GetString(), "closed");
  // A percentile hides the 4 paused requests when its tail holds at least twice as many: p99.9
  // from 8,000 requests, p99 from 800.
  const uint64_t answered = cdoc["succeeded"].GetUint64();
  ASSERT_GE(answered, 800u) << "too few requests to rank a p99" << closed.json;
  const char* hiding = answered >= 8000 ? "p99.9" : "p99";
  // Part of the pause, not all: a starved CPU delays the tool's next send into the pause (a
  // test held to a tenth of one core saw 400 ms, with a p99 of 40 ms).
  EXPECT_GE(cdoc["latencyMs"]["max"].GetDouble(), 300.0) << closed.json;
  EXPECT_LT(cdoc["latencyMs"][hiding].GetDouble(), 300.0) << hiding << " " << closed.json;

  std::printf("capacity %.0f/s, open loop at %d/s: %s\nclosed loop for %d s: %s\n", capacity, rate,
              run.json.c_str(), seconds, closed.json.c_str());
  EXPECT_EQ(node.terminate(), 0);
  std::filesystem::remove_all(dir);
}

TEST(StressOpenLoop, TheClientEngineInClusterModeRunsTheSameWorkloads) {
  char tmpl[] = "/tmp/meshkv-stress-client-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  meshtest::NodeProcess node("127.0.0.1", dir);
  ASSERT_TRUE(node.start({{"MEMORY", "1"}, {"LOG_LEVEL", "warn"}})) << readAll(node.logPath());

  // Open loop through the client library's cluster mode: members from /status, then direct.
  StressRun open = runWithPause(
      dir, {"--cluster", "--rate", "500", "-n", "1000", "-c", "2", "-w", "4", "--ratio", "1:1"},
      node, false);
  ASSERT_EQ(open.exitCode, 0) << open.err << open.json;
  rapidjson::Document d;
  d.Parse(open.json.c_str());
  ASSERT_FALSE(d.HasParseError()) << open.json;
  EXPECT_STREQ(d["engine"].GetString(), "cluster");
  EXPECT_STREQ(d["mode"].GetString(), "open");
  EXPECT_EQ(d["succeeded"].GetUint64(), 1000u);
  EXPECT_EQ(d["errors"].GetUint64(), 0u);
  EXPECT_GE(d["seconds"].GetDouble(), 1.9) << "1000 requests due over 2 s";
  EXPECT_GT(d["operations"]["get"].GetUint64(), 300u);
  EXPECT_GT(d["operations"]["set"].GetUint64(), 300u);

  // Closed loop through the client to the one URL, zipfian keys, 200-byte values.
  StressRun closed =
      runWithPause(dir,
                   {"--engine", "client", "-n", "2000", "-c", "1", "-w", "8", "--dist", "zipfian",
                    "--value-size", "200", "--mix", "set=1,get=3"},
                   node, false);
  ASSERT_EQ(closed.exitCode, 0) << closed.err << closed.json;
  rapidjson::Document c;
  c.Parse(closed.json.c_str());
  ASSERT_FALSE(c.HasParseError()) << closed.json;
  EXPECT_STREQ(c["engine"].GetString(), "client");
  EXPECT_STREQ(c["keyDistribution"].GetString(), "zipfian");
  EXPECT_EQ(c["succeeded"].GetUint64(), 2000u);
  EXPECT_GT(c["notFound"].GetUint64(), 0u) << "gets of keys never set are misses, not errors";
  EXPECT_EQ(node.terminate(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

// meshkv-client-bench URL [blocking|async] [SECONDS] [IN_FLIGHT]: the client library's own
// figures against one node (Discovery::kSeedOnly). `blocking`: one thread, one Client, get after
// get (round trips per second, the figure redis-cli --latency and a curl keep-alive loop give).
// `async`: one AsyncClient on this thread's loop keeping IN_FLIGHT gets outstanding (pipelined
// over 4 connections), to compare with wrk -c IN_FLIGHT. Used by bench/client.sh; a benchmark
// measures, it asserts nothing.
#include <signal.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "meshkv/client.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

int blocking(meshkv::Options opts, double duration) {
  meshkv::Client c(opts);
  if (!c.set("bench", "value").ok()) return 1;
  uint64_t n = 0;
  auto start = Clock::now();
  while (seconds(start) < duration) {
    for (int i = 0; i < 100; ++i) {
      if (!c.get("bench").ok()) return 1;
    }
    n += 100;
  }
  double s = seconds(start);
  std::printf("blocking get: %.0f round trips/s (%.1f us each, %lu in %.1f s, 1 thread)\n",
              static_cast<double>(n) / s, s * 1e6 / static_cast<double>(n),
              static_cast<unsigned long>(n), s);
  return 0;
}

int async(meshkv::Options opts, double duration, int inFlight) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  opts.connectionsPerNode = 4;
  opts.maxPipeline = std::max(1, inFlight / 4 + 1);
  auto* client = new meshkv::AsyncClient(&loop, opts);
  uint64_t done = 0;
  uint64_t failed = 0;
  bool stop = false;
  int outstanding = 0;
  auto start = Clock::now();
  std::function<void()> issue = [&] {
    ++outstanding;
    client->get("bench", [&](meshkv::Result<std::string> r) {
      --outstanding;
      r.ok() ? ++done : ++failed;
      if (!stop) issue();
    });
  };
  bool ready = false;
  client->set("bench", "value", {}, [&](meshkv::Result<meshkv::Ok>) { ready = true; });
  while (!ready) uv_run(&loop, UV_RUN_ONCE);
  start = Clock::now();
  for (int i = 0; i < inFlight; ++i) issue();
  while (!stop || outstanding > 0) {
    uv_run(&loop, UV_RUN_ONCE);
    if (!stop && seconds(start) >= duration) stop = true;
  }
  double s = seconds(start);
  std::printf("async get: %.0f requests/s (%d in flight, %lu failed, 1 thread)\n",
              static_cast<double>(done) / s, inFlight, static_cast<unsigned long>(failed));
  bool closed = false;
  client->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  delete client;
  uv_loop_close(&loop);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // AsyncClient's contract: a node reset mid-write must not kill us
  if (argc < 2) {
    std::fprintf(stderr, "usage: meshkv-client-bench URL [blocking|async] [SECONDS] [IN_FLIGHT]\n");
    return 2;
  }
  meshkv::Options opts;
  opts.url = argv[1];
  opts.discovery = meshkv::Discovery::kSeedOnly;
  std::string mode = argc > 2 ? argv[2] : "blocking";
  double duration = argc > 3 ? std::atof(argv[3]) : 5;
  int inFlight = argc > 4 ? std::atoi(argv[4]) : 64;
  return mode == "async" ? async(opts, duration, inFlight) : blocking(opts, duration);
}

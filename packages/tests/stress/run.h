// What one stress run is asked to do (RunOptions) and what it found (Results, Slice, Progress),
// shared by the engine, the reports and main. The one thing to get right: latency counts from
// when a request was DUE in open loop (RunOptions::rate), not from when it could be sent.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "meshkv/client.h"
#include "tests/stress/histogram.h"
#include "tests/stress/keys.h"
#include "tests/stress/mix.h"

namespace stress {

struct RunOptions {
  std::string url;       // the target: http://host:port (a node or the balancer)
  std::string basePath;  // "" or "/prefix" (no trailing '/')
  // kSeedOnly: every request to `url`; kCluster: members read from url's /status, each loaded
  // directly (the client's cluster mode).
  meshkv::Discovery discovery = meshkv::Discovery::kSeedOnly;
  uint64_t amount = 100000;     // requests to issue in total
  uint32_t connections = 1000;  // per node: clusters x workers, each one request at a time...
  uint32_t pipeline = 1;        // ...or this many in flight on each (HTTP/1.1 pipelining)
  Mix mix;
  uint64_t keySpace = 100000;           // random keys are keyPrefix + [0, keySpace)
  KeyDist keyDist = KeyDist::kUniform;  // how random keys are drawn from the key space
  bool sequentialKeys = false;  // every request gets a fresh key keyPrefix + n (n = 0, 1, ...)
  std::string keyPrefix = "stress:";
  std::string extraQuery;       // appended to every request's query ("w=quorum"), already encoded
  uint32_t valueSize = 32;      // bytes of random [A-Za-z0-9] per /set
  bool keepAlive = true;        // false: a new connection per request (Connection: close)
  uint64_t timeoutMs = 10000;   // per request, connect included
  uint64_t maxTimeMs = 600000;  // the whole run; then in-flight requests are aborted
  uint64_t sliceMs = 100;       // time-series resolution (and progress callback period)
  uint64_t seed = 1;
  // Resend once, on a new connection, a request whose keep-alive connection was closed before
  // its answer (what curl and browsers do, RFC 9110 9.2.2; meshkv::Resend::kLostConnection).
  // false (--no-retry): nothing is ever sent twice (meshkv::Resend::kNever).
  bool retryStale = true;
  // Open loop (wrk2's method) when > 0: request i is due at start + i / rate, whatever the
  // server does; a request waits for a free connection when none is idle, and its latency is
  // measured from when it was DUE, not when it was sent, so a stalled server shows up as the
  // latency every scheduled user saw (the coordinated-omission correction). 0: closed loop,
  // every connection sends its next request as soon as the previous one ended.
  double rate = 0;
};

struct Progress {
  uint64_t amount = 0, issued = 0, completed = 0, succeeded = 0, errors = 0;
  double elapsedSec = 0;
  double liveRate = 0;  // completions per second over the last second (0 before the first slice)
};

// One time slice of the run: what completed in [startSec, startSec + lengthSec).
struct Slice {
  double startSec = 0, lengthSec = 0;
  uint64_t completed = 0, errors = 0;
  std::vector<std::pair<uint32_t, uint64_t>> latency;  // Histogram::sparse() of this slice
  uint64_t minUs = 0, maxUs = 0;
  long double sumUs = 0;
};

struct Results {
  uint64_t amount = 0;     // requested
  uint64_t issued = 0;     // actually started (less than amount after a stop)
  uint64_t succeeded = 0;  // 2xx, or 404 for get/rm/is (a miss is an answer, not an error)
  uint64_t notFound = 0;   // the 404s among succeeded
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errorsByKind;
  std::array<uint64_t, kOpCount> byOp{};  // issued per operation
  uint64_t connectionsOpened = 0;
  uint64_t staleRetries = 0;  // requests resent after their idle connection was found closed
  Histogram latencyUs;        // every request that got an HTTP response, any status
  double elapsedSec = 0;
  std::vector<Slice> slices;
  std::string stopReason;  // empty when every request was issued and ended
};

// The progress of a run from its results so far: elapsed time from startNs to endNs (0 before
// the start) and the live rate over the last slices adding up to about one second.
Progress progressOf(const Results& results, bool started, uint64_t startNs, uint64_t endNs);

}  // namespace stress

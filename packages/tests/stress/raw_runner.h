// Runner: the load generator behind meshkv-stress. It keeps `connections` HTTP/1.1 clients busy
// on one libuv loop (raw TCP, responses parsed with http-parser in response mode), each sending
// one request at a time until `amount` requests were issued, and records every outcome:
// latency in a Histogram (microseconds), one Slice per `sliceMs` for the chart, errors by kind.
// The caller owns the loop and the Runner; the Runner must outlive the `done` callback, which
// fires on the loop once every request ended and every handle it opened is closed.
// With RunOptions::rate > 0 it runs an open loop instead: requests are due at a fixed rate and
// their latency counts from when they were due (see RunOptions::rate).
// A newcomer's trap: a request that fails (refused, reset, timeout, bad status) is counted as an
// error and NOT retried: the count of errors is what the e2e tests assert on.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/stress/histogram.h"
#include "tests/stress/keys.h"
#include "tests/stress/mix.h"

struct http_parser;

namespace stress {

struct RunOptions {
  sockaddr_storage address{};  // resolved target (IPv4 or IPv6)
  std::string hostHeader;      // "host:port" sent as Host
  std::string basePath;        // "" or "/prefix" (no trailing '/')
  uint64_t amount = 100000;    // requests to issue in total
  uint32_t connections = 1000;
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
  // Resend once, on a new connection, a request whose reused keep-alive connection was closed
  // before any byte of its response arrived (what curl and browsers do, RFC 9110 9.2.2).
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
// the start) and the live rate over the last slices adding up to about one second. Shared by
// Runner and ClientRunner.
Progress progressOf(const Results& results, bool started, uint64_t startNs, uint64_t endNs);

class Runner {
 public:
  using ProgressFn = std::function<void(const Progress&)>;
  // Called for every acknowledged /set (status 200), for write-durability checks.
  using AckFn = std::function<void(std::string_view key, std::string_view value)>;

  Runner(uv_loop_t* loop, RunOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void onProgress(ProgressFn fn) { progressFn_ = std::move(fn); }
  void onAck(AckFn fn) { ackFn_ = std::move(fn); }

  // Starts the run; `done` fires once on the loop at the end. Call once.
  void start(std::function<void()> done);
  // Ends the run early: nothing new is issued, in-flight requests count as "aborted".
  void stop(std::string reason);

  const Results& results() const { return results_; }
  Progress progress() const;

 private:
  struct Worker;
  struct Conn;

  void next(Worker* w);
  void connect(Worker* w);
  void send(Worker* w);
  void complete(Worker* w);
  void fail(Worker* w, std::string kind);
  void transportError(Worker* w, Conn* c, std::string kind);
  void closeConn(Worker* w);
  void endRequest(Worker* w);
  void maybeFinish();
  void closeAll();
  void handleClosed();
  void cutSlice();
  void buildRequest(Worker* w);

  void onConnect(Conn* c, int status);
  void onWrite(Conn* c, int status);
  void onRead(Conn* c, ssize_t nread, const uv_buf_t* buf);
  void onTimeout(Worker* w);
  void onSliceTimer();
  void onRateTimer();
  bool openLoop() const { return options_.rate > 0; }
  uint64_t dueCount(uint64_t nowNs) const;  // open loop: requests due by `nowNs`
  uint64_t dueNs(uint64_t index) const;     // open loop: when request `index` is due

  static void connectCb(uv_connect_t* req, int status) noexcept;
  static void writeCb(uv_write_t* req, int status) noexcept;
  static void allocCb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void readCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void connCloseCb(uv_handle_t* h) noexcept;
  static void workerTimerCloseCb(uv_handle_t* h) noexcept;
  static void runTimerCloseCb(uv_handle_t* h) noexcept;
  static void timeoutCb(uv_timer_t* t) noexcept;
  static void sliceTimerCb(uv_timer_t* t) noexcept;
  static void maxTimerCb(uv_timer_t* t) noexcept;
  static void rateTimerCb(uv_timer_t* t) noexcept;
  static int onMessageComplete(::http_parser* p) noexcept;

  uint64_t random();

  uv_loop_t* loop_;
  RunOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  uv_timer_t sliceTimer_{};
  uv_timer_t maxTimer_{};
  uv_timer_t rateTimer_{};     // open loop: hands due requests to idle workers
  std::vector<Worker*> idle_;  // open loop: workers waiting for a due request
  std::function<void()> done_;
  ProgressFn progressFn_;
  AckFn ackFn_;
  Results results_;
  Histogram sliceHist_;
  uint64_t sliceCompleted_ = 0, sliceErrors_ = 0;
  uint64_t startNs_ = 0, sliceStartNs_ = 0, lastEndNs_ = 0;
  uint64_t inFlight_ = 0;
  uint64_t nextKey_ = 0;
  uint64_t rng_;
  KeyPicker keys_;
  size_t openHandles_ = 0;
  bool started_ = false, stopping_ = false, closing_ = false, finished_ = false;
  std::array<char, 65536> readBuf_{};
};

}  // namespace stress

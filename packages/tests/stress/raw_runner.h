// RawRunner: the load generator behind meshkv-stress. It keeps `connections` HTTP/1.1 clients busy
// on one libuv loop (raw TCP, responses parsed with http-parser in response mode), each sending
// one request at a time until `amount` requests were issued, and records every outcome:
// latency in a Histogram (microseconds), one Slice per `sliceMs` for the chart, errors by kind.
// The caller owns the loop and the RawRunner; the RawRunner must outlive the `done` callback, which
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

#include "tests/stress/run.h"

struct http_parser;

namespace stress {

class RawRunner {
 public:
  using ProgressFn = std::function<void(const Progress&)>;
  // Called for every acknowledged /set (status 200), for write-durability checks.
  using AckFn = std::function<void(std::string_view key, std::string_view value)>;

  RawRunner(uv_loop_t* loop, RunOptions options);
  ~RawRunner();
  RawRunner(const RawRunner&) = delete;
  RawRunner& operator=(const RawRunner&) = delete;

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

// Runner: the engine of meshkv-stress, on meshkv::AsyncClient (the client library). It keeps
// `connections` keep-alive connections per node (clusters x workers), each with one request in
// flight at a time (or `pipeline`), issues requests until `amount` were issued (closed loop: the
// next as soon as one ends; open loop: at RunOptions::rate, latency counted from when each was
// due), and records every outcome: latency of every HTTP answer in a Histogram (microseconds),
// one Slice per `sliceMs`, errors by kind ("http_500", "timeout", "connection_lost",
// "unavailable", "aborted", ...). The caller owns the loop and the runner; `done` fires on the
// loop once every request ended and the client is closed.
// A newcomer's trap: a failed request is an error and is NOT resent, except (retryStale) once
// when its connection closed before any answer; with retryStale=false (--no-retry) nothing is
// ever sent twice (meshkv::Resend::kNever): the error count is what the e2e tests assert on.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "meshkv/client.h"
#include "tests/stress/run.h"

namespace stress {

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

  // The client options a run uses (connection per worker, resend policy, timeouts).
  static meshkv::Options clientOptions(const RunOptions& o);

 private:
  enum class Phase { kReady, kRunning, kStopping, kClosing, kFinished };

  void pump();  // issues every request that may go now
  void issue();
  void onAnswer(Op op, uint64_t fromNs, const std::string& key, const std::string& value,
                meshkv::Result<meshkv::Response> r);
  void maybeFinish();
  void closeClient();
  void maybeDone();
  void cutSlice();
  void onSliceTimer();
  uint64_t random();

  uv_loop_t* loop_;
  RunOptions options_;
  std::unique_ptr<meshkv::AsyncClient> client_;
  Phase phase_ = Phase::kReady;
  bool clientClosing_ = false, clientClosed_ = false;
  uv_timer_t tick_{}, slice_{}, maxTimer_{};
  int openTimers_ = 0;
  std::function<void()> done_;
  ProgressFn progressFn_;
  AckFn ackFn_;
  Results results_;
  Histogram sliceHist_;
  uint64_t sliceCompleted_ = 0, sliceErrors_ = 0;
  uint64_t startNs_ = 0, sliceStartNs_ = 0, lastEndNs_ = 0, inFlight_ = 0, nextKey_ = 0;
  uint64_t rng_;
  KeyPicker keys_;
};

}  // namespace stress

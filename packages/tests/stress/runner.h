// ClientRunner: meshkv-stress's second engine, driving load through meshkv::AsyncClient (the
// client library) instead of raw HTTP: with Discovery::kCluster it reads the members from
// /status and spreads requests over every node directly (`--cluster`), with kSeedOnly it sends
// everything to the one URL (`--engine client`). Same RunOptions, Results, progress and ack
// callbacks, open loop (RunOptions::rate) and closed loop as the raw Runner, so reports are
// identical. `connections` is the number of requests in flight (the client pools and pipelines
// them). Owned by main; loop thread only; `done` fires once the client is closed.
// A newcomer's trap: the client retries reads on another node (unless --no-retry), so a read
// that needed a retry is a success here, and `staleRetries` counts the client's retries; and
// only answered requests carry a latency (the client turns an HTTP error into an error value).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "meshkv/client.h"
#include "tests/stress/runner.h"

namespace stress {

class ClientRunner {
 public:
  ClientRunner(uv_loop_t* loop, RunOptions options, meshkv::Options client);
  ~ClientRunner();
  ClientRunner(const ClientRunner&) = delete;
  ClientRunner& operator=(const ClientRunner&) = delete;

  void onProgress(Runner::ProgressFn fn) { progressFn_ = std::move(fn); }
  void onAck(Runner::AckFn fn) { ackFn_ = std::move(fn); }
  void start(std::function<void()> done);
  void stop(std::string reason);
  const Results& results() const { return results_; }
  Progress progress() const;

 private:
  void pump();  // issues every request that may go now
  void issue();
  void finish(uint64_t latencyStartNs, bool ok, bool notFound, const std::string& errorCode);
  void maybeFinish();
  void cutSlice();
  void onTick();

  uv_loop_t* loop_;
  RunOptions options_;
  std::unique_ptr<meshkv::AsyncClient> client_;
  std::shared_ptr<bool> alive_;  // callbacks that outlive a closing runner check it
  uv_timer_t tick_{}, slice_{}, maxTimer_{};
  int openTimers_ = 0;
  std::function<void()> done_;
  Runner::ProgressFn progressFn_;
  Runner::AckFn ackFn_;
  Results results_;
  Histogram sliceHist_;
  uint64_t sliceCompleted_ = 0, sliceErrors_ = 0;
  uint64_t startNs_ = 0, sliceStartNs_ = 0, lastEndNs_ = 0, inFlight_ = 0, nextKey_ = 0;
  uint64_t rng_;
  KeyPicker keys_;
  bool started_ = false, stopping_ = false, closing_ = false, finished_ = false;
};

}  // namespace stress

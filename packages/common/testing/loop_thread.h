// LoopThread: a libuv loop running on a background thread, for tests that drive a server
// with plain blocking sockets from the test thread. post() runs a function on the loop and
// waits for it. The destructor runs `shutdown` on the loop (it must close every handle it
// opened), then asserts the loop closes cleanly: a leaked handle fails the test.
// Test-only (linked into test binaries through the testing/ folder).
#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace common::testing {

class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  uv_loop_t* loop() { return &loop_; }
  // Runs fn on the loop thread and waits until it returned.
  void post(std::function<void()> fn);
  // Runs fn(done) on the loop thread and waits until done() is called (on the loop).
  void postAsync(std::function<void(std::function<void()> done)> fn);
  // Closes the loop: calls fn(done) on the loop, waits for done, then stops and joins.
  // Returns uv_loop_close's result (0 when every handle was closed).
  int stop(std::function<void(std::function<void()> done)> fn);

 private:
  static void onAsync(uv_async_t* a) noexcept;
  uv_loop_t loop_;
  uv_async_t async_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
  std::thread thread_;
  bool stopped_ = false;
};

// Blocking loopback client helpers for tests.
int connectTo(int port);  // fd or -1
bool sendAll(int fd, std::string_view data);
// Reads until `n` complete HTTP responses arrived or the peer closed/timeout; returns raw bytes.
std::string readResponses(int fd, int n, int timeoutMs = 5000);
// Reads until EOF (or timeout); returns what arrived and whether EOF was seen.
std::string readUntilClose(int fd, int timeoutMs, bool* closed);

}  // namespace common::testing

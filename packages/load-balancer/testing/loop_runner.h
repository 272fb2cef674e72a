// Test helper: runs a libuv loop until a condition holds (never sleeps to wait), and closes it
// cleanly at the end of a test (every handle closed, uv_loop_close() == 0).
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

namespace lb::testing {

// Runs `loop` until pred() holds or timeoutMs passes; a 2 ms ticker keeps uv_run returning.
inline bool runUntil(uv_loop_t* loop, const std::function<bool()>& pred, int timeoutMs = 5000) {
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(
      &tick, [](uv_timer_t*) {}, 2, 2);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  bool ok = pred();
  while (!ok && std::chrono::steady_clock::now() < deadline) {
    uv_run(loop, UV_RUN_ONCE);
    ok = pred();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

// Runs the loop for about `ms` (to assert that something does NOT happen within a window).
inline void runFor(uv_loop_t* loop, int ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  runUntil(
      loop, [&] { return std::chrono::steady_clock::now() >= end; }, ms + 1000);
}

}  // namespace lb::testing

// Test helper: runs a libuv loop one iteration at a time until a condition holds or a deadline
// passes (never sleeps to wait). Header-only; the test's thread owns the loop.
// The one thing to get right: uv_run(UV_RUN_ONCE) blocks until some event, so the deadline is
// only checked between events: the code under test must keep a timer or I/O active while the
// test waits (the mesh and the persister do).
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

namespace common::testing {

inline bool runUntil(uv_loop_t* loop, const std::function<bool()>& cond, int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(loop, UV_RUN_ONCE);
  }
  return true;
}

}  // namespace common::testing

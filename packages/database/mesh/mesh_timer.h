// MeshTimer: one libuv timer owned by a mesh part, with the part's handler fixed at construction
// (every mesh timer always runs the same handler), so the parts need no static trampolines.
// Loop thread only. Lifetime: initialised in the constructor; close(closed) must run (and
// `closed` must have been called) before the owner is destroyed: libuv frees nothing, but it
// touches the handle until its close callback. The one thing to get right: a closed timer is
// never started again (start() after close() is a no-op, as it is for a part that has shut down).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <utility>

namespace db {

class MeshTimer {
 public:
  MeshTimer(uv_loop_t* loop, std::function<void()> fire) : fire_(std::move(fire)) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
  }
  MeshTimer(const MeshTimer&) = delete;
  MeshTimer& operator=(const MeshTimer&) = delete;

  void start(uint64_t timeoutMs, uint64_t repeatMs = 0) {
    if (!uv_is_closing(handle())) uv_timer_start(&timer_, &MeshTimer::onFire, timeoutMs, repeatMs);
  }
  void stop() { uv_timer_stop(&timer_); }
  bool active() const { return uv_is_active(reinterpret_cast<const uv_handle_t*>(&timer_)) != 0; }
  // Closes the handle; `closed` runs from its close callback.
  void close(std::function<void()> closed) {
    closed_ = std::move(closed);
    uv_close(handle(), &MeshTimer::onClosed);
  }

 private:
  static void onFire(uv_timer_t* t) noexcept { static_cast<MeshTimer*>(t->data)->fire_(); }
  static void onClosed(uv_handle_t* h) noexcept {
    auto* self = static_cast<MeshTimer*>(h->data);
    if (self->closed_) std::exchange(self->closed_, nullptr)();
  }

  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&timer_); }

  uv_timer_t timer_;
  std::function<void()> fire_;
  std::function<void()> closed_;
};

}  // namespace db

// lb::Session: one proxied client connection. It picks a backend (Balancer over the pool),
// connects with a deadline, and on a failed or timed-out connect tries the next backend, each
// at most once; when none answers the client is closed (never left hanging). Then it relays
// bytes both ways: each read is written at once with uv_try_write; only what the kernel did not
// take is copied into a fixed per-direction buffer, and the source stops reading until that is
// flushed (high watermark: one buffer; low watermark: empty), so memory per connection is
// bounded whatever the speeds. A FIN from one side is passed on as a shutdown to the other
// while the other direction keeps flowing (half-close); when the FIN already came with the last
// bytes read, those bytes and the FIN leave in one segment, as HAProxy sends them.
// Owned by the Listener; it frees itself (through Listener::sessionClosed) in the close
// callback of its last handle, never inside another callback. Loop thread only.
#pragma once

#include <uv.h>

#include <absl/container/inlined_vector.h>

#include <cstdint>
#include <memory>

#include "load-balancer/proxy/backend.h"

namespace lb {

class Listener;

class Session {
 public:
  explicit Session(Listener* listener);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Accepts from the listening stream and starts connecting. On failure the session closes.
  void start(uv_stream_t* server);
  // Closes both sides now (RST semantics are the kernel's; pending data is dropped).
  void abort();

  uint64_t lastActivityMs() const { return lastActivity_; }
  bool connecting() const { return phase_ == Phase::kConnecting; }
  bool proxying() const { return phase_ == Phase::kProxying; }
  uint64_t connectDeadlineMs() const { return connectDeadline_; }
  // A connect that took too long: give up on this backend and try the next.
  void connectTimedOut();

  Session* prev = nullptr;  // the Listener's intrusive list
  Session* next = nullptr;

 private:
  enum class Phase : uint8_t { kConnecting, kRetrying, kProxying, kClosing };

  struct Direction {
    uv_stream_t* src = nullptr;
    uv_stream_t* dst = nullptr;
    uv_write_t write{};
    char* pending = nullptr;  // a Listener buffer while a write is queued
    bool writing = false;
    bool eof = false;  // src sent FIN
    bool shutdownSent = false;
    bool shutdownDone = false;
    // Whether a short read from src is followed by a look for src's FIN (finFollows). On until
    // a look finds the socket empty, so a connection that stays open pays for one look.
    bool probeFin = true;
    uint64_t* bytes = nullptr;
    uint64_t* backendBytes = nullptr;  // the target's own counter, once connected
  };

  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void onConnect(uv_connect_t* req, int status) noexcept;
  static void onClientRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
  static void onBackendRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
  static void onWrite(uv_write_t* req, int status) noexcept;
  static void onBackendClosedForRetry(uv_handle_t* h) noexcept;
  static void onClosed(uv_handle_t* h) noexcept;

  void connectNext();
  void discardClientInput();
  void connectFailed(int status);
  void connected();
  void forward(Direction& d, ssize_t n, const uv_buf_t* buf);
  bool finFollows(Direction& d, ssize_t n, const uv_buf_t* buf);
  int writeNow(Direction& d, const char* data, size_t n, bool last);
  void writeDone(Direction& d, int status);
  void sendShutdown(Direction& d);
  void releaseBackend();

  Listener* listener_;
  uv_tcp_t client_;
  uv_tcp_t backend_;
  uv_connect_t connect_;
  Direction up_;    // client -> backend
  Direction down_;  // backend -> client
  std::shared_ptr<Backend> target_;
  absl::InlinedVector<const Backend*, 4> tried_;
  uint64_t lastActivity_ = 0;
  uint64_t connectDeadline_ = 0;
  Phase phase_ = Phase::kConnecting;
  bool clientOpen_ = false;
  bool backendOpen_ = false;
  bool counted_ = false;  // target_->openConnections includes us
};

}  // namespace lb

// One keep-alive HTTP/1.1 connection from the client to one node, with pipelining: requests are
// written as they come (even while still resolving or connecting: they wait in order) and the
// answers, which a meshkv server sends in request order, are matched to them first-in first-out.
// Owned by ClientCore (by raw pointer in a Node's list); it deletes itself in its close callback,
// after telling its owner through Events::onClosed. Loop thread only.
// Invariants: exchanges_ holds every request written or waiting, oldest first; a failure (connect
// error, EOF, parse error, timeout) fails them all at once and closes, because after a lost answer
// the order can no longer be trusted. The one thing a newcomer gets wrong: an exchange failed
// with sent=false never left this process, so even a write may be resent elsewhere.
#pragma once

#include <http_parser.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "meshkv/client.h"

namespace meshkv {

struct Outcome {
  long status = 0;  // the HTTP status; 0 on a transport failure
  std::string body;
  std::string cursor;  // the X-Cursor header of a list page
  std::string error;   // transport failure: kTimeout, kConnectionLost, kUnavailable, ...
  std::string detail;  // what happened, for the message
  bool sent = false;   // the request may have reached the server
};

class Connection {
 public:
  enum class State { kResolving, kConnecting, kOpen, kClosing };

  class Events {
   public:
    virtual ~Events() = default;
    // The connection stopped (before its handles are freed). `connectFailed`: it never opened.
    virtual void onClosed(Connection* c, bool connectFailed) = 0;
    // Its last handle is closed; it is deleted right after this returns.
    virtual void onFreed(Connection* c) = 0;
    // Its last answer arrived and it takes requests: reuse it first (called before that
    // answer's callback, so the request that callback sends lands here).
    virtual void onIdle(Connection* c) = 0;
  };

  // Resolves `host` (when not numeric), connects to host:port. hostHeader is "host:port".
  // Reuse::kOnePerRequest: one request only, sent with "Connection: close".
  Connection(uv_loop_t* loop, Events& events, std::string host, int port, int connectTimeoutMs,
             Reuse reuse = Reuse::kKeepAlive);
  // Starts resolving/connecting; may fail at once (then onClosed has run). Call once.
  void start();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  using Done = std::function<void(Outcome&&)>;
  // Queues GET `target`; `done` runs once, later, on the loop (never inside send).
  void send(const std::string& target, uint64_t deadlineMs, Done done);
  // Fails every exchange with `error` (sent as it stands) and closes. Idempotent.
  // With frontOnly, only the oldest gets `error`; the others get kConnectionLost.
  void fail(const std::string& error, const std::string& detail, bool frontOnly = false);
  // The oldest exchange's deadline has passed: fail with kTimeout. Returns true if it did.
  bool expire(uint64_t nowMs);

  // An idle open connection the server has already closed (peeked without blocking): reusing
  // it would lose the next request. Closes it (no exchanges to fail) and returns true. One that
  // answered less than 1 ms ago is not peeked (a syscall per request under load).
  bool closeIfStale();

  size_t inFlight() const { return exchanges_.size(); }
  State state() const { return state_; }
  // Takes another request: not closing, not told "Connection: close", not a used one-shot.
  bool usable() const {
    return state_ != State::kClosing && !closeAfter_ &&
           !(reuse_ == Reuse::kOnePerRequest && requests_ > 0);
  }

 private:
  struct Exchange {
    uint64_t deadlineMs;
    Done done;
  };
  struct Write {
    uv_write_t req;
    std::string bytes;
  };

  void startConnect(const sockaddr* addr);
  void flushOut();
  // An idle connection's one request, written at once (nothing to batch it with, and the server
  // starts on it while this loop turn goes on). False: what is left waits for the flusher.
  bool writeNow();
  void onData(const char* data, size_t len);
  void deliver();
  void refresh();  // ref'd while requests are in flight, unref'd when idle

  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
  static void onConnect(uv_connect_t* req, int status) noexcept;
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) noexcept;
  static void onWritten(uv_write_t* req, int status) noexcept;
  static void onConnectTimer(uv_timer_t* t) noexcept;
  static void onFlush(uv_idle_t* i) noexcept;
  static void onHandleClosed(uv_handle_t* h) noexcept;
  static int onHeaderField(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeaderValue(http_parser* p, const char* at, size_t len) noexcept;
  static int onBody(http_parser* p, const char* at, size_t len) noexcept;
  static int onMessageComplete(http_parser* p) noexcept;

  uv_loop_t* loop_;
  Events& events_;
  std::string host_;
  int port_;
  Reuse reuse_;
  uint64_t requests_ = 0;      // send() calls
  uint64_t lastAnswerNs_ = 0;  // uv_hrtime() when the last answer arrived
  std::string hostHeader_;
  State state_ = State::kResolving;
  bool opened_ = false;
  int handlesOpen_ = 0;
  bool refd_ = true;

  uv_tcp_t tcp_;
  uv_timer_t connectTimer_;
  uv_idle_t flusher_;  // writes the turn's requests in one go, before the loop polls
  bool flushing_ = false;
  uv_getaddrinfo_t resolve_;
  uv_connect_t connect_;
  bool resolving_ = false;

  std::deque<Exchange> exchanges_;
  std::string out_;     // requests not yet handed to libuv
  size_t written_ = 0;  // exchanges_ whose bytes went to libuv after the connection opened

  http_parser parser_;
  http_parser_settings settings_;
  std::string field_;
  bool inCursor_ = false;
  bool inValue_ = false;
  bool closeAfter_ = false;
  Outcome current_;
  std::deque<Outcome> completed_;
  char buf_[64 * 1024];
};

}  // namespace meshkv

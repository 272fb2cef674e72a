// common::http::Server: an HTTP/1.0 and 1.1 server on a libuv loop, for the node's API and the
// balancer's admin port. Keep-alive, pipelining (answers in request order), any method served
// like GET, exact-path routes and subtrees (routeTree). It survives every client: limits on URL,
// headers and body, header and keep-alive timeouts, watermarked output, MAX_CONNECTIONS
// (accepting pauses, it does not fail), EMFILE (libuv's reserve-fd trick), SIGPIPE ignored.
// The server owns its connections; close() drains (see ServerOptions::drainTimeoutMs), stops
// accepting, lets answered-but-unsent responses go out, closes every handle and then calls
// `done` (the loop can then exit cleanly).
// Loop thread only; handlers must not block the loop.
#pragma once

#include <uv.h>

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/request.h"
#include "common/http/request_parser.h"

namespace common::http {

class Connection;

struct ServerOptions {
  size_t maxConnections = 10000;
  uint64_t headerTimeoutMs = 10000;     // from a request's first byte to its end
  uint64_t keepAliveTimeoutMs = 60000;  // idle between requests; also a stalled reader
  size_t maxHeaderBytes = 8192;
  size_t maxUrlBytes = 8192;
  // The body limit of a route registered without its own (RouteOptions::maxBodyBytes): small,
  // because the public routes take their input in the URL. Over it: 413 without reading more.
  size_t maxBodyBytes = 8192;
  // Bytes held by unfinished request bodies, summed over all connections. A request whose body
  // would take more gets 503 {"error":"BODY_MEMORY_FULL"}, its buffer is freed and its
  // connection closes. Buffers grow by doubling, so this counts capacity, not bytes received.
  size_t maxPendingBodyBytes = 64u << 20;
  size_t highWatermark = 1u << 20;  // pending output above which reading pauses
  uint64_t closeTimeoutMs = 4000;   // close(): force-close what is still open after this
  // close() drains before it closes: for up to drainTimeoutMs the listener still accepts and
  // every request still read is answered, with `Connection: close`; a connection with nothing
  // in flight is closed once idle for drainIdleMs. A client whose next request was already on
  // the wire (or a proxy that had just picked this backend) gets an answer, not a reset.
  uint64_t drainTimeoutMs = 1000;
  uint64_t drainIdleMs = 100;
  // Answers produced while reading are held until the owner calls Server::flushHeldAnswers()
  // (once per loop turn, in the same turn). The database node's WriteLog does, after the disk
  // and the peers took the turn's writes, so a write leaves for its replicas before its 200
  // leaves for the client (as Redis writes its replicas' output before its clients' in
  // beforeSleep). Off: answers are written at once.
  bool holdAnswers = false;
};

// A route's answer to a request head, before any body byte is kept.
struct Refusal {
  int status = 0;  // 0: admitted; else the HTTP status to answer (then the connection closes)
  std::string_view code;        // the JSON error code, answered as {"error":"<code>"}
  std::string_view allow = {};  // not empty: answered as an Allow header (with a 405)
};

struct RouteOptions {
  size_t maxBodyBytes = 0;  // 0: ServerOptions::maxBodyBytes (the small public default)
  // Runs once the request's head (method, URL, headers) is complete and before the body is read.
  // `head.body` is empty; the views are valid during the call only. (The "= nullptr" spares
  // GCC's -Wmissing-field-initializers on `{.maxBodyBytes = N}`.)
  std::function<Refusal(const Request& head)> admit = nullptr;
};

struct ServerStats {
  size_t openConnections = 0;
  uint64_t totalConnections = 0;
  uint64_t totalRequests = 0;
};

class Server {
 public:
  Server(uv_loop_t* loop, ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Exact path match. A request for it is admitted (options.admit) and its body limited
  // (options.maxBodyBytes) as soon as its head is read.
  void route(std::string path, Handler handler, RouteOptions options = {});
  // A subtree: `prefix` itself and every path under `prefix` + "/" (an exact route wins). The
  // handler reads the rest of Request::path itself.
  void routeTree(std::string prefix, Handler handler, RouteOptions options = {});
  void fallback(Handler handler);              // everything else (default: 404 JSON)
  void addObserver(ServerObserver* observer);  // not owned; must outlive the server

  // Binds and listens. Returns 0 or a negative libuv error. Port 0 picks a free port.
  int listen(const std::string& host, int port);
  int port() const { return port_; }
  const ServerStats& stats() const { return stats_; }
  size_t pendingBodyBytes() const { return bodyBudget_.used(); }  // see maxPendingBodyBytes
  const ServerOptions& options() const { return opts_; }
  uv_loop_t* loop() const { return loop_; }

  // Drains, stops accepting, finishes what was asked, closes all handles, then calls done.
  void close(std::function<void()> done);
  bool closing() const { return closing_; }  // close() was called (e.g. /healthcheck says 503)
  // With ServerOptions::holdAnswers: writes the answers held since the last call.
  void flushHeldAnswers();
  bool holdsAnswers() const { return !deferred_.empty(); }

 private:
  friend class Connection;
  friend class Responder;

  static void onConnection(uv_stream_t* listener, int status) noexcept;
  static void onSweep(uv_timer_t* t) noexcept;
  static void onForceClose(uv_timer_t* t) noexcept;
  static void onHandleClosed(uv_handle_t* h) noexcept;
  bool defersFlush() const { return opts_.holdAnswers; }
  void deferFlush(Connection* c);  // c's output goes out at the next flushHeldAnswers()

  void acceptOne();
  void connectionClosed(Connection* c);  // from Connection's close callback
  void stopListening();
  void maybeFinishClose();
  Connection* find(uint64_t id) const;
  const Handler& handlerFor(std::string_view path) const;
  HeadDecision admit(const Request& head) const;  // the parser's OnHead, for every connection

  struct Route {
    Handler handler;
    RouteOptions options;
  };
  const Route* findRoute(std::string_view path) const;  // exact, then trees; null: the fallback

  uv_loop_t* loop_;
  ServerOptions opts_;
  ParserLimits limits_;
  BodyBudget bodyBudget_;
  uv_tcp_t listener_;
  uv_timer_t sweep_;
  uv_timer_t forceClose_;
  std::vector<uint64_t> deferred_;  // connection ids with held output
  bool listening_ = false;
  bool acceptPaused_ = false;
  bool closing_ = false;
  bool timersOpen_ = false;
  int handlesOpen_ = 0;
  int port_ = 0;
  uint64_t drainDeadlineMs_ = 0;  // close(): the listener closes by then at the latest
  uint64_t nextConnectionId_ = 1;
  uint64_t nextRequestId_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Connection>> connections_;
  absl::flat_hash_map<std::string, Route> routes_;
  std::vector<std::pair<std::string, Route>> trees_;  // routeTree(): few, scanned in order
  Handler fallback_;
  std::vector<ServerObserver*> observers_;
  std::function<void()> onClosed_;
  ServerStats stats_;
  char readBuffer_[64 * 1024];  // shared by all connections: reads are consumed synchronously
};

}  // namespace common::http

// common::http::Client: HTTP requests on a libuv loop through libcurl's multi-socket interface.
// libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket)
// and when to wake it (CURLMOPT_TIMERFUNCTION -> one uv_timer_t); no thread ever blocks. One
// multi handle per Client keeps a connection cache, so keep-alive connections are reused.
// Used by the balancer's Docker watcher (unix socket, a long /events stream) and by the mesh.
// Loop thread only. The owner calls close(done) and destroys the Client only after `done` ran
// (its uv handles are freed in their close callbacks). Callbacks may call send/stream/cancel
// and close from inside; a cancelled request never calls back. Errors never throw: they come
// back in ClientResponse::error / onDone(error).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace common::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http://host:port/path?q (with a unix socket, the host is only the Host)
  std::string unixSocket;  // optional: connect to this unix socket (CURLOPT_UNIX_SOCKET_PATH)
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  long connectTimeoutMs = 1000;
  long timeoutMs = 5000;                // whole transfer; 0 = none (streams)
  size_t maxResponseBytes = 64u << 20;  // send(): a larger body fails the request
  // A new connection, closed after the answer: through a per-connection balancer, a reused
  // connection would reach the same backend every time.
  bool freshConnection = false;
};

struct ClientResponse {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string error;  // empty on transport success (any HTTP status)

  // First header of that (lower-case) name, "" if absent.
  std::string_view header(std::string_view lowercaseName) const;
};

class Client {
 public:
  explicit Client(uv_loop_t* loop);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Buffers the whole response; `done` runs exactly once (unless cancelled or closed first).
  uint64_t send(ClientRequest req, std::function<void(ClientResponse&&)> done);

  // Streaming: onHeaders once with the final status, onData with body bytes as they arrive
  // (any chunking), onDone once at the end ("" on a clean end, else the transport error).
  uint64_t stream(ClientRequest req, std::function<void(long status)> onHeaders,
                  std::function<void(std::string_view)> onData,
                  std::function<void(std::string error)> onDone);

  // No callback fires for `id` afterwards. Unknown or finished ids are ignored.
  void cancel(uint64_t id);

  // Cancels everything (no callbacks), closes the connections and uv handles, then calls done.
  void close(std::function<void()> done);

  size_t active() const { return transfers_.size(); }
  bool closed() const { return closing_; }

 private:
  struct Transfer;
  struct Socket;

  static int onSocket(void* easy, int fd, int what, void* userp, void* socketp) noexcept;
  static int onTimer(void* multi, long timeoutMs, void* userp) noexcept;
  static void onTimeout(uv_timer_t* t) noexcept;
  static void onPoll(uv_poll_t* p, int status, int events) noexcept;
  static void onPollClosed(uv_handle_t* h) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;
  static size_t onWrite(char* data, size_t size, size_t n, void* userp) noexcept;
  static size_t onHeader(char* data, size_t size, size_t n, void* userp) noexcept;

  uint64_t start(std::unique_ptr<Transfer> t);
  void socketAction(int fd, int flags);
  void afterCurl();
  void teardown();
  void drainMessages();
  void finish(Transfer* t, int curlCode);
  void removeTransfer(uint64_t id);
  void addToMulti(Transfer* t);
  void closePoll(Socket* s);
  void maybeFinishClose();

  uv_loop_t* loop_;
  void* multi_ = nullptr;  // CURLM*
  uv_timer_t timer_;
  bool timerOpen_ = false;
  bool closing_ = false;
  bool tearingDown_ = false;
  int inCurl_ = 0;  // > 0 while libcurl is running one of our calls (no removal then)
  int handlesOpen_ = 0;
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> transfers_;
  std::vector<uint64_t> deferredRemovals_;
  std::vector<uint64_t> pendingAdds_;  // started from inside a libcurl callback
  std::vector<Socket*> sockets_;
  std::function<void()> onClosed_;
};

}  // namespace common::http

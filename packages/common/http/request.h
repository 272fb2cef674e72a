// The types a request handler sees: Request (a parsed request, valid during the handler call),
// Responder (a copyable handle to answer it now or later), BodyProducer (a pull-based streamed
// body), and ServerObserver (the request lifecycle of the original server: RequestStart,
// RequestComplete, RequestEnd, plus the server's Connect/Disconnect).
// All of it lives on the server's loop thread. A Responder outliving its connection is safe:
// answering a request whose client went away does nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace common::http {

class Server;

struct Header {
  std::string_view name;
  std::string_view value;
};

struct Request {
  std::string_view method;
  std::string_view path;   // without the query, as sent (not percent-decoded)
  std::string_view query;  // raw, after '?', not decoded
  std::string_view body;
  std::vector<Header>* headers = nullptr;
  bool keepAlive = true;
  bool head = false;  // a HEAD request: the response is sent without its body
  uint8_t httpMinor = 1;
  uint64_t id = 0;  // unique per server, for logs and observers

  // Case-insensitive header lookup; "" when absent.
  std::string_view header(std::string_view name) const;
};

// A streamed body, sent with chunked encoding (or until close to an HTTP/1.0 client). The
// connection pulls it only while its pending output is below the high watermark, so a slow
// reader never makes the server buffer more than about one watermark of it.
class BodyProducer {
 public:
  virtual ~BodyProducer() = default;
  // Appends roughly `budget` bytes (more is allowed for one indivisible item) to `out`;
  // returns false when this call produced the last piece.
  virtual bool produce(std::string& out, size_t budget) = 0;
  // A live stream (a change feed) with nothing to send right now answers true: the connection
  // stops pulling it until its owner calls Responder::resume(). A finite body never pauses.
  virtual bool paused() const { return false; }
};

class Responder {
 public:
  Responder() = default;
  Responder(Server* server, uint64_t connectionId, uint64_t slot)
      : server_(server), connectionId_(connectionId), slot_(slot) {}

  // Sends a complete response with Content-Length. Only the first answer of a request counts.
  void respond(int status, std::string_view body, std::string_view contentType = "application/json",
               std::vector<std::pair<std::string, std::string>> extraHeaders = {});
  // Starts a streamed (chunked) response.
  void stream(int status, std::unique_ptr<BodyProducer> producer,
              std::string_view contentType = "application/json",
              std::vector<std::pair<std::string, std::string>> extraHeaders = {});
  // A paused stream (BodyProducer::paused) has something to send: pull it again now. Does
  // nothing once the client went away or the stream ended.
  void resume() const;
  // False once the client went away (answers are then dropped).
  bool connected() const;

 private:
  Server* server_ = nullptr;
  uint64_t connectionId_ = 0;
  uint64_t slot_ = 0;
};

using Handler = std::function<void(const Request&, Responder)>;

// Lifecycle hooks (the original server's events). Called on the loop thread; must not block.
class ServerObserver {
 public:
  virtual ~ServerObserver() = default;
  virtual void onConnect(std::string_view host, int port) {}         // listening
  virtual void onDisconnect(std::string_view error) {}               // stopped
  virtual void onRequestStart(const Request& req) {}                 // before the handler
  virtual void onRequestComplete(uint64_t requestId, int status) {}  // answer known, not sent
  virtual void onRequestEnd(uint64_t requestId, int status, size_t bytes) {}  // queued to socket
};

}  // namespace common::http

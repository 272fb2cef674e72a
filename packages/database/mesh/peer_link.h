// PeerLink: the ONE persistent TCP connection from this node to one peer's HTTP port that carries
// the live replication stream as pipelined `POST /_mesh/replicate` requests (binary batch bodies)
// and reads back, in order, one `{"ack":seq}` answer per batch (http-parser, response mode).
// It resolves the peer's host (uv_getaddrinfo: Docker names), connects, reconnects with backoff
// after any error, and tells its owner (the Replicator) through the Delegate. It never decides what
// to send: the owner's Outbox does; the link asks for more through Delegate::onWritable().
// Lifetime: created with new by the Replicator, destroyed only by destroy(), which closes the
// handles and deletes the link in the last close callback (never inside one of its own callbacks).
// With a secret every answer must carry a proof bound to the request it answers (MeshAuth); an
// ack without one is never counted. Loop thread only. The one thing to get right: a non-200,
// unproven or garbled answer means the stream is out of step: the link closes and reconnects,
// and the owner re-sends all un-acked.
#pragma once

#include <http_parser.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "database/mesh/auth.h"

namespace db {

class PeerLink {
 public:
  class Delegate {
   public:
    virtual ~Delegate() = default;
    virtual void onLinkConnected(PeerLink& link) = 0;  // rewind and (re)send un-acked batches
    virtual void onLinkAck(PeerLink& link, uint64_t seq) = 0;
    virtual void onLinkWritable(PeerLink& link) = 0;  // output drained below the watermark
    // An answer failed its proof (MeshAuth::verifyResponse); the link resets right after.
    virtual void onLinkForged(PeerLink& link, const std::string& why) = 0;
  };

  // `auth` (not owned, outlives the link) verifies every answer against its request's proof.
  PeerLink(uv_loop_t* loop, std::string peerId, std::string host, uint16_t port, Delegate* delegate,
           uint64_t reconnectMinMs, uint64_t reconnectMaxMs, const MeshAuth* auth);
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Starts connecting (no-op when connecting or connected).
  void start();
  // Closes everything; the object deletes itself once its handles are closed. No delegate
  // calls afterwards. `done` (optional) runs after the deletion.
  void destroy(std::function<void()> done = {});

  bool connected() const { return state_ == State::kConnected; }
  // Connected and below the output watermark: the owner may send().
  bool writable() const { return connected() && queuedBytes_ < kHighWatermark; }
  // Writes one request. `head` is the request line + headers (ending in \r\n\r\n); `proof`
  // its X-Mesh-Auth value, which its answer must be bound to (empty when the mesh is open).
  void send(std::string head, std::shared_ptr<const std::string> body, std::string proof);

  const std::string& peerId() const { return peerId_; }

  static constexpr size_t kHighWatermark = 8u << 20;

 private:
  enum class State { kIdle, kResolving, kConnecting, kConnected, kWaiting, kClosing };
  struct WriteReq;

  static void onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) noexcept;
  static void onConnect(uv_connect_t* req, int status) noexcept;
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void onWrite(uv_write_t* req, int status) noexcept;
  static void onTcpClosed(uv_handle_t* h) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;
  static void onRetry(uv_timer_t* t) noexcept;
  static int onBody(http_parser* p, const char* at, size_t len) noexcept;
  static int onMessageBegin(http_parser* p) noexcept;
  static int onHeaderField(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeaderValue(http_parser* p, const char* at, size_t len) noexcept;
  static int onMessageComplete(http_parser* p) noexcept;

  void connectTo(const struct sockaddr* addr);
  void fail(const std::string& why);  // close the socket, schedule a reconnect
  void handleRead(ssize_t nread, const char* data);
  void maybeDelete();

  uv_loop_t* loop_;
  std::string peerId_;
  std::string host_;
  uint16_t port_;
  Delegate* delegate_;
  uint64_t backoffMinMs_;
  uint64_t backoffMaxMs_;
  uint64_t backoffMs_;
  State state_ = State::kIdle;
  uv_tcp_t* tcp_ = nullptr;  // heap: a closing socket may outlive a reconnect
  uv_timer_t retry_;
  uv_getaddrinfo_t resolve_;
  bool resolving_ = false;
  uv_connect_t connectReq_;
  http_parser parser_;
  http_parser_settings settings_;
  std::string body_;
  const MeshAuth* auth_;
  std::deque<std::string> proofs_;  // of the requests in flight, in order
  enum class Hdr { kOther, kAuth, kFrom } hdr_ = Hdr::kOther;
  std::string field_;  // the header name being read
  std::string answerAuth_, answerFrom_;
  bool parseFailed_ = false;
  size_t queuedBytes_ = 0;
  int handlesOpen_ = 0;  // timer + sockets not yet closed
  bool destroying_ = false;
  std::function<void()> destroyed_;
  uint64_t generation_ = 0;  // bumps on every new socket; stale callbacks compare it
  char readBuf_[16 * 1024];
};

}  // namespace db

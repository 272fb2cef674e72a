// Connection: one accepted client socket of common::http::Server. It parses requests
// (RequestParser), dispatches them to the server's handlers, and sends the answers in request
// order (pipelining) even when they complete out of order (a write waiting for replication).
// Output is watermarked: above the server's high watermark it stops reading requests and stops
// pulling streamed bodies, below half of it it resumes, so a client that never reads costs at
// most about one watermark of memory. Owned by the Server's registry; freed only in the libuv
// close callback (never inside its own callbacks). Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "common/http/request_parser.h"
#include "common/http/response.h"

namespace common::http {

class Server;

class Connection {
 public:
  Connection(Server& server, uint64_t id);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Initialises the socket handle and accepts from the listener. 0 or -errno (then close()).
  int accept(uv_stream_t* listener);

  void respond(uint64_t seq, int status, std::string_view body, std::string_view contentType,
               ExtraHeaders extra);
  void stream(uint64_t seq, int status, std::unique_ptr<BodyProducer> producer,
              std::string_view contentType, ExtraHeaders extra);

  // The stream of request `seq` (paused, see BodyProducer::paused) has more: pull and write it.
  void resumeStream(uint64_t seq);
  // Applies the header, keep-alive and stalled-write timeouts; may close the connection.
  void checkTimeouts(uint64_t nowMs);
  // Server shutdown: every request still read is answered with `Connection: close`; the
  // connection closes after that answer, or once idle for the server's drainIdleMs.
  void drain();
  void flushDeferred();  // the end-of-turn write the server asked for (Server::deferFlush)
  void close();

  uint64_t id() const { return id_; }
  bool closing() const { return closing_; }
  size_t pendingBytes() const { return out_.size() + (writing_.size() - writeOffset_); }

 private:
  struct Slot {
    uint64_t seq = 0;
    uint64_t requestId = 0;
    bool answered = false;
    bool keepAlive = true;
    bool head = false;
    uint8_t httpMinor = 1;
    std::string data;                        // complete bytes, or the head of a stream
    std::unique_ptr<BodyProducer> producer;  // set while streaming
    BodyFraming framing = BodyFraming::kLength;
    int status = 0;
  };

  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void onWrite(uv_write_t* req, int status) noexcept;
  static void onClose(uv_handle_t* h) noexcept;

  void handleRead(ssize_t nread, const char* data);
  void dispatch(Request& req);
  void failRequest(int status);
  Slot* findSlot(uint64_t seq);
  void formatComplete(std::string& out, const Slot& meta, int status, std::string_view body,
                      std::string_view contentType, const ExtraHeaders& extra);
  void pump();
  void flush();
  void updateReading();
  void finishIfDone();
  bool idle() const;  // no request being read, nothing to answer, nothing to write
  bool endDrainIfIdle(uint64_t nowMs);  // idle for drainIdleMs: finish (true)
  void finishGracefully();  // shutdown, read and discard until EOF (or a linger timeout), close
  static void onShutdown(uv_shutdown_t* req, int status) noexcept;

  Server& server_;
  uint64_t id_;
  uv_tcp_t tcp_;
  uv_write_t writeReq_;
  uv_shutdown_t shutdownReq_;
  RequestParser parser_;
  std::deque<Slot> slots_;  // answers not yet sent, in request order (contiguous seqs)
  uint64_t nextSeq_ = 0;
  // The request being dispatched right now: a synchronous answer to it, with nothing queued
  // before it, goes straight to out_ (no slot).
  Slot current_;
  bool dispatching_ = false;
  bool currentAnswered_ = false;
  std::string out_;      // bytes waiting to be written
  std::string writing_;  // bytes handed to uv_write, from writeOffset_
  size_t writeOffset_ = 0;
  bool writeInFlight_ = false;
  bool reading_ = false;
  bool noMoreRequests_ = false;  // Connection: close seen, EOF, parse error or drain
  bool closing_ = false;
  bool flushDeferred_ = false;  // queued with the server for the end of this turn
  bool shuttingDown_ = false;   // graceful finish started
  bool lingering_ = false;      // write side shut; discarding input until EOF
  bool peerEof_ = false;
  bool draining_ = false;  // drain(): the next answer is the last
  std::string scratch_;    // one streamed piece, before chunk framing
  uint64_t lastActivityMs_ = 0;
  uint64_t requestStartedMs_ = 0;
  uint64_t lastWriteProgressMs_ = 0;
  uint64_t lingerStartedMs_ = 0;
};

}  // namespace common::http

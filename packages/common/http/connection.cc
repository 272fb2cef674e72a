// See connection.h. Life of a request: bytes -> RequestParser -> dispatch() -> handler ->
// respond()/stream() -> out_ (directly, or through a Slot when earlier answers are pending) ->
// flush() (uv_try_write, then uv_write for the rest). Closing: close() for errors and timeouts
// (immediate), finishGracefully() after the last answer (shutdown, discard input until EOF, so
// the kernel never turns unread client bytes into a reset that eats our last response).
#include "common/http/connection.h"

#include <spdlog/spdlog.h>

#include "common/http/json.h"
#include "common/http/server.h"

namespace common::http {
namespace {

constexpr size_t kMaxPendingSlots = 1024;  // pipelined requests awaiting async answers
constexpr size_t kStreamPiece = 64 * 1024;
constexpr size_t kStreamPerPump = 256 * 1024;  // bounds the time one pump holds the loop
constexpr uint64_t kLingerMs = 2000;

std::string_view errorCodeFor(int status) {
  switch (status) {
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 414:
      return "URL_TOO_LONG";
    case 431:
      return "HEADERS_TOO_LARGE";
    case 503:
      return "BODY_MEMORY_FULL";  // the parser's only 503
    case 505:
      return "HTTP_VERSION_NOT_SUPPORTED";
    default:
      return "BAD_REQUEST";
  }
}

}  // namespace

Connection::Connection(Server& server, uint64_t id)
    : server_(server),
      id_(id),
      parser_(
          server.limits_, [this](Request& r) { dispatch(r); },
          [&server](const Request& head) { return server.admit(head); }, &server.bodyBudget_) {
  tcp_.data = this;
  writeReq_.data = this;
  shutdownReq_.data = this;
}

int Connection::accept(uv_stream_t* listener) {
  int rc = uv_tcp_init(server_.loop_, &tcp_);
  if (rc != 0) return rc;
  rc = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rc != 0) return rc;
  uv_tcp_nodelay(&tcp_, 1);
  uint64_t now = uv_now(server_.loop_);
  lastActivityMs_ = requestStartedMs_ = lastWriteProgressMs_ = now;
  updateReading();
  return 0;
}

void Connection::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(h->data);
  *buf = uv_buf_init(self->server_.readBuffer_, sizeof self->server_.readBuffer_);
}

void Connection::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  static_cast<Connection*>(s->data)->handleRead(nread, buf->base);
}

void Connection::handleRead(ssize_t nread, const char* data) {
  if (nread == 0 || closing_) return;
  if (nread < 0) {
    reading_ = false;  // libuv stops reading after EOF or an error
    if (nread != UV_EOF) {
      spdlog::debug("conn {}: read error: {}", id_, uv_strerror(static_cast<int>(nread)));
      close();
      return;
    }
    peerEof_ = true;
    noMoreRequests_ = true;
    if (lingering_) {
      close();
      return;
    }
    finishIfDone();
    return;
  }
  lastActivityMs_ = uv_now(server_.loop_);
  if (lingering_ || noMoreRequests_) return;  // discarding
  if (!parser_.inRequest()) requestStartedMs_ = lastActivityMs_;
  int status = parser_.feed(data, static_cast<size_t>(nread));
  if (closing_) return;
  if (status != 0) {
    spdlog::debug("conn {}: bad request ({}): {}", id_, status, parser_.errorReason());
    failRequest(status);
  } else if (parser_.wantsContinue() && !noMoreRequests_) {
    out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    parser_.continueSent();
  }
  pump();
  if (server_.defersFlush() && !out_.empty()) {  // written at the end of the turn (see server.h)
    if (!flushDeferred_) server_.deferFlush(this);
    flushDeferred_ = true;
    return;
  }
  flush();
  updateReading();
}

void Connection::flushDeferred() {
  flushDeferred_ = false;
  if (closing_) return;
  flush();
  updateReading();
}

void Connection::dispatch(Request& req) {
  if (noMoreRequests_ || closing_) return;
  req.id = server_.nextRequestId_++;
  server_.stats_.totalRequests++;
  if (draining_) req.keepAlive = false;  // answered with Connection: close, then closed
  if (!req.keepAlive) noMoreRequests_ = true;
  current_ = Slot{};
  current_.seq = nextSeq_++;
  current_.requestId = req.id;
  current_.keepAlive = req.keepAlive;
  current_.head = req.head;
  current_.httpMinor = req.httpMinor;
  dispatching_ = true;
  currentAnswered_ = false;
  for (ServerObserver* o : server_.observers_) o->onRequestStart(req);
  try {
    server_.handlerFor(req.path)(req, Responder(&server_, id_, current_.seq));
  } catch (const std::exception& e) {
    spdlog::error("handler for {} threw: {}", req.path, e.what());
    if (!currentAnswered_)
      respond(current_.seq, 500, json::errorBody("INTERNAL_ERROR"), "application/json", {});
  }
  dispatching_ = false;
  if (!currentAnswered_ && !closing_) slots_.push_back(std::move(current_));
  requestStartedMs_ = lastActivityMs_;
}

void Connection::failRequest(int status) {
  noMoreRequests_ = true;
  Slot meta;
  meta.keepAlive = false;
  meta.requestId = 0;
  std::string_view code = parser_.errorCode();  // a route's refusal names its own
  std::string body = json::errorBody(code.empty() ? errorCodeFor(status) : code);
  ExtraHeaders extra;
  if (!parser_.errorAllow().empty()) extra.emplace_back("Allow", std::string(parser_.errorAllow()));
  if (slots_.empty()) {
    formatComplete(out_, meta, status, body, "application/json", extra);
  } else {
    meta.seq = nextSeq_++;
    meta.answered = true;
    meta.status = status;
    formatComplete(meta.data, meta, status, body, "application/json", extra);
    slots_.push_back(std::move(meta));
  }
}

Connection::Slot* Connection::findSlot(uint64_t seq) {
  if (slots_.empty() || seq < slots_.front().seq) return nullptr;
  uint64_t index = seq - slots_.front().seq;
  if (index >= slots_.size()) return nullptr;
  return &slots_[index];
}

void Connection::formatComplete(std::string& out, const Slot& meta, int status,
                                std::string_view body, std::string_view contentType,
                                const ExtraHeaders& extra) {
  appendResponseHead(out, status, contentType, BodyFraming::kLength, body.size(), meta.keepAlive,
                     extra);
  if (!meta.head) out.append(body);
}

void Connection::respond(uint64_t seq, int status, std::string_view body,
                         std::string_view contentType, ExtraHeaders extra) {
  if (closing_) return;
  if (dispatching_ && seq == current_.seq && !currentAnswered_) {
    currentAnswered_ = true;
    for (ServerObserver* o : server_.observers_) o->onRequestComplete(current_.requestId, status);
    if (slots_.empty()) {  // the fast path: nothing queued before it
      size_t before = out_.size();
      formatComplete(out_, current_, status, body, contentType, extra);
      for (ServerObserver* o : server_.observers_) {
        o->onRequestEnd(current_.requestId, status, out_.size() - before);
      }
      return;  // handleRead flushes after the whole read was parsed
    }
    current_.answered = true;
    current_.status = status;
    formatComplete(current_.data, current_, status, body, contentType, extra);
    slots_.push_back(std::move(current_));
    return;
  }
  Slot* slot = findSlot(seq);
  if (slot == nullptr || slot->answered) return;
  for (ServerObserver* o : server_.observers_) o->onRequestComplete(slot->requestId, status);
  slot->answered = true;
  slot->status = status;
  formatComplete(slot->data, *slot, status, body, contentType, extra);
  if (!dispatching_) {
    pump();
    flush();
    updateReading();
  }
}

void Connection::stream(uint64_t seq, int status, std::unique_ptr<BodyProducer> producer,
                        std::string_view contentType, ExtraHeaders extra) {
  if (closing_) return;
  Slot* slot = nullptr;
  if (dispatching_ && seq == current_.seq && !currentAnswered_) {
    currentAnswered_ = true;
    slots_.push_back(std::move(current_));
    slot = &slots_.back();
  } else {
    slot = findSlot(seq);
    if (slot == nullptr || slot->answered) return;
  }
  for (ServerObserver* o : server_.observers_) o->onRequestComplete(slot->requestId, status);
  slot->answered = true;
  slot->status = status;
  slot->framing = slot->httpMinor >= 1 ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  if (slot->framing == BodyFraming::kUntilClose) {
    slot->keepAlive = false;
    noMoreRequests_ = true;
  }
  appendResponseHead(slot->data, status, contentType, slot->framing, 0, slot->keepAlive, extra);
  if (!slot->head) slot->producer = std::move(producer);
  if (!dispatching_) {
    pump();
    flush();
    updateReading();
  }
}

void Connection::resumeStream(uint64_t seq) {
  if (closing_ || dispatching_ || slots_.empty()) return;
  const Slot& s = slots_.front();
  if (s.seq != seq || !s.producer) return;  // not streaming yet (earlier answers first) or done
  pump();
  flush();
  updateReading();
}

void Connection::pump() {
  while (!slots_.empty() && !closing_) {
    Slot& s = slots_.front();
    if (!s.answered) break;
    if (!s.data.empty()) {
      out_.append(s.data);
      std::string().swap(s.data);
    }
    if (s.producer) {
      size_t produced = 0;
      while (pendingBytes() < server_.opts_.highWatermark && produced < kStreamPerPump) {
        scratch_.clear();
        bool more = s.producer->produce(scratch_, kStreamPiece);
        produced += scratch_.size();
        if (s.framing == BodyFraming::kChunked) {
          appendChunk(out_, scratch_);
        } else {
          out_.append(scratch_);
        }
        if (!more) {
          if (s.framing == BodyFraming::kChunked) out_.append(kLastChunk);
          s.producer.reset();
          break;
        }
        if (s.producer->paused()) break;  // a live stream: resumeStream() pulls it again
      }
      if (s.producer) break;  // more to stream: resumes when the socket drains
    }
    for (ServerObserver* o : server_.observers_) o->onRequestEnd(s.requestId, s.status, 0);
    bool keepAlive = s.keepAlive;
    slots_.pop_front();
    if (!keepAlive) {
      noMoreRequests_ = true;
      slots_.clear();
      break;
    }
  }
}

void Connection::flush() {
  if (writeInFlight_ || closing_) return;
  if (out_.empty()) {
    finishIfDone();
    return;
  }
  size_t offset = 0;
  bool streaming = !slots_.empty() && slots_.front().producer;
  if (!streaming) {  // a stream continues from the write callback, so it always uses uv_write
    uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
    if (n > 0) lastWriteProgressMs_ = uv_now(server_.loop_);
    if (n == static_cast<int>(out_.size())) {
      out_.clear();
      finishIfDone();
      return;
    }
    if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
      spdlog::debug("conn {}: write error: {}", id_, uv_strerror(n));
      close();
      return;
    }
    offset = n > 0 ? static_cast<size_t>(n) : 0;
  }
  std::swap(out_, writing_);  // writing_ was empty: the buffers ping-pong, no allocation
  out_.clear();
  writeOffset_ = offset;
  uv_buf_t b = uv_buf_init(writing_.data() + writeOffset_,
                           static_cast<unsigned>(writing_.size() - writeOffset_));
  int rc = uv_write(&writeReq_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, &Connection::onWrite);
  if (rc != 0) {
    close();
    return;
  }
  writeInFlight_ = true;
}

void Connection::onWrite(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<Connection*>(req->data);
  self->writeInFlight_ = false;
  self->writing_.clear();
  self->writeOffset_ = 0;
  if (self->closing_) return;
  if (status < 0) {
    self->close();
    return;
  }
  self->lastWriteProgressMs_ = self->lastActivityMs_ = uv_now(self->server_.loop_);
  self->pump();
  self->flush();
  self->updateReading();
}

void Connection::updateReading() {
  if (closing_) return;
  bool want;
  if (lingering_) {
    want = !peerEof_;
  } else {
    size_t pending = pendingBytes();
    size_t high = server_.opts_.highWatermark;
    want = !noMoreRequests_ && !peerEof_ && slots_.size() < kMaxPendingSlots &&
           (reading_ ? pending < high : pending < high / 2);
  }
  if (want && !reading_) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::onAlloc,
                      &Connection::onRead) == 0) {
      reading_ = true;
    }
  } else if (!want && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Connection::finishIfDone() {
  if (closing_ || shuttingDown_ || dispatching_) return;
  if (noMoreRequests_ && slots_.empty() && out_.empty() && !writeInFlight_) finishGracefully();
}

void Connection::finishGracefully() {
  shuttingDown_ = true;
  if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t*>(&tcp_), &Connection::onShutdown) !=
      0) {
    close();
  }
}

void Connection::onShutdown(uv_shutdown_t* req, int status) noexcept {
  auto* self = static_cast<Connection*>(req->data);
  if (self->closing_) return;
  if (status < 0 || self->peerEof_) {
    self->close();
    return;
  }
  self->lingering_ = true;
  self->lingerStartedMs_ = uv_now(self->server_.loop_);
  self->updateReading();
}

void Connection::checkTimeouts(uint64_t now) {
  if (closing_) return;
  const ServerOptions& o = server_.opts_;
  if (lingering_) {
    if (now - lingerStartedMs_ > kLingerMs) close();
    return;
  }
  if (shuttingDown_) return;
  if (draining_ && !noMoreRequests_ && endDrainIfIdle(now)) return;  // none came: close
  if (parser_.inRequest() && now - requestStartedMs_ > o.headerTimeoutMs) {
    spdlog::debug("conn {}: request not complete within {} ms, closing", id_, o.headerTimeoutMs);
    close();
  } else if (pendingBytes() > 0 && now - lastWriteProgressMs_ > o.keepAliveTimeoutMs) {
    spdlog::debug("conn {}: client not reading for {} ms, closing", id_, o.keepAliveTimeoutMs);
    close();
  } else if (slots_.empty() && pendingBytes() == 0 && !parser_.inRequest() &&
             now - lastActivityMs_ > o.keepAliveTimeoutMs) {
    close();
  }
}

bool Connection::idle() const {
  return !parser_.inRequest() && slots_.empty() && pendingBytes() == 0 && !writeInFlight_;
}

void Connection::drain() {
  if (closing_ || draining_) return;
  draining_ = true;
  // Closing an idle keep-alive connection races the client's next request (it would be lost
  // on the wire, unanswered). A connection active within drainIdleMs probably has one coming:
  // it is kept open to answer it (with Connection: close); checkTimeouts closes it otherwise.
  endDrainIfIdle(uv_now(server_.loop_));
}

bool Connection::endDrainIfIdle(uint64_t now) {
  if (!idle() || now - lastActivityMs_ < server_.opts_.drainIdleMs) return false;
  noMoreRequests_ = true;
  updateReading();
  finishIfDone();
  return true;
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  slots_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Connection::onClose);
}

void Connection::onClose(uv_handle_t* h) noexcept {
  auto* self = static_cast<Connection*>(h->data);
  self->server_.connectionClosed(self);  // deletes self
}

}  // namespace common::http

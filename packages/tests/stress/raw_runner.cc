// See runner.h. Every Worker is one client loop: issue -> (connect) -> write -> parse -> record
// -> issue the next. A Conn is one TCP connection; it is heap-allocated and freed only in its
// close callback, so callbacks that arrive for a closing Conn (cancelled connect/write) see
// `closing` and do nothing. After a failure the next request is started from the worker's
// timer (0 ms), never recursively, so a target refusing every connection cannot blow the stack.
#include "tests/stress/raw_runner.h"

#include <http_parser.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "common/http/url.h"

namespace stress {

struct RawRunner::Worker {
  RawRunner* runner = nullptr;
  uv_timer_t timer{};  // request timeout while busy; "start the next request" while idle
  Conn* conn = nullptr;
  bool busy = false;
  bool retried = false;
  bool responseDone = false;
  bool idle = false;  // open loop: parked in RawRunner::idle_
  Op op = Op::kSet;
  uint64_t startNs = 0;
  std::string key, value, request;
};

struct RawRunner::Conn {
  uv_tcp_t tcp{};
  uv_connect_t connectReq{};
  uv_write_t writeReq{};
  http_parser parser{};
  Worker* worker = nullptr;
  std::string out;
  uint64_t served = 0;    // responses completed on this connection
  uint64_t received = 0;  // bytes of the current response
  bool connected = false, closing = false, writing = false, eof = false;
};

namespace {
http_parser_settings makeSettings(http_cb onComplete) {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_complete = onComplete;
  return s;
}

bool answered(Op op, unsigned status) {
  if (status >= 200 && status < 300) return true;
  return status == 404 && op != Op::kSet;  // a miss is a valid answer to get/rm/is
}
}  // namespace

RawRunner::RawRunner(uv_loop_t* loop, RunOptions options)
    : loop_(loop),
      options_(std::move(options)),
      rng_(options_.seed ? options_.seed : 1),
      keys_(options_.keySpace, options_.keyDist) {
  results_.amount = options_.amount;
  uint64_t n = std::min<uint64_t>(options_.connections, options_.amount);
  if (n == 0 && options_.amount > 0) n = 1;
  for (uint64_t i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->runner = this;
    workers_.push_back(std::move(w));
  }
}

RawRunner::~RawRunner() {
  // Precondition: never started, or `done` already fired (every handle closed).
  assert(!started_ || finished_);
}

uint64_t RawRunner::random() {
  // splitmix64: fast, good enough to spread keys and pick operations.
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Progress RawRunner::progress() const {
  return progressOf(results_, started_, startNs_, finished_ || closing_ ? lastEndNs_ : uv_hrtime());
}

void RawRunner::start(std::function<void()> done) {
  assert(!started_);
  started_ = true;
  done_ = std::move(done);
  startNs_ = sliceStartNs_ = lastEndNs_ = uv_hrtime();
  uv_timer_init(loop_, &sliceTimer_);
  sliceTimer_.data = this;
  uv_timer_init(loop_, &maxTimer_);
  maxTimer_.data = this;
  uv_timer_init(loop_, &rateTimer_);
  rateTimer_.data = this;
  openHandles_ += 3;
  if (openLoop()) uv_timer_start(&rateTimer_, rateTimerCb, 1, 1);
  uint64_t slice = options_.sliceMs ? options_.sliceMs : 100;
  uv_timer_start(&sliceTimer_, sliceTimerCb, slice, slice);
  if (options_.maxTimeMs) uv_timer_start(&maxTimer_, maxTimerCb, options_.maxTimeMs, 0);
  for (auto& w : workers_) {
    uv_timer_init(loop_, &w->timer);
    w->timer.data = w.get();
    ++openHandles_;
  }
  for (auto& w : workers_) next(w.get());
  maybeFinish();  // amount 0
}

void RawRunner::stop(std::string reason) {
  if (!started_ || closing_ || stopping_) return;
  stopping_ = true;
  results_.stopReason = std::move(reason);
  for (auto& w : workers_) {
    if (w->busy) fail(w.get(), "aborted");
  }
  maybeFinish();
}

void RawRunner::buildRequest(Worker* w) {
  w->op = options_.mix.pick(random());
  uint64_t n = options_.sequentialKeys ? nextKey_++ : keys_.pick(random());
  w->key = options_.keyPrefix;
  w->key += std::to_string(n);
  std::string& r = w->request;
  r.clear();
  r += "GET ";
  r += options_.basePath;
  r += '/';
  r += opName(w->op);
  r += "?k=";
  common::urlEncode(w->key, r);
  w->value.clear();
  if (w->op == Op::kSet) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    w->value.resize(options_.valueSize);
    uint64_t bits = 0;
    for (uint32_t i = 0; i < options_.valueSize; ++i) {
      if (i % 8 == 0) bits = random();
      w->value[i] = kAlphabet[(bits & 0xff) % 62];
      bits >>= 8;
    }
    r += "&v=";
    r += w->value;
  }
  if (!options_.extraQuery.empty()) {
    r += '&';
    r += options_.extraQuery;
  }
  r += " HTTP/1.1\r\nHost: ";
  r += options_.hostHeader;
  r += "\r\n";
  if (!options_.keepAlive) r += "Connection: close\r\n";
  r += "\r\n";
}

uint64_t RawRunner::dueCount(uint64_t nowNs) const {
  double due = static_cast<double>(nowNs - startNs_) * options_.rate / 1e9;
  return std::min<uint64_t>(options_.amount, static_cast<uint64_t>(due) + 1);
}

uint64_t RawRunner::dueNs(uint64_t index) const {
  return startNs_ + static_cast<uint64_t>(static_cast<double>(index) * 1e9 / options_.rate);
}

void RawRunner::next(Worker* w) {
  if (closing_) return;
  if (stopping_ || results_.issued >= options_.amount) {
    maybeFinish();
    return;
  }
  uint64_t now = uv_hrtime();
  if (openLoop() && results_.issued >= dueCount(now)) {
    if (!w->idle) {
      w->idle = true;
      idle_.push_back(w);
    }
    return;
  }
  uint64_t index = results_.issued;
  ++results_.issued;
  ++inFlight_;
  w->busy = true;
  w->retried = false;
  buildRequest(w);
  ++results_.byOp[static_cast<size_t>(w->op)];
  // Open loop: the clock starts when the request was due, however late a connection freed up.
  w->startNs = openLoop() ? std::min(now, dueNs(index)) : now;
  uv_timer_start(&w->timer, timeoutCb, options_.timeoutMs ? options_.timeoutMs : 10000, 0);
  if (w->conn == nullptr) {
    connect(w);
  } else {
    send(w);
  }
}

void RawRunner::connect(Worker* w) {
  auto* c = new Conn();
  c->worker = w;
  uv_tcp_init(loop_, &c->tcp);
  c->tcp.data = c;
  ++openHandles_;
  w->conn = c;
  c->connectReq.data = c;
  int r = uv_tcp_connect(&c->connectReq, &c->tcp,
                         reinterpret_cast<const sockaddr*>(&options_.address), connectCb);
  if (r < 0) fail(w, std::string("connect_") + uv_err_name(r));  // the callback never fires
}

void RawRunner::send(Worker* w) {
  Conn* c = w->conn;
  if (c->writing) {  // cannot happen with one request at a time; never corrupt a pending write
    fail(w, "internal_write_overlap");
    return;
  }
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  c->received = 0;
  w->responseDone = false;
  c->out = w->request;
  uv_buf_t buf = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1);
  if (n == static_cast<int>(c->out.size())) return;
  if (n < 0 && n != UV_EAGAIN) {
    transportError(w, c, std::string("write_") + uv_err_name(n));
    return;
  }
  if (n > 0) buf = uv_buf_init(c->out.data() + n, static_cast<unsigned>(c->out.size() - n));
  c->writeReq.data = c;
  c->writing = true;
  int r = uv_write(&c->writeReq, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, writeCb);
  if (r < 0) {
    c->writing = false;
    transportError(w, c, std::string("write_") + uv_err_name(r));
  }
}

void RawRunner::endRequest(Worker* w) {
  w->busy = false;
  --inFlight_;
  uv_timer_stop(&w->timer);
  lastEndNs_ = uv_hrtime();
  ++sliceCompleted_;
}

void RawRunner::complete(Worker* w) {
  Conn* c = w->conn;
  unsigned status = c->parser.status_code;
  uint64_t us = (uv_hrtime() - w->startNs) / 1000;
  results_.latencyUs.record(us);
  sliceHist_.record(us);
  bool keep = options_.keepAlive && !c->eof && http_should_keep_alive(&c->parser);
  ++c->served;
  if (answered(w->op, status)) {
    ++results_.succeeded;
    if (status == 404) ++results_.notFound;
    if (w->op == Op::kSet && ackFn_) ackFn_(w->key, w->value);
  } else {
    ++results_.errors;
    ++sliceErrors_;
    ++results_.errorsByKind["http_" + std::to_string(status)];
  }
  endRequest(w);
  if (!keep) closeConn(w);
  next(w);
}

void RawRunner::fail(Worker* w, std::string kind) {
  if (!w->busy) return;
  ++results_.errors;
  ++sliceErrors_;
  ++results_.errorsByKind[std::move(kind)];
  endRequest(w);
  closeConn(w);
  if (stopping_ || closing_) {
    maybeFinish();
  } else {
    uv_timer_start(&w->timer, timeoutCb, 0, 0);  // idle: the timer starts the next request
  }
}

void RawRunner::transportError(Worker* w, Conn* c, std::string kind) {
  if (!w->busy || w->conn != c) {  // an idle keep-alive connection went away: just drop it
    if (w->conn == c) closeConn(w);
    return;
  }
  if (options_.retryStale && !w->retried && c->served > 0 && c->received == 0 && !stopping_) {
    w->retried = true;
    ++results_.staleRetries;
    closeConn(w);
    connect(w);
    return;
  }
  fail(w, std::move(kind));
}

void RawRunner::closeConn(Worker* w) {
  Conn* c = w->conn;
  if (c == nullptr) return;
  w->conn = nullptr;
  c->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), connCloseCb);
}

void RawRunner::maybeFinish() {
  if (!started_ || closing_) return;
  if ((stopping_ || results_.issued >= options_.amount) && inFlight_ == 0) closeAll();
}

void RawRunner::closeAll() {
  closing_ = true;
  if (results_.issued == 0) lastEndNs_ = uv_hrtime();
  if (stopping_) lastEndNs_ = uv_hrtime();
  cutSlice();
  results_.elapsedSec = static_cast<double>(lastEndNs_ - startNs_) / 1e9;
  if (progressFn_) progressFn_(progress());
  for (auto& w : workers_) {
    closeConn(w.get());
    uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), workerTimerCloseCb);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&sliceTimer_), runTimerCloseCb);
  uv_close(reinterpret_cast<uv_handle_t*>(&maxTimer_), runTimerCloseCb);
  uv_close(reinterpret_cast<uv_handle_t*>(&rateTimer_), runTimerCloseCb);
  idle_.clear();
}

void RawRunner::handleClosed() {
  --openHandles_;
  if (closing_ && openHandles_ == 0 && !finished_) {
    finished_ = true;
    if (done_) done_();
  }
}

void RawRunner::cutSlice() {
  uint64_t now = closing_ ? std::max(lastEndNs_, sliceStartNs_) : uv_hrtime();
  Slice s;
  s.startSec = static_cast<double>(sliceStartNs_ - startNs_) / 1e9;
  s.lengthSec = static_cast<double>(now - sliceStartNs_) / 1e9;
  s.completed = sliceCompleted_;
  s.errors = sliceErrors_;
  s.latency = sliceHist_.sparse();
  s.minUs = sliceHist_.min();
  s.maxUs = sliceHist_.max();
  s.sumUs = sliceHist_.sum();
  if (s.lengthSec > 0 || s.completed > 0) results_.slices.push_back(std::move(s));
  sliceHist_.reset();
  sliceCompleted_ = sliceErrors_ = 0;
  sliceStartNs_ = now;
}

// ---- event handlers ------------------------------------------------------------------------

void RawRunner::onConnect(Conn* c, int status) {
  if (c->closing) return;
  Worker* w = c->worker;
  if (status < 0) {
    fail(w, std::string("connect_") + uv_err_name(status));
    return;
  }
  c->connected = true;
  ++results_.connectionsOpened;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), allocCb, readCb);
  if (w->busy && w->conn == c) send(w);
}

void RawRunner::onWrite(Conn* c, int status) {
  c->writing = false;
  if (c->closing || status >= 0) return;
  transportError(c->worker, c, std::string("write_") + uv_err_name(status));
}

void RawRunner::onRead(Conn* c, ssize_t nread, const uv_buf_t* buf) {
  if (c->closing || nread == 0) return;
  Worker* w = c->worker;
  static const http_parser_settings kSettings = makeSettings(&RawRunner::onMessageComplete);
  if (nread < 0) {
    if (nread == UV_EOF) {
      c->eof = true;
      if (w->busy && w->conn == c && c->received > 0) {
        http_parser_execute(&c->parser, &kSettings, nullptr, 0);  // a body delimited by EOF
        if (w->responseDone) {
          complete(w);
          return;
        }
      }
      transportError(w, c, c->received ? "closed_mid_response" : "closed_before_response");
      return;
    }
    transportError(w, c, std::string("read_") + uv_err_name(static_cast<int>(nread)));
    return;
  }
  if (!w->busy || w->conn != c) {  // bytes nobody asked for: the connection is unusable
    if (w->conn == c) closeConn(w);
    return;
  }
  c->received += static_cast<uint64_t>(nread);
  http_parser_execute(&c->parser, &kSettings, buf->base, static_cast<size_t>(nread));
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
    fail(w, "bad_response");
    return;
  }
  if (w->responseDone) complete(w);
}

void RawRunner::onTimeout(Worker* w) {
  if (w->busy) {
    fail(w, "timeout");
  } else {
    next(w);
  }
}

void RawRunner::onRateTimer() {
  if (stopping_ || closing_) return;
  uint64_t due = dueCount(uv_hrtime());
  while (!idle_.empty() && results_.issued < due && !closing_) {
    Worker* w = idle_.back();
    idle_.pop_back();
    w->idle = false;
    next(w);
  }
  if (results_.issued >= options_.amount) uv_timer_stop(&rateTimer_);
}

void RawRunner::onSliceTimer() {
  cutSlice();
  if (progressFn_) progressFn_(progress());
}

// ---- libuv trampolines ---------------------------------------------------------------------

void RawRunner::connectCb(uv_connect_t* req, int status) noexcept {
  auto* c = static_cast<Conn*>(req->data);
  c->worker->runner->onConnect(c, status);
}

void RawRunner::writeCb(uv_write_t* req, int status) noexcept {
  auto* c = static_cast<Conn*>(req->data);
  c->worker->runner->onWrite(c, status);
}

void RawRunner::allocCb(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* c = static_cast<Conn*>(h->data);
  RawRunner* r = c->worker->runner;
  *buf = uv_buf_init(r->readBuf_.data(), static_cast<unsigned>(r->readBuf_.size()));
}

void RawRunner::readCb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* c = static_cast<Conn*>(s->data);
  c->worker->runner->onRead(c, nread, buf);
}

void RawRunner::connCloseCb(uv_handle_t* h) noexcept {
  auto* c = static_cast<Conn*>(h->data);
  RawRunner* r = c->worker->runner;
  delete c;
  r->handleClosed();
}

void RawRunner::workerTimerCloseCb(uv_handle_t* h) noexcept {
  static_cast<Worker*>(h->data)->runner->handleClosed();
}

void RawRunner::runTimerCloseCb(uv_handle_t* h) noexcept {
  static_cast<RawRunner*>(h->data)->handleClosed();
}

void RawRunner::timeoutCb(uv_timer_t* t) noexcept {
  auto* w = static_cast<Worker*>(t->data);
  w->runner->onTimeout(w);
}

void RawRunner::sliceTimerCb(uv_timer_t* t) noexcept {
  static_cast<RawRunner*>(t->data)->onSliceTimer();
}

void RawRunner::maxTimerCb(uv_timer_t* t) noexcept {
  auto* r = static_cast<RawRunner*>(t->data);
  r->stop("time limit of " + std::to_string(r->options_.maxTimeMs / 1000) + " s reached");
}

void RawRunner::rateTimerCb(uv_timer_t* t) noexcept {
  static_cast<RawRunner*>(t->data)->onRateTimer();
}

int RawRunner::onMessageComplete(http_parser* p) noexcept {
  auto* c = static_cast<Conn*>(p->data);
  c->worker->responseDone = true;
  return 0;
}

}  // namespace stress

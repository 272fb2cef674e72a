// See runner.h. A request's path: pump (closed loop: after every answer; open loop: a 1 ms
// tick issues what is due) -> issue builds the target ("/set?k=..&v=..&<extra-query>") ->
// AsyncClient::request -> onAnswer records it. The end: when everything was issued and answered
// (or stop() closed the client, which ends what is in flight as "aborted"), the timers close,
// then the client, then `done` fires.
#include "tests/stress/runner.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <climits>

#include "common/http/url.h"

namespace stress {

namespace {
bool answered(Op op, int status) {
  if (status >= 200 && status < 300) return true;
  return status == 404 && op != Op::kSet;  // a miss is a valid answer to get/rm/is
}

// The error kind of a request that got no answer: the client's code in lower case.
std::string kindOf(const std::string& code) {
  if (code == meshkv::kClosed) return "aborted";  // stop() closed the client under it
  std::string k = code;
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}
}  // namespace

meshkv::Options Runner::clientOptions(const RunOptions& o) {
  meshkv::Options c;
  c.url = o.url;
  c.discovery = o.discovery;
  int timeout = static_cast<int>(std::clamp<uint64_t>(o.timeoutMs, 1, INT_MAX));
  c.requestTimeoutMs = timeout;  // per request, connect included
  c.connectTimeoutMs = timeout;
  c.connectionsPerNode = static_cast<int>(std::max<uint32_t>(o.connections, 1));
  c.maxPipeline = static_cast<int>(std::max<uint32_t>(o.pipeline, 1));
  c.resend = o.retryStale ? meshkv::Resend::kLostConnection : meshkv::Resend::kNever;
  c.reuse = o.keepAlive ? meshkv::Reuse::kKeepAlive : meshkv::Reuse::kOnePerRequest;
  return c;
}

Runner::Runner(uv_loop_t* loop, RunOptions options)
    : loop_(loop),
      options_(std::move(options)),
      client_(std::make_unique<meshkv::AsyncClient>(loop, clientOptions(options_))),
      rng_(options_.seed ? options_.seed : 1),
      keys_(options_.keySpace, options_.keyDist) {
  results_.amount = options_.amount;
}

Runner::~Runner() {
  assert(phase_ == Phase::kReady || phase_ == Phase::kFinished);
}

uint64_t Runner::random() {
  // splitmix64: fast, good enough to spread keys and pick operations.
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Progress Runner::progress() const {
  bool ended = phase_ == Phase::kClosing || phase_ == Phase::kFinished;
  return progressOf(results_, phase_ != Phase::kReady, startNs_, ended ? lastEndNs_ : uv_hrtime());
}

void Runner::start(std::function<void()> done) {
  assert(phase_ == Phase::kReady);
  phase_ = Phase::kRunning;
  done_ = std::move(done);
  startNs_ = sliceStartNs_ = lastEndNs_ = uv_hrtime();
  for (uv_timer_t* t : {&tick_, &slice_, &maxTimer_}) {
    uv_timer_init(loop_, t);
    t->data = this;
    ++openTimers_;
  }
  if (options_.rate > 0) {
    uv_timer_start(
        &tick_, [](uv_timer_t* t) { static_cast<Runner*>(t->data)->pump(); }, 1, 1);
  }
  uint64_t slice = options_.sliceMs ? options_.sliceMs : 100;
  uv_timer_start(
      &slice_, [](uv_timer_t* t) { static_cast<Runner*>(t->data)->onSliceTimer(); }, slice, slice);
  if (options_.maxTimeMs) {
    uv_timer_start(
        &maxTimer_,
        [](uv_timer_t* t) {
          auto* r = static_cast<Runner*>(t->data);
          r->stop("time limit of " + std::to_string(r->options_.maxTimeMs / 1000) + " s reached");
        },
        options_.maxTimeMs, 0);
  }
  pump();
  maybeFinish();  // amount 0
}

void Runner::stop(std::string reason) {
  if (phase_ != Phase::kRunning) return;
  phase_ = Phase::kStopping;
  results_.stopReason = std::move(reason);
  closeClient();  // what is in flight ends now, as "aborted"
  maybeFinish();
}

void Runner::pump() {
  if (phase_ != Phase::kRunning) return;
  uint64_t limit = options_.amount;
  if (options_.rate > 0) {
    double due = static_cast<double>(uv_hrtime() - startNs_) * options_.rate / 1e9;
    limit = std::min<uint64_t>(limit, static_cast<uint64_t>(due) + 1);
  }
  uint64_t slots = uint64_t{std::max<uint32_t>(options_.connections, 1)} *
                   std::max<uint32_t>(options_.pipeline, 1);
  while (phase_ == Phase::kRunning && results_.issued < limit && inFlight_ < slots) issue();
  if (results_.issued >= options_.amount) uv_timer_stop(&tick_);
}

void Runner::issue() {
  uint64_t index = results_.issued++;
  ++inFlight_;
  Op op = options_.mix.pick(random());
  ++results_.byOp[static_cast<size_t>(op)];
  uint64_t n = options_.sequentialKeys ? nextKey_++ : keys_.pick(random());
  std::string key = options_.keyPrefix + std::to_string(n);
  std::string value;
  std::string target = options_.basePath;
  target += '/';
  target += opName(op);
  target += "?k=";
  common::urlEncode(key, target);
  if (op == Op::kSet) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    value.resize(options_.valueSize);
    uint64_t bits = 0;
    for (uint32_t i = 0; i < options_.valueSize; ++i) {
      if (i % 8 == 0) bits = random();
      value[i] = kAlphabet[(bits & 0xff) % 62];
      bits >>= 8;
    }
    target += "&v=";
    target += value;
  }
  if (!options_.extraQuery.empty()) {
    target += '&';
    target += options_.extraQuery;
  }
  uint64_t now = uv_hrtime();
  uint64_t from = now;
  if (options_.rate > 0) {  // open loop: the clock starts when the request was due
    from = std::min(
        now, startNs_ + static_cast<uint64_t>(static_cast<double>(index) * 1e9 / options_.rate));
  }
  bool read = op == Op::kGet || op == Op::kIs;
  client_->request(
      target, read ? meshkv::RequestKind::kRead : meshkv::RequestKind::kWrite,
      [this, op, from, key = std::move(key), value = std::move(value)](
          meshkv::Result<meshkv::Response> r) { onAnswer(op, from, key, value, std::move(r)); });
}

void Runner::onAnswer(Op op, uint64_t fromNs, const std::string& key, const std::string& value,
                      meshkv::Result<meshkv::Response> r) {
  --inFlight_;
  lastEndNs_ = uv_hrtime();
  ++sliceCompleted_;
  if (r.ok()) {  // every HTTP answer has a latency, whatever its status
    uint64_t us = (lastEndNs_ - fromNs) / 1000;
    results_.latencyUs.record(us);
    sliceHist_.record(us);
  }
  if (r.ok() && answered(op, r->status)) {
    ++results_.succeeded;
    if (r->status == 404) ++results_.notFound;
    if (op == Op::kSet && ackFn_) ackFn_(key, value);
  } else {
    ++results_.errors;
    ++sliceErrors_;
    ++results_.errorsByKind[r.ok() ? "http_" + std::to_string(r->status) : kindOf(r.error().code)];
  }
  pump();
  maybeFinish();
}

void Runner::maybeFinish() {
  if (phase_ != Phase::kRunning && phase_ != Phase::kStopping) return;
  if (inFlight_ != 0 || (phase_ == Phase::kRunning && results_.issued < options_.amount)) return;
  bool stopped = phase_ == Phase::kStopping;
  phase_ = Phase::kClosing;
  if (stopped || results_.issued == 0) lastEndNs_ = uv_hrtime();
  cutSlice();
  results_.elapsedSec = static_cast<double>(lastEndNs_ - startNs_) / 1e9;
  meshkv::ClientStats st = client_->stats();
  results_.connectionsOpened = st.connectionsOpened;
  results_.staleRetries = st.retries;
  if (progressFn_) progressFn_(progress());
  for (uv_timer_t* t : {&tick_, &slice_, &maxTimer_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
      auto* r = static_cast<Runner*>(h->data);
      if (--r->openTimers_ == 0) r->closeClient();  // not from inside a client callback
    });
  }
}

void Runner::closeClient() {
  if (clientClosing_) return maybeDone();
  clientClosing_ = true;
  client_->close([this] {
    clientClosed_ = true;
    maybeDone();
  });
}

void Runner::maybeDone() {
  if (phase_ != Phase::kClosing || openTimers_ > 0 || !clientClosed_) return;
  phase_ = Phase::kFinished;
  if (done_) done_();
}

void Runner::cutSlice() {
  bool ended = phase_ == Phase::kClosing;
  uint64_t now = ended ? std::max(lastEndNs_, sliceStartNs_) : uv_hrtime();
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

void Runner::onSliceTimer() {
  cutSlice();
  if (progressFn_) progressFn_(progress());
}

}  // namespace stress

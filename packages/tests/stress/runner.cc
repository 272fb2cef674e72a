// See client_runner.h. One 1 ms tick timer issues due requests in open loop (and is idle in
// closed loop, where every completion issues the next), a slice timer cuts the time series like
// the raw Runner's, and a max-time timer stops the run. At the end the timers close, then the
// client (which fails nothing: nothing is pending by then), then `done` fires.
#include "tests/stress/client_runner.h"

#include <algorithm>
#include <cassert>
#include <cctype>

namespace stress {

namespace {
uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string kindOf(const std::string& code) {
  std::string k = code;
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}
}  // namespace

ClientRunner::ClientRunner(uv_loop_t* loop, RunOptions options, meshkv::Options client)
    : loop_(loop),
      options_(std::move(options)),
      client_(std::make_unique<meshkv::AsyncClient>(loop, std::move(client))),
      alive_(std::make_shared<bool>(true)),
      rng_(options_.seed ? options_.seed : 1),
      keys_(options_.keySpace, options_.keyDist) {
  results_.amount = options_.amount;
}

ClientRunner::~ClientRunner() {
  assert(!started_ || finished_);
  *alive_ = false;
}

Progress ClientRunner::progress() const {
  return progressOf(results_, started_, startNs_, finished_ || closing_ ? lastEndNs_ : uv_hrtime());
}

void ClientRunner::start(std::function<void()> done) {
  assert(!started_);
  started_ = true;
  done_ = std::move(done);
  startNs_ = sliceStartNs_ = lastEndNs_ = uv_hrtime();
  for (uv_timer_t* t : {&tick_, &slice_, &maxTimer_}) {
    uv_timer_init(loop_, t);
    t->data = this;
    ++openTimers_;
  }
  if (options_.rate > 0) {
    uv_timer_start(
        &tick_, [](uv_timer_t* t) { static_cast<ClientRunner*>(t->data)->pump(); }, 1, 1);
  }
  uint64_t slice = options_.sliceMs ? options_.sliceMs : 100;
  uv_timer_start(
      &slice_, [](uv_timer_t* t) { static_cast<ClientRunner*>(t->data)->onTick(); }, slice, slice);
  if (options_.maxTimeMs) {
    uv_timer_start(
        &maxTimer_,
        [](uv_timer_t* t) {
          auto* r = static_cast<ClientRunner*>(t->data);
          r->stop("time limit of " + std::to_string(r->options_.maxTimeMs / 1000) + " s reached");
        },
        options_.maxTimeMs, 0);
  }
  pump();
  maybeFinish();  // amount 0
}

void ClientRunner::stop(std::string reason) {
  if (!started_ || closing_ || stopping_) return;
  stopping_ = true;
  results_.stopReason = std::move(reason);
  // In-flight requests end by themselves (the client's timeout bounds them).
  maybeFinish();
}

void ClientRunner::pump() {
  uint64_t limit = options_.amount;
  uint64_t startIssued = results_.issued;
  if (options_.rate > 0) {
    double due = static_cast<double>(uv_hrtime() - startNs_) * options_.rate / 1e9;
    limit = std::min<uint64_t>(limit, static_cast<uint64_t>(due) + 1);
  }
  uint64_t slots = std::max<uint32_t>(options_.connections, 1);
  while (!stopping_ && !closing_ && results_.issued < limit && inFlight_ < slots) issue();
  if (results_.issued >= options_.amount && results_.issued != startIssued) {
    uv_timer_stop(&tick_);
  }
}

void ClientRunner::issue() {
  uint64_t index = results_.issued++;
  ++inFlight_;
  Op op = options_.mix.pick(splitmix(rng_));
  ++results_.byOp[static_cast<size_t>(op)];
  uint64_t n = options_.sequentialKeys ? nextKey_++ : keys_.pick(splitmix(rng_));
  std::string key = options_.keyPrefix + std::to_string(n);
  uint64_t now = uv_hrtime();
  uint64_t from = now;
  if (options_.rate > 0) {
    from = std::min(
        now, startNs_ + static_cast<uint64_t>(static_cast<double>(index) * 1e9 / options_.rate));
  }
  meshkv::WriteOptions w;
  // The raw engine appends --extra-query verbatim; the client knows only the write concern.
  if (options_.extraQuery.rfind("w=", 0) == 0) w.w = options_.extraQuery.substr(2);
  auto alive = alive_;
  switch (op) {
    case Op::kSet: {
      static constexpr char kAlphabet[] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
      std::string value(options_.valueSize, 'x');
      uint64_t bits = 0;
      for (uint32_t i = 0; i < options_.valueSize; ++i) {
        if (i % 8 == 0) bits = splitmix(rng_);
        value[i] = kAlphabet[(bits & 0xff) % 62];
        bits >>= 8;
      }
      client_->set(key, value, w, [this, alive, from, key, value](meshkv::Result<meshkv::Ok> r) {
        if (!*alive) return;
        if (r.ok() && ackFn_) ackFn_(key, value);
        finish(from, r.ok(), false, r.ok() ? "" : r.error().code);
      });
      break;
    }
    case Op::kGet:
      client_->get(key, [this, alive, from](meshkv::Result<std::string> r) {
        if (!*alive) return;
        bool miss = !r.ok() && r.error().code == meshkv::kMissingRecord;
        finish(from, r.ok() || miss, miss, r.ok() || miss ? "" : r.error().code);
      });
      break;
    case Op::kRm:
      client_->remove(key, w, [this, alive, from](meshkv::Result<meshkv::Ok> r) {
        if (!*alive) return;
        bool miss = !r.ok() && r.error().code == meshkv::kMissingRecord;
        finish(from, r.ok() || miss, miss, r.ok() || miss ? "" : r.error().code);
      });
      break;
    case Op::kIs:
      client_->exists(key, [this, alive, from](meshkv::Result<bool> r) {
        if (!*alive) return;
        finish(from, r.ok(), r.ok() && !*r, r.ok() ? "" : r.error().code);
      });
      break;
  }
}

void ClientRunner::finish(uint64_t latencyStartNs, bool ok, bool notFound,
                          const std::string& errorCode) {
  --inFlight_;
  lastEndNs_ = uv_hrtime();
  ++sliceCompleted_;
  if (ok) {
    uint64_t us = (lastEndNs_ - latencyStartNs) / 1000;
    results_.latencyUs.record(us);
    sliceHist_.record(us);
    ++results_.succeeded;
    if (notFound) ++results_.notFound;
  } else {
    ++results_.errors;
    ++sliceErrors_;
    ++results_.errorsByKind[kindOf(errorCode)];
  }
  if (!stopping_) pump();
  maybeFinish();
}

void ClientRunner::maybeFinish() {
  if (!started_ || closing_ || inFlight_ != 0) return;
  if (!stopping_ && results_.issued < options_.amount) return;
  closing_ = true;
  if (stopping_ || results_.issued == 0) lastEndNs_ = uv_hrtime();
  cutSlice();
  results_.elapsedSec = static_cast<double>(lastEndNs_ - startNs_) / 1e9;
  meshkv::ClientStats st = client_->stats();
  results_.connectionsOpened = st.connectionsOpened;
  results_.staleRetries = st.retries;
  if (progressFn_) progressFn_(progress());
  for (uv_timer_t* t : {&tick_, &slice_, &maxTimer_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
      auto* r = static_cast<ClientRunner*>(h->data);
      if (--r->openTimers_ > 0) return;
      r->client_->close([r] {
        r->finished_ = true;
        if (r->done_) r->done_();
      });
    });
  }
}

void ClientRunner::cutSlice() {
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

void ClientRunner::onTick() {
  cutSlice();
  if (progressFn_) progressFn_(progress());
}

}  // namespace stress

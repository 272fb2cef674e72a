// See client_core.h. A call's path: submit -> dispatch (pick a node, then a connection with room
// in its pipeline, opening one when the least busy is not idle and the node has fewer than
// connectionsPerNode) -> Connection::send -> onOutcome: an answer (any HTTP status) finishes the
// call; a transport failure marks the node down (exponential backoff) and resends the call when
// it is safe and the deadline allows, avoiding the node that failed. Deadlines are swept by one
// repeating timer; membership is re-read from /status every refreshMs. Both timers are unref'd:
// an idle client never keeps its loop alive.
#include "client/client_core.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "client/protocol.h"

namespace meshkv {

ClientCore::ClientCore(uv_loop_t* loop, Options options) : loop_(loop), opts_(std::move(options)) {
  for (uv_timer_t* t : {&tick_, &refreshTimer_, &soon_}) {
    uv_timer_init(loop_, t);
    t->data = this;
    ++timersOpen_;
  }
  auto seed = protocol::parseUrl(opts_.url);
  if (!seed.ok()) {
    urlError_ = seed.error().message;
  } else {
    addNode(opts_.url, true);
  }
}

ClientCore::~ClientCore() {
  if (!closing_ || timersOpen_ > 0 || liveConns_ > 0) {
    std::fprintf(stderr, "meshkv client destroyed before close() finished; leaking its handles\n");
  }
}

ClientCore::Node* ClientCore::findNode(const std::string& url) {
  for (auto& n : nodes_) {
    if (n->url == url) return n.get();
  }
  return nullptr;
}

ClientCore::Node* ClientCore::addNode(const std::string& url, bool seed) {
  auto hp = protocol::parseUrl(url);
  if (!hp.ok()) return nullptr;
  auto n = std::make_unique<Node>();
  n->url = url;
  n->host = hp->host;
  n->port = hp->port;
  n->seed = seed;
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

void ClientCore::startTimers() {
  if (timersStarted_ || closing_) return;
  timersStarted_ = true;
  uint64_t every = static_cast<uint64_t>(std::clamp(opts_.requestTimeoutMs / 4, 10, 100));
  uv_timer_start(&tick_, &ClientCore::onTick, every, every);
  uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
  if (opts_.discovery == Discovery::kCluster && opts_.refreshMs > 0) {
    uint64_t r = static_cast<uint64_t>(opts_.refreshMs);
    uv_timer_start(&refreshTimer_, &ClientCore::onRefreshTimer, r, r);
    uv_unref(reinterpret_cast<uv_handle_t*>(&refreshTimer_));
  }
}

void ClientCore::defer(std::function<void()> fn) {
  if (closing_ && !onClosed_) return fn();  // fully closed: nothing left to wait for
  deferred_.push_back(std::move(fn));
  // While closing, maybeFinishClose runs what is left before reporting the close.
  if (!closing_) uv_timer_start(&soon_, &ClientCore::onSoon, 0, 0);
}

void ClientCore::onSoon(uv_timer_t* t) noexcept {
  auto* self = static_cast<ClientCore*>(t->data);
  std::vector<std::function<void()>> work;
  work.swap(self->deferred_);
  for (auto& fn : work) fn();
}

void ClientCore::submit(std::string target, bool idempotent, std::string pinned, Done done) {
  auto call = std::make_shared<Call>();
  call->target = std::move(target);
  call->idempotent = idempotent;
  call->pinned = std::move(pinned);
  call->deadlineMs = now() + static_cast<uint64_t>(std::max(1, opts_.requestTimeoutMs));
  call->done = std::move(done);
  ++stats_.requests;
  if (closing_ || !urlError_.empty()) {
    Outcome o;
    o.error = closing_ ? kClosed : kBadUrl;
    o.detail = closing_ ? "the client is closed" : urlError_;
    return defer([call, o = std::move(o)]() mutable { call->done(std::move(o), ""); });
  }
  startTimers();
  // The first request also starts discovery; it does not wait for it (the seed answers).
  if (!discovered_ && !refreshing_ && opts_.discovery == Discovery::kCluster) {
    refresh([](Result<size_t>) {});
  }
  dispatch(call);
}

ClientCore::Node* ClientCore::pick(const Call& call) {
  if (!call.pinned.empty()) {
    Node* n = findNode(call.pinned);
    if (n == nullptr) {
      n = addNode(call.pinned, false);
      if (n != nullptr) n->removed = true;  // reachable when pinned, never chosen otherwise
    }
    return n;
  }
  const uint64_t t = now();
  bool memberUp = false;
  for (auto& n : nodes_) memberUp = memberUp || (n->member && !n->removed && n->downUntilMs <= t);
  auto eligible = [&](const Node& n, bool strictDown, bool strictAvoid) {
    if (n.removed) return false;
    if (opts_.discovery == Discovery::kSeedOnly && !n.seed) return false;
    if (!n.member && !(n.seed && !memberUp)) return false;  // a non-member seed is the fallback
    if (strictDown && n.downUntilMs > t) return false;
    if (strictAvoid && n.url == call.avoid) return false;
    return true;
  };
  for (int pass = 0; pass < 3; ++pass) {
    bool strictDown = pass < 2;
    bool strictAvoid = pass == 0;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      Node* n = nodes_[(rr_ + i) % nodes_.size()].get();
      if (eligible(*n, strictDown, strictAvoid)) {
        rr_ = (rr_ + i + 1) % nodes_.size();
        return n;
      }
    }
  }
  // Everything is down: try the one that has been down longest (it may be back).
  Node* best = nullptr;
  for (auto& n : nodes_) {
    if (n->removed || (opts_.discovery == Discovery::kSeedOnly && !n->seed)) continue;
    if (!n->member && !n->seed) continue;
    if (best == nullptr || n->downUntilMs < best->downUntilMs) best = n.get();
  }
  return best;
}

Connection* ClientCore::connectionFor(Node& node) {
  while (!node.idle.empty()) {
    Connection* c = node.idle.back();
    node.idle.pop_back();
    // closeIfStale() may run onClosed, which drops c's other entries from node.idle.
    if (c->usable() && c->inFlight() == 0 && !c->closeIfStale()) return c;
  }
  Connection* best = nullptr;
  for (size_t i = 0; i < node.conns.size();) {
    Connection* c = node.conns[i];
    // closeIfStale() may remove c from node.conns (onClosed): re-read the same index then.
    if (c->closeIfStale()) continue;
    if (c->usable() && (best == nullptr || c->inFlight() < best->inFlight())) best = c;
    if (best != nullptr && best->inFlight() == 0) break;  // an idle one: none is less busy
    ++i;
  }
  // Connections that take no more requests (answered "Connection: close", a used one-shot) are
  // about to close: they do not count against the limit.
  auto live = [&] {
    return static_cast<size_t>(std::count_if(node.conns.begin(), node.conns.end(),
                                             [](Connection* c) { return c->usable(); }));
  };
  size_t limit = static_cast<size_t>(std::max(1, opts_.connectionsPerNode));
  if ((best == nullptr || best->inFlight() > 0) && live() < limit) {
    auto* c =
        new Connection(loop_, *this, node.host, node.port, opts_.connectTimeoutMs, opts_.reuse);
    ++liveConns_;
    ++stats_.connectionsOpened;
    node.conns.push_back(c);
    nodeOf_[c] = &node;
    c->start();
    if (c->usable()) return c;
  }
  if (best != nullptr && best->inFlight() < static_cast<size_t>(std::max(1, opts_.maxPipeline))) {
    return best;
  }
  return nullptr;
}

void ClientCore::dispatch(const CallPtr& call) {
  Node* node = pick(*call);
  if (node == nullptr) {
    Outcome o;
    o.error = kUnavailable;
    o.detail = "no node to send to";
    return defer([this, call, o = std::move(o)]() mutable { finish(call, std::move(o), ""); });
  }
  Connection* c = connectionFor(*node);
  if (c == nullptr) {
    if (node->conns.empty()) {  // the new connection failed at once
      Outcome o;
      o.error = kUnavailable;
      o.detail = "cannot connect to " + node->url;
      return defer(
          [this, call, node, o = std::move(o)]() mutable { onOutcome(call, node, std::move(o)); });
    }
    pending_.push_back(call);  // every pipeline of this node is full: wait for an answer
    return;
  }
  ++call->attempts;
  uint64_t deadline = call->deadlineMs;
  // A read may give up on a hung node early and ask another one (only when it may be resent).
  if (call->idempotent && opts_.resend == Resend::kSafe) {
    int retries = std::max(0, opts_.retries);
    int attemptMs = opts_.attemptTimeoutMs > 0
                        ? opts_.attemptTimeoutMs
                        : std::max(1, opts_.requestTimeoutMs / (retries + 1));
    deadline = std::min(deadline, now() + static_cast<uint64_t>(attemptMs));
  }
  c->send(call->target, deadline,
          [this, call, node](Outcome&& o) { onOutcome(call, node, std::move(o)); });
}

void ClientCore::onOutcome(const CallPtr& call, Node* node, Outcome&& o) {
  if (o.error.empty()) {
    node->failures = 0;
    ++stats_.answeredBy[node->url];
    finish(call, std::move(o), node->url);
    drainPending();
    return;
  }
  // (A connection that never opened already marked its node down in onClosed.)
  if (o.error == kConnectionLost || o.error == kBadResponse || o.error == kTimeout) {
    markDown(*node);
  }
  bool retry = !closing_ && o.error != kClosed && now() < call->deadlineMs && mayResend(*call, o);
  if (retry) {
    ++stats_.retries;
    call->avoid = node->url;
    dispatch(call);
  } else {
    finish(call, std::move(o), node->url);
  }
  drainPending();
}

bool ClientCore::mayResend(const Call& call, const Outcome& o) const {
  switch (opts_.resend) {
    case Resend::kNever:
      return false;
    case Resend::kLostConnection:
      return o.error == kConnectionLost && call.attempts == 1;
    case Resend::kSafe:
      break;
  }
  bool safe = !o.sent || call.idempotent || opts_.retryWrites;
  // A write that timed out may still be applied: only reads go on after a timeout.
  bool timeoutOk = o.error != kTimeout || call.idempotent;
  return timeoutOk && safe && call.attempts <= opts_.retries;
}

void ClientCore::finish(const CallPtr& call, Outcome&& o, const std::string& url) {
  if (!call->done) return;
  auto done = std::move(call->done);
  call->done = nullptr;
  done(std::move(o), url);
}

void ClientCore::markDown(Node& node) {
  ++node.failures;
  uint64_t backoff = static_cast<uint64_t>(std::max(1, opts_.downMs));
  for (int i = 1; i < node.failures && backoff < 30000; ++i) backoff *= 2;
  node.downUntilMs = now() + std::min<uint64_t>(backoff, 30000);
}

void ClientCore::drainPending() {
  size_t n = pending_.size();
  for (size_t i = 0; i < n && !pending_.empty() && !closing_; ++i) {
    CallPtr call = pending_.front();
    pending_.pop_front();
    dispatch(call);  // may queue it again at the back
  }
}

void ClientCore::onClosed(Connection* c, bool connectFailed) {
  for (auto& n : nodes_) {
    auto it = std::find(n->conns.begin(), n->conns.end(), c);
    if (it == n->conns.end()) continue;
    n->conns.erase(it);
    nodeOf_.erase(c);
    n->idle.erase(std::remove(n->idle.begin(), n->idle.end(), c), n->idle.end());
    if (connectFailed && !closing_) markDown(*n);
    return;
  }
}

void ClientCore::onIdle(Connection* c) {
  auto it = nodeOf_.find(c);
  if (it == nodeOf_.end()) return;
  Node& n = *it->second;
  // Duplicates are harmless (checked when taken); bound them all the same.
  if (n.idle.size() > 2 * n.conns.size()) n.idle.clear();
  n.idle.push_back(c);
}

void ClientCore::onFreed(Connection*) {
  --liveConns_;
  maybeFinishClose();
}

void ClientCore::onTick(uv_timer_t* t) noexcept {
  auto* self = static_cast<ClientCore*>(t->data);
  const uint64_t now = self->now();
  // By index: a callback run by expire() may add a node (a pinned URL) to nodes_.
  for (size_t i = 0; i < self->nodes_.size(); ++i) {
    std::vector<Connection*> conns = self->nodes_[i]->conns;  // expire() removes from it
    for (Connection* c : conns) c->expire(now);
  }
  for (auto it = self->pending_.begin(); it != self->pending_.end();) {
    if ((*it)->deadlineMs > now) {
      ++it;
      continue;
    }
    CallPtr call = *it;
    it = self->pending_.erase(it);
    Outcome o;
    o.error = kTimeout;
    o.detail = "every connection stayed busy until the deadline";
    self->finish(call, std::move(o), "");
    it = self->pending_.begin();  // the callback may have queued more
  }
}

void ClientCore::onRefreshTimer(uv_timer_t* t) noexcept {
  auto* self = static_cast<ClientCore*>(t->data);
  if (!self->refreshing_) self->refresh([](Result<size_t>) {});
}

void ClientCore::refresh(Callback<size_t> done) {
  if (closing_) return defer([done] { done(Error{kClosed, "the client is closed"}); });
  startTimers();
  refreshing_ = true;
  ++stats_.refreshes;
  auto call = std::make_shared<Call>();
  call->target = "/status";
  call->deadlineMs = now() + static_cast<uint64_t>(std::max(1, opts_.requestTimeoutMs));
  call->done = [this, done](Outcome&& o, const std::string&) {
    refreshing_ = false;
    if (!o.error.empty()) return done(Error{o.error, o.detail});
    if (o.status != 200) return done(protocol::errorOf(o.status, o.body));
    auto s = protocol::parseStatus(o.body);
    if (!s.ok()) return done(s.error());
    if (opts_.discovery == Discovery::kCluster) applyMembers(*s);
    discovered_ = true;
    done(stats().nodes.size());
  };
  if (!urlError_.empty()) {
    Outcome o;
    o.error = kBadUrl;
    o.detail = urlError_;
    return defer([this, call, o = std::move(o)]() mutable { finish(call, std::move(o), ""); });
  }
  dispatch(call);
}

void ClientCore::applyMembers(const NodeStatus& s) {
  // Listed: alive or suspect. A listed member gets requests once some node has reported it
  // ready (a joining member still copying the data would answer reads from a partial store);
  // readiness travels by gossip, so one node may not know yet what another already reported:
  // once seen ready, a member stays in until it is no longer listed.
  std::set<std::string> listed;
  std::set<std::string> ready;
  for (const auto& m : s.members) {
    if ((m.state != "alive" && m.state != "suspect") || !protocol::parseUrl(m.url).ok()) continue;
    listed.insert(m.url);
    if (m.ready) ready.insert(m.url);
  }
  if (listed.empty()) return;  // a standalone node (or an answer without members): seed only
  for (auto& n : nodes_) {
    if (listed.count(n->url) != 0 || (!n->member && !n->seenReady)) continue;
    n->member = false;
    n->seenReady = false;
    n->removed = !n->seed;
    std::vector<Connection*> conns = n->conns;
    for (Connection* c : conns) {
      if (c->inFlight() == 0) c->fail(kConnectionLost, "the node left the cluster");
    }
  }
  for (const auto& url : listed) {
    Node* n = findNode(url);
    if (n == nullptr) n = addNode(url, false);
    if (n == nullptr) continue;
    n->removed = false;
    if (ready.count(url) != 0) n->seenReady = true;
    if (n->seenReady && !n->member) {  // (re)joined: give it a chance at once
      n->failures = 0;
      n->downUntilMs = 0;
    }
    n->member = n->seenReady;
  }
}

ClientStats ClientCore::stats() const {
  ClientStats s = stats_;
  s.nodes.clear();
  const uint64_t t = uv_now(loop_);
  bool memberUp = false;
  for (const auto& n : nodes_) memberUp = memberUp || (n->member && !n->removed);
  for (const auto& n : nodes_) {
    if (n->removed) continue;
    if (opts_.discovery == Discovery::kSeedOnly ? n->seed : (n->member || (n->seed && !memberUp))) {
      if (n->downUntilMs <= t || n->member) s.nodes.push_back(n->url);
    }
  }
  return s;
}

void ClientCore::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  onClosed_ = std::move(done);
  std::deque<CallPtr> pending;
  pending.swap(pending_);
  for (auto& call : pending) {
    Outcome o;
    o.error = kClosed;
    o.detail = "the client was closed";
    finish(call, std::move(o), "");
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::vector<Connection*> conns = nodes_[i]->conns;
    for (Connection* c : conns) c->fail(kClosed, "the client was closed");
  }
  std::vector<std::function<void()>> work;
  work.swap(deferred_);
  for (auto& fn : work) fn();  // they report kClosed or their own failure
  for (uv_timer_t* t : {&tick_, &refreshTimer_, &soon_}) {
    uv_timer_stop(t);
    uv_close(reinterpret_cast<uv_handle_t*>(t), &ClientCore::onTimerClosed);
  }
}

void ClientCore::onTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<ClientCore*>(h->data);
  --self->timersOpen_;
  self->maybeFinishClose();
}

void ClientCore::maybeFinishClose() {
  if (!closing_ || timersOpen_ > 0 || liveConns_ > 0 || !onClosed_) return;
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> work;
    work.swap(deferred_);
    for (auto& fn : work) fn();
  }
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();  // may destroy this object
}

}  // namespace meshkv

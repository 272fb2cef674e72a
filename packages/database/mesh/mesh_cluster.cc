// See mesh_cluster.h. Sections: construction and lifetime; replication (outgoing batches, acks,
// write concerns); membership (join, probes, gossip); catch-up and anti-entropy; routes.
#include "database/mesh/mesh_cluster.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/store_bridge.h"

namespace db {
namespace {

namespace json = common::json;

constexpr std::string_view kOctet = "application/octet-stream";
constexpr int kJoinAttemptsBeforeAlone = 6;

std::string hex64(uint64_t v) {
  static const char* kHex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kHex[v & 15];
  return s;
}

std::string queryParam(std::string_view query, std::string_view name) {
  auto params = common::parseQuery(query);
  if (!params.ok()) return {};
  for (const auto& p : params.value()) {
    if (p.name == name) return p.value;
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction and lifetime
// ---------------------------------------------------------------------------------------------

MeshCluster::MeshCluster(uv_loop_t* loop, Keyspace& keyspace, MeshOptions opts)
    : loop_(loop),
      keyspace_(keyspace),
      opts_(std::move(opts)),
      auth_(opts_.secret, opts_.authWindowMs),
      membership_(opts_.nodeId, opts_.advertiseUrl,
                  static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()),
                  opts_, std::hash<std::string>{}(opts_.nodeId) ^ uv_hrtime()),
      client_(std::make_unique<common::http::Client>(loop)),
      store_(std::make_unique<StoreBridge>(keyspace)) {
  uv_check_init(loop_, &check_);
  uv_timer_init(loop_, &probeTimer_);
  uv_timer_init(loop_, &aeTimer_);
  uv_timer_init(loop_, &waiterTimer_);
  uv_timer_init(loop_, &joinTimer_);
  uv_timer_init(loop_, &leaveTimer_);
  uv_timer_init(loop_, &applyTimer_);
  for (uv_handle_t* h : allHandles()) {
    h->data = this;
    ++handlesOpen_;
  }
  membership_.onChange([this](const Member& m, MemberState before, bool isNew) {
    onMemberChange(m, before, isNew);
  });
}

MeshCluster::~MeshCluster() {
  // leave() must have run (it closes every handle); a destructor cannot wait for libuv.
  if (handlesOpen_ > 0) spdlog::error("mesh: destroyed with {} open handles", handlesOpen_);
}

std::array<uv_handle_t*, 7> MeshCluster::allHandles() {
  return {
      reinterpret_cast<uv_handle_t*>(&check_),     reinterpret_cast<uv_handle_t*>(&probeTimer_),
      reinterpret_cast<uv_handle_t*>(&aeTimer_),   reinterpret_cast<uv_handle_t*>(&waiterTimer_),
      reinterpret_cast<uv_handle_t*>(&joinTimer_), reinterpret_cast<uv_handle_t*>(&leaveTimer_),
      reinterpret_cast<uv_handle_t*>(&applyTimer_)};
}

uint64_t MeshCluster::nowMs() const {
  return uv_now(loop_);
}

uint64_t MeshCluster::stableHlc() const {
  // Every write of ours so far has hlc <= last(); every later one will be stamped above both
  // last() and pack(wall now, 0) - 1. So when nothing is outstanding, all our writes up to
  // this value are delivered.
  uint64_t wallFloor = Hlc::pack(store_->wallMs(), 0);
  return std::max(store_->lastHlc(), wallFloor > 0 ? wallFloor - 1 : 0);
}

uint64_t MeshCluster::wallMs() const {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void MeshCluster::start() {
  if (started_) return;
  started_ = true;
  // ADVERTISE_URL unset -> http://<node id>:<port>; port 0 in it -> the port the server bound.
  int bound = server_ != nullptr ? server_->port() : 0;
  if (opts_.advertiseUrl.empty()) {
    opts_.advertiseUrl = "http://" + opts_.nodeId + ":" + std::to_string(bound);
  } else {
    // "http://host:0[/]" (parseHttpUrl refuses port 0, so this is textual).
    std::string& u = opts_.advertiseUrl;
    while (!u.empty() && u.back() == '/') u.pop_back();
    if (u.size() > 2 && u.compare(u.size() - 2, 2, ":0") == 0) {
      u.replace(u.size() - 1, 1, std::to_string(bound));
    }
  }
  membership_.setSelfUrl(opts_.advertiseUrl);
  if (!auth_.enabled()) {
    spdlog::warn(
        "mesh: MESH_SECRET is not set: the mesh is OPEN, anyone who reaches this port "
        "can replicate into it");
  }
  catchUpStartedMs_ = uv_hrtime() / 1000000;
  uv_timer_start(&probeTimer_, &MeshCluster::onProbeTimer, opts_.probeIntervalMs,
                 opts_.probeIntervalMs);
  uv_timer_start(&aeTimer_, &MeshCluster::onAeTimer, opts_.antiEntropyIntervalMs,
                 opts_.antiEntropyIntervalMs);
  phase_ = Phase::kJoining;
  joinBackoffMs_ = opts_.joinRetryMs;
  spdlog::info("mesh: node {} (incarnation {}) joining through {}, advertising {}", opts_.nodeId,
               membership_.self().incarnation, opts_.meshNetworkUrl, opts_.advertiseUrl);
  attemptJoin();
}

void MeshCluster::leave(std::function<void()> done) {
  if (phase_ == Phase::kLeaving || phase_ == Phase::kClosed) {
    if (done) done();
    return;
  }
  phase_ = Phase::kLeaving;
  leaveDone_ = std::move(done);
  membership_.leave(nowMs());
  flushBatch();
  spdlog::info("mesh: leaving ({} live peers told)", peers_.size());
  // Tell every live peer; wait for their answers (or the leave timer), then close.
  std::string body = gossipJson(true);
  for (const auto& [id, p] : peers_) {
    ++leavePending_;
    post(p->url, "/_mesh/leave", "", body, std::min<uint64_t>(opts_.probeTimeoutMs * 2, 1500),
         [this](common::http::ClientResponse&&) {
           --leavePending_;
           if (leaveComplete()) finishClose();
         });
  }
  uv_timer_start(&leaveTimer_, &MeshCluster::onLeaveTimer, 2000, 0);
  if (leaveComplete()) finishClose();
}

bool MeshCluster::leaveComplete() const {
  // Every write this node acknowledged must reach the peers that stay: the leave ends once the
  // announcements were answered AND every peer acknowledged every batch (or the timer fires:
  // an unreachable peer catches up later by anti-entropy from the others).
  if (phase_ != Phase::kLeaving || leavePending_ > 0) return false;
  for (const auto& [id, p] : peers_) {
    if (!p->outbox.idle()) return false;
  }
  return true;
}

void MeshCluster::onLeaveTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->finishClose();
}

void MeshCluster::finishClose() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  ready_ = false;
  // Writers waiting for replication get their answer now.
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w.done(false, w.acked);
  for (auto& [id, p] : peers_) {
    if (p->link != nullptr) {
      ++handlesOpen_;
      p->link->destroy([this] {
        --handlesOpen_;
        if (handlesOpen_ == 0 && leaveDone_) std::exchange(leaveDone_, nullptr)();
      });
      p->link = nullptr;
    }
  }
  peers_.clear();
  for (uv_handle_t* h : allHandles()) {
    uv_close(h, &MeshCluster::onHandleClosed);
  }
  ++handlesOpen_;
  client_->close([this] {
    --handlesOpen_;
    if (handlesOpen_ == 0 && leaveDone_) std::exchange(leaveDone_, nullptr)();
  });
}

void MeshCluster::onHandleClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<MeshCluster*>(h->data);
  --self->handlesOpen_;
  if (self->handlesOpen_ == 0 && self->leaveDone_) std::exchange(self->leaveDone_, nullptr)();
}

// ---------------------------------------------------------------------------------------------
// Replication: outgoing batches, acks, write concerns
// ---------------------------------------------------------------------------------------------

void MeshCluster::onLocalWrite(const Mutation& m) {
  if (phase_ == Phase::kClosed) return;
  batch_.add(m);
  batchMaxHlc_ = std::max(batchMaxHlc_, m.hlc);
  lastLocalHlc_ = std::max(lastLocalHlc_, m.hlc);
  if (batch_.bytes() >= opts_.maxBatchBytes) {
    flushBatch();
  } else if (!checkActive_) {
    // Flushed at the end of this loop turn (after the poll phase that produced the write).
    uv_check_start(&check_, &MeshCluster::onCheck);
    checkActive_ = true;
  }
}

void MeshCluster::onCheck(uv_check_t* h) noexcept {
  auto* self = static_cast<MeshCluster*>(h->data);
  uv_check_stop(h);
  self->checkActive_ = false;
  self->flushBatch();
}

void MeshCluster::flushBatch() {
  if (batch_.empty()) return;
  batch_.setSeq(++batchSeq_);
  auto frame = std::make_shared<const std::string>(batch_.finish());
  uint64_t maxHlc = batchMaxHlc_;
  batchMaxHlc_ = 0;
  uint64_t now = nowMs();
  for (auto& [id, p] : peers_) {
    if (p->outbox.idle()) p->oldestUnackedSinceMs = now;
    if (!p->outbox.push(batchSeq_, frame, maxHlc)) {
      if (p->outbox.overflowed()) {
        spdlog::warn(
            "mesh: peer {} is {} bytes behind: live stream paused until anti-entropy "
            "repairs it",
            id, opts_.windowBytes);
      }
      continue;
    }
    pump(*p);
  }
  ++batchesSent_;
}

void MeshCluster::pump(Peer& p) {
  if (p.link == nullptr) return;
  while (p.link->writable()) {
    const Outbox::Entry* e = p.outbox.nextToSend();
    if (e == nullptr) break;
    std::string head;
    head.reserve(256);
    head.append("POST /_mesh/replicate HTTP/1.1\r\nHost: ");
    head.append(p.host);
    head.append("\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
    head.append(std::to_string(e->frame->size()));
    head.append("\r\nX-Mesh-From: ");
    head.append(opts_.nodeId);
    if (auth_.enabled()) {
      head.append("\r\nX-Mesh-Auth: ");
      head.append(auth_.sign("POST", "/_mesh/replicate", "", *e->frame, wallMs()));
    }
    head.append("\r\n\r\n");
    p.link->send(std::move(head), e->frame);
    p.outbox.markSent();
  }
}

void MeshCluster::onLinkConnected(PeerLink& link) {
  Peer* p = peer(link.peerId());
  if (p == nullptr) return;
  p->outbox.rewind();
  pump(*p);
}

void MeshCluster::onLinkAck(PeerLink& link, uint64_t seq) {
  Peer* p = peer(link.peerId());
  if (p == nullptr) return;
  p->outbox.ack(seq);
  p->lastAckMs = nowMs();
  if (!p->outbox.idle()) p->oldestUnackedSinceMs = p->lastAckMs;
  membership_.contact(p->id, p->lastAckMs);
  settleWaiters(p->id, seq);
  pump(*p);
  if (leaveComplete()) finishClose();
}

void MeshCluster::onLinkWritable(PeerLink& link) {
  if (Peer* p = peer(link.peerId())) pump(*p);
}

void MeshCluster::onLinkDown(PeerLink&, const std::string&) {}

MeshCluster::Peer* MeshCluster::peer(const std::string& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

void MeshCluster::awaitReplication(const Mutation&, WriteConcern w,
                                   std::function<void(bool ok, int acked)> done) {
  // The write was just added to the current batch: it travels with seq batchSeq_ + 1 (or
  // batchSeq_ when its batch was flushed already because it filled up).
  uint64_t seq = batch_.empty() ? batchSeq_ : batchSeq_ + 1;
  int n = 1 + static_cast<int>(peers_.size());
  int needed = w == WriteConcern::kAll ? n : w == WriteConcern::kQuorum ? n / 2 + 1 : 1;
  if (needed <= 1 || phase_ == Phase::kClosed) {
    done(phase_ != Phase::kClosed, 1);
    return;
  }
  Waiter wt{seq, needed, 1, {}, nowMs() + opts_.replicationTimeoutMs, std::move(done)};
  for (const auto& [id, p] : peers_) {
    if (p->outbox.ackedSeq() >= seq) {
      ++wt.acked;
    } else {
      wt.waitingFor.push_back(id);
    }
  }
  if (wt.acked >= wt.needed) {
    wt.done(true, wt.acked);
    return;
  }
  waiters_.push_back(std::move(wt));
  armWaiterTimer();
}

void MeshCluster::settleWaiters(const std::string& peerId, uint64_t seq) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->seq <= seq) {
      auto pos = std::find(it->waitingFor.begin(), it->waitingFor.end(), peerId);
      if (pos != it->waitingFor.end()) {
        it->waitingFor.erase(pos);
        ++it->acked;
      }
    }
    if (it->acked >= it->needed) {
      auto done = std::move(it->done);
      int acked = it->acked;
      it = waiters_.erase(it);
      done(true, acked);
    } else {
      ++it;
    }
  }
}

void MeshCluster::peerGone(const std::string& peerId) {
  // A dead or departed peer no longer counts: w=all waits for the nodes still alive.
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto pos = std::find(it->waitingFor.begin(), it->waitingFor.end(), peerId);
    if (pos != it->waitingFor.end()) {
      it->waitingFor.erase(pos);
      it->needed = std::min(it->needed, it->acked + static_cast<int>(it->waitingFor.size()));
      it->needed = std::max(it->needed, 1);
    }
    if (it->acked >= it->needed) {
      auto done = std::move(it->done);
      int acked = it->acked;
      it = waiters_.erase(it);
      done(true, acked);
    } else {
      ++it;
    }
  }
}

void MeshCluster::armWaiterTimer() {
  if (waiters_.empty() || phase_ == Phase::kClosed) return;
  uint64_t earliest = UINT64_MAX;
  for (const auto& w : waiters_) earliest = std::min(earliest, w.deadlineMs);
  uint64_t now = nowMs();
  uv_timer_start(&waiterTimer_, &MeshCluster::onWaiterTimer, earliest > now ? earliest - now : 0,
                 0);
}

void MeshCluster::onWaiterTimer(uv_timer_t* t) noexcept {
  auto* self = static_cast<MeshCluster*>(t->data);
  uint64_t now = self->nowMs();
  for (auto it = self->waiters_.begin(); it != self->waiters_.end();) {
    if (it->deadlineMs <= now) {
      auto done = std::move(it->done);
      int acked = it->acked;
      it = self->waiters_.erase(it);
      done(false, acked);
    } else {
      ++it;
    }
  }
  self->armWaiterTimer();
}

// ---------------------------------------------------------------------------------------------
// Membership: join, probes, gossip
// ---------------------------------------------------------------------------------------------

void MeshCluster::onMemberChange(const Member& m, MemberState before, bool isNew) {
  if (m.live()) {
    if (peers_.count(m.id) == 0) {
      auto url = common::parseHttpUrl(m.url);
      if (!url.ok()) {
        spdlog::warn("mesh: member {} has an unusable URL '{}'", m.id, m.url);
        return;
      }
      auto p = std::make_unique<Peer>(opts_.windowBytes);
      p->id = m.id;
      p->url = m.url;
      p->host = url->host;
      p->port = url->port;
      p->link = new PeerLink(loop_, m.id, url->host, url->port, this, opts_.reconnectMinMs,
                             opts_.reconnectMaxMs);
      p->link->start();
      p->repairSoon = phase_ == Phase::kReady;
      peers_.emplace(m.id, std::move(p));
      spdlog::info("mesh: {} {} ({}), incarnation {}", m.id, isNew ? "joined" : "is back", m.url,
                   m.incarnation);
    } else if (Peer* p = peer(m.id); p != nullptr && p->url != m.url) {
      // Restarted elsewhere (a new port or address) before anyone declared it dead: the stream
      // follows it; everything un-acked is sent again to the new address.
      auto url = common::parseHttpUrl(m.url);
      if (!url.ok()) return;
      spdlog::info("mesh: {} moved from {} to {}", m.id, p->url, m.url);
      if (p->link != nullptr) p->link->destroy();
      p->url = m.url;
      p->host = url->host;
      p->port = url->port;
      p->ready = false;
      p->outbox.rewind();
      p->link = new PeerLink(loop_, m.id, url->host, url->port, this, opts_.reconnectMinMs,
                             opts_.reconnectMaxMs);
      p->link->start();
    } else if (m.state == MemberState::kSuspect && before != MemberState::kSuspect) {
      spdlog::warn("mesh: {} is suspect (incarnation {})", m.id, m.incarnation);
    } else if (m.state == MemberState::kAlive && before == MemberState::kSuspect) {
      spdlog::info("mesh: {} refuted suspicion (incarnation {})", m.id, m.incarnation);
    }
    return;
  }
  auto it = peers_.find(m.id);
  if (it != peers_.end()) {
    if (it->second->link != nullptr) it->second->link->destroy();
    peers_.erase(it);
  }
  spdlog::warn("mesh: {} is {} (incarnation {})", m.id, memberStateName(m.state), m.incarnation);
  peerGone(m.id);
}

std::string MeshCluster::gossipJson(bool withInfo) const {
  std::string s;
  s.reserve(256 + 128 * peers_.size());
  s.append("{\"from\":");
  json::appendString(s, opts_.nodeId);
  s.append(",\"members\":[");
  bool first = true;
  for (const auto& u : membership_.gossip()) {
    if (!first) s.push_back(',');
    first = false;
    s.append("{\"id\":");
    json::appendString(s, u.id);
    s.append(",\"url\":");
    json::appendString(s, u.url);
    s.append(",\"state\":\"");
    s.append(memberStateName(u.state));
    s.append("\",\"inc\":");
    json::appendUint(s, u.incarnation);
    s.push_back('}');
  }
  s.push_back(']');
  if (withInfo) {
    s.append(",\"ready\":");
    s.append(ready_ ? "true" : "false");
    s.append(",\"delivered\":");
    uint64_t stable = stableHlc();
    uint64_t delivered = stable;
    for (const auto& [id, p] : peers_) {
      delivered = std::min(delivered, p->outbox.deliveredHlc(stable));
    }
    json::appendUint(s, delivered);
    s.append(",\"digest\":\"");
    s.append(hex64(store_->rootDigest()));
    s.push_back('"');
  }
  s.push_back('}');
  return s;
}

bool MeshCluster::mergeGossip(std::string_view body, std::string* fromId) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) return false;
  uint64_t now = nowMs();
  std::string from;
  if (d.HasMember("from") && d["from"].IsString()) from = d["from"].GetString();
  if (fromId != nullptr) *fromId = from;
  if (d.HasMember("members") && d["members"].IsArray()) {
    for (const auto& e : d["members"].GetArray()) {
      if (!e.IsObject() || !e.HasMember("id") || !e["id"].IsString() || !e.HasMember("url") ||
          !e["url"].IsString() || !e.HasMember("state") || !e["state"].IsString() ||
          !e.HasMember("inc") || !e["inc"].IsUint64()) {
        continue;
      }
      auto st = parseMemberState(e["state"].GetString());
      if (!st) continue;
      MemberUpdate u{e["id"].GetString(), e["url"].GetString(), *st, e["inc"].GetUint64()};
      if (u.id.empty() || u.id.size() > wire::kMaxOriginBytes) continue;
      membership_.apply(u, now);
    }
  }
  if (!from.empty() && from != opts_.nodeId) {
    membership_.contact(from, now);
    lastPeerContactMs_ = now;
    if (Peer* p = peer(from)) {
      if (d.HasMember("ready") && d["ready"].IsBool()) p->ready = d["ready"].GetBool();
      if (d.HasMember("delivered") && d["delivered"].IsUint64()) {
        p->deliveredHlc = d["delivered"].GetUint64();
      }
      if (d.HasMember("digest") && d["digest"].IsString()) p->digest = d["digest"].GetString();
      // A peer first met while both were serving (two clusters merging): repair with it now
      // rather than at its turn, since the two may differ by far more than in-flight writes.
      if (p->ready && p->repairSoon && now - lastAeStartMs_ >= kEagerRepairGapMs) aeTick();
    }
  }
  return true;
}

void MeshCluster::post(const std::string& url, std::string path, std::string query,
                       std::string body, uint64_t timeoutMs,
                       std::function<void(common::http::ClientResponse&&)> done) {
  common::http::ClientRequest req;
  req.method = "POST";
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + path + (query.empty() ? "" : "?" + query);
  req.headers.push_back("Content-Type: application/octet-stream");
  req.headers.push_back("X-Mesh-From: " + opts_.nodeId);
  if (auth_.enabled()) {
    req.headers.push_back(std::string(kMeshAuthHeader) + ": " +
                          auth_.sign("POST", path, query, body, wallMs()));
  }
  req.body = std::move(body);
  req.connectTimeoutMs = static_cast<long>(std::min<uint64_t>(timeoutMs, 1000));
  req.timeoutMs = static_cast<long>(timeoutMs);
  req.maxResponseBytes = 256u << 20;
  req.freshConnection = url == opts_.meshNetworkUrl;  // the balancer picks anew each time
  client_->send(std::move(req), std::move(done));
}

void MeshCluster::attemptJoin() {
  if (phase_ != Phase::kJoining) return;
  ++joinAttempts_;
  post(opts_.meshNetworkUrl, "/_mesh/join", "", gossipJson(true), opts_.requestTimeoutMs,
       [this](common::http::ClientResponse&& r) {
         if (phase_ != Phase::kJoining) return;
         std::string from;
         if (!r.error.empty() || r.status != 200 || !mergeGossip(r.body, &from)) {
           spdlog::info(
               "mesh: join through {} failed (attempt {}): {}", opts_.meshNetworkUrl, joinAttempts_,
               r.error.empty() ? "HTTP " + std::to_string(r.status) + " " + r.body : r.error);
           joinDone(false, false);
           return;
         }
         joinDone(true, from == opts_.nodeId);
       });
}

void MeshCluster::joinDone(bool ok, bool reachedSelf) {
  if (ok && !reachedSelf) {
    spdlog::info("mesh: joined; {} members known", membership_.members().size() + 1);
    subscribeAll();
    return;
  }
  if (reachedSelf) spdlog::info("mesh: the join request reached this node itself; retrying");
  // Nobody else answers (first node of a cluster, or the balancer only knows us): after a few
  // attempts this node's (empty) store is the truth; joins keep being retried from probes.
  bool othersKnown = !peers_.empty();
  if (othersKnown) {
    subscribeAll();
    return;
  }
  if (joinAttempts_ >= kJoinAttemptsBeforeAlone) {
    becomeReady("no other node answered: starting a new cluster");
    return;
  }
  uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, reachedSelf ? 10 : joinBackoffMs_, 0);
  joinBackoffMs_ = std::min(joinBackoffMs_ * 2, opts_.joinRetryMs * 8);
}

void MeshCluster::onJoinTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->attemptJoin();
}

void MeshCluster::subscribeAll() {
  // Register with every live member directly, so each of them streams its writes to us from now
  // on; only then copy a snapshot (nothing written meanwhile can be missed).
  phase_ = Phase::kSubscribing;
  auto pending = std::make_shared<int>(0);
  auto best = std::make_shared<std::string>();
  std::string body = gossipJson(true);
  std::vector<std::string> targets;
  for (const auto& [id, p] : peers_) targets.push_back(id);
  if (targets.empty()) {
    becomeReady("no live peer to copy from");
    return;
  }
  *pending = static_cast<int>(targets.size());
  for (const auto& id : targets) {
    Peer* p = peer(id);
    post(p->url, "/_mesh/join", "", body, opts_.requestTimeoutMs,
         [this, pending, best, id](common::http::ClientResponse&& r) {
           if (phase_ != Phase::kSubscribing) return;
           std::string from;
           if (r.error.empty() && r.status == 200 && mergeGossip(r.body, &from) && from == id) {
             Peer* q = peer(id);
             if (q != nullptr && (best->empty() || q->ready)) *best = id;
           }
           if (--*pending == 0) {
             if (best->empty()) {
               spdlog::warn("mesh: no member answered the subscription; retrying the join");
               phase_ = Phase::kJoining;
               uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, joinBackoffMs_, 0);
               return;
             }
             startSnapshot(*best);
           }
         });
  }
}

void MeshCluster::onProbeTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->probeTick();
}

void MeshCluster::probeTick() {
  if (phase_ == Phase::kLeaving || phase_ == Phase::kClosed) return;
  uint64_t now = nowMs();
  membership_.tick(now);
  // Alone (or everybody else dead): keep knocking at the join URL, so split clusters merge.
  // Alone: knock every tick. With peers: now and then too, since two groups that each formed
  // on their own (nodes started together, nobody reachable yet) would otherwise never meet.
  if (phase_ == Phase::kReady && (peers_.empty() || ++knockTick_ % kKnockEveryTicks == 0)) {
    knock(peers_.empty() ? kKnockTries : 1);
  }
  auto target = membership_.nextProbeTarget();
  if (target) probe(*target);
}

void MeshCluster::knock(int triesLeft) {
  // Through a round-robin balancer, nodes knocking in step can each be handed to themselves
  // every time (two nodes, two backends): a knock that reached this node is retried at once,
  // which moves it to the next backend.
  post(opts_.meshNetworkUrl, "/_mesh/join", "", gossipJson(true), opts_.probeTimeoutMs,
       [this, triesLeft](common::http::ClientResponse&& r) {
         if (phase_ != Phase::kReady || !r.error.empty() || r.status != 200) return;
         std::string from;
         if (!mergeGossip(r.body, &from)) return;
         if (from == opts_.nodeId && triesLeft > 1) knock(triesLeft - 1);
       });
}

void MeshCluster::sendPing(const std::string& url, uint64_t timeoutMs,
                           std::function<void(bool ok)> done) {
  post(url, "/_mesh/ping", "", gossipJson(true), timeoutMs,
       [this, done = std::move(done)](common::http::ClientResponse&& r) {
         if (phase_ == Phase::kClosed) return;
         bool ok = r.error.empty() && r.status == 200 && mergeGossip(r.body, nullptr);
         done(ok);
       });
}

void MeshCluster::probe(const std::string& id) {
  const Member* m = membership_.find(id);
  if (m == nullptr) return;
  std::string url = m->url;
  bool wasDead = m->state == MemberState::kDead;
  sendPing(url, opts_.probeTimeoutMs, [this, id, wasDead](bool ok) {
    if (ok || wasDead) return;
    // Indirect probes: ask up to k others to reach it for us.
    auto helpers = membership_.indirectHelpers(id, opts_.indirectProbes);
    if (helpers.empty()) {
      membership_.probeFailed(id, nowMs());
      return;
    }
    const Member* target = membership_.find(id);
    if (target == nullptr) return;
    std::string body = "{\"target\":";
    json::appendString(body, id);
    body.append(",\"url\":");
    json::appendString(body, target->url);
    body.push_back('}');
    auto state = std::make_shared<std::pair<int, bool>>(static_cast<int>(helpers.size()), false);
    for (const auto& h : helpers) {
      const Member* hm = membership_.find(h);
      if (hm == nullptr) {
        --state->first;
        continue;
      }
      post(hm->url, "/_mesh/ping-req", "", body, opts_.probeTimeoutMs * 2,
           [this, id, state](common::http::ClientResponse&& r) {
             if (phase_ == Phase::kClosed) return;
             if (r.error.empty() && r.status == 200 &&
                 r.body.find("\"ok\":true") != std::string::npos) {
               state->second = true;
               membership_.contact(id, nowMs());
             }
             if (--state->first == 0 && !state->second) membership_.probeFailed(id, nowMs());
           });
    }
    if (state->first == 0) membership_.probeFailed(id, nowMs());
  });
}

void MeshCluster::contactSeed(const std::string& url) {
  post(url, "/_mesh/ping", "", gossipJson(true), opts_.probeTimeoutMs * 2,
       [this](common::http::ClientResponse&& r) {
         if (phase_ == Phase::kClosed) return;
         if (r.error.empty() && r.status == 200) mergeGossip(r.body, nullptr);
       });
}

// ---------------------------------------------------------------------------------------------
// Catch-up (snapshot) and anti-entropy
// ---------------------------------------------------------------------------------------------

void MeshCluster::startSnapshot(const std::string& peerId) {
  phase_ = Phase::kSnapshot;
  snapshotPeer_ = peerId;
  snapshotRecords_ = 0;
  snapshotFetched_ = false;
  spdlog::info("mesh: copying a snapshot from {}", peerId);
  fetchPage(peerId, "");
}

void MeshCluster::fetchPage(const std::string& peerId, std::string cursor) {
  Peer* p = peer(peerId);
  if (p == nullptr) {
    spdlog::warn("mesh: snapshot source {} went away; joining again", peerId);
    phase_ = Phase::kJoining;
    attemptJoin();
    return;
  }
  std::string query = "cursor=";
  common::urlEncode(cursor, query);
  post(p->url, "/_mesh/snapshot", query, "", opts_.requestTimeoutMs * 2,
       [this, peerId](common::http::ClientResponse&& r) {
         if (phase_ != Phase::kSnapshot) return;
         if (!r.error.empty() || r.status != 200) {
           spdlog::warn("mesh: snapshot page from {} failed: {}; starting over", peerId,
                        r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error);
           phase_ = Phase::kJoining;
           uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, joinBackoffMs_, 0);
           return;
         }
         auto f = wire::validateFrame(r.body, wire::FrameType::kSnapshot);
         if (!f.ok()) {
           spdlog::error("mesh: corrupt snapshot page from {}: {}", peerId, f.error().code);
           phase_ = Phase::kJoining;
           uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, joinBackoffMs_, 0);
           return;
         }
         // Ask for the next page first, apply this one on the next loop turn: the peer cuts
         // page N+1 while we apply page N.
         std::string next(f->extra);
         pagesToApply_.push_back(std::move(r.body));
         if (!next.empty()) {
           fetchPage(peerId, std::move(next));
         } else {
           snapshotFetched_ = true;
         }
         uv_timer_start(&applyTimer_, &MeshCluster::onApplyTimer, 0, 0);
       });
}

void MeshCluster::onApplyTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->applyPages();
}

void MeshCluster::applyPages() {
  while (!pagesToApply_.empty()) {
    std::string body = std::move(pagesToApply_.front());
    pagesToApply_.pop_front();
    auto f = wire::validateFrame(body, wire::FrameType::kSnapshot);
    if (!f.ok()) continue;  // validated on arrival
    wire::forEachRecord(*f, [&](const wire::RecordRef& m) { store_->applyRemote(m); });
    snapshotRecords_ += f->count;
  }
  if (!snapshotFetched_ || phase_ != Phase::kSnapshot) return;
  snapshotFetched_ = false;
  spdlog::info("mesh: snapshot from {} done: {} records in {} ms; verifying", snapshotPeer_,
               snapshotRecords_, uv_hrtime() / 1000000 - catchUpStartedMs_);
  phase_ = Phase::kVerifying;
  antiEntropyWith(snapshotPeer_, [this](bool ok) {
    if (phase_ != Phase::kVerifying) return;
    becomeReady(ok ? "snapshot copied and verified"
                   : "snapshot copied (verification failed; periodic anti-entropy will repair)");
  });
}

void MeshCluster::becomeReady(const char* why) {
  if (phase_ == Phase::kLeaving || phase_ == Phase::kClosed) return;
  phase_ = Phase::kReady;
  ready_ = true;
  readyAtMs_ = uv_hrtime() / 1000000;
  spdlog::info("mesh: ready after {} ms ({})", readyAtMs_ - catchUpStartedMs_, why);
}

void MeshCluster::onAeTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->aeTick();
}

void MeshCluster::aeTick() {
  if (phase_ != Phase::kReady) return;
  collectTombstones();
  if (aeRunning_ || peers_.empty()) return;
  // Round robin over live peers; a peer whose outbox overflowed goes first.
  std::string target;
  for (const auto& [id, p] : peers_) {
    if (p->outbox.needsRepair() && p->ready) target = id;
  }
  if (target.empty()) {  // then a peer met while we were serving (a merge)
    for (auto& [id, p] : peers_) {
      if (p->ready && p->repairSoon) {
        target = id;
        p->repairSoon = false;
        break;
      }
    }
  }
  if (target.empty()) {
    std::vector<const std::string*> ready;
    for (const auto& [id, p] : peers_) {
      if (p->ready) ready.push_back(&id);
    }
    if (ready.empty()) return;  // peers still catching up compare with us when they are ready
    target = *ready[aeCursor_++ % ready.size()];
  }
  lastAeStartMs_ = nowMs();
  antiEntropyWith(target, [](bool) {});
}

void MeshCluster::antiEntropyWith(const std::string& peerId, std::function<void(bool ok)> done) {
  Peer* p = peer(peerId);
  if (p == nullptr || aeRunning_) {
    done(false);
    return;
  }
  aeRunning_ = true;
  uint64_t startHlc = store_->lastHlc();
  // A peer whose stream overflowed gets batches again from now on; this round covers the rest.
  if (p->outbox.overflowed()) p->outbox.reopen();
  // Step 1: our root hash; an equal peer answers "=" and the round ends there.
  std::string summary = store_->digestSummary();
  size_t sent = summary.size();
  post(p->url, "/_mesh/digest", "", std::move(summary), opts_.requestTimeoutMs,
       [this, peerId, startHlc, sent,
        done = std::move(done)](common::http::ClientResponse&& r) mutable {
         if (phase_ == Phase::kClosed) return;
         if (!r.error.empty() || r.status != 200) {
           aeRunning_ = false;
           spdlog::debug("mesh: anti-entropy with {} failed: {} {}", peerId, r.status, r.error);
           done(false);
           return;
         }
         size_t bytes = sent + r.body.size();
         auto plan = store_->repairPlan(r.body);
         if (!plan.ok()) {
           aeRunning_ = false;
           spdlog::warn("mesh: bad digest from {}: {}", peerId, plan.error().code);
           done(false);
           return;
         }
         if (plan->equal) {
           aeRunning_ = false;
           ++aeRounds_;
           aeBytes_ = bytes;
           if (Peer* q = peer(peerId)) q->outbox.repaired(startHlc);
           done(true);
           return;
         }
         // Step 2: push our records of the differing segments (and our clear mark); the peer
         // answers with its own records of the same segments.
         std::string records = store_->segmentRecords(plan->segments);
         bytes += records.size();
         Peer* q = peer(peerId);
         if (q == nullptr) {
           aeRunning_ = false;
           done(false);
           return;
         }
         size_t differing = plan->differing;
         size_t repairing = plan->segments.count();
         post(q->url, "/_mesh/repair", "", std::move(records), opts_.requestTimeoutMs * 2,
              [this, peerId, startHlc, bytes, differing, repairing,
               done = std::move(done)](common::http::ClientResponse&& r2) mutable {
                if (phase_ == Phase::kClosed) return;
                aeRunning_ = false;
                if (!r2.error.empty() || r2.status != 200) {
                  done(false);
                  return;
                }
                auto f = wire::validateFrame(r2.body, wire::FrameType::kRecords);
                if (!f.ok()) {
                  spdlog::warn("mesh: corrupt repair answer from {}: {}", peerId, f.error().code);
                  done(false);
                  return;
                }
                size_t applied = 0;
                wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
                  applied += store_->applyRepair(m) == ApplyResult::kApplied ? 1 : 0;
                });
                ++aeRounds_;
                aeBytes_ = bytes + r2.body.size();
                spdlog::info(
                    "mesh: anti-entropy with {}: {} segments differed, {} repaired, {} "
                    "records received ({} changed ours), {} bytes",
                    peerId, differing, repairing, f->count, applied, aeBytes_);
                // Every segment repaired: the peer has all we had at the start of the round.
                if (repairing == differing) {
                  if (Peer* q2 = peer(peerId)) q2->outbox.repaired(startHlc);
                }
                done(true);
              });
       });
}

void MeshCluster::collectTombstones() {
  if (phase_ != Phase::kReady) return;
  // A tombstone may go once every live node has it: each node reports `delivered`, the HLC up
  // to which all of its own writes were acknowledged by all of its live peers; the minimum over
  // the live nodes (us included) bounds what everybody has. Never before the grace period.
  uint64_t stable = stableHlc();
  uint64_t horizon = stable;
  for (const auto& [id, p] : peers_) {
    horizon = std::min(horizon, p->outbox.deliveredHlc(stable));
    horizon = std::min(horizon, p->deliveredHlc);
  }
  if (horizon <= lastGcHorizon_) return;  // nothing new to collect (each pass is an O(n) walk)
  lastGcHorizon_ = horizon;
  size_t n = store_->collectTombstones(horizon, opts_.tombstoneGraceMs);
  tombstonesDropped_ += n;
  if (n > 0) spdlog::debug("mesh: dropped {} tombstones", n);
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

bool MeshCluster::authorized(const common::http::Request& req, common::http::Responder& r) {
  if (phase_ == Phase::kClosed) {
    r.respond(503, json::errorBody("LEAVING"));
    return false;
  }
  if (auth_.verify(req.header("x-mesh-auth"), "POST", req.path, req.query, req.body, wallMs())) {
    return true;
  }
  spdlog::warn("mesh: refused {} from {}: bad or missing X-Mesh-Auth", req.path,
               req.header("x-mesh-from"));
  r.respond(401, json::errorBody("MESH_AUTH_FAILED"));
  return false;
}

void MeshCluster::registerRoutes(common::http::Server& server) {
  server_ = &server;
  using common::http::Request;
  using common::http::Responder;
  server.route("/_mesh/replicate",
               [this](const Request& q, Responder r) { handleReplicate(q, std::move(r)); });
  server.route("/_mesh/join",
               [this](const Request& q, Responder r) { handlePing(q, std::move(r), true); });
  server.route("/_mesh/ping",
               [this](const Request& q, Responder r) { handlePing(q, std::move(r), false); });
  server.route("/_mesh/ping-req",
               [this](const Request& q, Responder r) { handlePingReq(q, std::move(r)); });
  server.route("/_mesh/leave",
               [this](const Request& q, Responder r) { handleLeave(q, std::move(r)); });
  server.route("/_mesh/snapshot",
               [this](const Request& q, Responder r) { handleSnapshot(q, std::move(r)); });
  server.route("/_mesh/digest",
               [this](const Request& q, Responder r) { handleDigest(q, std::move(r)); });
  server.route("/_mesh/repair",
               [this](const Request& q, Responder r) { handleRepair(q, std::move(r)); });
  server.route("/ping",
               [this](const Request& q, Responder r) { handlePublicPing(q, std::move(r)); });
}

void MeshCluster::handleReplicate(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  auto f = wire::validateFrame(req.body, wire::FrameType::kBatch);
  if (!f.ok()) {
    ++batchesRefused_;
    spdlog::warn("mesh: refused a batch from {}: {} {}", req.header("x-mesh-from"), f.error().code,
                 f.error().message);
    r.respond(400, json::errorBody("BAD_BATCH"), "application/json",
              {{"X-Mesh-Error", f.error().code}});
    return;
  }
  uint64_t refused = 0;
  wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
    refused += store_->applyRemote(m) == ApplyResult::kRefusedClock ? 1 : 0;
  });
  if (refused > 0) {
    clockRefusals_ += refused;
    spdlog::warn(
        "mesh: refused {} records from {} stamped more than {} ms ahead of our clock "
        "(anti-entropy retries them once the clocks agree)",
        refused, req.header("x-mesh-from"), opts_.maxClockDriftMs);
  }
  ++batchesApplied_;
  std::string from(req.header("x-mesh-from"));
  if (!from.empty()) {
    membership_.contact(from, nowMs());
    lastPeerContactMs_ = nowMs();
  }
  std::string body = "{\"ack\":";
  json::appendUint(body, f->seq);
  body.push_back('}');
  r.respond(200, body);
}

void MeshCluster::handlePing(const common::http::Request& req, common::http::Responder r,
                             bool join) {
  if (!authorized(req, r)) return;
  std::string from;
  if (!mergeGossip(req.body, &from)) {
    r.respond(400, json::errorBody("BAD_GOSSIP"));
    return;
  }
  if (join && from != opts_.nodeId) spdlog::debug("mesh: join request from {}", from);
  r.respond(200, gossipJson(true));
}

void MeshCluster::handlePingReq(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  rapidjson::Document d;
  d.Parse(req.body.data(), req.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("url") || !d["url"].IsString()) {
    r.respond(400, json::errorBody("BAD_PING_REQ"));
    return;
  }
  std::string url = d["url"].GetString();
  if (!common::parseHttpUrl(url).ok()) {
    r.respond(400, json::errorBody("BAD_PING_REQ"));
    return;
  }
  sendPing(url, opts_.probeTimeoutMs,
           [r](bool ok) mutable { r.respond(200, ok ? "{\"ok\":true}" : "{\"ok\":false}"); });
}

void MeshCluster::handleLeave(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  mergeGossip(req.body, nullptr);
  r.respond(200, "{\"success\":true}");
}

void MeshCluster::handleSnapshot(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  std::string cursor = queryParam(req.query, "cursor");
  auto page = store_->snapshotPage(cursor, opts_.snapshotPageBytes);
  if (!page.ok()) {
    r.respond(400, json::errorBody(page.error().code));
    return;
  }
  r.respond(200, std::move(page.value()), kOctet);
}

void MeshCluster::handleDigest(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  auto answer = store_->answerDigest(req.body);
  if (!answer.ok()) {
    r.respond(400, json::errorBody(answer.error().code));
    return;
  }
  r.respond(200, std::move(answer.value()), kOctet);
}

void MeshCluster::handleRepair(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  auto f = wire::validateFrame(req.body, wire::FrameType::kRecords);
  if (!f.ok()) {
    r.respond(400, json::errorBody("BAD_RECORDS"));
    return;
  }
  // Our records for the same segments first (before applying theirs: we send what we had).
  auto segments = StoreBridge::segmentsFromExtra(f->extra);
  if (!segments.ok()) {
    r.respond(400, json::errorBody("BAD_SEGMENTS"));
    return;
  }
  std::string ours = store_->segmentRecords(*segments);
  wire::forEachRecord(*f, [&](const wire::RecordRef& m) { store_->applyRepair(m); });
  r.respond(200, std::move(ours), kOctet);
}

void MeshCluster::handlePublicPing(const common::http::Request& req, common::http::Responder r) {
  // The original's public route: merge the `nodes` list received (h:p|h:p), answer ours.
  std::string nodes = queryParam(req.query, "nodes");
  size_t start = 0;
  int contacted = 0;
  while (start <= nodes.size() && !nodes.empty() && contacted < 64) {
    size_t bar = nodes.find('|', start);
    std::string hp =
        nodes.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    start = bar == std::string::npos ? nodes.size() + 1 : bar + 1;
    if (hp.empty()) continue;
    std::string url = hp.rfind("http://", 0) == 0 ? hp : "http://" + hp;
    auto parsed = common::parseHttpUrl(url);
    if (!parsed.ok()) continue;
    bool known = url == opts_.advertiseUrl;
    for (const auto& [id, m] : membership_.members()) known = known || m.url == url;
    if (!known) {
      contactSeed(url);
      ++contacted;
    }
  }
  std::string s = "{\"nodes\":[";
  bool first = true;
  auto add = [&](const Member& m, bool self) {
    auto u = common::parseHttpUrl(m.url);
    if (!first) s.push_back(',');
    first = false;
    s.append("{\"host\":");
    json::appendString(s, u.ok() ? u->host : m.url);
    s.append(",\"port\":");
    json::appendInt(s, u.ok() ? u->port : 0);
    s.append(",\"isDown\":");
    s.append(m.live() ? "false" : "true");
    s.append(",\"source\":");
    json::appendString(s, self ? "self" : "mesh");
    s.append(",\"id\":");
    json::appendString(s, m.id);
    s.append(",\"state\":\"");
    s.append(memberStateName(m.state));
    s.append("\"}");
  };
  add(membership_.self(), true);
  for (const auto& [id, m] : membership_.members()) add(m, false);
  s.append("]}");
  r.respond(200, s);
}

void MeshCluster::appendStatus(std::string& s) const {
  uint64_t now = nowMs();
  s.append(",\"ready\":");
  s.append(ready_ ? "true" : "false");
  s.append(",\"mesh\":{\"nodeId\":");
  json::appendString(s, opts_.nodeId);
  s.append(",\"advertiseUrl\":");
  json::appendString(s, opts_.advertiseUrl);
  s.append(",\"incarnation\":");
  json::appendUint(s, membership_.self().incarnation);
  s.append(",\"phase\":\"");
  static const char* kPhase[] = {"idle",      "joining", "subscribing", "snapshot",
                                 "verifying", "ready",   "leaving",     "closed"};
  s.append(kPhase[static_cast<int>(phase_)]);
  s.append("\",\"secured\":");
  s.append(auth_.enabled() ? "true" : "false");
  s.append(",\"digest\":\"");
  s.append(hex64(store_->rootDigest()));
  s.append("\",\"catchUpMs\":");
  json::appendUint(s,
                   readyAtMs_ >= catchUpStartedMs_ && ready_ ? readyAtMs_ - catchUpStartedMs_ : 0);
  s.append(",\"snapshotRecords\":");
  json::appendUint(s, snapshotRecords_);
  s.append(",\"batchesSent\":");
  json::appendUint(s, batchesSent_);
  s.append(",\"batchesApplied\":");
  json::appendUint(s, batchesApplied_);
  s.append(",\"batchesRefused\":");
  json::appendUint(s, batchesRefused_);
  s.append(",\"antiEntropyRounds\":");
  json::appendUint(s, aeRounds_);
  s.append(",\"antiEntropyLastBytes\":");
  json::appendUint(s, aeBytes_);
  s.append(",\"clockRefusals\":");
  json::appendUint(s, clockRefusals_);
  s.append(",\"tombstonesDropped\":");
  json::appendUint(s, tombstonesDropped_);
  s.append("},\"members\":[");
  bool first = true;
  auto add = [&](const Member& m, bool self) {
    if (!first) s.push_back(',');
    first = false;
    s.append("{\"id\":");
    json::appendString(s, m.id);
    s.append(",\"url\":");
    json::appendString(s, m.url);
    s.append(",\"state\":\"");
    s.append(memberStateName(m.state));
    s.append("\",\"incarnation\":");
    json::appendUint(s, m.incarnation);
    s.append(",\"self\":");
    s.append(self ? "true" : "false");
    auto it = peers_.find(m.id);
    if (!self && it != peers_.end()) {
      const Peer& p = *it->second;
      s.append(",\"connected\":");
      s.append(p.link != nullptr && p.link->connected() ? "true" : "false");
      s.append(",\"ready\":");
      s.append(p.ready ? "true" : "false");
      s.append(",\"pendingBatches\":");
      json::appendUint(s, p.outbox.pending());
      s.append(",\"pendingBytes\":");
      json::appendUint(s, p.outbox.bytes());
      s.append(",\"replicationLagMs\":");
      json::appendUint(s, p.outbox.idle() ? 0 : now - p.oldestUnackedSinceMs);
      s.append(",\"overflowed\":");
      s.append(p.outbox.overflowed() ? "true" : "false");
      s.append(",\"digest\":");
      json::appendString(s, p.digest);
    }
    s.push_back('}');
  };
  add(membership_.self(), true);
  for (const auto& [id, m] : membership_.members()) add(m, false);
  s.push_back(']');
}

}  // namespace db

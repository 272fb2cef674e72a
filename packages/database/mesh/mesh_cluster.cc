// MeshCluster, part 1 of 4 (see mesh_cluster.h): construction and lifetime (start, the leave,
// closing every handle), the internal HTTP client call, route registration and authorisation,
// and /status. The other parts: mesh_replication.cc (the live stream and write concerns),
// mesh_gossip.cc (join, probes, member lists), mesh_catchup.cc (snapshot, anti-entropy,
// tombstones), mesh_eviction.cc (members away longer than the tombstone grace period).
#include "database/mesh/mesh_cluster.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;
using mesh_util::hex64;
using mesh_util::kOctet;
using mesh_util::queryParam;

// ---------------------------------------------------------------------------------------------
// Construction and lifetime
// ---------------------------------------------------------------------------------------------

MeshCluster::MeshCluster(uv_loop_t* loop, Keyspace& keyspace, WriteLog& log, MeshOptions opts)
    : loop_(loop),
      keyspace_(keyspace),
      opts_(std::move(opts)),
      membership_(opts_.nodeId, opts_.advertiseUrl,
                  static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()),
                  opts_, std::hash<std::string>{}(opts_.nodeId) ^ uv_hrtime()),
      store_(std::make_unique<StoreBridge>(keyspace, log, opts_.limits)),
      transport_(std::make_unique<MeshTransport>(loop, opts_, membership_,
                                                 static_cast<MeshTransport::Owner&>(*this))),
      replicator_(std::make_unique<Replicator>(loop, opts_, *transport_, membership_, *store_,
                                               static_cast<Replicator::Owner&>(*this))) {
  // Built after recovery (Node), before anything stamps a write. Not the clock's value: replay
  // pulled the clock up to the wall clock of this start, which would make any data look fresh.
  if (keyspace_.size() + keyspace_.tombstoneCount() > 0) recoveredHlc_ = keyspace_.newestHlc();
  uv_timer_init(loop_, &probeTimer_);
  uv_timer_init(loop_, &aeTimer_);
  uv_timer_init(loop_, &joinTimer_);
  uv_timer_init(loop_, &leaveTimer_);
  uv_timer_init(loop_, &applyTimer_);
  uv_timer_init(loop_, &wipeTimer_);
  for (uv_handle_t* h : allHandles()) {
    h->data = this;
    ++handlesOpen_;
  }
  membership_.requireAdmission(true);
  membership_.onChange([this](const Member& m, MemberState before, bool isNew) {
    onMemberChange(m, before, isNew);
  });
  // A dead member that holds tombstone collection stays in the table (and is probed) until it
  // comes back or is evicted.
  membership_.setRetainDead([this](const Member& m) { return holds_.count(m.id) > 0; });
}

MeshCluster::~MeshCluster() {
  // leave() must have run (it closes every handle); a destructor cannot wait for libuv.
  if (handlesOpen_ > 0) spdlog::error("mesh: destroyed with {} open handles", handlesOpen_);
}

std::array<uv_handle_t*, 6> MeshCluster::allHandles() {
  return {
      reinterpret_cast<uv_handle_t*>(&probeTimer_), reinterpret_cast<uv_handle_t*>(&aeTimer_),
      reinterpret_cast<uv_handle_t*>(&joinTimer_),  reinterpret_cast<uv_handle_t*>(&leaveTimer_),
      reinterpret_cast<uv_handle_t*>(&applyTimer_), reinterpret_cast<uv_handle_t*>(&wipeTimer_)};
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
  if (!transport_->secured()) {
    spdlog::warn(
        "mesh: MESH_SECRET is not set: the mesh is OPEN, anyone who reaches this port "
        "can replicate into it");
  }
  catchUpStartedMs_ = uv_hrtime() / 1000000;
  lifeStartMs_ = nowMs();
  uv_timer_start(&probeTimer_, &MeshCluster::onProbeTimer, opts_.probeIntervalMs,
                 opts_.probeIntervalMs);
  uv_timer_start(&aeTimer_, &MeshCluster::onAeTimer, opts_.antiEntropyIntervalMs,
                 opts_.antiEntropyIntervalMs);
  if (opts_.meshNetworkUrl.empty()) {
    // The first node of a cluster: nobody to join or copy from, so it serves at once and the
    // others join through it (its /_mesh routes answer from now on).
    spdlog::info(
        "mesh: node {} (incarnation {}) starts a cluster of one (no MESH_NETWORK_URL); "
        "others join through {}",
        opts_.nodeId, membership_.self().incarnation, opts_.advertiseUrl);
    becomeReady("first node of its cluster");
    return;
  }
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
  replicator_->flush();
  spdlog::info("mesh: leaving ({} live peers told)", replicator_->peers().size());
  // Tell every live peer; wait for their answers (or the leave timer), then close.
  std::string body = gossipJson(true);
  for (const auto& [id, p] : replicator_->peers()) {
    ++leavePending_;
    transport_->post(p->url, "/_mesh/leave", "", body,
                     std::min<uint64_t>(opts_.probeTimeoutMs * 2, 1500),
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
  return phase_ == Phase::kLeaving && leavePending_ == 0 && replicator_->drained();
}

void MeshCluster::onLeaveTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->finishClose();
}

void MeshCluster::finishClose() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  ready_ = false;
  auto closedOne = [this] {
    --handlesOpen_;
    if (handlesOpen_ == 0 && leaveDone_) std::exchange(leaveDone_, nullptr)();
  };
  handlesOpen_ += replicator_->close(closedOne);
  for (uv_handle_t* h : allHandles()) {
    uv_close(h, &MeshCluster::onHandleClosed);
  }
  ++handlesOpen_;
  transport_->close(closedOne);
}

void MeshCluster::onHandleClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<MeshCluster*>(h->data);
  --self->handlesOpen_;
  if (self->handlesOpen_ == 0 && self->leaveDone_) std::exchange(self->leaveDone_, nullptr)();
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

void MeshCluster::registerRoutes(common::http::Server& server) {
  server_ = &server;
  using common::http::Request;
  using common::http::Responder;
  // Mesh routes take bodies up to a frame's size; the public ones keep the server's small default.
  // Before any of that body is read: POST only, and with a secret a present, well-formed proof
  // within the time window (the MAC over the body is checked once it arrived: authorized()).
  auto admit = [this](const Request& head) { return transport_->admit(head); };
  auto addMeshRoute = [&server, admit](std::string path, common::http::Handler h) {
    server.route(std::move(path), std::move(h),
                 {.maxBodyBytes = wire::kMaxFrameBytes, .admit = admit});
  };
  addMeshRoute("/_mesh/replicate", [this](const Request& q, Responder r) {
    replicator_->handleReplicate(q, std::move(r));
  });
  addMeshRoute("/_mesh/join",
               [this](const Request& q, Responder r) { handlePing(q, std::move(r), true); });
  addMeshRoute("/_mesh/ping",
               [this](const Request& q, Responder r) { handlePing(q, std::move(r), false); });
  addMeshRoute("/_mesh/ping-req",
               [this](const Request& q, Responder r) { handlePingReq(q, std::move(r)); });
  addMeshRoute("/_mesh/leave",
               [this](const Request& q, Responder r) { handleLeave(q, std::move(r)); });
  addMeshRoute("/_mesh/snapshot",
               [this](const Request& q, Responder r) { handleSnapshot(q, std::move(r)); });
  addMeshRoute("/_mesh/digest",
               [this](const Request& q, Responder r) { handleDigest(q, std::move(r)); });
  addMeshRoute("/_mesh/repair",
               [this](const Request& q, Responder r) { handleRepair(q, std::move(r)); });
  addMeshRoute("/_mesh/reconcile",
               [this](const Request& q, Responder r) { handleReconcile(q, std::move(r)); });
  server.route("/ping",
               [this](const Request& q, Responder r) { handlePublicPing(q, std::move(r)); });
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
  static const char* kPhase[] = {"idle",      "joining", "subscribing", "snapshot", "verifying",
                                 "repairing", "ready",   "leaving",     "closed"};
  s.append(kPhase[static_cast<int>(phase_)]);
  s.append("\",\"secured\":");
  s.append(transport_->secured() ? "true" : "false");
  s.append(",\"digest\":\"");
  s.append(hex64(store_->rootDigest()));
  s.push_back('"');
  auto counter = [&s](const char* name, uint64_t v) {
    s.append(",\"");
    s.append(name);
    s.append("\":");
    json::appendUint(s, v);
  };
  counter("catchUpMs",
          readyAtMs_ >= catchUpStartedMs_ && ready_ ? readyAtMs_ - catchUpStartedMs_ : 0);
  counter("snapshotRecords", snapshotRecords_);
  // How this life caught up: "snapshot" (empty store), "antiEntropy" (data recovered from
  // DATA_DIR), "tooOld" (recovered data older than the grace period: reset, then a snapshot).
  static const char* kPath[] = {"none", "snapshot", "antiEntropy", "tooOld"};
  s.append(",\"catchUpPath\":\"");
  s.append(kPath[static_cast<int>(catchUpPath_)]);
  s.push_back('"');
  counter("catchUpBytes", catchUpBytes_);
  counter("catchUpRounds", catchUpRounds_);
  const Replicator::Counters& rc = replicator_->counters();
  counter("batchesSent", rc.batchesSent);
  counter("batchesApplied", rc.batchesApplied);
  counter("batchesRefused", rc.batchesRefused);
  // Peer frames (batches, snapshot pages, repairs) refused whole, corrupt or breaking the record
  // rules, and the records in them that broke a rule (see StoreBridge::admit).
  counter("framesRefused", store_->framesRefused());
  counter("recordsRefused", store_->recordsRefused());
  counter("antiEntropyRounds", aeRounds_);
  counter("antiEntropyLastBytes", aeBytes_);
  counter("clockRefusals", rc.clockRefusals);
  counter("tombstonesDropped", tombstonesDropped_);
  counter("tombstones", store_->tombstoneCount());
  counter("epoch", membership_.self().epoch);
  counter("wipes", wipes_);  // this node was evicted and copied the data again
  counter("preservedKept", preservedKept_);
  counter("preservedDropped", preservedDropped_);
  counter("evictions", evictions_);                       // members this node evicted
  counter("forgedAnswers", transport_->forgedAnswers());  // answers refused: no valid proof
  counter("evictionClaims", evictionClaims_.size());      // about this life, not (yet) agreed
  counter("evictionClaimsIgnored", claimsIgnored_);
  // Dead members holding tombstone collection, and the evicted lives this node knows of.
  auto list = [&s](const char* name, const auto& items, const char* field, auto value) {
    s.append(",\"");
    s.append(name);
    s.append("\":[");
    bool first = true;
    for (const auto& [id, item] : items) {
      if (!first) s.push_back(',');
      first = false;
      s.append("{\"id\":");
      json::appendString(s, id);
      s.append(",\"");
      s.append(field);
      s.append("\":");
      json::appendUint(s, value(item));
      s.push_back('}');
    }
    s.push_back(']');
  };
  list("held", holds_, "heldMs", [now](const Hold& h) { return now - h.sinceMs; });
  list("evicted", membership_.evictions(), "epoch", [](uint64_t epoch) { return epoch; });
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
    if (!self) {
      s.append(",\"admitted\":");
      s.append(m.admitted ? "true" : "false");
    }
    auto it = replicator_->peers().find(m.id);
    if (!self && it != replicator_->peers().end()) {
      const Peer& p = *it->second;
      s.append(",\"connected\":");
      s.append(p.link != nullptr && p.link->connected() ? "true" : "false");
      s.append(",\"ready\":");
      s.append(p.ready() ? "true" : "false");
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

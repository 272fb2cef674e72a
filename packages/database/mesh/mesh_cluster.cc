// MeshCluster (see mesh_cluster.h): the coordinator. Construction wires the parts, start() and
// leave() run the node's life, the MeshPhase moves go from one part to the next, member changes
// reach the replicator and the eviction part, and /status is assembled from every part
// (/metrics: mesh_metrics.cc). Loop thread only. The one thing to get right: the parts are
// closed, and their last close callback has run, before MeshCluster is destroyed.
#include "database/mesh/mesh_cluster.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;
using mesh_util::hex64;

// ---------------------------------------------------------------------------------------------
// Construction and lifetime
// ---------------------------------------------------------------------------------------------

MeshCluster::MeshCluster(uv_loop_t* loop, Keyspace& keyspace, WriteLog& log, MeshOptions opts)
    : loop_(loop),
      opts_(std::move(opts)),
      membership_(opts_.nodeId, opts_.advertiseUrl, mesh_util::wallMs(), opts_,
                  std::hash<std::string>{}(opts_.nodeId) ^ uv_hrtime()),
      store_(std::make_unique<StoreBridge>(keyspace, log, opts_.limits)),
      transport_(std::make_unique<MeshTransport>(loop, opts_, membership_,
                                                 static_cast<MeshTransport::Owner&>(*this))),
      replicator_(std::make_unique<Replicator>(loop, opts_, *transport_, membership_, *store_,
                                               static_cast<Replicator::Owner&>(*this))),
      eviction_(std::make_unique<Eviction>(loop, opts_, membership_, *store_, keyspace,
                                           *replicator_, static_cast<MeshPhase&>(*this))),
      antiEntropy_(std::make_unique<AntiEntropy>(loop, opts_, *transport_, *replicator_, *store_,
                                                 *eviction_, static_cast<MeshPhase&>(*this))),
      catchUp_(std::make_unique<CatchUp>(loop, opts_, *transport_, *replicator_, *store_, keyspace,
                                         *antiEntropy_, *eviction_,
                                         static_cast<MeshPhase&>(*this))),
      traffic_(std::make_unique<MembershipTraffic>(loop, opts_, *transport_, membership_,
                                                   *replicator_, *store_, *eviction_, *antiEntropy_,
                                                   static_cast<MeshPhase&>(*this))),
      probeTimer_(loop, [this] { probeTick(); }),
      leaveTimer_(loop, [this] { finishClose(); }) {
  membership_.requireAdmission(true);
  membership_.onChange([this](const Member& m, MemberState before, bool isNew) {
    onMemberChange(m, before, isNew);
  });
  // A dead member that holds tombstone collection stays in the table (and is probed) until it
  // comes back or is evicted.
  membership_.setRetainDead([this](const Member& m) { return eviction_->holds(m.id); });
}

MeshCluster::~MeshCluster() {
  // leave() must have run (it closes every handle); a destructor cannot wait for libuv.
  if (phase_ != Phase::kClosed || leave_.handlesOpen > 0) {
    spdlog::error("mesh: destroyed with open handles (phase {}, {} closing)", phaseName(phase_),
                  leave_.handlesOpen);
  }
}

void MeshCluster::start() {
  if (phase_ != Phase::kIdle) return;
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
  catchUp_->begin();
  eviction_->startLife(nowMs());
  // Members may have come and gone while we were down, unseen by us: expired records go on the
  // tombstones' schedule, here and (gossiped) everywhere, for the grace period (docs/ttl.md),
  // whichever way this node comes to serve (alone, or after catching up).
  if (catchUp_->recovered()) eviction_->holdExpiry(opts_.nodeId, "restarted on its data");
  probeTimer_.start(opts_.probeIntervalMs, opts_.probeIntervalMs);
  antiEntropy_->start();
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
  spdlog::info("mesh: node {} (incarnation {}) joining through {}, advertising {}", opts_.nodeId,
               membership_.self().incarnation, opts_.meshNetworkUrl, opts_.advertiseUrl);
  traffic_->startJoin();
}

void MeshCluster::leave(std::function<void()> done) {
  if (going()) {
    if (done) done();
    return;
  }
  leave_.from = phase_;
  phase_ = Phase::kLeaving;
  leave_.done = std::move(done);
  membership_.leave(nowMs());
  replicator_->flush();
  spdlog::info("mesh: leaving ({} live peers told)", replicator_->peers().size());
  // Tell every live peer; wait for their answers (or the leave timer), then close.
  std::string body = traffic_->gossipJson(true);
  for (const auto& [id, p] : replicator_->peers()) {
    ++leave_.pending;
    transport_->post(p->url, "/_mesh/leave", "", body,
                     std::min<uint64_t>(opts_.probeTimeoutMs * 2, 1500),
                     [this](common::http::ClientResponse&&) {
                       --leave_.pending;
                       if (leaveComplete()) finishClose();
                     });
  }
  leaveTimer_.start(2000);
  if (leaveComplete()) finishClose();
}

bool MeshCluster::leaveComplete() const {
  // Every write this node acknowledged must reach the peers that stay: the leave ends once the
  // announcements were answered AND every peer acknowledged every batch (or the timer fires:
  // an unreachable peer catches up later by anti-entropy from the others).
  return phase_ == Phase::kLeaving && leave_.pending == 0 && replicator_->drained();
}

void MeshCluster::finishClose() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  auto one = [this] { closedOne(); };
  // A guard of one while the parts start closing, so no early callback finishes the count.
  leave_.handlesOpen = 1;
  leave_.handlesOpen += replicator_->close(one);  // writers waiting for acks get answers now
  constexpr int kTimersAndClient = 7;  // 2 timers here, one per part below, the HTTP client
  leave_.handlesOpen += kTimersAndClient;
  probeTimer_.close(one);
  leaveTimer_.close(one);
  traffic_->close(one);
  antiEntropy_->close(one);
  catchUp_->close(one);
  eviction_->close(one);
  transport_->close(one);
  closedOne();  // the guard
}

void MeshCluster::closedOne() {
  if (--leave_.handlesOpen == 0 && leave_.done) std::exchange(leave_.done, nullptr)();
}

// ---------------------------------------------------------------------------------------------
// The moves between phases (MeshPhase)
// ---------------------------------------------------------------------------------------------

void MeshCluster::joinAgain(JoinRetry when) {
  phase_ = Phase::kJoining;
  traffic_->joinAgain(when);
}

void MeshCluster::becomeReady(const char* why) {
  if (going()) return;
  phase_ = Phase::kReady;
  uint64_t took = catchUp_->finish();
  eviction_->lifeServed();
  traffic_->joined();
  spdlog::info("mesh: ready after {} ms ({})", took, why);
}

void MeshCluster::startNewLife(const std::string& url) {
  // The store was wiped (Eviction): forget the old life's replication state (batch, waiters,
  // outboxes), the copy in progress and the collection horizon, then take the path of a new
  // node: join, subscribe, snapshot, verify, ready.
  replicator_->newLife();
  catchUp_->newLife();
  antiEntropy_->newLife();
  phase_ = Phase::kJoining;
  traffic_->rejoinThrough(url);
}

bool MeshCluster::servesData(const common::http::Request& req, common::http::Responder& r,
                             bool takesData) {
  // A node wiped after an eviction holds a partial store until it is ready again: it must not
  // be copied from or compared with. And a node that is not ready takes no repairs: the sender
  // may be an evicted life it has not heard about yet (it thinks we are ready from before our
  // wipe); we get our data from the live stream and from the snapshot we ask for ourselves.
  // (Nodes started together are all not ready and copy each other's empty stores: allowed.)
  // Nodes restarted together on their data (a whole-cluster restart) are all not ready too, and
  // catch up from each other: a node on the recovered-data path merges its source's records by
  // LWW anyway (its rounds' repair answers), so it takes pushed records as well; refusing them
  // left every node waiting for a ready peer forever (found by the chaos test's crash fault).
  bool mergesRecovered = catchUp_->path() == CatchUp::Path::kAntiEntropy;
  bool rejoining = eviction_->life() == Eviction::Life::kRejoining;
  if (!rejoining && (ready() || !takesData || mergesRecovered)) return true;
  transport_->answer(r, req.header("x-mesh-auth"), 503, json::errorBody("NOT_READY"));
  return false;
}

void MeshCluster::probeTick() {
  if (going()) return;
  membership_.tick(nowMs());
  if (phase_ == Phase::kReady) eviction_->checkEvictions();
  eviction_->pruneExpiryHolds();
  antiEntropy_->refreshExpiryHorizon();
  if (eviction_->claimed()) eviction_->maybeWipe();  // our own view of the time away grows
  traffic_->tick();
}

void MeshCluster::onMemberChange(const Member& m, MemberState before, bool isNew) {
  if (m.live() && !m.admitted) {
    // A candidate (new, or at a new address): nothing is sent to it before it proves itself.
    replicator_->unlinkPeer(m.id);
    if (!going()) traffic_->admitSoon(m.id);
    return;
  }
  if (m.live()) {
    // Back (or new): whatever it lacks was kept for it (held), so plain LWW merging is safe.
    if (eviction_->release(m.id)) {
      spdlog::info("mesh: {} is back: tombstones no longer held", m.id);
      eviction_->holdExpiry(m.id, "is back");  // it merges what it holds by LWW
    }
    Peer* p = replicator_->peer(m.id);
    if (p == nullptr) {
      auto url = common::parseHttpUrl(m.url);
      if (!url.ok()) {
        spdlog::warn("mesh: member {} has an unusable URL '{}'", m.id, m.url);
        return;
      }
      replicator_->addPeer(m, phase_ == Phase::kReady ? Peer::Repair::kSoon : Peer::Repair::kNone);
      spdlog::info("mesh: {} {} ({}), incarnation {}", m.id, isNew ? "joined" : "is back", m.url,
                   m.incarnation);
    } else if (p->url != m.url || p->epoch != m.epoch) {
      // Restarted (a new life, maybe at a new address) before anyone declared it dead: the
      // stream follows it; everything un-acked is sent again.
      spdlog::info("mesh: {} restarted or moved: {} -> {}", m.id, p->url, m.url);
      eviction_->holdExpiry(m.id, "restarted");  // on its data, maybe without an unsynced tail
      replicator_->followPeer(*p, m);
    } else if (m.state == MemberState::kSuspect && before != MemberState::kSuspect) {
      spdlog::warn("mesh: {} is suspect (incarnation {})", m.id, m.incarnation);
    } else if (m.state == MemberState::kAlive && before == MemberState::kSuspect) {
      spdlog::info("mesh: {} refuted suspicion (incarnation {})", m.id, m.incarnation);
    }
    return;
  }
  Peer* p = replicator_->peer(m.id);
  if (m.state == MemberState::kDead) {
    if (p != nullptr) eviction_->holdFor(*p, m);
  } else {
    // Left or evicted: no tombstone is kept for it any more (the grace period covers its return),
    // and expired records go on the tombstones' schedule for that long (Eviction::holdExpiry).
    eviction_->holdExpiry(m.id, m.state == MemberState::kLeft ? "left" : "was evicted");
    eviction_->release(m.id);
  }
  if (p != nullptr) replicator_->removePeer(m.id);
  spdlog::warn("mesh: {} is {} (incarnation {})", m.id, memberStateName(m.state), m.incarnation);
  replicator_->peerGone(m.id);
}

// ---------------------------------------------------------------------------------------------
// Routes and /status
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
  addMeshRoute("/_mesh/join", [this](const Request& q, Responder r) {
    traffic_->handlePing(q, std::move(r), true);
  });
  addMeshRoute("/_mesh/ping", [this](const Request& q, Responder r) {
    traffic_->handlePing(q, std::move(r), false);
  });
  addMeshRoute("/_mesh/ping-req",
               [this](const Request& q, Responder r) { traffic_->handlePingReq(q, std::move(r)); });
  addMeshRoute("/_mesh/leave",
               [this](const Request& q, Responder r) { traffic_->handleLeave(q, std::move(r)); });
  addMeshRoute("/_mesh/snapshot", [this](const Request& q, Responder r) {
    catchUp_->handleSnapshot(q, std::move(r));
  });
  addMeshRoute("/_mesh/digest", [this](const Request& q, Responder r) {
    antiEntropy_->handleDigest(q, std::move(r));
  });
  addMeshRoute("/_mesh/repair", [this](const Request& q, Responder r) {
    antiEntropy_->handleRepair(q, std::move(r));
  });
  addMeshRoute("/_mesh/reconcile", [this](const Request& q, Responder r) {
    antiEntropy_->handleReconcile(q, std::move(r));
  });
  server.route("/ping", [this](const Request& q, Responder r) {
    traffic_->handlePublicPing(q, std::move(r));
  });
}

void MeshCluster::appendStatus(std::string& s) const {
  uint64_t now = nowMs();
  s.append(",\"ready\":");
  s.append(ready() ? "true" : "false");
  s.append(",\"mesh\":{\"nodeId\":");
  json::appendString(s, opts_.nodeId);
  s.append(",\"advertiseUrl\":");
  json::appendString(s, opts_.advertiseUrl);
  s.append(",\"incarnation\":");
  json::appendUint(s, membership_.self().incarnation);
  s.append(",\"phase\":\"");
  s.append(phaseName(phase_));
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
  const CatchUp::Progress& cu = catchUp_->progress();
  counter("catchUpMs", catchUp_->tookMs(ready()));
  counter("snapshotRecords", cu.records);
  // How this life caught up: "snapshot" (empty store), "antiEntropy" (data recovered from
  // DATA_DIR), "tooOld" (recovered data older than the grace period: reset, then a snapshot).
  static const char* kPath[] = {"none", "snapshot", "antiEntropy", "tooOld"};
  s.append(",\"catchUpPath\":\"");
  s.append(kPath[static_cast<int>(catchUp_->path())]);
  s.push_back('"');
  counter("catchUpBytes", cu.bytes);
  counter("catchUpRounds", cu.rounds);
  const Replicator::Counters& rc = replicator_->counters();
  counter("batchesSent", rc.batchesSent);
  counter("batchesApplied", rc.batchesApplied);
  counter("batchesRefused", rc.batchesRefused);
  // Peer frames (batches, snapshot pages, repairs) refused whole, corrupt or breaking the record
  // rules, and the records in them that broke a rule (see StoreBridge::admit).
  counter("framesRefused", store_->framesRefused());
  counter("recordsRefused", store_->recordsRefused());
  const AntiEntropy::Counters& ae = antiEntropy_->counters();
  counter("antiEntropyRounds", ae.rounds);
  counter("antiEntropyLastBytes", ae.lastBytes);
  counter("clockRefusals", rc.clockRefusals);
  counter("tombstonesDropped", ae.tombstonesDropped);
  counter("tombstones", store_->tombstoneCount());
  counter("epoch", membership_.self().epoch);
  const Eviction::Counters& ev = eviction_->counters();
  counter("wipes", ev.wipes);  // this node was evicted and copied the data again
  counter("preservedKept", ev.preservedKept);
  counter("preservedDropped", ev.preservedDropped);
  counter("evictions", ev.evictions);                     // members this node evicted
  counter("forgedAnswers", transport_->forgedAnswers());  // answers refused: no valid proof
  counter("evictionClaims", eviction_->claims());         // about this life, not (yet) agreed
  counter("evictionClaimsIgnored", ev.claimsIgnored);
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
  list("held", eviction_->holdsById(), "heldMs",
       [now](const Eviction::Hold& h) { return now - h.sinceMs; });
  // Expiry holds (member events of the last grace period), with the time each has left.
  uint64_t wall = mesh_util::wallMs();
  list("expiryHeld", eviction_->expiryHoldsById(), "leftMs",
       [wall](uint64_t until) { return until > wall ? until - wall : 0; });
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

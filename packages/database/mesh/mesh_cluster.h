// MeshCluster: the db::Cluster of every node, and the coordinator of the mesh's parts. It joins
// through MESH_NETWORK_URL (without one it starts a cluster of one, ready at once, that others
// join through it), keeps the SWIM member table fresh, streams every local write to every live
// peer, catches up a new node, runs periodic anti-entropy, collects tombstones, evicts members
// away too long and serves /_mesh/... and the original's /ping. Each job is a part it owns
// (docs/architecture.md, "The mesh's parts"):
//   MeshTransport      internal HTTP: signed requests out, authorised and signed answers in;
//   Replicator         the live stream: the turn's batch, one Outbox + PeerLink per peer, acks,
//                      the waiters of w=quorum/all, and the batches peers stream to us;
//   MembershipTraffic  join, subscription, probes, gossip, admission of candidates;
//   CatchUp            snapshot copy or recovered-data rounds before a node is ready;
//   AntiEntropy        digest/reconcile/repair rounds, tombstone collection;
//   Eviction           holds for dead members, evictions, this node's own wipe and rejoin.
// MeshCluster itself holds the Phase, Membership and StoreBridge they share, wires one part's
// outcome to the next (MeshPhase), registers the routes and assembles /status and /metrics.
// main.cc (Node) owns it; it lives on the node's loop thread. leave() is its shutdown: it
// announces the leave, flushes, closes every handle the parts own, then calls done.
// Trust (docs/mesh.md, "Threat model"): with MESH_SECRET every request AND every answer is signed
// and nothing unsigned is acted on; only admitted members are streamed to and count for write
// concerns; a node wipes itself only when an eviction is agreed (never on one answer).
// The one thing to get right: every write reaches peers through the Outbox only, so a reconnect,
// a slow peer or a dead one never loses or blocks a write; anything missed (overflow, a peer that
// was away) is healed by anti-entropy, which is safe because merging is LWW (order-free).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/http/server.h"
#include "database/core/cluster.h"
#include "database/core/replication.h"
#include "database/core/write_log.h"
#include "database/mesh/anti_entropy.h"
#include "database/mesh/catch_up.h"
#include "database/mesh/eviction.h"
#include "database/mesh/membership.h"
#include "database/mesh/membership_traffic.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_phase.h"
#include "database/mesh/mesh_timer.h"
#include "database/mesh/mesh_transport.h"
#include "database/mesh/replicator.h"
#include "database/mesh/store_bridge.h"

namespace db {

class MeshCluster final : public Cluster,
                          public LogSubscriber,
                          public Replication,
                          private MeshPhase,
                          private MeshTransport::Owner,
                          private Replicator::Owner {
 public:
  // The caller subscribes it to `log` (and sets it as the log's Replication); every change the
  // mesh makes to the keyspace is appended to `log` (StoreBridge).
  MeshCluster(uv_loop_t* loop, Keyspace& keyspace, WriteLog& log, MeshOptions opts);
  ~MeshCluster() override;
  MeshCluster(const MeshCluster&) = delete;
  MeshCluster& operator=(const MeshCluster&) = delete;

  void registerRoutes(common::http::Server& server) override;
  void start() override;
  // LogSubscriber: client writes (and records kept across a wipe) go into this turn's batch.
  void onAppend(Ticket ticket, const LogEntry& entry, Source source) override {
    if (phase_ != Phase::kClosed) replicator_->onAppend(ticket, entry, source);
  }
  void onTurnEnd() override {
    if (phase_ != Phase::kClosed) replicator_->flush();
  }
  // Replication: the ticket's batch acked by enough live peers.
  void awaitTicket(Ticket ticket, WriteLevel level,
                   std::function<void(bool ok, int acked)> done) override {
    replicator_->awaitTicket(ticket, level, std::move(done));
  }
  bool ready() const override {
    return phase_ == Phase::kReady || (phase_ == Phase::kLeaving && leave_.from == Phase::kReady);
  }
  void appendStatus(std::string& json) const override;
  void appendMetrics(common::metrics::MetricsWriter& w) const override;  // mesh_metrics.cc
  void leave(std::function<void()> done) override;

  // For tests (the counters are in /status too): the member table, batches sent, the bytes of
  // the last anti-entropy round (both directions), the rounds, and how often this node was
  // wiped.
  const Membership& membership() const { return membership_; }
  uint64_t batchesSent() const { return replicator_->counters().batchesSent; }
  uint64_t antiEntropyBytes() const { return antiEntropy_->counters().lastBytes; }
  uint64_t antiEntropyRounds() const { return antiEntropy_->counters().rounds; }
  uint64_t wipes() const { return eviction_->counters().wipes; }  // times this node was evicted
  // Runs one anti-entropy round with `peerId` now (tests, benchmarks); done(ok) on the loop.
  void antiEntropyWith(const std::string& peerId, std::function<void(bool ok)> done) {
    antiEntropy_->roundWith(peerId, std::move(done));
  }

 private:
  // The leave: announcements in flight, the timer that ends the wait, the handles still
  // closing, and the caller's done.
  struct Leave {
    Phase from = Phase::kIdle;  // the phase the node left from (ready() while leaving)
    int pending = 0;            // /_mesh/leave announcements not answered yet
    int handlesOpen = 0;        // handles and links still closing
    std::function<void()> done;
  };

  // MeshPhase
  Phase phase() const override { return phase_; }
  void setPhase(Phase p) override { phase_ = p; }
  void catchUpFrom(const std::string& peerId) override { catchUp_->start(peerId); }
  void joinAgain(JoinRetry when) override;
  void becomeReady(const char* why) override;
  void startNewLife(const std::string& url) override;
  void onRoundBytes(size_t bytes) override {
    if (!ready()) catchUp_->countBytes(bytes);
  }
  bool servesData(const common::http::Request& req, common::http::Responder& r,
                  bool takesData) override;
  // MeshTransport::Owner
  bool closed() const override { return phase_ == Phase::kClosed; }
  uint64_t collectedBelow() const override { return store_->collectedBelow(); }
  void onEvictionClaim(const std::string& url, const std::string& from, uint64_t gc) override {
    eviction_->noteClaim(url, from, gc);
  }
  // Replicator::Owner
  void onPeerAcked() override {
    if (leaveComplete()) finishClose();
  }

  // A member changed state: peers, holds and admission follow.
  void onMemberChange(const Member& m, MemberState before, bool isNew);
  void probeTick();
  bool leaveComplete() const;
  void finishClose();
  void closedOne();  // one handle or link of a part finished closing
  uint64_t nowMs() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  MeshOptions opts_;
  Membership membership_;
  std::unique_ptr<StoreBridge> store_;
  std::unique_ptr<MeshTransport> transport_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<Eviction> eviction_;
  std::unique_ptr<AntiEntropy> antiEntropy_;
  std::unique_ptr<CatchUp> catchUp_;
  std::unique_ptr<MembershipTraffic> traffic_;
  common::http::Server* server_ = nullptr;  // not owned; set by registerRoutes
  Phase phase_ = Phase::kIdle;
  MeshTimer probeTimer_;
  MeshTimer leaveTimer_;
  Leave leave_;
};

}  // namespace db

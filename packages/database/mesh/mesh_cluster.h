// MeshCluster: the db::Cluster of every node. It joins through MESH_NETWORK_URL (without one it
// starts a cluster of one, ready at once, that others join through it), keeps the
// SWIM member table (Membership) fresh with probes, streams every local write to every live peer
// (it subscribes to the node's WriteLog: one PeerLink + Outbox per peer; a loop turn's writes
// flushed as one batch at the log's end of turn; w=quorum/all wait on a ticket's batch),
// applies the batches peers stream to it, catches up a new node (live stream first, then snapshot
// pages and one anti-entropy round; or, with data recovered from DATA_DIR, anti-entropy rounds
// only; then ready), runs periodic anti-entropy, collects
// tombstones, and serves /_mesh/... and the original's /ping.
// main.cc (Node) owns it; it lives on the node's loop thread. leave() is its shutdown: it
// announces the leave, flushes, closes every handle it owns, then calls done (the loop may close).
// Members dead longer than the tombstone grace period are evicted (mesh_eviction.cc); an evicted
// node wipes its store and copies the cluster's data again, so deleted keys never come back.
// Trust (docs/mesh.md, "Threat model"): with MESH_SECRET every request AND every answer is signed
// (auth.h) and nothing unsigned is acted on; a member learnt from gossip is a candidate until its
// signed answer at its own URL admits it, and only admitted members are streamed to and count for
// write concerns; a node wipes itself only when an eviction is agreed (never on one answer).
// The one thing to get right: every write reaches peers through the Outbox only, so a reconnect,
// a slow peer or a dead one never loses or blocks a write; anything missed (overflow, a peer that
// was away) is healed by anti-entropy, which is safe because merging is LWW (order-free).
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/http/server.h"
#include "database/core/cluster.h"
#include "database/core/replication.h"
#include "database/core/write_log.h"
#include "database/mesh/membership.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_transport.h"
#include "database/mesh/replicator.h"
#include "database/mesh/store_bridge.h"
#include "database/mesh/wire.h"

namespace db {

class MeshCluster final : public Cluster,
                          public LogSubscriber,
                          public Replication,
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
  bool ready() const override { return ready_; }
  void appendStatus(std::string& json) const override;
  void appendMetrics(common::metrics::MetricsWriter& w) const override;  // mesh_metrics.cc
  void leave(std::function<void()> done) override;

  // For tests (the counters are in /status too): the member table, batches sent, the bytes of
  // the last anti-entropy round (both directions), and how often this node was wiped.
  const Membership& membership() const { return membership_; }
  uint64_t batchesSent() const { return replicator_->counters().batchesSent; }
  uint64_t antiEntropyBytes() const { return aeBytes_; }
  uint64_t wipes() const { return wipes_; }  // times this node was evicted
  // Runs one anti-entropy round with `peerId` now (tests, benchmarks); done(ok) on the loop.
  void antiEntropyWith(const std::string& peerId, std::function<void(bool ok)> done);

 private:
  // A dead member holds tombstone collection at what it had received (hlc) until it comes back,
  // leaves, or is evicted once dead for the tombstone grace period.
  struct Hold {
    uint64_t epoch = 0;
    uint64_t hlc = 0;
    uint64_t sinceMs = 0;
  };
  enum class Phase {
    kIdle,
    kJoining,
    kSubscribing,
    kSnapshot,
    kVerifying,
    kRepairing,  // recovered data: anti-entropy rounds instead of a snapshot (startCatchUp)
    kReady,
    kLeaving,
    kClosed
  };

  // libuv trampolines.
  static void onProbeTimer(uv_timer_t* t) noexcept;
  static void onAeTimer(uv_timer_t* t) noexcept;
  static void onJoinTimer(uv_timer_t* t) noexcept;
  static void onLeaveTimer(uv_timer_t* t) noexcept;
  static void onApplyTimer(uv_timer_t* t) noexcept;
  static void onWipeTimer(uv_timer_t* t) noexcept;
  static void onHandleClosed(uv_handle_t* h) noexcept;

  // MeshTransport::Owner
  bool closed() const override { return phase_ == Phase::kClosed; }
  uint64_t collectedBelow() const override { return store_->collectedBelow(); }
  void onEvictionClaim(const std::string& url, const std::string& from, uint64_t gc) override {
    noteEvictionClaim(url, from, gc);
  }
  // Replicator::Owner
  void onPeerAcked() override {
    if (leaveComplete()) finishClose();
  }
  void onMemberChange(const Member& m, MemberState before, bool isNew);

  // Membership traffic.
  void attemptJoin();
  void joinDone(bool ok, bool reachedSelf);
  void subscribeAll();
  void probeTick();
  void probe(const std::string& id);
  void sendPing(const std::string& url, uint64_t timeoutMs, std::function<void(bool ok)> done);
  void contactSeed(const std::string& url);
  std::string gossipJson(bool withInfo) const;
  // Where a member list comes from: a request to us (`answeredUrl` empty) or the answer to our
  // request to `answeredUrl`. Decides what of it is believed (see mergeGossip).
  struct GossipSource {
    std::string answeredUrl;
  };
  bool mergeGossip(std::string_view body, std::string* fromId, const GossipSource& src = {});
  // Admission: a candidate becomes a member once it answered a signed request at its own URL.
  void admitFromAnswer(const std::string& url, const std::string& from);
  void admitSoon(const std::string& id, std::function<void(bool admitted)> done = {});
  std::map<std::string, std::vector<std::function<void(bool)>>> admitting_;  // id -> waiting
  int seedsInFlight_ = 0;  // /ping?nodes= contacts under way (bounded)
  static constexpr int kMaxSeedsInFlight = 16;

  // Catch-up and anti-entropy. startCatchUp picks the path: a snapshot copy for an empty
  // store, anti-entropy rounds (catchUpRound) for data recovered from DATA_DIR, and a reset
  // plus a snapshot copy for recovered data older than the tombstone grace period.
  enum class CatchUpPath { kNone, kSnapshot, kAntiEntropy, kTooOld };
  void startCatchUp(const std::string& peerId);
  void catchUpRound();
  void startSnapshot(const std::string& peerId);
  void fetchPage(const std::string& peerId, std::string cursor);
  void applyPages();
  void becomeReady(const char* why);
  void aeTick();
  // One anti-entropy round past its digest exchange (mesh_catchup.cc): summary and answer
  // (aeReconcile), our records the peer lacks (aePush), the counters (aeFinish).
  struct AeState {
    std::string peerId;
    uint64_t startHlc = 0;
    size_t bytes = 0;               // both directions, this round
    size_t differing = 0;           // segments that differed
    Keyspace::SegmentSet segments;  // those compared this round
    bool pushMark = false;          // our clear mark is newer than the peer's
    bool cut = false;               // a side stopped at kRepairBytesBudget
    size_t received = 0, applied = 0, pushed = 0;
    std::function<void(bool ok)> done;
  };
  void aeReconcile(std::shared_ptr<AeState> s);
  void aePush(std::shared_ptr<AeState> s, StoreBridge::Wanted ours);
  void aeFinish(std::shared_ptr<AeState> s, bool ok);
  void collectTombstones();

  // Eviction (mesh_eviction.cc).
  void holdFor(const Peer& p, const Member& m);  // m just died
  void checkEvictions();                         // from the probe tick: hold past grace -> evict
  bool mayEvict() const;                         // this node is on the majority side
  uint64_t holdHorizon() const;                  // min hold hlc (UINT64_MAX: none)
  // A member (answering at its URL) said this life of ours was evicted: remembered; the node
  // wipes only once the claim is agreed (evictionAgreed), and rejoins through a claimant.
  void noteEvictionClaim(const std::string& url, const std::string& from, uint64_t gcHlc);
  bool evictionAgreed() const;
  void maybeWipe();
  void onEvicted(const std::string& byUrl, uint64_t gcHlc);  // agreed: wipe on the next turn
  void wipeAndRejoin();
  void applyPreserved();  // after the snapshot: the kept records, re-replicated
  bool servesData(const common::http::Request& req, common::http::Responder& r,
                  bool takesData);  // else 503 NOT_READY
  uint64_t nowMs() const;           // loop clock (monotonic)
  uint64_t stableHlc() const;       // see collectTombstones

  // Route handlers.
  void handlePing(const common::http::Request& req, common::http::Responder r, bool join);
  void handlePingReq(const common::http::Request& req, common::http::Responder r);
  void handleLeave(const common::http::Request& req, common::http::Responder r);
  void handleSnapshot(const common::http::Request& req, common::http::Responder r);
  void handleDigest(const common::http::Request& req, common::http::Responder r);
  void handleRepair(const common::http::Request& req, common::http::Responder r);
  void handleReconcile(const common::http::Request& req, common::http::Responder r);
  void handlePublicPing(const common::http::Request& req, common::http::Responder r);

  void knock(int triesLeft);  // alone: join again through MESH_NETWORK_URL (when there is one)
  std::string anyMemberUrl() const;  // a known member's URL, rotating with each join attempt
  static constexpr int kKnockTries = 4;
  static constexpr uint64_t kKnockEveryTicks = 5;  // with peers: one knock every 5 probes
  uint64_t knockTick_ = 0;
  bool leaveComplete() const;
  void finishClose();
  std::array<uv_handle_t*, 6> allHandles();  // every uv handle this object owns

  uv_loop_t* loop_;
  Keyspace& keyspace_;
  MeshOptions opts_;
  Membership membership_;
  std::unique_ptr<StoreBridge> store_;
  std::unique_ptr<MeshTransport> transport_;
  std::unique_ptr<Replicator> replicator_;
  common::http::Server* server_ = nullptr;  // not owned; set by registerRoutes
  Phase phase_ = Phase::kIdle;
  bool ready_ = false;
  uint64_t lastAeStartMs_ = 0;                         // last periodic or eager repair round
  static constexpr uint64_t kEagerRepairGapMs = 1000;  // eager rounds at most this often
  bool started_ = false;

  uv_timer_t probeTimer_;
  uv_timer_t aeTimer_;
  uv_timer_t joinTimer_;
  uv_timer_t leaveTimer_;
  uv_timer_t applyTimer_;  // applies fetched snapshot pages on the next turn
  uv_timer_t wipeTimer_;   // runs wipeAndRejoin() outside the callback that learnt the eviction
  int handlesOpen_ = 0;

  int joinAttempts_ = 0;
  uint64_t joinBackoffMs_ = 0;
  std::string snapshotPeer_;
  std::deque<std::string> pagesToApply_;
  bool snapshotFetched_ = false;
  uint64_t snapshotRecords_ = 0;
  uint64_t catchUpStartedMs_ = 0;
  uint64_t readyAtMs_ = 0;
  size_t aeCursor_ = 0;
  // One anti-entropy round at a time; kComplete: the last round left no differing segment
  // unrepaired (what the recovered-data catch-up waits for).
  enum class AeRound { kIdle, kRunning, kComplete };
  AeRound aeRound_ = AeRound::kIdle;
  uint64_t snapshotGc_ = 0;  // the snapshot source's tombstone horizon (X-Mesh-Gc), max seen
  // Newest hlc of the data recovered from DATA_DIR (the clock after replay; 0: nothing was
  // recovered, or it was reset). The node was up at least until then.
  uint64_t recoveredHlc_ = 0;
  CatchUpPath catchUpPath_ = CatchUpPath::kNone;
  uint64_t catchUpBytes_ = 0;   // bytes received while catching up (pages, digests, repairs)
  uint64_t catchUpRounds_ = 0;  // anti-entropy rounds of the recovered-data catch-up
  int catchUpFailures_ = 0;     // failed rounds in a row (then the join starts over)
  static constexpr uint64_t kMaxCatchUpRounds = 64;  // a round is bounded: see StoreBridge
  static constexpr int kMaxCatchUpFailures = 3;

  std::map<std::string, Hold> holds_;  // dead members, by id
  std::string joinUrl_;                // "" = MESH_NETWORK_URL; the evictor while rejoining
  bool rejoining_ = false;             // wiped after an eviction, copying the data again
  // A wipe is pending while wipeTimer_ is active (onEvicted to wipeAndRejoin).
  std::string wipeUrl_;
  uint64_t wipeGc_ = 0;
  std::string preserved_;  // kRecords frame: records kept across the wipe (hlc >= wipeGc_)
  uint64_t evictions_ = 0;
  uint64_t wipes_ = 0;
  uint64_t preservedKept_ = 0;
  uint64_t preservedDropped_ = 0;
  struct Claim {
    std::string url;
    uint64_t gc = 0;
  };
  std::map<std::string, Claim> evictionClaims_;  // member id -> its claim about this life
  uint64_t lifeStartMs_ = 0;                     // loop clock when this life (epoch) began
  uint64_t claimsIgnored_ = 0;                   // eviction claims that were not agreed

  uint64_t aeRounds_ = 0;
  uint64_t aeBytes_ = 0;
  uint64_t lastGcHorizon_ = 0;
  uint64_t tombstonesDropped_ = 0;

  std::function<void()> leaveDone_;
  int leavePending_ = 0;
};

}  // namespace db

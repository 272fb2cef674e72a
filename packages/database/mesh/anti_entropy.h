// AntiEntropy: repairs whatever the live stream missed (an overflowed outbox, a peer that was
// away, two clusters merging) and collects tombstones. A round compares root digests with one
// peer (/_mesh/digest); for the differing segments it exchanges record hashes (the second level,
// /_mesh/reconcile) so only differing records move, then pushes ours the peer lacks
// (/_mesh/repair). One round at a time: periodic (every ANTI_ENTROPY_INTERVAL_MS, round robin
// over ready peers, an overflowed or newly met one first), or asked for by CatchUp (recovered
// data, the snapshot's verification) and tests. It also serves the three routes to peers.
// Owned by MeshCluster; loop thread only; close(closed) before destruction.
// The one thing to get right: records merge by LWW in any order, so a round may be cut at a byte
// budget or fail halfway and the next one simply goes on.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/http/server.h"
#include "database/mesh/eviction.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_phase.h"
#include "database/mesh/mesh_timer.h"
#include "database/mesh/mesh_transport.h"
#include "database/mesh/replicator.h"
#include "database/mesh/store_bridge.h"

namespace db {

class AntiEntropy {
 public:
  // kComplete: the last round left no differing segment unrepaired (what the recovered-data
  // catch-up waits for).
  enum class Round { kIdle, kRunning, kComplete };
  struct Counters {
    uint64_t rounds = 0;
    uint64_t lastBytes = 0;  // both directions, the last round
    uint64_t tombstonesDropped = 0;
  };

  AntiEntropy(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
              Replicator& replicator, StoreBridge& store, const Eviction& eviction,
              MeshPhase& node);
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  void start() { timer_.start(opts_.antiEntropyIntervalMs, opts_.antiEntropyIntervalMs); }
  // One round with `peerId` now; done(ok) on the loop (false at once when a round is running).
  void roundWith(const std::string& peerId, std::function<void(bool ok)> done);
  // A peer first met while both were serving (two clusters merging): a round now rather than
  // at the next tick, at most once per kEagerRepairGapMs.
  void repairSoon();
  Round round() const { return round_; }
  // Hands the keyspace its expiry horizon (O(peers)); the probe tick calls it, so expired records
  // go within a probe interval of becoming droppable (the tombstone walk keeps its own tick).
  void refreshExpiryHorizon();
  void newLife() { lastGcHorizon_ = 0; }  // after a wipe: collection starts over
  // A node catching up from recovered data adopts the peer's horizon (see roundWith).
  void countDropped(size_t n) { counters_.tombstonesDropped += n; }
  const Counters& counters() const { return counters_; }
  void close(std::function<void()> closed) { timer_.close(std::move(closed)); }

  // Routes (authorised and served only when the node's data may be read or repaired).
  void handleDigest(const common::http::Request& req, common::http::Responder r);
  void handleRepair(const common::http::Request& req, common::http::Responder r);
  void handleReconcile(const common::http::Request& req, common::http::Responder r);

 private:
  // One round past its digest exchange: summary and answer (reconcile), our records the peer
  // lacks (push), the counters (finish).
  struct State {
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
  static constexpr uint64_t kEagerRepairGapMs = 1000;  // eager rounds at most this often

  void tick();
  void reconcile(std::shared_ptr<State> s);
  void push(std::shared_ptr<State> s, StoreBridge::Wanted ours);
  void finish(std::shared_ptr<State> s, bool ok);
  void collectTombstones();
  uint64_t deliveryHorizon() const;  // what every live member has (see collectTombstones)
  // Expired records below the returned hlc may be dropped (docs/ttl.md): `horizon` (the delivery
  // horizon), lowered by the expiry lag, and by the grace period while an expiry hold lasts.
  uint64_t expiryHorizon(uint64_t horizon) const;
  uint64_t expiryLagMs() const;
  uint64_t nowMs() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  const MeshOptions& opts_;
  MeshTransport& transport_;
  Replicator& replicator_;
  StoreBridge& store_;
  const Eviction& eviction_;
  MeshPhase& node_;
  MeshTimer timer_;
  Round round_ = Round::kIdle;
  size_t cursor_ = 0;           // round robin over ready peers
  uint64_t lastStartMs_ = 0;    // last periodic or eager round
  uint64_t lastGcHorizon_ = 0;  // collection ran up to here
  Counters counters_;
};

}  // namespace db

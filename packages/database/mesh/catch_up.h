// CatchUp: how a node that joined gets the cluster's data before it serves (MeshCluster calls
// start() once it subscribed to every member, so nothing written meanwhile can be missed).
// An empty store copies snapshot pages from one peer (prefetched: page N+1 is cut while page N
// is applied), then verifies with one anti-entropy round; data recovered from DATA_DIR is
// caught up by anti-entropy rounds until nothing differs (bytes grow with the difference),
// unless it is older than the tombstone grace period (then: reset and snapshot, never a merge
// that could resurrect a collected delete). It serves /_mesh/snapshot to the others.
// Owned by MeshCluster; loop thread only; close(closed) before destruction.
// The one thing to get right: every page is admitted whole (StoreBridge::admit, the API's
// record rules) before any of it is applied, and a failed copy starts the join over.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "common/http/server.h"
#include "database/mesh/anti_entropy.h"
#include "database/mesh/eviction.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_phase.h"
#include "database/mesh/mesh_timer.h"
#include "database/mesh/mesh_transport.h"
#include "database/mesh/replicator.h"
#include "database/mesh/store_bridge.h"

namespace db {

class CatchUp {
 public:
  // Whether this node started on recovered data it has not caught up yet.
  bool recovered() const { return recoveredHlc_ != 0; }
  // How this life caught up: a snapshot copy for an empty store, anti-entropy rounds for data
  // recovered from DATA_DIR, a reset plus a snapshot copy for recovered data that is too old.
  enum class Path { kNone, kSnapshot, kAntiEntropy, kTooOld };
  struct Progress {
    uint64_t bytes = 0;      // received while catching up (pages, digests, repairs)
    uint64_t rounds = 0;     // anti-entropy rounds of the recovered-data catch-up
    uint64_t records = 0;    // copied by the snapshot
    int failures = 0;        // failed rounds in a row (then the join starts over)
    uint64_t startedMs = 0;  // uv_hrtime in ms, when this life's catch-up began
    uint64_t readyAtMs = 0;
  };

  // Built after recovery (Node), before anything stamps a write: what the keyspace holds then
  // was recovered from DATA_DIR.
  CatchUp(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
          Replicator& replicator, StoreBridge& store, Keyspace& keyspace, AntiEntropy& antiEntropy,
          Eviction& eviction, MeshPhase& node);
  CatchUp(const CatchUp&) = delete;
  CatchUp& operator=(const CatchUp&) = delete;

  void begin();  // this life's catch-up clock starts (start(), or a new life)
  // Subscribed to every member: catch up from `peerId` (the path is picked here).
  void start(const std::string& peerId);
  // Ready: the store is served from now on (a later join merges, never resets it). Returns
  // how long the catch-up took (ms).
  uint64_t finish();
  void newLife();  // wiped: pages in flight are dropped
  void countBytes(size_t n) { progress_.bytes += n; }

  Path path() const { return path_; }
  const Progress& progress() const { return progress_; }
  uint64_t tookMs(bool ready) const {  // 0 until ready
    return progress_.readyAtMs >= progress_.startedMs && ready
               ? progress_.readyAtMs - progress_.startedMs
               : 0;
  }
  void close(std::function<void()> closed) { applyTimer_.close(std::move(closed)); }

  void handleSnapshot(const common::http::Request& req, common::http::Responder r);

 private:
  // The snapshot copy (or the rounds) in progress.
  struct Copy {
    enum class Fetch { kNone, kFetching, kAllFetched };
    std::string source;             // the peer copied or compared with
    std::deque<std::string> pages;  // fetched, not applied yet
    Fetch fetch = Fetch::kNone;
    uint64_t sourceGc = 0;  // the snapshot source's tombstone horizon (X-Mesh-Gc), max seen
  };
  static constexpr uint64_t kMaxRounds = 64;  // a round is bounded: see StoreBridge
  static constexpr int kMaxFailures = 3;

  void round();  // one anti-entropy round of the recovered-data path
  void startSnapshot(const std::string& peerId);
  void fetchPage(const std::string& peerId, std::string cursor);
  void applyPages();  // on the turn after a page arrived (applyTimer_)

  const MeshOptions& opts_;
  MeshTransport& transport_;
  Replicator& replicator_;
  StoreBridge& store_;
  Keyspace& keyspace_;
  AntiEntropy& antiEntropy_;
  Eviction& eviction_;
  MeshPhase& node_;
  MeshTimer applyTimer_;
  Copy copy_;
  // Newest hlc of the data recovered from DATA_DIR (the clock after replay; 0: nothing was
  // recovered, or it was reset). The node was up at least until then.
  uint64_t recoveredHlc_ = 0;
  Path path_ = Path::kNone;
  Progress progress_;
};

}  // namespace db

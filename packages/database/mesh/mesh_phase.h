// Phase and MeshPhase: the node's place in its life (joining, copying, ready, leaving...) and the
// narrow interface through which the mesh's parts (MembershipTraffic, CatchUp, AntiEntropy,
// Eviction) read it and ask for the moves between phases. MeshCluster, the coordinator, is the
// one implementation: it alone changes the phase and wires one part's outcome to the next.
// Loop thread only. The one thing to get right: a callback that arrives after the node moved on
// (an answer to a request of an earlier phase) checks the phase first and does nothing.
#pragma once

#include <cstddef>
#include <string>

#include "common/http/server.h"

namespace db {

enum class Phase {
  kIdle,
  kJoining,
  kSubscribing,
  kSnapshot,
  kVerifying,
  kRepairing,  // recovered data: anti-entropy rounds instead of a snapshot (CatchUp)
  kReady,
  kLeaving,
  kClosed
};

// The names /status shows ("phase").
inline const char* phaseName(Phase p) {
  static const char* kNames[] = {"idle",      "joining", "subscribing", "snapshot", "verifying",
                                 "repairing", "ready",   "leaving",     "closed"};
  return kNames[static_cast<int>(p)];
}

// How a failed join or catch-up starts over.
enum class JoinRetry { kNow, kAfterBackoff };

class MeshPhase {
 public:
  virtual ~MeshPhase() = default;
  virtual Phase phase() const = 0;
  // Serves reads and counts as caught up (ready, or leaving after it was ready).
  virtual bool ready() const = 0;
  bool going() const { return phase() == Phase::kLeaving || phase() == Phase::kClosed; }

  // MembershipTraffic: subscribed to every member (kSubscribing); catch up from `peerId`.
  virtual void catchUpFrom(const std::string& peerId) = 0;
  // CatchUp: the copy failed or its source went away: join again (kJoining).
  virtual void joinAgain(JoinRetry when) = 0;
  // Caught up (or nothing to catch up from): kReady.
  virtual void becomeReady(const char* why) = 0;
  // Eviction: the store was wiped; a new life joins through `url` and copies the data again.
  virtual void startNewLife(const std::string& url) = 0;
  // AntiEntropy: a round moved `bytes` (counted as catch-up traffic while not ready).
  virtual void onRoundBytes(size_t bytes) = 0;
  // Whether this node's data may be copied or compared (`takesData`: repaired) now; if not,
  // the request was answered 503 NOT_READY.
  virtual bool servesData(const common::http::Request& req, common::http::Responder& r,
                          bool takesData) = 0;
  // A phase of the catch-up itself (kSnapshot, kVerifying, kRepairing) or of the join.
  virtual void setPhase(Phase p) = 0;
};

}  // namespace db

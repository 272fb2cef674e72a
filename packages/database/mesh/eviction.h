// Eviction: members away longer than the tombstone grace period, and this node's own eviction.
// A tombstone may only be dropped once every node has it, or a node that missed the delete
// brings the deleted value back (Cassandra's "zombies"). So a member declared dead HOLDS
// collection at what it had received from us; once it has been dead for TOMBSTONE_GRACE_MS a
// node on the majority side EVICTS it (the hold goes, collection resumes) and gossips the
// eviction; MeshTransport then refuses that life (409 EVICTED). A node that hears it was evicted
// keeps the records no dropped tombstone can contradict (hlc >= the cluster's collection
// horizon), wipes its store and asks the coordinator for a new life (MeshPhase::startNewLife),
// which copies the cluster's data again; then applyPreserved() re-applies what it kept.
// Being told is not enough: a node wipes itself only when the eviction is AGREED (claims of
// members answering at their own URLs; evictionAgreed): never on one answer, never while this
// life is younger than the grace period, and the claims die with the life they were about.
// Any member event starts an EXPIRY hold for the grace period (holdExpiry): expired records are
// then dropped on the tombstones' schedule, since a member may come back and merge old values.
// Owned by MeshCluster; loop thread only; close(closedOne) before destruction.
// The one thing to get right: two sides of a partition must never evict each other, so only a
// majority (or, on an even split, the side holding the smallest id) evicts.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "database/mesh/membership.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_phase.h"
#include "database/mesh/mesh_timer.h"
#include "database/mesh/replicator.h"
#include "database/mesh/store_bridge.h"

namespace db {

class Eviction {
 public:
  // kRejoining: wiped after an eviction, copying the cluster's data again (until ready).
  enum class Life { kSteady, kRejoining };
  // A dead member holds tombstone collection at what it had received (hlc) until it comes back,
  // leaves, or is evicted once dead for the tombstone grace period.
  struct Hold {
    uint64_t epoch = 0;
    uint64_t hlc = 0;
    uint64_t sinceMs = 0;
  };
  struct Counters {
    uint64_t evictions = 0;  // members this node evicted
    uint64_t wipes = 0;      // times this node was evicted and copied the data again
    uint64_t preservedKept = 0;
    uint64_t preservedDropped = 0;
    uint64_t claimsIgnored = 0;  // eviction claims that were not agreed
  };

  Eviction(uv_loop_t* loop, const MeshOptions& opts, Membership& membership, StoreBridge& store,
           Keyspace& keyspace, const Replicator& replicator, MeshPhase& node);
  Eviction(const Eviction&) = delete;
  Eviction& operator=(const Eviction&) = delete;

  // Holds.
  void holdFor(const Peer& p, const Member& m);                         // m just died
  bool release(const std::string& id) { return holds_.erase(id) > 0; }  // back, left or evicted
  bool holds(const std::string& id) const { return holds_.count(id) > 0; }
  const std::map<std::string, Hold>& holdsById() const { return holds_; }
  uint64_t holdHorizon() const;  // min hold hlc (UINT64_MAX: none)
  void checkEvictions();         // from the probe tick: hold past grace -> evict

  // Expiry holds (docs/ttl.md, "Dropping expired records safely"). In a quiet cluster an
  // expired record goes once every live member has had it for a while (the delivery horizon,
  // less AntiEntropy's expiry lag); after a member event (died, restarted, came back, left, was
  // evicted, or this node restarted on its data) a member may come back with an older value of
  // a key and merge it by LWW, so for the grace period after the event expired records go on
  // the tombstones' schedule (older than the grace period). The holds are gossiped (by member
  // id, with their end on the wall clock), so a node that joins or hears late holds too.
  void holdExpiry(const std::string& id, const char* why);
  // A peer's hold (gossip): kept until `untilWallMs`, at most a grace period (and the allowed
  // clock drift) from now; ignored for an id that is not a valid origin.
  void mergeExpiryHold(std::string_view id, uint64_t untilWallMs);
  const std::map<std::string, uint64_t>& expiryHoldsById() const { return expiryHolds_; }
  bool expiryHeld() const;  // some hold has not ended (wall clock)
  // At most this many holds are kept (only whether one lasts matters: the latest ends stay).
  static constexpr size_t kMaxExpiryHolds = 256;
  void pruneExpiryHolds();  // from the probe tick: past grace -> gone

  // This node's own eviction.
  // A member (answering at its URL) said this life of ours was evicted: remembered; the node
  // wipes only once the claim is agreed (evictionAgreed), and rejoins through a claimant.
  void noteClaim(const std::string& url, const std::string& from, uint64_t gcHlc);
  bool claimed() const { return !claims_.empty(); }
  size_t claims() const { return claims_.size(); }
  void maybeWipe();
  void applyPreserved(uint64_t snapshotGc);  // after the snapshot: the kept records, re-replicated

  void startLife(uint64_t nowMs) { lifeStartMs_ = nowMs; }
  Life life() const { return life_; }
  void lifeServed() { life_ = Life::kSteady; }  // ready again
  const Counters& counters() const { return counters_; }
  void close(std::function<void()> closed) { wipeTimer_.close(std::move(closed)); }

 private:
  struct Claim {
    std::string url;
    uint64_t gc = 0;
  };
  // The wipe learnt (onEvicted), run on the next turn (wipe) while wipeTimer_ is active.
  struct Wipe {
    std::string url;
    uint64_t gc = 0;
    std::string preserved;  // kRecords frame: records kept across the wipe (hlc >= gc)
  };
  bool mayEvict() const;  // this node is on the majority side
  bool evictionAgreed() const;
  // Keeps id's hold until at least `until`; at kMaxExpiryHolds the soonest-ending one makes room.
  // True when it was new.
  bool keepExpiryHold(const std::string& id, uint64_t until);
  void onEvicted(const std::string& byUrl, uint64_t gcHlc);  // agreed: wipe on the next turn
  void wipe();
  uint64_t nowMs() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  const MeshOptions& opts_;
  Membership& membership_;
  StoreBridge& store_;
  Keyspace& keyspace_;
  const Replicator& replicator_;
  MeshPhase& node_;
  std::map<std::string, Hold> holds_;            // dead members, by id
  std::map<std::string, uint64_t> expiryHolds_;  // member id -> the hold's end (wall ms)
  std::map<std::string, Claim> claims_;          // member id -> its claim about this life
  Wipe wipe_;
  MeshTimer wipeTimer_;       // runs wipe() outside the callback that learnt the eviction
  uint64_t lifeStartMs_ = 0;  // loop clock when this life (epoch) began
  Life life_ = Life::kSteady;
  Counters counters_;
};

}  // namespace db

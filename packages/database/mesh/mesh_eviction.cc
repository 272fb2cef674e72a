// MeshCluster, part 5 (see mesh_cluster.h): members away longer than the tombstone grace period.
// A tombstone may only be dropped once every node has it, or a node that missed the delete
// brings the deleted value back (Cassandra's "zombies"). So a member declared dead HOLDS
// collection at what it had received from us; once it has been dead for TOMBSTONE_GRACE_MS a
// node on the majority side EVICTS it (the hold goes, collection resumes) and gossips the
// eviction. Every internal request from that life of the member is then refused (409 EVICTED);
// a node that hears it was evicted keeps the records no dropped tombstone can contradict
// (hlc >= the cluster's collection horizon), wipes its store, starts a new life (epoch) and
// copies the cluster's data again like a new node, then re-applies and replicates what it kept.
// Being told is not enough: a node wipes itself only when the eviction is AGREED (noteEvictionClaim
// collects the claims of members answering at their own URLs; evictionAgreed decides): never on
// one answer, never while this life is younger than the grace period (no real eviction can be),
// and the claims die with the life they were about, so a wipe cannot loop.
// Loop thread only. The one thing to get right: two sides of a partition must never evict each
// other, so only a majority (or, on an even split, the side holding the smallest id) evicts.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/http/json.h"
#include "database/mesh/mesh_cluster.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;

void MeshCluster::holdFor(const Peer& p, const Member& m) {
  // What it had: every write of ours up to the outbox's delivered point, and (its own report)
  // every write of its own delivered to everyone up to deliveredHlc.
  uint64_t hlc = std::min(p.outbox.deliveredHlc(stableHlc()), p.deliveredHlc);
  holds_[m.id] = Hold{m.epoch, hlc, nowMs()};
  spdlog::info("mesh: {} is dead: tombstones it may lack are kept for {} ms", m.id,
               opts_.tombstoneGraceMs);
}

uint64_t MeshCluster::holdHorizon() const {
  uint64_t h = UINT64_MAX;
  for (const auto& [id, hold] : holds_) h = std::min(h, hold.hlc);
  return h;
}

bool MeshCluster::mayEvict() const {
  // Our side: this node and the live members it exchanged with lately. The other side: the held
  // (dead) members, and live members we only HEAR of (gossip can revive a member on the other
  // side of a partition, e.g. through a node of ours that was wiped and rejoined over there).
  uint64_t now = nowMs();
  uint64_t recent =
      opts_.suspicionTimeoutMs + opts_.probeIntervalMs * (membership_.members().size() + 1);
  std::vector<std::string> ours{membership_.self().id};
  std::vector<std::string> away;
  for (const Member* m : membership_.liveMembers()) {
    (now - m->lastContactMs <= recent ? ours : away).push_back(m->id);
  }
  for (const auto& [id, hold] : holds_) away.push_back(id);
  if (ours.size() != away.size()) return ours.size() > away.size();
  // An even split: both sides see the same two sets, so exactly one of them holds the smallest
  // id of all; only that side evicts.
  return *std::min_element(ours.begin(), ours.end()) < *std::min_element(away.begin(), away.end());
}

void MeshCluster::checkEvictions() {
  // A node told it was evicted is on the far side of something: it evicts nobody meanwhile.
  if (holds_.empty() || !evictionClaims_.empty() || !mayEvict()) return;
  uint64_t now = nowMs();
  std::vector<std::string> due;
  for (const auto& [id, hold] : holds_) {
    if (now - hold.sinceMs >= opts_.tombstoneGraceMs) due.push_back(id);
  }
  for (const auto& id : due) {
    holds_.erase(id);
    ++evictions_;
    spdlog::warn(
        "mesh: {} evicted: dead for longer than the tombstone grace period ({} ms); it must "
        "copy the cluster's data again before it can rejoin",
        id, opts_.tombstoneGraceMs);
    membership_.evict(id);  // onMemberChange(kEvicted); gossiped from now on
  }
}

void MeshCluster::noteEvictionClaim(const std::string& url, const std::string& from,
                                    uint64_t gcHlc) {
  // Only an admitted member answering at its own URL makes a claim: an address a client handed
  // in, the balancer, or a candidate says nothing about this node's life.
  const Member* m = from.empty() ? nullptr : membership_.find(from);
  if (m == nullptr || m == &membership_.self() || !m->admitted || m->state == MemberState::kLeft ||
      m->url != url) {
    ++claimsIgnored_;
    spdlog::warn(
        "mesh: {} (as '{}') says this node was evicted: not a member answering at its "
        "own address; ignored",
        url, from);
    return;
  }
  bool fresh = evictionClaims_.count(from) == 0;
  evictionClaims_[from] = Claim{url, gcHlc};
  if (fresh) {
    spdlog::warn("mesh: {} says this node (epoch {}) was evicted ({} claim(s) so far)", from,
                 membership_.self().epoch, evictionClaims_.size());
  }
  maybeWipe();
}

bool MeshCluster::evictionAgreed() const {
  if (evictionClaims_.empty()) return false;
  uint64_t now = nowMs();
  // A member is evicted only after being dead to the others for the grace period: a life
  // younger than that cannot have been (this is also the back-off after a wipe).
  if (now - lifeStartMs_ < opts_.tombstoneGraceMs) return false;
  // Our own view: cut off from every member for longer than the grace period.
  bool isolated = replicator_->peers().empty() && !holds_.empty();
  for (const auto& [id, hold] : holds_) {
    isolated = isolated && now - hold.sinceMs >= opts_.tombstoneGraceMs;
  }
  if (isolated) return true;
  // Or a majority of the members we know (not counting ourselves) say so, at least two.
  size_t known = 0;
  for (const auto& [id, m] : membership_.members()) {
    known += m.admitted && m.state != MemberState::kLeft ? 1 : 0;
  }
  size_t claims = 0;
  for (const auto& [id, c] : evictionClaims_) {
    const Member* m = membership_.find(id);
    claims += m != nullptr && m->admitted && m->state != MemberState::kLeft ? 1 : 0;
  }
  return claims >= 2 && claims * 2 > known;
}

void MeshCluster::maybeWipe() {
  if (!evictionAgreed()) return;
  uint64_t gc = 0;
  std::string by;
  for (const auto& [id, c] : evictionClaims_) {
    if (by.empty() || c.gc > gc) {
      by = c.url;
      gc = c.gc;
    }
  }
  onEvicted(by, gc);
}

void MeshCluster::onEvicted(const std::string& byUrl, uint64_t gcHlc) {
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&wipeTimer_)) || phase_ == Phase::kLeaving ||
      phase_ == Phase::kClosed) {
    return;  // a wipe is already pending, or the node is going
  }
  wipeUrl_ = byUrl;
  wipeGc_ = gcHlc;
  // Not from inside the callback that learnt it: the wipe drops peers and links.
  uv_timer_start(&wipeTimer_, &MeshCluster::onWipeTimer, 0, 0);
}

void MeshCluster::onWipeTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->wipeAndRejoin();
}

void MeshCluster::wipeAndRejoin() {
  if (phase_ == Phase::kLeaving || phase_ == Phase::kClosed) return;
  ++wipes_;
  // 1. Keep what no collected tombstone can contradict: a delete newer than a kept record is
  //    still held by the cluster, so LWW decides correctly when the record comes back.
  size_t skipped = 0;
  preserved_ = store_->recordsSince(wipeGc_, &skipped);
  preservedDropped_ += skipped;
  size_t records = store_->tombstoneCount() + keyspace_.size();
  store_->reset();
  spdlog::error(
      "mesh: this node was evicted (cut off longer than TOMBSTONE_GRACE_MS): wiped {} records, "
      "keeping those newer than the cluster's tombstone horizon; copying the data again",
      records);
  // 2. Forget the old life's replication state: batches, waiters, holds, snapshot in progress.
  replicator_->newLife();
  holds_.clear();
  pagesToApply_.clear();
  snapshotFetched_ = false;
  lastGcHorizon_ = 0;
  // 3. A new life, then the path of a new node: join, subscribe, snapshot, verify, ready.
  membership_.renewEpoch(mesh_util::wallMs());
  evictionClaims_.clear();  // they were about the previous life
  lifeStartMs_ = nowMs();
  ready_ = false;
  rejoining_ = true;
  catchUpStartedMs_ = uv_hrtime() / 1000000;
  phase_ = Phase::kJoining;
  joinAttempts_ = 0;
  joinBackoffMs_ = opts_.joinRetryMs;
  joinUrl_ = wipeUrl_;
  uv_timer_stop(&joinTimer_);
  attemptJoin();
}

void MeshCluster::applyPreserved() {
  if (preserved_.empty()) return;
  // Filtered again by the snapshot source's horizon at the end of the copy: a tombstone it
  // collected while we copied is below that horizon.
  uint64_t floor = std::max(wipeGc_, snapshotGc_);
  auto f = wire::validateFrame(preserved_, wire::FrameType::kRecords);
  size_t kept = 0, dropped = 0;
  if (f.ok()) {
    wire::forEachRecord(*f, [&](const wire::RecordRef& r) {
      if (r.hlc < floor) {
        ++dropped;
        return;
      }
      // Applied and appended to the log as kPreserved: the replicator streams it again.
      if (store_->applyRemote(r, Source::kPreserved) != ApplyResult::kApplied) return;
      ++kept;
    });
  }
  preservedKept_ += kept;
  preservedDropped_ += dropped;
  std::string().swap(preserved_);
  spdlog::warn(
      "mesh: re-applied {} records kept across the wipe (replicated to the cluster); {} older "
      "than the cluster's tombstone horizon were dropped",
      kept, dropped);
}

}  // namespace db

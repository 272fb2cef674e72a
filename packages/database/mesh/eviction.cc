// Eviction (see eviction.h): holds for dead members, evicting them past the grace period, the
// claims that this life was evicted, and the wipe that follows an agreed one. Loop thread only.
// The one thing to get right: only one side of a partition evicts (mayEvict).
#include "database/mesh/eviction.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "database/mesh/mesh_util.h"
#include "database/storage/record_rules.h"

namespace db {

Eviction::Eviction(uv_loop_t* loop, const MeshOptions& opts, Membership& membership,
                   StoreBridge& store, Keyspace& keyspace, const Replicator& replicator,
                   MeshPhase& node)
    : loop_(loop),
      opts_(opts),
      membership_(membership),
      store_(store),
      keyspace_(keyspace),
      replicator_(replicator),
      node_(node),
      wipeTimer_(loop, [this] { wipe(); }) {}

void Eviction::holdFor(const Peer& p, const Member& m) {
  // What it had: every write of ours up to the outbox's delivered point, and (its own report)
  // every write of its own delivered to everyone up to deliveredHlc.
  uint64_t hlc = std::min(p.outbox.deliveredHlc(mesh_util::stableHlc(store_)), p.deliveredHlc);
  holds_[m.id] = Hold{m.epoch, hlc, nowMs()};
  holdExpiry(m.id, "died");  // it may have lost what it acknowledged (an unsynced tail)
  spdlog::info("mesh: {} is dead: tombstones it may lack are kept for {} ms", m.id,
               opts_.tombstoneGraceMs);
}

uint64_t Eviction::holdHorizon() const {
  uint64_t h = UINT64_MAX;
  for (const auto& [id, hold] : holds_) h = std::min(h, hold.hlc);
  return h;
}

void Eviction::holdExpiry(const std::string& id, const char* why) {
  if (keepExpiryHold(id, mesh_util::wallMs() + opts_.tombstoneGraceMs)) {
    spdlog::info("mesh: {} {}: expired records go on the tombstones' schedule for {} ms", id, why,
                 opts_.tombstoneGraceMs);
  }
}

void Eviction::mergeExpiryHold(std::string_view id, uint64_t untilWallMs) {
  uint64_t now = mesh_util::wallMs();
  if (!checkOrigin(id).ok() || untilWallMs <= now) return;  // not a member id, or over already
  // A peer says how long: at most what it could know (a grace period from its now).
  untilWallMs = std::min(untilWallMs, now + opts_.tombstoneGraceMs + opts_.maxClockDriftMs);
  keepExpiryHold(std::string(id), untilWallMs);
}

bool Eviction::keepExpiryHold(const std::string& id, uint64_t until) {
  auto it = expiryHolds_.find(id);
  if (it != expiryHolds_.end()) {
    it->second = std::max(it->second, until);
    return false;
  }
  if (expiryHolds_.size() >= kMaxExpiryHolds) {
    auto soonest =
        std::min_element(expiryHolds_.begin(), expiryHolds_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    if (soonest->second >= until) return false;  // every kept hold lasts longer anyway
    expiryHolds_.erase(soonest);
  }
  expiryHolds_.emplace(id, until);
  return true;
}

bool Eviction::expiryHeld() const {
  uint64_t now = mesh_util::wallMs();
  for (const auto& [id, until] : expiryHolds_) {
    if (until > now) return true;
  }
  return false;
}

void Eviction::pruneExpiryHolds() {
  uint64_t now = mesh_util::wallMs();
  for (auto it = expiryHolds_.begin(); it != expiryHolds_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    spdlog::info("mesh: the expiry hold for {} ended: expired records go at the horizon again",
                 it->first);
    it = expiryHolds_.erase(it);
  }
}

bool Eviction::mayEvict() const {
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

void Eviction::checkEvictions() {
  // A node told it was evicted is on the far side of something: it evicts nobody meanwhile.
  if (holds_.empty() || !claims_.empty() || !mayEvict()) return;
  uint64_t now = nowMs();
  std::vector<std::string> due;
  for (const auto& [id, hold] : holds_) {
    if (now - hold.sinceMs >= opts_.tombstoneGraceMs) due.push_back(id);
  }
  for (const auto& id : due) {
    holdExpiry(id, "was evicted");
    holds_.erase(id);
    ++counters_.evictions;
    spdlog::warn(
        "mesh: {} evicted: dead for longer than the tombstone grace period ({} ms); it must "
        "copy the cluster's data again before it can rejoin",
        id, opts_.tombstoneGraceMs);
    membership_.evict(id);  // MeshCluster::onMemberChange(kEvicted); gossiped from now on
  }
}

void Eviction::noteClaim(const std::string& url, const std::string& from, uint64_t gcHlc) {
  // Only an admitted member answering at its own URL makes a claim: an address a client handed
  // in, the balancer, or a candidate says nothing about this node's life.
  const Member* m = from.empty() ? nullptr : membership_.find(from);
  if (m == nullptr || m == &membership_.self() || !m->admitted || m->state == MemberState::kLeft ||
      m->url != url) {
    ++counters_.claimsIgnored;
    spdlog::warn(
        "mesh: {} (as '{}') says this node was evicted: not a member answering at its "
        "own address; ignored",
        url, from);
    return;
  }
  bool fresh = claims_.count(from) == 0;
  claims_[from] = Claim{url, gcHlc};
  if (fresh) {
    spdlog::warn("mesh: {} says this node (epoch {}) was evicted ({} claim(s) so far)", from,
                 membership_.self().epoch, claims_.size());
  }
  maybeWipe();
}

bool Eviction::evictionAgreed() const {
  if (claims_.empty()) return false;
  uint64_t now = nowMs();
  // A member is evicted only after being dead to the others for the grace period: a life
  // younger than that cannot have been (this is also the back-off after a wipe).
  if (now - lifeStartMs_ < opts_.tombstoneGraceMs) return false;
  // Our own view: cut off from every member for longer than the grace period.
  bool isolated = replicator_.peers().empty() && !holds_.empty();
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
  for (const auto& [id, c] : claims_) {
    const Member* m = membership_.find(id);
    claims += m != nullptr && m->admitted && m->state != MemberState::kLeft ? 1 : 0;
  }
  return claims >= 2 && claims * 2 > known;
}

void Eviction::maybeWipe() {
  if (!evictionAgreed()) return;
  uint64_t gc = 0;
  std::string by;
  for (const auto& [id, c] : claims_) {
    if (by.empty() || c.gc > gc) {
      by = c.url;
      gc = c.gc;
    }
  }
  onEvicted(by, gc);
}

void Eviction::onEvicted(const std::string& byUrl, uint64_t gcHlc) {
  if (wipeTimer_.active() || node_.going()) return;  // a wipe is pending, or the node is going
  wipe_.url = byUrl;
  wipe_.gc = gcHlc;
  // Not from inside the callback that learnt it: the wipe drops peers and links.
  wipeTimer_.start(0);
}

void Eviction::wipe() {
  if (node_.going()) return;
  ++counters_.wipes;
  // 1. Keep what no collected tombstone can contradict: a delete newer than a kept record is
  //    still held by the cluster, so LWW decides correctly when the record comes back.
  size_t skipped = 0;
  wipe_.preserved = store_.recordsSince(wipe_.gc, &skipped);
  counters_.preservedDropped += skipped;
  size_t records = store_.tombstoneCount() + keyspace_.size();
  store_.reset();
  spdlog::error(
      "mesh: this node was evicted (cut off longer than TOMBSTONE_GRACE_MS): wiped {} records, "
      "keeping those newer than the cluster's tombstone horizon; copying the data again",
      records);
  // 2. Forget the old life: its holds and the claims about it; a new epoch.
  holds_.clear();
  membership_.renewEpoch(mesh_util::wallMs());
  claims_.clear();
  lifeStartMs_ = nowMs();
  life_ = Life::kRejoining;
  // 3. The path of a new node (the coordinator resets the other parts): join through the
  //    evictor, subscribe, snapshot, verify, ready.
  node_.startNewLife(wipe_.url);
}

void Eviction::applyPreserved(uint64_t snapshotGc) {
  if (wipe_.preserved.empty()) return;
  // Filtered again by the snapshot source's horizon at the end of the copy: a tombstone it
  // collected while we copied is below that horizon.
  uint64_t floor = std::max(wipe_.gc, snapshotGc);
  auto f = wire::validateFrame(wipe_.preserved, wire::FrameType::kRecords);
  size_t kept = 0, dropped = 0;
  if (f.ok()) {
    wire::forEachRecord(*f, [&](const wire::RecordRef& r) {
      if (r.hlc < floor) {
        ++dropped;
        return;
      }
      // Applied and appended to the log as kPreserved: the replicator streams it again.
      if (store_.applyRemote(r, Source::kPreserved) != ApplyResult::kApplied) return;
      ++kept;
    });
  }
  counters_.preservedKept += kept;
  counters_.preservedDropped += dropped;
  std::string().swap(wipe_.preserved);
  spdlog::warn(
      "mesh: re-applied {} records kept across the wipe (replicated to the cluster); {} older "
      "than the cluster's tombstone horizon were dropped",
      kept, dropped);
}

}  // namespace db

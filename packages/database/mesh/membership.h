// Membership: the SWIM member table as pure logic, with the clock passed in (no I/O, no loop),
// so every rule is unit-tested with exact times. MeshCluster owns one, feeds it gossip, probe
// results and ticks, and turns its answers (who to probe, who changed) into network calls.
// Rules (SWIM / memberlist): alive(i) beats any state with incarnation < i; suspect(i) beats
// alive(j<=i); dead(i)/left(i) beat alive/suspect(j<=i). A node told it is suspect or dead
// refutes with incarnation+1. Incarnations start at the boot time in ms, so a restarted node
// (same id, empty store) outranks everything said about its previous life.
// Evictions: a member away longer than the tombstone grace period is evicted (the Eviction part
// decides when); the eviction (id, epoch) is gossiped like a state and remembered, and nothing
// from that life of the member (epoch <= the evicted one) is accepted again. A node that learns it
// was evicted reports selfEvicted() and starts a new life with renewEpoch().
// Admission (requireAdmission(true), MeshCluster's setting): a member learnt from gossip is only a
// CANDIDATE until the owner had an authenticated exchange with it at its URL and calls admit();
// candidates are not live members: not probed by SWIM (the owner pings them to admit them, and
// drops them with forgetCandidate when that fails), not counted, not asked to help probe, not
// gossiped on. A new URL makes a member a candidate again.
// The one thing to get right: unknown members learnt as dead/left are NOT added (otherwise two
// nodes re-teach each other a forgotten dead member forever).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <map>

#include "database/mesh/mesh_options.h"

namespace db {

// kEvicted travels in gossip and in change notifications only: an evicted member is removed from
// the table (its eviction is kept in the registry instead).
enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3, kEvicted = 4 };
std::string_view memberStateName(MemberState s);
std::optional<MemberState> parseMemberState(std::string_view s);

struct MemberUpdate {  // one entry of a gossiped member list
  std::string id;
  std::string url;
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  uint64_t epoch = 0;  // the member process's boot time in ms: one value per life
};

struct Member {
  std::string id;
  std::string url;
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  uint64_t epoch = 0;          // see MemberUpdate::epoch
  uint64_t stateSinceMs = 0;   // local clock: when it entered `state`
  uint64_t lastContactMs = 0;  // local clock: last successful exchange (0 = never)
  bool admitted = true;        // false: a candidate (see requireAdmission)
  bool live() const { return state == MemberState::kAlive || state == MemberState::kSuspect; }
};

class Membership {
 public:
  // Called after a member's state or incarnation changed (not for self refutations).
  using ChangeFn = std::function<void(const Member& m, MemberState before, bool isNew)>;

  Membership(std::string selfId, std::string selfUrl, uint64_t incarnation, MeshOptions opts,
             uint64_t seed = 1);

  void onChange(ChangeFn fn) { onChange_ = std::move(fn); }
  // From now on members learnt by apply() are candidates until admit() (see the top).
  void requireAdmission(bool on) { requireAdmission_ = on; }
  // `id` proved itself at its current URL: a member from now on. Notifies onChange (isNew =
  // true) when it was a candidate. False when unknown or admitted already.
  bool admit(std::string_view id, uint64_t nowMs);
  // A candidate that did not prove itself is dropped (no state change is gossiped: it was never
  // a member); learnt again, it is a candidate again. False when unknown or admitted.
  bool forgetCandidate(std::string_view id);

  // Merges one gossiped entry. Returns true when anything changed (self refutation included).
  bool apply(const MemberUpdate& u, uint64_t nowMs);
  // A successful exchange with `id` (probe answered, request from it): refreshes lastContact.
  void contact(std::string_view id, uint64_t nowMs);
  // Direct and indirect probes of `id` all failed: alive -> suspect.
  void probeFailed(std::string_view id, uint64_t nowMs);
  // Suspects past the suspicion timeout become dead; old dead/left members are forgotten, except
  // dead members the retain function (setRetainDead) keeps.
  void tick(uint64_t nowMs);
  void setRetainDead(std::function<bool(const Member&)> fn) { retainDead_ = std::move(fn); }

  // Evicts a member (this life of it): removed from the table, remembered and gossiped as
  // evicted. Notifies onChange with state kEvicted. False when `id` is unknown.
  bool evict(std::string_view id);
  // True when a message from `id` in its life `epoch` must be refused (that life was evicted).
  bool isEvicted(std::string_view id, uint64_t epoch) const;
  const std::map<std::string, uint64_t, std::less<>>& evictions() const { return evicted_; }
  // Gossip said this node's current life was evicted.
  bool selfEvicted() const { return selfEvicted_; }
  // A new life after an eviction: epoch and incarnation become max(wallMs, incarnation + 1).
  void renewEpoch(uint64_t wallMs);
  // The URL peers reach us at (known only once the server listens when the port is 0).
  void setSelfUrl(std::string url) { self_.url = std::move(url); }
  // Marks this node as leaving (announced to peers by MeshCluster).
  void leave(uint64_t nowMs);

  // The next member to probe: live members in a shuffled round robin; every 4th pick a dead
  // member (so a healed partition or a returned node is noticed). nullopt when nobody.
  std::optional<std::string> nextProbeTarget();
  // Up to k live members other than `target`, chosen at random, to probe `target` indirectly.
  std::vector<std::string> indirectHelpers(std::string_view target, int k);

  const Member& self() const { return self_; }
  const Member* find(std::string_view id) const;
  const std::map<std::string, Member, std::less<>>& members() const { return members_; }
  // Admitted members only (candidates are not members yet).
  std::vector<const Member*> liveMembers() const;  // self excluded
  std::vector<MemberUpdate> gossip() const;        // self included
  size_t liveCount() const;                        // self included

 private:
  void setState(Member& m, MemberState s, uint64_t inc, uint64_t nowMs, bool isNew);
  bool applyEviction(const MemberUpdate& u);
  void removeEvicted(std::map<std::string, Member, std::less<>>::iterator it);

  Member self_;
  MeshOptions opts_;
  std::map<std::string, Member, std::less<>> members_;  // self excluded
  std::vector<std::string> probeOrder_;
  size_t probeIndex_ = 0;
  uint64_t picks_ = 0;
  size_t deadCursor_ = 0;
  std::mt19937_64 rng_;
  ChangeFn onChange_;
  std::function<bool(const Member&)> retainDead_;
  std::map<std::string, uint64_t, std::less<>> evicted_;  // id -> highest evicted epoch
  bool selfEvicted_ = false;
  bool requireAdmission_ = false;
  static constexpr size_t kMaxEvictions = 1024;  // oldest forgotten beyond this
};

}  // namespace db

// See membership.h. The precedence rules live in apply(); everything else is bookkeeping.
#include "database/mesh/membership.h"

#include <algorithm>

namespace db {

std::string_view memberStateName(MemberState s) {
  switch (s) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
    case MemberState::kEvicted:
      return "evicted";
  }
  return "unknown";
}

std::optional<MemberState> parseMemberState(std::string_view s) {
  if (s == "alive") return MemberState::kAlive;
  if (s == "suspect") return MemberState::kSuspect;
  if (s == "dead") return MemberState::kDead;
  if (s == "left") return MemberState::kLeft;
  if (s == "evicted") return MemberState::kEvicted;
  return std::nullopt;
}

Membership::Membership(std::string selfId, std::string selfUrl, uint64_t incarnation,
                       MeshOptions opts, uint64_t seed)
    : opts_(std::move(opts)), rng_(seed) {
  self_.id = std::move(selfId);
  self_.url = std::move(selfUrl);
  self_.incarnation = incarnation;
  self_.epoch = incarnation;
}

void Membership::setState(Member& m, MemberState s, uint64_t inc, uint64_t nowMs, bool isNew) {
  MemberState before = m.state;
  bool changedState = isNew || before != s;
  m.incarnation = inc;
  if (changedState || s == MemberState::kSuspect) m.stateSinceMs = nowMs;
  m.state = s;
  if (onChange_) onChange_(m, before, isNew);
}

bool Membership::apply(const MemberUpdate& u, uint64_t nowMs) {
  if (u.id.empty()) return false;
  if (u.state == MemberState::kEvicted) return applyEviction(u);
  if (isEvicted(u.id, u.epoch)) return false;  // news of a life that was evicted
  if (auto ev = evicted_.find(u.id); ev != evicted_.end()) evicted_.erase(ev);  // a new life
  if (u.id == self_.id) {
    // Someone believes we are suspect/dead/left: refute with a higher incarnation, unless we are
    // really leaving.
    if (self_.state == MemberState::kLeft) return false;
    if (u.state != MemberState::kAlive && u.incarnation >= self_.incarnation) {
      self_.incarnation = u.incarnation + 1;
      return true;
    }
    return false;
  }
  auto it = members_.find(u.id);
  if (it == members_.end()) {
    if (u.state == MemberState::kDead || u.state == MemberState::kLeft) return false;
    Member m;
    m.id = u.id;
    m.url = u.url;
    m.epoch = u.epoch;
    m.admitted = !requireAdmission_;
    auto [pos, _] = members_.emplace(u.id, std::move(m));
    setState(pos->second, u.state, u.incarnation, nowMs, /*isNew=*/true);
    probeOrder_.push_back(u.id);
    return true;
  }
  Member& m = it->second;
  bool take = false;
  switch (u.state) {
    case MemberState::kAlive:
      take = u.incarnation > m.incarnation;
      break;
    case MemberState::kSuspect:
      if (m.state == MemberState::kAlive)
        take = u.incarnation >= m.incarnation;
      else
        take = u.incarnation > m.incarnation;
      break;
    case MemberState::kDead:
      if (m.live())
        take = u.incarnation >= m.incarnation;
      else
        take = u.incarnation > m.incarnation;
      break;
    case MemberState::kEvicted:  // handled by applyEviction
      return false;
    case MemberState::kLeft:
      if (m.state != MemberState::kLeft)
        take = u.incarnation >= m.incarnation;
      else
        take = u.incarnation > m.incarnation;
      break;
  }
  if (!take) return false;
  if (!u.url.empty() && u.url != m.url) {
    m.url = u.url;
    if (requireAdmission_) m.admitted = false;  // it must prove itself at the new address
  }
  m.epoch = std::max(m.epoch, u.epoch);
  setState(m, u.state, u.incarnation, nowMs, false);
  return true;
}

bool Membership::admit(std::string_view id, uint64_t nowMs) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.admitted) return false;
  Member& m = it->second;
  m.admitted = true;
  m.lastContactMs = nowMs;
  if (onChange_) onChange_(m, m.state, /*isNew=*/true);
  return true;
}

bool Membership::forgetCandidate(std::string_view id) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.admitted) return false;
  members_.erase(it);
  std::erase(probeOrder_, std::string(id));
  return true;
}

void Membership::contact(std::string_view id, uint64_t nowMs) {
  auto it = members_.find(id);
  if (it != members_.end()) it->second.lastContactMs = nowMs;
}

void Membership::probeFailed(std::string_view id, uint64_t nowMs) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.state != MemberState::kAlive) return;
  setState(it->second, MemberState::kSuspect, it->second.incarnation, nowMs, false);
}

void Membership::tick(uint64_t nowMs) {
  std::vector<std::string> forget;
  for (auto& [id, m] : members_) {
    if (m.state == MemberState::kSuspect && nowMs - m.stateSinceMs >= opts_.suspicionTimeoutMs) {
      setState(m, MemberState::kDead, m.incarnation, nowMs, false);
    } else if (!m.live() && nowMs - m.stateSinceMs >= opts_.deadRetentionMs) {
      if (m.state == MemberState::kDead && retainDead_ && retainDead_(m)) continue;
      forget.push_back(id);
    }
  }
  for (const auto& id : forget) members_.erase(id);
  if (!forget.empty()) {
    std::erase_if(probeOrder_, [&](const std::string& id) { return !(members_.count(id) > 0); });
  }
}

bool Membership::applyEviction(const MemberUpdate& u) {
  if (u.id == self_.id) {
    if (u.epoch < self_.epoch || selfEvicted_) return false;
    selfEvicted_ = true;
    return true;
  }
  auto ev = evicted_.find(u.id);
  if (ev != evicted_.end() && ev->second >= u.epoch) return false;  // known already
  auto it = members_.find(u.id);
  if (it != members_.end() && it->second.epoch > u.epoch) return false;  // a later life is here
  evicted_[u.id] = u.epoch;
  if (evicted_.size() > kMaxEvictions) {
    auto oldest =
        std::min_element(evicted_.begin(), evicted_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    evicted_.erase(oldest);
  }
  if (it != members_.end()) removeEvicted(it);
  return true;
}

bool Membership::evict(std::string_view id) {
  auto it = members_.find(id);
  if (it == members_.end()) return false;
  evicted_[it->first] = it->second.epoch;
  removeEvicted(it);
  return true;
}

void Membership::removeEvicted(std::map<std::string, Member, std::less<>>::iterator it) {
  Member m = it->second;
  MemberState before = m.state;
  std::string id = it->first;
  members_.erase(it);
  std::erase(probeOrder_, id);
  m.state = MemberState::kEvicted;
  if (onChange_) onChange_(m, before, false);
}

bool Membership::isEvicted(std::string_view id, uint64_t epoch) const {
  auto ev = evicted_.find(id);
  return ev != evicted_.end() && epoch <= ev->second;
}

void Membership::renewEpoch(uint64_t wallMs) {
  self_.incarnation = std::max(wallMs, self_.incarnation + 1);
  self_.epoch = self_.incarnation;
  self_.state = MemberState::kAlive;
  selfEvicted_ = false;
}

void Membership::leave(uint64_t nowMs) {
  self_.state = MemberState::kLeft;
  self_.incarnation += 1;
  self_.stateSinceMs = nowMs;
}

std::optional<std::string> Membership::nextProbeTarget() {
  if ((++picks_ % 4) == 0) {
    std::vector<const std::string*> dead;
    for (const auto& [id, m] : members_) {
      if (m.state == MemberState::kDead && m.admitted) dead.push_back(&id);
    }
    if (!dead.empty()) return *dead[(deadCursor_++) % dead.size()];
  }
  for (size_t n = 0; n <= probeOrder_.size(); ++n) {
    if (probeIndex_ >= probeOrder_.size()) {
      probeIndex_ = 0;
      std::shuffle(probeOrder_.begin(), probeOrder_.end(), rng_);
    }
    if (probeOrder_.empty()) break;
    const std::string& id = probeOrder_[probeIndex_++];
    auto it = members_.find(id);
    if (it != members_.end() && it->second.live() && it->second.admitted) return id;
  }
  return std::nullopt;
}

std::vector<std::string> Membership::indirectHelpers(std::string_view target, int k) {
  std::vector<std::string> out;
  for (const auto& [id, m] : members_) {
    if (id != target && m.state == MemberState::kAlive && m.admitted) out.push_back(id);
  }
  std::sort(out.begin(), out.end());  // deterministic before the seeded shuffle
  std::shuffle(out.begin(), out.end(), rng_);
  if (out.size() > static_cast<size_t>(std::max(k, 0))) out.resize(std::max(k, 0));
  return out;
}

const Member* Membership::find(std::string_view id) const {
  if (id == self_.id) return &self_;
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

std::vector<const Member*> Membership::liveMembers() const {
  std::vector<const Member*> out;
  for (const auto& [id, m] : members_) {
    if (m.live() && m.admitted) out.push_back(&m);
  }
  std::sort(out.begin(), out.end(), [](const Member* a, const Member* b) { return a->id < b->id; });
  return out;
}

std::vector<MemberUpdate> Membership::gossip() const {
  std::vector<MemberUpdate> out;
  out.reserve(members_.size() + 1);
  out.push_back({self_.id, self_.url, self_.state, self_.incarnation, self_.epoch});
  for (const auto& [id, m] : members_) {
    if (m.admitted) out.push_back({m.id, m.url, m.state, m.incarnation, m.epoch});
  }
  for (const auto& [id, epoch] : evicted_) out.push_back({id, "", MemberState::kEvicted, 0, epoch});
  return out;
}

size_t Membership::liveCount() const {
  size_t n = self_.state == MemberState::kLeft ? 0 : 1;
  for (const auto& [id, m] : members_) n += m.live() && m.admitted ? 1 : 0;
  return n;
}

}  // namespace db

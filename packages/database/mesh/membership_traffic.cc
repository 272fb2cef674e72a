// MembershipTraffic (see membership_traffic.h): join, subscription, probes, gossip and
// admission, and the membership routes. Membership (membership.h) holds the rules; this file
// does the I/O. Loop thread only. The one thing to get right: a join can reach this node itself
// through the balancer.
#include "database/mesh/membership_traffic.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;
using mesh_util::hex64;
using mesh_util::queryParam;

namespace {
// One member of a gossip list, {"id","url","state","inc","epoch"}: from the member table
// (MemberUpdate) or this node itself (Member); the reader is mergeGossip().
template <typename M>
void appendGossipEntry(std::string& s, const M& m) {
  s.append("{\"id\":");
  json::appendString(s, m.id);
  s.append(",\"url\":");
  json::appendString(s, m.url);
  s.append(",\"state\":\"");
  s.append(memberStateName(m.state));
  s.append("\",\"inc\":");
  json::appendUint(s, m.incarnation);
  s.append(",\"epoch\":");
  json::appendUint(s, m.epoch);
  s.push_back('}');
}

constexpr int kJoinAttemptsBeforeAlone = 6;     // then a node starts a cluster of its own
constexpr uint64_t kMaxFutureMs = 3600 * 1000;  // gossiped incarnations beyond now + this: lies
}  // namespace

MembershipTraffic::MembershipTraffic(uv_loop_t* loop, const MeshOptions& opts,
                                     MeshTransport& transport, Membership& membership,
                                     Replicator& replicator, StoreBridge& store, Eviction& eviction,
                                     AntiEntropy& antiEntropy, MeshPhase& node)
    : loop_(loop),
      opts_(opts),
      transport_(transport),
      membership_(membership),
      replicator_(replicator),
      store_(store),
      eviction_(eviction),
      antiEntropy_(antiEntropy),
      node_(node),
      joinTimer_(loop, [this] { attemptJoin(); }) {}

// ---------------------------------------------------------------------------------------------
// Join
// ---------------------------------------------------------------------------------------------

void MembershipTraffic::startJoin() {
  join_.backoffMs = opts_.joinRetryMs;
  attemptJoin();
}

void MembershipTraffic::joinAgain(JoinRetry when) {
  if (when == JoinRetry::kNow) {
    attemptJoin();
  } else {
    joinTimer_.start(join_.backoffMs);
  }
}

void MembershipTraffic::rejoinThrough(const std::string& url) {
  join_.attempts = 0;
  join_.backoffMs = opts_.joinRetryMs;
  join_.url = url;
  joinTimer_.stop();
  attemptJoin();
}

void MembershipTraffic::tick() {
  // Alone (or everybody else dead): keep knocking at the join URL, so split clusters merge.
  // Alone: knock every tick. With peers: now and then too, since two groups that each formed
  // on their own (nodes started together, nobody reachable yet) would otherwise never meet.
  if (node_.phase() == Phase::kReady &&
      (replicator_.peers().empty() || ++knockTick_ % kKnockEveryTicks == 0)) {
    knock(replicator_.peers().empty() ? kKnockTries : 1);
  }
  auto target = membership_.nextProbeTarget();
  if (target) probe(*target);
}

// ---------------------------------------------------------------------------------------------
// Gossip, admission, probes
// ---------------------------------------------------------------------------------------------

std::string MembershipTraffic::gossipJson(bool withInfo) const {
  std::string s;
  s.reserve(256 + 128 * replicator_.peers().size());
  s.append("{\"from\":");
  json::appendString(s, opts_.nodeId);
  s.append(",\"epoch\":");
  json::appendUint(s, membership_.self().epoch);
  s.append(",\"members\":[");
  bool first = true;
  for (const auto& u : membership_.gossip()) {
    if (!first) s.push_back(',');
    first = false;
    appendGossipEntry(s, u);
  }
  s.push_back(']');
  if (withInfo) {
    s.append(",\"ready\":");
    s.append(node_.ready() ? "true" : "false");
    s.append(",\"delivered\":");
    uint64_t stable = mesh_util::stableHlc(store_);
    uint64_t delivered = std::min(replicator_.deliveredHlc(stable), eviction_.holdHorizon());
    json::appendUint(s, delivered);
    s.append(",\"digest\":\"");
    s.append(hex64(store_.rootDigest()));
    s.append("\",\"gc\":");  // tombstones below this hlc may be gone here
    json::appendUint(s, store_.collectedBelow());
    s.append(",\"unsyncedMs\":");  // part of everybody's expiry lag (AntiEntropy)
    json::appendUint(s, opts_.unsyncedMs);
    // Expiry holds (Eviction::holdExpiry): member id -> end (wall ms), so that a node that
    // joins or heard of the event late holds as well.
    s.append(",\"expiryHolds\":{");
    bool firstHold = true;
    for (const auto& [id, until] : eviction_.expiryHoldsById()) {
      if (!firstHold) s.push_back(',');
      firstHold = false;
      json::appendString(s, id);
      s.push_back(':');
      json::appendUint(s, until);
    }
    s.push_back('}');
  }
  s.push_back('}');
  return s;
}

bool MembershipTraffic::mergeGossip(std::string_view body, std::string* fromId,
                                    const GossipSource& src) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) return false;
  uint64_t now = nowMs();
  std::string from;
  if (d.HasMember("from") && d["from"].IsString()) from = d["from"].GetString();
  if (fromId != nullptr) *fromId = from;
  uint64_t fromEpoch = d.HasMember("epoch") && d["epoch"].IsUint64() ? d["epoch"].GetUint64() : 0;
  if (!from.empty() && membership_.isEvicted(from, fromEpoch)) return false;  // an evicted life
  // Who is believed about whom. With a secret, the list was verified (request or answer): its
  // sender holds the secret. Without one, a sender is believed about others only once admitted
  // (and, for an answer, only at its own URL); anyone may still introduce itself (a candidate).
  const Member* sender = from.empty() ? nullptr : membership_.find(from);
  bool trusted = transport_.secured() ||
                 (sender != nullptr && sender != &membership_.self() && sender->admitted &&
                  (src.answeredUrl.empty() || sender->url == src.answeredUrl));
  // Incarnations and epochs are boot times in ms (+ refutations): one far in the future is a lie
  // that no real node could ever outrank (and 2^64-1 cannot even be refuted).
  uint64_t latest = mesh_util::wallMs() + kMaxFutureMs;
  uint64_t gc = d.HasMember("gc") && d["gc"].IsUint64() ? d["gc"].GetUint64() : 0;
  if (d.HasMember("members") && d["members"].IsArray()) {
    for (const auto& e : d["members"].GetArray()) {
      if (!e.IsObject() || !e.HasMember("id") || !e["id"].IsString() || !e.HasMember("url") ||
          !e["url"].IsString() || !e.HasMember("state") || !e["state"].IsString() ||
          !e.HasMember("inc") || !e["inc"].IsUint64()) {
        continue;
      }
      auto st = parseMemberState(e["state"].GetString());
      if (!st) continue;
      uint64_t epoch = e.HasMember("epoch") && e["epoch"].IsUint64() ? e["epoch"].GetUint64() : 0;
      MemberUpdate u{e["id"].GetString(), e["url"].GetString(), *st, e["inc"].GetUint64(), epoch};
      if (u.id.empty() || u.id.size() > wire::kMaxOriginBytes) continue;
      if (u.incarnation > latest || u.epoch > latest) {
        spdlog::warn("mesh: {} gossiped {} with incarnation {} (epoch {}): in the future; ignored",
                     from, u.id, u.incarnation, u.epoch);
        continue;
      }
      if (u.id == opts_.nodeId) {
        // "This life of yours was evicted": a claim, counted only from a member answering at
        // its own URL, and acted on only once agreed (eviction.h).
        if (u.state == MemberState::kEvicted) {
          if (u.epoch >= membership_.self().epoch && !src.answeredUrl.empty()) {
            eviction_.noteClaim(src.answeredUrl, from, gc);
          }
          continue;
        }
      } else if (u.id == from) {
        if (u.state == MemberState::kEvicted) continue;  // nobody evicts itself
      } else {
        const Member* known = membership_.find(u.id);
        if (!trusted) {
          // An unproven sender may introduce members (candidates), nothing more.
          if (u.state != MemberState::kAlive || known != nullptr) continue;
        } else if (u.state == MemberState::kLeft) {
          continue;  // a leave is announced by the member itself (/_mesh/leave), never relayed
        } else if (u.state == MemberState::kEvicted && known != nullptr && known->live() &&
                   node_.ready()) {
          // Evicted members were dead to the evictor's side for the grace period; one we still
          // exchange with was not evicted by agreement. (A node still copying the cluster's data
          // takes the cluster's view: it may have met the evicted life before the news.)
          spdlog::debug("mesh: {} says {} was evicted, but it is {} here; ignored", from, u.id,
                        memberStateName(known->state));
          continue;
        }
      }
      membership_.apply(u, now);
    }
  }
  if (!from.empty() && from != opts_.nodeId) {
    if (!src.answeredUrl.empty()) admitFromAnswer(src.answeredUrl, from);
    membership_.contact(from, now);
    if (Peer* p = replicator_.peer(from)) {
      if (d.HasMember("ready") && d["ready"].IsBool()) {
        p->state = d["ready"].GetBool() ? Peer::State::kReady : Peer::State::kNotReady;
      }
      if (d.HasMember("delivered") && d["delivered"].IsUint64()) {
        p->deliveredHlc = d["delivered"].GetUint64();
      }
      if (d.HasMember("unsyncedMs") && d["unsyncedMs"].IsUint64()) {
        // Believed up to an hour (FSYNC=no is 35 s): a bigger number would stop expiry.
        p->unsyncedMs = std::min<uint64_t>(d["unsyncedMs"].GetUint64(), kMaxUnsyncedMs);
      }
      if (d.HasMember("expiryHolds") && d["expiryHolds"].IsObject()) {
        size_t n = 0;
        for (const auto& h : d["expiryHolds"].GetObject()) {
          if (++n > kMaxGossipExpiryHolds || !h.value.IsUint64()) break;
          eviction_.mergeExpiryHold({h.name.GetString(), h.name.GetStringLength()},
                                    h.value.GetUint64());
        }
      }
      if (d.HasMember("digest") && d["digest"].IsString()) p->digest = d["digest"].GetString();
      // A peer first met while both were serving (two clusters merging): repair with it now
      // rather than at its turn, since the two may differ by far more than in-flight writes.
      if (p->ready() && p->repair == Peer::Repair::kSoon) antiEntropy_.repairSoon();
    }
  }
  return true;
}

void MembershipTraffic::admitFromAnswer(const std::string& url, const std::string& from) {
  // The answer to OUR request sent to the member's own URL, proven (with a secret) to come from
  // a holder of the secret for that very request: the member is who it says, where it says.
  const Member* m = membership_.find(from);
  if (m == nullptr || m == &membership_.self() || m->admitted || !m->live()) return;
  if (m->url != url) return;
  spdlog::info("mesh: {} ({}) admitted{}", from, url,
               transport_.secured() ? ": it answered with a valid proof" : "");
  membership_.admit(from, nowMs());
}

void MembershipTraffic::admitSoon(const std::string& id, std::function<void(bool admitted)> done) {
  auto [it, first] = admitting_.try_emplace(id);
  if (done) it->second.push_back(std::move(done));
  if (!first) return;  // a ping to it is under way already
  const Member* m = membership_.find(id);
  auto finish = [this, id] {
    auto node = admitting_.extract(id);
    const Member* now = membership_.find(id);
    bool ok = now != nullptr && now->admitted;
    if (!ok && membership_.forgetCandidate(id)) {
      // It did not prove itself: dropped (a member that moved to an unproven address too).
      spdlog::info("mesh: candidate {} did not prove itself; dropped", id);
      if (replicator_.removePeer(id)) replicator_.peerGone(id);
    }
    if (!node.empty()) {
      for (auto& cb : node.mapped()) cb(ok);
    }
  };
  if (m == nullptr || node_.going()) {
    finish();
    return;
  }
  std::string url = m->url;
  // A joiner waits for this exchange (its join is answered after it): a slow answer is not a
  // failed probe, so the deadline is the control plane's, well inside the joiner's own.
  transport_.post(url, "/_mesh/ping", "", gossipJson(true),
                  std::max(opts_.probeTimeoutMs * 2, opts_.requestTimeoutMs / 2),
                  [this, url, finish](common::http::ClientResponse&& r) {
                    if (node_.phase() != Phase::kClosed && r.error.empty() && r.status == 200) {
                      mergeGossip(r.body, nullptr, GossipSource{url});
                    }
                    finish();
                  });
}

void MembershipTraffic::attemptJoin() {
  if (node_.phase() != Phase::kJoining) return;
  ++join_.attempts;
  // After an eviction the node rejoins through the node that evicted it (it is known to be up),
  // falling back to MESH_NETWORK_URL after a few failures.
  if (rejoining() && join_.attempts > kJoinAttemptsBeforeAlone / 2) join_.url.clear();
  std::string url = join_.url.empty() ? opts_.meshNetworkUrl : join_.url;
  if (url.empty()) url = anyMemberUrl();  // no MESH_NETWORK_URL: any member it still knows
  transport_.post(
      url, "/_mesh/join", "", gossipJson(true), opts_.requestTimeoutMs,
      [this, url](common::http::ClientResponse&& r) {
        if (node_.phase() != Phase::kJoining) return;
        std::string from;
        if (!r.error.empty() || r.status != 200 || !mergeGossip(r.body, &from, GossipSource{url})) {
          spdlog::info(
              "mesh: join through {} failed (attempt {}): {}", url, join_.attempts,
              r.error.empty() ? "HTTP " + std::to_string(r.status) + " " + r.body : r.error);
          joinDone(false, false);
          return;
        }
        joinDone(true, from == opts_.nodeId);
      });
}

void MembershipTraffic::joinDone(bool ok, bool reachedSelf) {
  if (ok && !reachedSelf) {
    spdlog::info("mesh: joined; {} members known", membership_.members().size() + 1);
    subscribeAll();
    return;
  }
  if (reachedSelf) spdlog::info("mesh: the join request reached this node itself; retrying");
  // Nobody else answers (first node of a cluster, or the balancer only knows us): after a few
  // attempts this node's (empty) store is the truth; joins keep being retried from probes.
  // (Not after a wipe: the peers it still knows may be the other evicted nodes of its side; it
  // must hear the cluster's member list, evictions included, from a node that answered.)
  bool othersKnown = !replicator_.peers().empty() && !rejoining();
  if (othersKnown) {
    subscribeAll();
    return;
  }
  // A wiped node never starts a cluster of its own: its empty store is not the truth.
  if (join_.attempts >= kJoinAttemptsBeforeAlone && !rejoining()) {
    node_.becomeReady("no other node answered: starting a new cluster");
    return;
  }
  joinTimer_.start(reachedSelf ? 10 : join_.backoffMs);
  join_.backoffMs = std::min(join_.backoffMs * 2, opts_.joinRetryMs * 8);
}

void MembershipTraffic::subscribeAll() {
  // Register with every live member directly, so each of them streams its writes to us from now
  // on; only then catch up (CatchUp::start: nothing written meanwhile can be missed).
  node_.setPhase(Phase::kSubscribing);
  auto pending = std::make_shared<int>(0);
  auto best = std::make_shared<std::string>();
  std::string body = gossipJson(true);
  // Every live member, candidates included: the signed answer to this join admits them.
  std::vector<std::pair<std::string, std::string>> targets;  // id, url
  for (const auto& [id, m] : membership_.members()) {
    if (m.live()) targets.emplace_back(id, m.url);
  }
  if (targets.empty()) {
    node_.becomeReady("no live peer to copy from");
    return;
  }
  *pending = static_cast<int>(targets.size());
  for (const auto& [id, url] : targets) {
    transport_.post(
        url, "/_mesh/join", "", body, opts_.requestTimeoutMs,
        // init-captures: clang before 16 cannot capture a structured binding by name
        [this, pending, best, id = id, url = url](common::http::ClientResponse&& r) {
          if (node_.phase() != Phase::kSubscribing) return;
          std::string from;
          if (r.error.empty() && r.status == 200 && mergeGossip(r.body, &from, GossipSource{url}) &&
              from == id) {
            Peer* q = replicator_.peer(id);
            if (q != nullptr && (best->empty() || q->ready())) *best = id;
          }
          if (--*pending == 0) {
            if (best->empty()) {
              spdlog::warn("mesh: no member answered the subscription; retrying the join");
              node_.setPhase(Phase::kJoining);
              joinTimer_.start(join_.backoffMs);
              return;
            }
            node_.catchUpFrom(*best);
          }
        });
  }
}

std::string MembershipTraffic::anyMemberUrl() const {
  const auto& members = membership_.members();
  if (members.empty()) return {};
  auto it = members.begin();
  std::advance(it, join_.attempts % static_cast<int>(members.size()));
  return it->second.url;
}

void MembershipTraffic::knock(int triesLeft) {
  if (opts_.meshNetworkUrl.empty()) return;  // the first node of a cluster is knocked at
  // Through a round-robin balancer, nodes knocking in step can each be handed to themselves
  // every time (two nodes, two backends): a knock that reached this node is retried at once,
  // which moves it to the next backend.
  transport_.post(opts_.meshNetworkUrl, "/_mesh/join", "", gossipJson(true), opts_.probeTimeoutMs,
                  [this, triesLeft](common::http::ClientResponse&& r) {
                    if (node_.phase() != Phase::kReady || !r.error.empty() || r.status != 200)
                      return;
                    std::string from;
                    if (!mergeGossip(r.body, &from, GossipSource{opts_.meshNetworkUrl})) return;
                    if (from == opts_.nodeId && triesLeft > 1) knock(triesLeft - 1);
                  });
}

void MembershipTraffic::sendPing(const std::string& url, uint64_t timeoutMs,
                                 std::function<void(bool ok)> done) {
  transport_.post(url, "/_mesh/ping", "", gossipJson(true), timeoutMs,
                  [this, url, done = std::move(done)](common::http::ClientResponse&& r) {
                    if (node_.phase() == Phase::kClosed) return;
                    bool ok = r.error.empty() && r.status == 200 &&
                              mergeGossip(r.body, nullptr, GossipSource{url});
                    done(ok);
                  });
}

void MembershipTraffic::probe(const std::string& id) {
  const Member* m = membership_.find(id);
  if (m == nullptr) return;
  std::string url = m->url;
  bool wasDead = m->state == MemberState::kDead;
  sendPing(url, opts_.probeTimeoutMs, [this, id, wasDead](bool ok) {
    if (ok || wasDead) return;
    // Indirect probes: ask up to k others to reach it for us.
    auto helpers = membership_.indirectHelpers(id, opts_.indirectProbes);
    if (helpers.empty()) {
      membership_.probeFailed(id, nowMs());
      return;
    }
    const Member* target = membership_.find(id);
    if (target == nullptr) return;
    std::string body = "{\"target\":";
    json::appendString(body, id);
    body.append(",\"url\":");
    json::appendString(body, target->url);
    body.push_back('}');
    auto state = std::make_shared<std::pair<int, bool>>(static_cast<int>(helpers.size()), false);
    for (const auto& h : helpers) {
      const Member* hm = membership_.find(h);
      if (hm == nullptr) {
        --state->first;
        continue;
      }
      transport_.post(hm->url, "/_mesh/ping-req", "", body, opts_.probeTimeoutMs * 2,
                      [this, id, state](common::http::ClientResponse&& r) {
                        if (node_.phase() == Phase::kClosed) return;
                        if (r.error.empty() && r.status == 200 &&
                            r.body.find("\"ok\":true") != std::string::npos) {
                          state->second = true;
                          membership_.contact(id, nowMs());
                        }
                        if (--state->first == 0 && !state->second)
                          membership_.probeFailed(id, nowMs());
                      });
    }
    if (state->first == 0) membership_.probeFailed(id, nowMs());
  });
}

void MembershipTraffic::contactSeed(const std::string& url) {
  // An address a client handed in (/ping?nodes=) is only a candidate: it is used once its
  // answer proves it (mergeGossip admits it then), and a few are contacted at a time.
  // It is told who we are, not who else is in the mesh.
  if (seedsInFlight_ >= kMaxSeedsInFlight) return;
  ++seedsInFlight_;
  const Member& self = membership_.self();
  std::string body = "{\"from\":";
  json::appendString(body, opts_.nodeId);
  body.append(",\"epoch\":");
  json::appendUint(body, self.epoch);
  body.append(",\"members\":[");
  appendGossipEntry(body, self);
  body.append("]}");
  transport_.post(url, "/_mesh/ping", "", std::move(body), opts_.probeTimeoutMs * 2,
                  [this, url](common::http::ClientResponse&& r) {
                    --seedsInFlight_;
                    if (node_.phase() == Phase::kClosed) return;
                    if (r.error.empty() && r.status == 200)
                      mergeGossip(r.body, nullptr, GossipSource{url});
                  });
}

void MembershipTraffic::handlePing(const common::http::Request& req, common::http::Responder r,
                                   bool join) {
  if (!transport_.authorized(req, r)) return;
  std::string from;
  if (!mergeGossip(req.body, &from)) {
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_GOSSIP"));
    return;
  }
  if (join && from != opts_.nodeId) spdlog::debug("mesh: join request from {}", from);
  const Member* m = from.empty() ? nullptr : membership_.find(from);
  if (join && m != nullptr && m != &membership_.self() && !m->admitted && m->live()) {
    // A join is a subscription: the joiner copies a snapshot right after our answer, so it must
    // be streamed to from now on. It gets a stream once it proved itself at its own URL: answer
    // after that exchange.
    admitSoon(from, [this, r, proof = std::string(req.header("x-mesh-auth"))](bool ok) mutable {
      if (ok) {
        transport_.answer(r, proof, 200, gossipJson(true));
      } else {
        transport_.answer(r, proof, 503, json::errorBody("NOT_ADMITTED"));
      }
    });
    return;
  }
  transport_.answer(r, req.header("x-mesh-auth"), 200, gossipJson(true));
}

void MembershipTraffic::handlePingReq(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r)) return;
  rapidjson::Document d;
  d.Parse(req.body.data(), req.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("url") || !d["url"].IsString()) {
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_PING_REQ"));
    return;
  }
  std::string url = d["url"].GetString();
  if (!common::parseHttpUrl(url).ok()) {
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_PING_REQ"));
    return;
  }
  sendPing(url, opts_.probeTimeoutMs,
           [this, r, proof = std::string(req.header("x-mesh-auth"))](bool ok) mutable {
             transport_.answer(r, proof, 200, ok ? "{\"ok\":true}" : "{\"ok\":false}");
           });
}

void MembershipTraffic::handleLeave(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r)) return;
  mergeGossip(req.body, nullptr);
  transport_.answer(r, req.header("x-mesh-auth"), 200, "{\"success\":true}");
}

void MembershipTraffic::handlePublicPing(const common::http::Request& req,
                                         common::http::Responder r) {
  // The original's public route: merge the `nodes` list received (h:p|h:p), answer ours.
  std::string nodes = queryParam(req.query, "nodes");
  size_t start = 0;
  int contacted = 0;
  while (start <= nodes.size() && !nodes.empty() && contacted < 64) {
    size_t bar = nodes.find('|', start);
    std::string hp =
        nodes.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    start = bar == std::string::npos ? nodes.size() + 1 : bar + 1;
    if (hp.empty()) continue;
    std::string url = hp.rfind("http://", 0) == 0 ? hp : "http://" + hp;
    auto parsed = common::parseHttpUrl(url);
    if (!parsed.ok()) continue;
    bool known = url == opts_.advertiseUrl;
    for (const auto& [id, m] : membership_.members()) known = known || m.url == url;
    if (!known) {
      contactSeed(url);
      ++contacted;
    }
  }
  std::string s = "{\"nodes\":[";
  bool first = true;
  auto add = [&](const Member& m, bool self) {
    auto u = common::parseHttpUrl(m.url);
    if (!first) s.push_back(',');
    first = false;
    s.append("{\"host\":");
    json::appendString(s, u.ok() ? u->host : m.url);
    s.append(",\"port\":");
    json::appendInt(s, u.ok() ? u->port : 0);
    s.append(",\"isDown\":");
    s.append(m.live() ? "false" : "true");
    s.append(",\"source\":");
    json::appendString(s, self ? "self" : "mesh");
    s.append(",\"id\":");
    json::appendString(s, m.id);
    s.append(",\"state\":\"");
    s.append(memberStateName(m.state));
    s.append("\"}");
  };
  add(membership_.self(), true);
  for (const auto& [id, m] : membership_.members()) {
    if (m.admitted) add(m, false);  // candidates are not members yet
  }
  s.append("]}");
  r.respond(200, s);
}

}  // namespace db

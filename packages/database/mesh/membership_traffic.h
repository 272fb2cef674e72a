// MembershipTraffic: the I/O of membership; Membership (membership.h) holds the rules. Joining
// through MESH_NETWORK_URL (or, after an eviction, through the evictor), subscribing to every
// member, SWIM probes (direct, then indirect through others), the member lists merged on every
// contact, the admission of candidates (a member learnt from gossip is used only once its signed
// answer at its own URL proves it), knocking at the join URL so split clusters merge, and the
// routes /_mesh/join|ping|ping-req|leave and the original's public /ping.
// Owned by MeshCluster, which runs tick() on its probe timer; loop thread only; close(closed)
// before destruction. The one thing to get right: a join can reach this node itself through
// the balancer, and a member list is believed only as far as its sender is (mergeGossip).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/server.h"
#include "database/mesh/anti_entropy.h"
#include "database/mesh/eviction.h"
#include "database/mesh/membership.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_phase.h"
#include "database/mesh/mesh_timer.h"
#include "database/mesh/mesh_transport.h"
#include "database/mesh/replicator.h"
#include "database/mesh/store_bridge.h"

namespace db {

class MembershipTraffic {
 public:
  MembershipTraffic(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
                    Membership& membership, Replicator& replicator, StoreBridge& store,
                    Eviction& eviction, AntiEntropy& antiEntropy, MeshPhase& node);
  MembershipTraffic(const MembershipTraffic&) = delete;
  MembershipTraffic& operator=(const MembershipTraffic&) = delete;

  // The join (phase kJoining): through MESH_NETWORK_URL, with backoff between attempts.
  void startJoin();
  void joinAgain(JoinRetry when);
  // A new life after an eviction: join through `url` (the evictor) first.
  void rejoinThrough(const std::string& url);
  void joined() { join_.url.clear(); }  // ready: the next join (after a wipe) starts afresh
  // Every probe interval: knock when alone (or now and then), probe one member.
  void tick();
  // Pings candidate `id` at its URL; done(admitted) once its answer proved it (or did not).
  void admitSoon(const std::string& id, std::function<void(bool admitted)> done = {});
  // Our member list; `withInfo`: with what peers need of us (ready, delivered, digest, gc).
  std::string gossipJson(bool withInfo) const;
  void close(std::function<void()> closed) { joinTimer_.close(std::move(closed)); }

  // Routes.
  void handlePing(const common::http::Request& req, common::http::Responder r, bool join);
  void handlePingReq(const common::http::Request& req, common::http::Responder r);
  void handleLeave(const common::http::Request& req, common::http::Responder r);
  void handlePublicPing(const common::http::Request& req, common::http::Responder r);

 private:
  // Where a member list comes from: a request to us (`answeredUrl` empty) or the answer to our
  // request to `answeredUrl`. Decides what of it is believed (see mergeGossip).
  struct GossipSource {
    std::string answeredUrl;
  };
  struct Join {
    int attempts = 0;
    uint64_t backoffMs = 0;
    std::string url;  // "" = MESH_NETWORK_URL; the evictor while rejoining
  };
  static constexpr int kMaxSeedsInFlight = 16;
  static constexpr size_t kMaxGossipExpiryHolds = 1024;    // taken from one gossip message
  static constexpr uint64_t kMaxUnsyncedMs = 3600 * 1000;  // a peer's unsyncedMs, believed
  static constexpr int kKnockTries = 4;
  static constexpr uint64_t kKnockEveryTicks = 5;  // with peers: one knock every 5 probes

  void attemptJoin();
  void joinDone(bool ok, bool reachedSelf);
  void subscribeAll();
  void probe(const std::string& id);
  void sendPing(const std::string& url, uint64_t timeoutMs, std::function<void(bool ok)> done);
  void contactSeed(const std::string& url);
  void knock(int triesLeft);  // alone: join again through MESH_NETWORK_URL (when there is one)
  std::string anyMemberUrl() const;  // a known member's URL, rotating with each join attempt
  bool mergeGossip(std::string_view body, std::string* fromId, const GossipSource& src = {});
  // Admission: a candidate becomes a member once it answered a signed request at its own URL.
  void admitFromAnswer(const std::string& url, const std::string& from);
  bool rejoining() const { return eviction_.life() == Eviction::Life::kRejoining; }
  uint64_t nowMs() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  const MeshOptions& opts_;
  MeshTransport& transport_;
  Membership& membership_;
  Replicator& replicator_;
  StoreBridge& store_;
  Eviction& eviction_;
  AntiEntropy& antiEntropy_;
  MeshPhase& node_;
  MeshTimer joinTimer_;
  Join join_;
  std::map<std::string, std::vector<std::function<void(bool)>>> admitting_;  // id -> waiting
  int seedsInFlight_ = 0;  // /ping?nodes= contacts under way (bounded)
  uint64_t knockTick_ = 0;
};

}  // namespace db

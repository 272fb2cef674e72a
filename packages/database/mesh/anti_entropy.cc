// AntiEntropy (see anti_entropy.h): digest, reconcile and repair rounds with one peer at a time,
// the periodic tick that picks the peer, tombstone collection below the delivery horizon, and
// the routes /_mesh/digest|reconcile|repair. Every frame a peer sends (reconcile answer, pushed
// repair) is admitted whole by StoreBridge::admit (the API's record rules) before any of it is
// applied. Loop thread only. The one thing to get right: records merge by LWW in any order.
#include "database/mesh/anti_entropy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "common/http/json.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;
using mesh_util::kOctet;

AntiEntropy::AntiEntropy(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
                         Replicator& replicator, StoreBridge& store, const Eviction& eviction,
                         MeshPhase& node)
    : loop_(loop),
      opts_(opts),
      transport_(transport),
      replicator_(replicator),
      store_(store),
      eviction_(eviction),
      node_(node),
      timer_(loop, [this] { tick(); }) {}

void AntiEntropy::repairSoon() {
  if (nowMs() - lastStartMs_ >= kEagerRepairGapMs) tick();
}

void AntiEntropy::tick() {
  if (node_.phase() != Phase::kReady) return;
  collectTombstones();
  if (round_ == Round::kRunning || replicator_.peers().empty()) return;
  // Round robin over live peers; a peer whose outbox overflowed goes first.
  std::string target;
  for (const auto& [id, p] : replicator_.peers()) {
    if (p->outbox.needsRepair() && p->ready()) target = id;
  }
  if (target.empty()) {  // then a peer met while we were serving (a merge)
    for (auto& [id, p] : replicator_.peers()) {
      if (p->ready() && p->repair == Peer::Repair::kSoon) {
        target = id;
        p->repair = Peer::Repair::kNone;
        break;
      }
    }
  }
  if (target.empty()) {
    std::vector<const std::string*> ready;
    for (const auto& [id, p] : replicator_.peers()) {
      if (p->ready()) ready.push_back(&id);
    }
    if (ready.empty()) return;  // peers still catching up compare with us when they are ready
    target = *ready[cursor_++ % ready.size()];
  }
  lastStartMs_ = nowMs();
  roundWith(target, [](bool) {});
}

void AntiEntropy::roundWith(const std::string& peerId, std::function<void(bool ok)> done) {
  Peer* p = replicator_.peer(peerId);
  if (p == nullptr || round_ == Round::kRunning) {
    done(false);
    return;
  }
  round_ = Round::kRunning;
  uint64_t startHlc = store_.lastHlc();
  // A peer whose stream overflowed gets batches again from now on; this round covers the rest.
  if (p->outbox.overflowed()) p->outbox.reopen();
  // Step 1: our root hash; an equal peer answers "=" and the round ends there.
  std::string summary = store_.digestSummary();
  size_t sent = summary.size();
  transport_.post(
      p->url, "/_mesh/digest", "", std::move(summary), opts_.requestTimeoutMs,
      [this, peerId, startHlc, sent,
       done = std::move(done)](common::http::ClientResponse&& r) mutable {
        if (node_.phase() == Phase::kClosed) return;
        if (!r.error.empty() || r.status != 200) {
          round_ = Round::kIdle;
          spdlog::debug("mesh: anti-entropy with {} failed: {} {}", peerId, r.status, r.error);
          done(false);
          return;
        }
        size_t bytes = sent + r.body.size();
        if (node_.phase() == Phase::kRepairing) {
          // Recovered data catching up: take the peer's tombstone horizon (as a snapshot copy
          // does) and drop our tombstones it already collected, so we never teach them back.
          uint64_t gc = 0;
          auto gcText = r.header("x-mesh-gc");
          std::from_chars(gcText.data(), gcText.data() + gcText.size(), gc);
          store_.adoptCollectedBelow(gc);
          if (gc > 0)
            counters_.tombstonesDropped += store_.collectTombstones(gc, opts_.tombstoneGraceMs);
        }
        auto plan = store_.repairPlan(r.body);
        if (!plan.ok()) {
          round_ = Round::kIdle;
          spdlog::warn("mesh: bad digest from {}: {}", peerId, plan.error().code);
          done(false);
          return;
        }
        if (plan->equal) {
          round_ = Round::kComplete;
          ++counters_.rounds;
          counters_.lastBytes = bytes;
          node_.onRoundBytes(bytes);
          if (Peer* q = replicator_.peer(peerId)) q->outbox.repaired(startHlc);
          done(true);
          return;
        }
        // Step 2: the second level (mesh/store_bridge.h): a summary of our records of the
        // differing segments; the peer answers its records we lack and the hashes of ours it
        // lacks, which we send in step 3. Only a clear mark differs: step 3 alone.
        auto s = std::make_shared<State>();
        s->peerId = peerId;
        s->startHlc = startHlc;
        s->bytes = bytes;
        s->differing = plan->differing;
        s->segments = plan->segments;
        s->pushMark = plan->ourMarkNewer;
        s->done = std::move(done);
        if (s->segments.none()) {
          auto mark = store_.wantedRecords(s->segments, {});
          push(std::move(s), std::move(mark));
        } else {
          reconcile(std::move(s));
        }
      });
}

void AntiEntropy::reconcile(std::shared_ptr<State> s) {
  Peer* p = replicator_.peer(s->peerId);
  if (p == nullptr) {
    finish(std::move(s), false);
    return;
  }
  std::string summary = store_.summary(s->segments);
  s->bytes += summary.size();
  transport_.post(
      p->url, "/_mesh/reconcile", "", std::move(summary), opts_.requestTimeoutMs * 2,
      [this, s](common::http::ClientResponse&& r) mutable {
        if (node_.phase() == Phase::kClosed) return;
        if (!r.error.empty() || r.status != 200) {
          spdlog::debug("mesh: reconcile with {} failed: {} {}", s->peerId, r.status, r.error);
          finish(std::move(s), false);
          return;
        }
        s->bytes += r.body.size();
        auto a = reconcile::decodeAnswer(r.body);
        auto f = a.ok() ? store_.admit(a->frame, wire::FrameType::kRecords)
                        : common::Result<wire::FrameView>(a.error());
        if (!f.ok()) {
          Peer* src = replicator_.peer(s->peerId);
          spdlog::warn("mesh: refused the reconcile answer of {} ({}): {} {}", s->peerId,
                       src != nullptr ? src->url : "?", f.error().code, f.error().message);
          finish(std::move(s), false);
          return;
        }
        s->received = f->count;
        wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
          s->applied += store_.applyRepair(m) == ApplyResult::kApplied ? 1 : 0;
        });
        s->cut = a->truncated;
        // Step 3: what the peer lacks, as we hold it now (its newer copies applied above
        // replaced ours, which then are not sent).
        auto ours = store_.wantedRecords(s->segments, a->wanted);
        s->cut = s->cut || ours.truncated;
        s->pushed = ours.records;
        if (ours.records == 0 && !s->pushMark) {
          finish(std::move(s), true);
          return;
        }
        push(std::move(s), std::move(ours));
      });
}

void AntiEntropy::push(std::shared_ptr<State> s, StoreBridge::Wanted ours) {
  Peer* p = replicator_.peer(s->peerId);
  if (p == nullptr) {
    finish(std::move(s), false);
    return;
  }
  s->bytes += ours.frame.size();
  // /_mesh/repair with no segments: the peer applies ours and answers only its clear mark.
  transport_.post(p->url, "/_mesh/repair", "", std::move(ours.frame), opts_.requestTimeoutMs * 2,
                  [this, s](common::http::ClientResponse&& r) mutable {
                    if (node_.phase() == Phase::kClosed) return;
                    if (!r.error.empty() || r.status != 200) {
                      finish(std::move(s), false);
                      return;
                    }
                    s->bytes += r.body.size();
                    auto f = store_.admit(r.body, wire::FrameType::kRecords);
                    if (!f.ok()) {
                      Peer* src = replicator_.peer(s->peerId);
                      spdlog::warn("mesh: refused the repair answer of {} ({}): {} {}", s->peerId,
                                   src != nullptr ? src->url : "?", f.error().code,
                                   f.error().message);
                      finish(std::move(s), false);
                      return;
                    }
                    wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
                      s->applied += store_.applyRepair(m) == ApplyResult::kApplied ? 1 : 0;
                    });
                    finish(std::move(s), true);
                  });
}

void AntiEntropy::finish(std::shared_ptr<State> s, bool ok) {
  round_ = Round::kIdle;
  if (!ok) {
    s->done(false);
    return;
  }
  ++counters_.rounds;
  counters_.lastBytes = s->bytes;
  node_.onRoundBytes(counters_.lastBytes);
  size_t repairing = s->segments.count();
  // Every differing segment compared and nothing left out at a byte budget: the peer has all
  // we had at the start of the round, and the segments compared are equal now.
  bool complete = repairing == s->differing && !s->cut;
  if (complete) round_ = Round::kComplete;
  spdlog::info(
      "mesh: anti-entropy with {}: {} segments differed, {} compared, {} records received "
      "({} changed ours), {} sent{}, {} bytes",
      s->peerId, s->differing, repairing, s->received, s->applied, s->pushed,
      s->cut ? " (cut at the byte budget)" : "", counters_.lastBytes);
  if (complete) {
    if (Peer* q = replicator_.peer(s->peerId)) q->outbox.repaired(s->startHlc);
  }
  s->done(true);
}

uint64_t AntiEntropy::deliveryHorizon() const {
  // Each node reports `delivered`, the HLC up to which all of its own writes were acknowledged
  // by all of its live peers; the minimum over the live nodes (us included) bounds what
  // everybody has. Dead members hold it at what they had received until they are back or
  // evicted.
  uint64_t stable = mesh_util::stableHlc(store_);
  uint64_t horizon = std::min(stable, eviction_.holdHorizon());
  for (const auto& [id, p] : replicator_.peers()) {
    horizon = std::min(horizon, p->outbox.deliveredHlc(stable));
    horizon = std::min(horizon, p->deliveredHlc);
  }
  return horizon;
}

void AntiEntropy::refreshExpiryHorizon() {
  if (node_.phase() == Phase::kReady) store_.setExpiryHorizon(expiryHorizon(deliveryHorizon()));
}

void AntiEntropy::collectTombstones() {
  if (node_.phase() != Phase::kReady) return;
  // A tombstone may go once every live node has it (the delivery horizon), never before the
  // grace period.
  uint64_t horizon = deliveryHorizon();
  if (horizon <= lastGcHorizon_) return;  // nothing new to collect (each pass is an O(n) walk)
  lastGcHorizon_ = horizon;
  size_t n = store_.collectTombstones(horizon, opts_.tombstoneGraceMs);
  counters_.tombstonesDropped += n;
  if (n > 0) spdlog::debug("mesh: dropped {} tombstones", n);
}

uint64_t AntiEntropy::expiryLagMs() const {
  // How long a live member may hold a version before its loss would be noticed here: the
  // largest unsynced tail among us (a crash loses what a member acknowledged from memory), then
  // the failure detector at its slowest (probe orders are shuffled each pass, so two probes of a
  // member may be 2N+1 intervals apart, with the direct and indirect probes' timeouts, the
  // suspicion timeout, and a tick to act on it), the clocks' drift, a second of slack. A member
  // event seen within it starts an expiry hold first (docs/ttl.md).
  uint64_t unsynced = opts_.unsyncedMs;
  for (const auto& [id, p] : replicator_.peers()) unsynced = std::max(unsynced, p->unsyncedMs);
  uint64_t members = replicator_.peers().size() + 1;
  uint64_t detect = opts_.probeIntervalMs * (2 * members + 1) + 3 * opts_.probeTimeoutMs +
                    opts_.suspicionTimeoutMs;
  return unsynced + detect + opts_.maxClockDriftMs + 1000;
}

uint64_t AntiEntropy::expiryHorizon(uint64_t horizon) const {
  // docs/ttl.md, "Dropping expired records safely": below the delivery horizon and the expiry
  // lag; for the grace period after a member event, on the tombstones' schedule as well.
  uint64_t now = mesh_util::wallMs();
  uint64_t lag = expiryLagMs();
  uint64_t h = std::min(horizon, Hlc::pack(now > lag ? now - lag : 0, 0));
  if (eviction_.expiryHeld()) {
    uint64_t grace = opts_.tombstoneGraceMs;
    h = std::min(h, Hlc::pack(now > grace ? now - grace : 0, 0));
  }
  return h;
}

void AntiEntropy::handleDigest(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r) || !node_.servesData(req, r, /*takesData=*/false)) return;
  auto digest = store_.answerDigest(req.body);
  if (!digest.ok()) {
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody(digest.error().code));
    return;
  }
  // With our tombstone horizon, which a node catching up from recovered data adopts.
  transport_.answer(r, req.header("x-mesh-auth"), 200, digest.value(), kOctet,
                    {{"X-Mesh-Gc", std::to_string(store_.collectedBelow())}});
}

void AntiEntropy::handleRepair(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r) || !node_.servesData(req, r, /*takesData=*/true)) return;
  // Pushed records pass the record rules like any peer's, whole frame or nothing. The pusher
  // (an anti-entropy round) just fails that round: nothing is resent in a loop.
  auto f = store_.admit(req.body, wire::FrameType::kRecords);
  if (!f.ok()) {
    spdlog::warn("mesh: refused a repair from {:.64}: {} {}", req.header("x-mesh-from"),
                 f.error().code, f.error().message);
    bool invalid = f.error().code == "INVALID_RECORD";
    transport_.answer(r, req.header("x-mesh-auth"), 400,
                      json::errorBody(invalid ? "INVALID_RECORD" : "BAD_RECORDS"),
                      "application/json", {{"X-Mesh-Error", f.error().code}});
    return;
  }
  // Our records for the same segments first (before applying theirs: we send what we had).
  auto segments = StoreBridge::segmentsFromExtra(f->extra);
  if (!segments.ok()) {
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_SEGMENTS"));
    return;
  }
  std::string ours = store_.segmentRecords(*segments);
  wire::forEachRecord(*f, [&](const wire::RecordRef& m) { store_.applyRepair(m); });
  transport_.answer(r, req.header("x-mesh-auth"), 200, std::move(ours), kOctet);
}

void AntiEntropy::handleReconcile(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r) || !node_.servesData(req, r, /*takesData=*/false)) return;
  // Takes nothing: answers our records the summary lacks and the hashes we lack (step 3 of the
  // sender's round pushes those through /_mesh/repair).
  auto ours = store_.answerSummary(req.body);
  if (!ours.ok()) {
    spdlog::warn("mesh: refused a reconcile summary from {:.64}: {} {}", req.header("x-mesh-from"),
                 ours.error().code, ours.error().message);
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody(ours.error().code));
    return;
  }
  transport_.answer(r, req.header("x-mesh-auth"), 200, std::move(ours.value()), kOctet);
}

}  // namespace db

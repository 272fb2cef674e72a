// MeshCluster, part 4 (see mesh_cluster.h): catch-up and anti-entropy. A joining node with an
// empty store copies snapshot pages (prefetched: page N+1 is cut while page N is applied),
// verifies with one anti-entropy round and becomes ready; one that recovered its data from
// DATA_DIR runs anti-entropy rounds until nothing differs (bytes grow with the difference), unless
// that data is older than the tombstone grace period (then: reset and snapshot, never a merge
// that could resurrect a collected delete); ready nodes compare digests periodically and, for the
// differing segments, record hashes (the second level), so only differing records move;
// tombstones are collected below the delivery horizon. Routes: /_mesh/snapshot|digest|reconcile|
// repair. Every frame a peer sends (page, reconcile answer, pushed repair) is admitted whole by
// StoreBridge::admit (the API's record rules) before any of it is applied.
// The one thing to get right: records merge by LWW in any order.
#include "database/mesh/mesh_cluster.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <memory>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/mesh_util.h"
#include "database/storage/hlc.h"

namespace db {

namespace json = common::json;
using mesh_util::hex64;
using mesh_util::kOctet;
using mesh_util::queryParam;

// ---------------------------------------------------------------------------------------------
// Catch-up (snapshot) and anti-entropy
// ---------------------------------------------------------------------------------------------

void MeshCluster::startCatchUp(const std::string& peerId) {
  if (recoveredHlc_ == 0 || rejoining_) {
    if (catchUpPath_ == CatchUpPath::kNone) catchUpPath_ = CatchUpPath::kSnapshot;
    startSnapshot(peerId);
    return;
  }
  // The recovered data is as old as its newest record at most (the node was up at least until
  // then; an idle node is judged older than it is, which only costs a copy). Peers collect a
  // tombstone only once it is older than the grace period, and hold collection at what a dead
  // member had received until it is evicted (dead for the grace period): if we are back within
  // the grace period (less the clock drift allowed between nodes), no delete we lack has been
  // collected, and a LWW merge cannot bring a deleted key back. The margin: the clock drift
  // allowed between nodes, plus a request timeout for deletes still in flight to us when we
  // stopped (older than our newest record, yet not received).
  uint64_t newestMs = Hlc::millis(recoveredHlc_);
  uint64_t now = mesh_util::wallMs();
  uint64_t ageMs = now > newestMs ? now - newestMs : 0;
  if (ageMs + opts_.maxClockDriftMs + opts_.requestTimeoutMs >= opts_.tombstoneGraceMs) {
    size_t records = keyspace_.size() + store_->tombstoneCount();
    spdlog::warn(
        "mesh: the recovered data is {} ms old (TOMBSTONE_GRACE_MS {}): peers may have collected "
        "deletes it lacks; dropping its {} records and copying a snapshot",
        ageMs, opts_.tombstoneGraceMs, records);
    store_->reset();  // Keyspace::reset: the persister logs a reset record
    recoveredHlc_ = 0;
    catchUpPath_ = CatchUpPath::kTooOld;
    startSnapshot(peerId);
    return;
  }
  phase_ = Phase::kRepairing;
  catchUpPath_ = CatchUpPath::kAntiEntropy;
  snapshotPeer_ = peerId;
  catchUpFailures_ = 0;
  spdlog::info("mesh: {} records recovered (newest {} ms old): catching up from {} by anti-entropy",
               keyspace_.size(), ageMs, peerId);
  catchUpRound();
}

void MeshCluster::catchUpRound() {
  if (phase_ != Phase::kRepairing) return;
  antiEntropyWith(snapshotPeer_, [this](bool ok) {
    if (phase_ != Phase::kRepairing) return;
    if (!ok) {
      if (++catchUpFailures_ < kMaxCatchUpFailures && replicator_->peer(snapshotPeer_) != nullptr) {
        catchUpRound();
        return;
      }
      spdlog::warn("mesh: anti-entropy catch-up with {} failed {} times; joining again",
                   snapshotPeer_, catchUpFailures_);
      phase_ = Phase::kJoining;
      uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, joinBackoffMs_, 0);
      return;
    }
    catchUpFailures_ = 0;
    ++catchUpRounds_;
    if (aeRound_ == AeRound::kComplete) {
      becomeReady("recovered data caught up by anti-entropy");
      spdlog::info("mesh: catch-up took {} rounds, {} bytes", catchUpRounds_, catchUpBytes_);
      return;
    }
    if (catchUpRounds_ >= kMaxCatchUpRounds) {
      becomeReady("recovered data mostly caught up (round limit; periodic anti-entropy goes on)");
      return;
    }
    catchUpRound();  // a large gap: the round was bounded by kRepairRecordBudget
  });
}

void MeshCluster::startSnapshot(const std::string& peerId) {
  phase_ = Phase::kSnapshot;
  snapshotPeer_ = peerId;
  snapshotRecords_ = 0;
  snapshotFetched_ = false;
  snapshotGc_ = 0;
  spdlog::info("mesh: copying a snapshot from {}", peerId);
  fetchPage(peerId, "");
}

void MeshCluster::fetchPage(const std::string& peerId, std::string cursor) {
  Peer* p = replicator_->peer(peerId);
  if (p == nullptr) {
    spdlog::warn("mesh: snapshot source {} went away; joining again", peerId);
    phase_ = Phase::kJoining;
    attemptJoin();
    return;
  }
  std::string query = "cursor=";
  common::urlEncode(cursor, query);
  transport_->post(
      p->url, "/_mesh/snapshot", query, "", opts_.requestTimeoutMs * 2,
      [this, peerId](common::http::ClientResponse&& r) {
        if (phase_ != Phase::kSnapshot) return;
        if (!r.error.empty() || r.status != 200) {
          spdlog::warn("mesh: snapshot page from {} failed: {}; starting over", peerId,
                       r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error);
          phase_ = Phase::kJoining;
          uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, joinBackoffMs_, 0);
          return;
        }
        // A page is admitted whole (the record rules included) or not at all; the copy then
        // starts over (the pages applied before it passed the same rules).
        auto f = store_->admit(r.body, wire::FrameType::kSnapshot);
        if (!f.ok()) {
          Peer* src = replicator_->peer(peerId);
          spdlog::warn("mesh: refused a snapshot page from {} ({}): {} {}; starting over", peerId,
                       src != nullptr ? src->url : "?", f.error().code, f.error().message);
          phase_ = Phase::kJoining;
          uv_timer_start(&joinTimer_, &MeshCluster::onJoinTimer, joinBackoffMs_, 0);
          return;
        }
        // The source's tombstone horizon when it cut this page (kept records below it are
        // dropped after the copy: see applyPreserved).
        uint64_t gc = 0;
        auto gcText = r.header("x-mesh-gc");
        std::from_chars(gcText.data(), gcText.data() + gcText.size(), gc);
        snapshotGc_ = std::max(snapshotGc_, gc);
        catchUpBytes_ += r.body.size();
        // Ask for the next page first, apply this one on the next loop turn: the peer cuts
        // page N+1 while we apply page N.
        std::string next(f->extra);
        pagesToApply_.push_back(std::move(r.body));
        if (!next.empty()) {
          fetchPage(peerId, std::move(next));
        } else {
          snapshotFetched_ = true;
        }
        uv_timer_start(&applyTimer_, &MeshCluster::onApplyTimer, 0, 0);
      });
}

void MeshCluster::onApplyTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->applyPages();
}

void MeshCluster::applyPages() {
  while (!pagesToApply_.empty()) {
    std::string body = std::move(pagesToApply_.front());
    pagesToApply_.pop_front();
    auto f = wire::validateFrame(body, wire::FrameType::kSnapshot);
    if (!f.ok()) continue;  // admitted on arrival (fetchPage)
    wire::forEachRecord(*f, [&](const wire::RecordRef& m) { store_->applyRemote(m); });
    snapshotRecords_ += f->count;
  }
  if (!snapshotFetched_ || phase_ != Phase::kSnapshot) return;
  snapshotFetched_ = false;
  spdlog::info("mesh: snapshot from {} done: {} records in {} ms; verifying", snapshotPeer_,
               snapshotRecords_, uv_hrtime() / 1000000 - catchUpStartedMs_);
  store_->adoptCollectedBelow(snapshotGc_);
  if (rejoining_) applyPreserved();
  phase_ = Phase::kVerifying;
  antiEntropyWith(snapshotPeer_, [this](bool ok) {
    if (phase_ != Phase::kVerifying) return;
    becomeReady(ok ? "snapshot copied and verified"
                   : "snapshot copied (verification failed; periodic anti-entropy will repair)");
  });
}

void MeshCluster::becomeReady(const char* why) {
  if (phase_ == Phase::kLeaving || phase_ == Phase::kClosed) return;
  phase_ = Phase::kReady;
  ready_ = true;
  readyAtMs_ = uv_hrtime() / 1000000;
  rejoining_ = false;
  recoveredHlc_ = 0;  // from now on this store is served: a later join merges, never resets it
  joinUrl_.clear();
  spdlog::info("mesh: ready after {} ms ({})", readyAtMs_ - catchUpStartedMs_, why);
}

void MeshCluster::onAeTimer(uv_timer_t* t) noexcept {
  static_cast<MeshCluster*>(t->data)->aeTick();
}

void MeshCluster::aeTick() {
  if (phase_ != Phase::kReady) return;
  collectTombstones();
  if (aeRound_ == AeRound::kRunning || replicator_->peers().empty()) return;
  // Round robin over live peers; a peer whose outbox overflowed goes first.
  std::string target;
  for (const auto& [id, p] : replicator_->peers()) {
    if (p->outbox.needsRepair() && p->ready()) target = id;
  }
  if (target.empty()) {  // then a peer met while we were serving (a merge)
    for (auto& [id, p] : replicator_->peers()) {
      if (p->ready() && p->repair == Peer::Repair::kSoon) {
        target = id;
        p->repair = Peer::Repair::kNone;
        break;
      }
    }
  }
  if (target.empty()) {
    std::vector<const std::string*> ready;
    for (const auto& [id, p] : replicator_->peers()) {
      if (p->ready()) ready.push_back(&id);
    }
    if (ready.empty()) return;  // peers still catching up compare with us when they are ready
    target = *ready[aeCursor_++ % ready.size()];
  }
  lastAeStartMs_ = nowMs();
  antiEntropyWith(target, [](bool) {});
}

void MeshCluster::antiEntropyWith(const std::string& peerId, std::function<void(bool ok)> done) {
  Peer* p = replicator_->peer(peerId);
  if (p == nullptr || aeRound_ == AeRound::kRunning) {
    done(false);
    return;
  }
  aeRound_ = AeRound::kRunning;
  uint64_t startHlc = store_->lastHlc();
  // A peer whose stream overflowed gets batches again from now on; this round covers the rest.
  if (p->outbox.overflowed()) p->outbox.reopen();
  // Step 1: our root hash; an equal peer answers "=" and the round ends there.
  std::string summary = store_->digestSummary();
  size_t sent = summary.size();
  transport_->post(
      p->url, "/_mesh/digest", "", std::move(summary), opts_.requestTimeoutMs,
      [this, peerId, startHlc, sent,
       done = std::move(done)](common::http::ClientResponse&& r) mutable {
        if (phase_ == Phase::kClosed) return;
        if (!r.error.empty() || r.status != 200) {
          aeRound_ = AeRound::kIdle;
          spdlog::debug("mesh: anti-entropy with {} failed: {} {}", peerId, r.status, r.error);
          done(false);
          return;
        }
        size_t bytes = sent + r.body.size();
        if (phase_ == Phase::kRepairing) {
          // Recovered data catching up: take the peer's tombstone horizon (as a snapshot copy
          // does) and drop our tombstones it already collected, so we never teach them back.
          uint64_t gc = 0;
          auto gcText = r.header("x-mesh-gc");
          std::from_chars(gcText.data(), gcText.data() + gcText.size(), gc);
          store_->adoptCollectedBelow(gc);
          if (gc > 0) tombstonesDropped_ += store_->collectTombstones(gc, opts_.tombstoneGraceMs);
        }
        auto plan = store_->repairPlan(r.body);
        if (!plan.ok()) {
          aeRound_ = AeRound::kIdle;
          spdlog::warn("mesh: bad digest from {}: {}", peerId, plan.error().code);
          done(false);
          return;
        }
        if (plan->equal) {
          aeRound_ = AeRound::kComplete;
          ++aeRounds_;
          aeBytes_ = bytes;
          if (!ready_) catchUpBytes_ += bytes;
          if (Peer* q = replicator_->peer(peerId)) q->outbox.repaired(startHlc);
          done(true);
          return;
        }
        // Step 2: the second level (mesh/store_bridge.h): a summary of our records of the
        // differing segments; the peer answers its records we lack and the hashes of ours it
        // lacks, which we send in step 3. Only a clear mark differs: step 3 alone.
        auto s = std::make_shared<AeState>();
        s->peerId = peerId;
        s->startHlc = startHlc;
        s->bytes = bytes;
        s->differing = plan->differing;
        s->segments = plan->segments;
        s->pushMark = plan->ourMarkNewer;
        s->done = std::move(done);
        if (s->segments.none()) {
          auto mark = store_->wantedRecords(s->segments, {});
          aePush(std::move(s), std::move(mark));
        } else {
          aeReconcile(std::move(s));
        }
      });
}

void MeshCluster::aeReconcile(std::shared_ptr<AeState> s) {
  Peer* p = replicator_->peer(s->peerId);
  if (p == nullptr) {
    aeFinish(std::move(s), false);
    return;
  }
  std::string summary = store_->summary(s->segments);
  s->bytes += summary.size();
  transport_->post(
      p->url, "/_mesh/reconcile", "", std::move(summary), opts_.requestTimeoutMs * 2,
      [this, s](common::http::ClientResponse&& r) mutable {
        if (phase_ == Phase::kClosed) return;
        if (!r.error.empty() || r.status != 200) {
          spdlog::debug("mesh: reconcile with {} failed: {} {}", s->peerId, r.status, r.error);
          aeFinish(std::move(s), false);
          return;
        }
        s->bytes += r.body.size();
        auto a = reconcile::decodeAnswer(r.body);
        auto f = a.ok() ? store_->admit(a->frame, wire::FrameType::kRecords)
                        : common::Result<wire::FrameView>(a.error());
        if (!f.ok()) {
          Peer* src = replicator_->peer(s->peerId);
          spdlog::warn("mesh: refused the reconcile answer of {} ({}): {} {}", s->peerId,
                       src != nullptr ? src->url : "?", f.error().code, f.error().message);
          aeFinish(std::move(s), false);
          return;
        }
        s->received = f->count;
        wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
          s->applied += store_->applyRepair(m) == ApplyResult::kApplied ? 1 : 0;
        });
        s->cut = a->truncated;
        // Step 3: what the peer lacks, as we hold it now (its newer copies applied above
        // replaced ours, which then are not sent).
        auto ours = store_->wantedRecords(s->segments, a->wanted);
        s->cut = s->cut || ours.truncated;
        s->pushed = ours.records;
        if (ours.records == 0 && !s->pushMark) {
          aeFinish(std::move(s), true);
          return;
        }
        aePush(std::move(s), std::move(ours));
      });
}

void MeshCluster::aePush(std::shared_ptr<AeState> s, StoreBridge::Wanted ours) {
  Peer* p = replicator_->peer(s->peerId);
  if (p == nullptr) {
    aeFinish(std::move(s), false);
    return;
  }
  s->bytes += ours.frame.size();
  // /_mesh/repair with no segments: the peer applies ours and answers only its clear mark.
  transport_->post(p->url, "/_mesh/repair", "", std::move(ours.frame), opts_.requestTimeoutMs * 2,
                   [this, s](common::http::ClientResponse&& r) mutable {
                     if (phase_ == Phase::kClosed) return;
                     if (!r.error.empty() || r.status != 200) {
                       aeFinish(std::move(s), false);
                       return;
                     }
                     s->bytes += r.body.size();
                     auto f = store_->admit(r.body, wire::FrameType::kRecords);
                     if (!f.ok()) {
                       Peer* src = replicator_->peer(s->peerId);
                       spdlog::warn("mesh: refused the repair answer of {} ({}): {} {}", s->peerId,
                                    src != nullptr ? src->url : "?", f.error().code,
                                    f.error().message);
                       aeFinish(std::move(s), false);
                       return;
                     }
                     wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
                       s->applied += store_->applyRepair(m) == ApplyResult::kApplied ? 1 : 0;
                     });
                     aeFinish(std::move(s), true);
                   });
}

void MeshCluster::aeFinish(std::shared_ptr<AeState> s, bool ok) {
  aeRound_ = AeRound::kIdle;
  if (!ok) {
    s->done(false);
    return;
  }
  ++aeRounds_;
  aeBytes_ = s->bytes;
  if (!ready_) catchUpBytes_ += aeBytes_;
  size_t repairing = s->segments.count();
  // Every differing segment compared and nothing left out at a byte budget: the peer has all
  // we had at the start of the round, and the segments compared are equal now.
  bool complete = repairing == s->differing && !s->cut;
  if (complete) aeRound_ = AeRound::kComplete;
  spdlog::info(
      "mesh: anti-entropy with {}: {} segments differed, {} compared, {} records received "
      "({} changed ours), {} sent{}, {} bytes",
      s->peerId, s->differing, repairing, s->received, s->applied, s->pushed,
      s->cut ? " (cut at the byte budget)" : "", aeBytes_);
  if (complete) {
    if (Peer* q = replicator_->peer(s->peerId)) q->outbox.repaired(s->startHlc);
  }
  s->done(true);
}

void MeshCluster::collectTombstones() {
  if (phase_ != Phase::kReady) return;
  // A tombstone may go once every live node has it: each node reports `delivered`, the HLC up
  // to which all of its own writes were acknowledged by all of its live peers; the minimum over
  // the live nodes (us included) bounds what everybody has. Never before the grace period.
  // Dead members hold it at what they had received until they are back or evicted.
  uint64_t stable = stableHlc();
  uint64_t horizon = std::min(stable, holdHorizon());
  for (const auto& [id, p] : replicator_->peers()) {
    horizon = std::min(horizon, p->outbox.deliveredHlc(stable));
    horizon = std::min(horizon, p->deliveredHlc);
  }
  if (horizon <= lastGcHorizon_) return;  // nothing new to collect (each pass is an O(n) walk)
  lastGcHorizon_ = horizon;
  size_t n = store_->collectTombstones(horizon, opts_.tombstoneGraceMs);
  tombstonesDropped_ += n;
  if (n > 0) spdlog::debug("mesh: dropped {} tombstones", n);
}

bool MeshCluster::servesData(const common::http::Request& req, common::http::Responder& r,
                             bool takesData) {
  // A node wiped after an eviction holds a partial store until it is ready again: it must not
  // be copied from or compared with. And a node that is not ready takes no repairs: the sender
  // may be an evicted life it has not heard about yet (it thinks we are ready from before our
  // wipe); we get our data from the live stream and from the snapshot we ask for ourselves.
  // (Nodes started together are all not ready and copy each other's empty stores: allowed.)
  // Nodes restarted together on their data (a whole-cluster restart) are all not ready too, and
  // catch up from each other: a node on the recovered-data path merges its source's records by
  // LWW anyway (its rounds' repair answers), so it takes pushed records as well; refusing them
  // left every node waiting for a ready peer forever (found by the chaos test's crash fault).
  bool mergesRecovered = catchUpPath_ == CatchUpPath::kAntiEntropy;
  if (!rejoining_ && (ready_ || !takesData || mergesRecovered)) return true;
  transport_->answer(r, req.header("x-mesh-auth"), 503, json::errorBody("NOT_READY"));
  return false;
}

void MeshCluster::handleSnapshot(const common::http::Request& req, common::http::Responder r) {
  if (!transport_->authorized(req, r) || !servesData(req, r, /*takesData=*/false)) return;
  std::string cursor = queryParam(req.query, "cursor");
  auto page = store_->snapshotPage(cursor, opts_.snapshotPageBytes);
  if (!page.ok()) {
    transport_->answer(r, req.header("x-mesh-auth"), 400, json::errorBody(page.error().code));
    return;
  }
  transport_->answer(r, req.header("x-mesh-auth"), 200, std::move(page.value()), kOctet,
                     {{"X-Mesh-Gc", std::to_string(store_->collectedBelow())}});
}

void MeshCluster::handleDigest(const common::http::Request& req, common::http::Responder r) {
  if (!transport_->authorized(req, r) || !servesData(req, r, /*takesData=*/false)) return;
  auto digest = store_->answerDigest(req.body);
  if (!digest.ok()) {
    transport_->answer(r, req.header("x-mesh-auth"), 400, json::errorBody(digest.error().code));
    return;
  }
  // With our tombstone horizon, which a node catching up from recovered data adopts.
  transport_->answer(r, req.header("x-mesh-auth"), 200, digest.value(), kOctet,
                     {{"X-Mesh-Gc", std::to_string(store_->collectedBelow())}});
}

void MeshCluster::handleRepair(const common::http::Request& req, common::http::Responder r) {
  if (!transport_->authorized(req, r) || !servesData(req, r, /*takesData=*/true)) return;
  // Pushed records pass the record rules like any peer's, whole frame or nothing. The pusher
  // (an anti-entropy round) just fails that round: nothing is resent in a loop.
  auto f = store_->admit(req.body, wire::FrameType::kRecords);
  if (!f.ok()) {
    spdlog::warn("mesh: refused a repair from {:.64}: {} {}", req.header("x-mesh-from"),
                 f.error().code, f.error().message);
    bool invalid = f.error().code == "INVALID_RECORD";
    transport_->answer(r, req.header("x-mesh-auth"), 400,
                       json::errorBody(invalid ? "INVALID_RECORD" : "BAD_RECORDS"),
                       "application/json", {{"X-Mesh-Error", f.error().code}});
    return;
  }
  // Our records for the same segments first (before applying theirs: we send what we had).
  auto segments = StoreBridge::segmentsFromExtra(f->extra);
  if (!segments.ok()) {
    transport_->answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_SEGMENTS"));
    return;
  }
  std::string ours = store_->segmentRecords(*segments);
  wire::forEachRecord(*f, [&](const wire::RecordRef& m) { store_->applyRepair(m); });
  transport_->answer(r, req.header("x-mesh-auth"), 200, std::move(ours), kOctet);
}

void MeshCluster::handleReconcile(const common::http::Request& req, common::http::Responder r) {
  if (!transport_->authorized(req, r) || !servesData(req, r, /*takesData=*/false)) return;
  // Takes nothing: answers our records the summary lacks and the hashes we lack (step 3 of the
  // sender's round pushes those through /_mesh/repair).
  auto ours = store_->answerSummary(req.body);
  if (!ours.ok()) {
    spdlog::warn("mesh: refused a reconcile summary from {:.64}: {} {}", req.header("x-mesh-from"),
                 ours.error().code, ours.error().message);
    transport_->answer(r, req.header("x-mesh-auth"), 400, json::errorBody(ours.error().code));
    return;
  }
  transport_->answer(r, req.header("x-mesh-auth"), 200, std::move(ours.value()), kOctet);
}

}  // namespace db

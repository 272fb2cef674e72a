// CatchUp (see catch_up.h): the path a joining node takes to the cluster's data (snapshot,
// anti-entropy rounds for recovered data, or reset and snapshot for data that is too old) and
// /_mesh/snapshot. Loop thread only. The one thing to get right: records merge by LWW in any
// order, so pages and rounds may overlap the live stream.
#include "database/mesh/catch_up.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/mesh_util.h"
#include "database/storage/hlc.h"

namespace db {

namespace json = common::json;
using mesh_util::kOctet;
using mesh_util::queryParam;

CatchUp::CatchUp(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
                 Replicator& replicator, StoreBridge& store, Keyspace& keyspace,
                 AntiEntropy& antiEntropy, Eviction& eviction, MeshPhase& node)
    : opts_(opts),
      transport_(transport),
      replicator_(replicator),
      store_(store),
      keyspace_(keyspace),
      antiEntropy_(antiEntropy),
      eviction_(eviction),
      node_(node),
      applyTimer_(loop, [this] { applyPages(); }) {
  // Not the clock's value: replay pulled the clock up to the wall clock of this start, which
  // would make any data look fresh.
  if (keyspace_.size() + keyspace_.tombstoneCount() > 0) recoveredHlc_ = keyspace_.newestHlc();
}

void CatchUp::begin() {
  progress_.startedMs = uv_hrtime() / 1000000;
}

uint64_t CatchUp::finish() {
  progress_.readyAtMs = uv_hrtime() / 1000000;
  recoveredHlc_ = 0;  // from now on this store is served: a later join merges, never resets it
  return progress_.readyAtMs - progress_.startedMs;
}

void CatchUp::newLife() {
  copy_.pages.clear();
  copy_.fetch = Copy::Fetch::kNone;
  begin();
}

void CatchUp::start(const std::string& peerId) {
  if (recoveredHlc_ == 0 || eviction_.life() == Eviction::Life::kRejoining) {
    if (path_ == Path::kNone) path_ = Path::kSnapshot;
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
    size_t records = keyspace_.size() + store_.tombstoneCount();
    spdlog::warn(
        "mesh: the recovered data is {} ms old (TOMBSTONE_GRACE_MS {}): peers may have collected "
        "deletes it lacks; dropping its {} records and copying a snapshot",
        ageMs, opts_.tombstoneGraceMs, records);
    store_.reset();  // Keyspace::reset: the persister logs a reset record
    recoveredHlc_ = 0;
    path_ = Path::kTooOld;
    startSnapshot(peerId);
    return;
  }
  node_.setPhase(Phase::kRepairing);
  path_ = Path::kAntiEntropy;
  copy_.source = peerId;
  progress_.failures = 0;
  spdlog::info("mesh: {} records recovered (newest {} ms old): catching up from {} by anti-entropy",
               keyspace_.size(), ageMs, peerId);
  round();
}

void CatchUp::round() {
  if (node_.phase() != Phase::kRepairing) return;
  antiEntropy_.roundWith(copy_.source, [this](bool ok) {
    if (node_.phase() != Phase::kRepairing) return;
    if (!ok) {
      if (++progress_.failures < kMaxFailures && replicator_.peer(copy_.source) != nullptr) {
        round();
        return;
      }
      spdlog::warn("mesh: anti-entropy catch-up with {} failed {} times; joining again",
                   copy_.source, progress_.failures);
      node_.joinAgain(JoinRetry::kAfterBackoff);
      return;
    }
    progress_.failures = 0;
    ++progress_.rounds;
    if (antiEntropy_.round() == AntiEntropy::Round::kComplete) {
      node_.becomeReady("recovered data caught up by anti-entropy");
      spdlog::info("mesh: catch-up took {} rounds, {} bytes", progress_.rounds, progress_.bytes);
      return;
    }
    if (progress_.rounds >= kMaxRounds) {
      node_.becomeReady(
          "recovered data mostly caught up (round limit; periodic anti-entropy goes on)");
      return;
    }
    round();  // a large gap: the round was bounded by kRepairRecordBudget
  });
}

void CatchUp::startSnapshot(const std::string& peerId) {
  node_.setPhase(Phase::kSnapshot);
  copy_.source = peerId;
  progress_.records = 0;
  copy_.fetch = Copy::Fetch::kFetching;
  copy_.sourceGc = 0;
  spdlog::info("mesh: copying a snapshot from {}", peerId);
  fetchPage(peerId, "");
}

void CatchUp::fetchPage(const std::string& peerId, std::string cursor) {
  Peer* p = replicator_.peer(peerId);
  if (p == nullptr) {
    spdlog::warn("mesh: snapshot source {} went away; joining again", peerId);
    node_.joinAgain(JoinRetry::kNow);
    return;
  }
  std::string query = "cursor=";
  common::urlEncode(cursor, query);
  transport_.post(
      p->url, "/_mesh/snapshot", query, "", opts_.requestTimeoutMs * 2,
      [this, peerId](common::http::ClientResponse&& r) {
        if (node_.phase() != Phase::kSnapshot) return;
        if (!r.error.empty() || r.status != 200) {
          spdlog::warn("mesh: snapshot page from {} failed: {}; starting over", peerId,
                       r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error);
          node_.joinAgain(JoinRetry::kAfterBackoff);
          return;
        }
        // A page is admitted whole (the record rules included) or not at all; the copy then
        // starts over (the pages applied before it passed the same rules).
        auto f = store_.admit(r.body, wire::FrameType::kSnapshot);
        if (!f.ok()) {
          Peer* src = replicator_.peer(peerId);
          spdlog::warn("mesh: refused a snapshot page from {} ({}): {} {}; starting over", peerId,
                       src != nullptr ? src->url : "?", f.error().code, f.error().message);
          node_.joinAgain(JoinRetry::kAfterBackoff);
          return;
        }
        // The source's tombstone horizon when it cut this page (kept records below it are
        // dropped after the copy: see applyPreserved).
        uint64_t gc = 0;
        auto gcText = r.header("x-mesh-gc");
        std::from_chars(gcText.data(), gcText.data() + gcText.size(), gc);
        copy_.sourceGc = std::max(copy_.sourceGc, gc);
        progress_.bytes += r.body.size();
        // Ask for the next page first, apply this one on the next loop turn: the peer cuts
        // page N+1 while we apply page N.
        std::string next(f->extra);
        copy_.pages.push_back(std::move(r.body));
        if (!next.empty()) {
          fetchPage(peerId, std::move(next));
        } else {
          copy_.fetch = Copy::Fetch::kAllFetched;
        }
        applyTimer_.start(0);
      });
}

void CatchUp::applyPages() {
  while (!copy_.pages.empty()) {
    std::string body = std::move(copy_.pages.front());
    copy_.pages.pop_front();
    auto f = wire::validateFrame(body, wire::FrameType::kSnapshot);
    if (!f.ok()) continue;  // admitted on arrival (fetchPage)
    wire::forEachRecord(*f, [&](const wire::RecordRef& m) { store_.applyRemote(m); });
    progress_.records += f->count;
  }
  if (copy_.fetch != Copy::Fetch::kAllFetched || node_.phase() != Phase::kSnapshot) return;
  copy_.fetch = Copy::Fetch::kNone;
  spdlog::info("mesh: snapshot from {} done: {} records in {} ms; verifying", copy_.source,
               progress_.records, uv_hrtime() / 1000000 - progress_.startedMs);
  store_.adoptCollectedBelow(copy_.sourceGc);
  if (eviction_.life() == Eviction::Life::kRejoining) eviction_.applyPreserved(copy_.sourceGc);
  node_.setPhase(Phase::kVerifying);
  antiEntropy_.roundWith(copy_.source, [this](bool ok) {
    if (node_.phase() != Phase::kVerifying) return;
    node_.becomeReady(
        ok ? "snapshot copied and verified"
           : "snapshot copied (verification failed; periodic anti-entropy will repair)");
  });
}

void CatchUp::handleSnapshot(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r) || !node_.servesData(req, r, /*takesData=*/false)) return;
  std::string cursor = queryParam(req.query, "cursor");
  auto page = store_.snapshotPage(cursor, opts_.snapshotPageBytes);
  if (!page.ok()) {
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody(page.error().code));
    return;
  }
  transport_.answer(r, req.header("x-mesh-auth"), 200, std::move(page.value()), kOctet,
                    {{"X-Mesh-Gc", std::to_string(store_.collectedBelow())}});
}

}  // namespace db

// MeshCluster, part 2 (see mesh_cluster.h): the live replication stream. Client writes reach it
// from the WriteLog (onAppend), go into the current batch, sealed at the log's end of turn
// (onTurnEnd) or when full, pushed into
// every live peer's Outbox and pipelined on its PeerLink; acks settle w=quorum/all waiters.
// Incoming batches (POST /_mesh/replicate) are admitted whole (envelope and the record rules),
// then applied. Loop thread only.
// The one thing to get right: a write reaches a peer only through its Outbox, never directly.
#include "database/mesh/mesh_cluster.h"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;
using mesh_util::hex64;
using mesh_util::kOctet;
using mesh_util::queryParam;

// ---------------------------------------------------------------------------------------------
// Replication: outgoing batches, acks, write concerns
// ---------------------------------------------------------------------------------------------

void MeshCluster::onAppend(Ticket ticket, const LogEntry& e, Source source) {
  // A peer's record is not streamed: its origin streams it to every member itself.
  if (source == Source::kPeer) return;
  // Alone (the first node, or every other one gone): nobody to stream to; a node that joins
  // later copies a snapshot taken after it subscribed, so nothing is lost by not batching.
  if (phase_ == Phase::kClosed || peers_.empty()) return;
  batch_.add(e.kind, e.key, e.value, e.hlc, e.origin, e.collection, e.expiresAtMs);
  batchMaxHlc_ = std::max(batchMaxHlc_, e.hlc);
  batchLastTicket_ = ticket;
  if (batch_.bytes() >= opts_.maxBatchBytes) flushBatch();
}

void MeshCluster::onTurnEnd() {
  if (phase_ != Phase::kClosed) flushBatch();
}

void MeshCluster::flushBatch() {
  if (batch_.empty()) return;
  batch_.setSeq(++batchSeq_);
  sentBatches_.emplace_back(batchSeq_, batchLastTicket_);
  if (sentBatches_.size() > kSentBatchesKept) sentBatches_.pop_front();
  auto frame = std::make_shared<const std::string>(batch_.finish());
  uint64_t maxHlc = batchMaxHlc_;
  batchMaxHlc_ = 0;
  uint64_t now = nowMs();
  for (auto& [id, p] : peers_) {
    if (p->outbox.idle()) p->oldestUnackedSinceMs = now;
    if (!p->outbox.push(batchSeq_, frame, maxHlc)) {
      if (p->outbox.overflowed()) {
        spdlog::warn(
            "mesh: peer {} is {} bytes behind: live stream paused until anti-entropy "
            "repairs it",
            id, opts_.windowBytes);
      }
      continue;
    }
    pump(*p);
  }
  ++batchesSent_;
}

void MeshCluster::pump(Peer& p) {
  if (p.link == nullptr) return;
  while (p.link->writable()) {
    const Outbox::Entry* e = p.outbox.nextToSend();
    if (e == nullptr) break;
    std::string head;
    head.reserve(256);
    head.append("POST /_mesh/replicate HTTP/1.1\r\nHost: ");
    head.append(p.host);
    head.append("\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
    head.append(std::to_string(e->frame->size()));
    head.append("\r\nX-Mesh-From: ");
    head.append(opts_.nodeId);
    head.append("\r\n");
    head.append(kEpochHeader);
    head.append(": ");
    head.append(std::to_string(membership_.self().epoch));
    std::string proof =
        auth_.sign("POST", "/_mesh/replicate", "", *e->frame, wallMs(), nextNonce());
    if (!proof.empty()) {
      head.append("\r\nX-Mesh-Auth: ");
      head.append(proof);
    }
    head.append("\r\n\r\n");
    p.link->send(std::move(head), e->frame, std::move(proof));
    p.outbox.markSent();
  }
}

void MeshCluster::onLinkConnected(PeerLink& link) {
  Peer* p = peer(link.peerId());
  if (p == nullptr) return;
  p->outbox.rewind();
  pump(*p);
}

void MeshCluster::onLinkAck(PeerLink& link, uint64_t seq) {
  Peer* p = peer(link.peerId());
  if (p == nullptr) return;
  p->outbox.ack(seq);
  p->lastAckMs = nowMs();
  if (!p->outbox.idle()) p->oldestUnackedSinceMs = p->lastAckMs;
  membership_.contact(p->id, p->lastAckMs);
  waiters_.ack(p->id, seq);
  pump(*p);
  if (leaveComplete()) finishClose();
}

void MeshCluster::onLinkWritable(PeerLink& link) {
  if (Peer* p = peer(link.peerId())) pump(*p);
}

void MeshCluster::onLinkForged(PeerLink& link, const std::string& why) {
  ++forgedAnswers_;
  const Peer* p = peer(link.peerId());
  spdlog::warn("mesh: replication link to {} ({}): {}; reconnecting", link.peerId(),
               p != nullptr ? p->url : std::string("?"), why);
}

MeshCluster::Peer* MeshCluster::peer(const std::string& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

uint64_t MeshCluster::seqOf(Ticket ticket) const {
  // Not flushed yet: it leaves with the next batch. Older than every batch remembered: the
  // oldest one is a safe stand-in (acks are cumulative, so it was acked no later than ticket's).
  if (sentBatches_.empty() || ticket > sentBatches_.back().second) return batchSeq_ + 1;
  auto it = std::lower_bound(sentBatches_.begin(), sentBatches_.end(), ticket,
                             [](const auto& b, Ticket t) { return b.second < t; });
  return it == sentBatches_.end() ? batchSeq_ + 1 : it->first;
}

void MeshCluster::awaitTicket(Ticket ticket, WriteLevel level,
                              std::function<void(bool ok, int acked)> done) {
  uint64_t seq = seqOf(ticket);
  int n = 1 + static_cast<int>(peers_.size());
  int needed = level == WriteLevel::kAll ? n : level == WriteLevel::kQuorum ? n / 2 + 1 : 1;
  if (needed <= 1 || phase_ == Phase::kClosed) {
    done(phase_ != Phase::kClosed, 1);
    return;
  }
  int acked = 1;
  std::vector<std::string> waitingFor;
  for (const auto& [id, p] : peers_) {
    if (p->outbox.ackedSeq() >= seq) {
      ++acked;
    } else {
      waitingFor.push_back(id);
    }
  }
  if (acked >= needed) {
    done(true, acked);
    return;
  }
  waiters_.add(seq, needed, acked, std::move(waitingFor), nowMs() + opts_.replicationTimeoutMs,
               std::move(done));
  armWaiterTimer();
}

void MeshCluster::peerGone(const std::string& peerId) {
  waiters_.peerGone(peerId);
}

void MeshCluster::armWaiterTimer() {
  if (waiters_.empty() || phase_ == Phase::kClosed) return;
  uint64_t earliest = waiters_.earliestDeadline();
  uint64_t now = nowMs();
  uv_timer_start(&waiterTimer_, &MeshCluster::onWaiterTimer, earliest > now ? earliest - now : 0,
                 0);
}

void MeshCluster::onWaiterTimer(uv_timer_t* t) noexcept {
  auto* self = static_cast<MeshCluster*>(t->data);
  uint64_t now = self->nowMs();
  self->waiters_.expire(now);
  self->armWaiterTimer();
}

void MeshCluster::handleReplicate(const common::http::Request& req, common::http::Responder r) {
  if (!authorized(req, r)) return;
  auto f = store_->admit(req.body, wire::FrameType::kBatch);
  if (!f.ok() && f.error().code == "INVALID_RECORD") {
    // Well-formed, but a record breaks the rules a client's write obeys (never from a peer with
    // the same limits: a hostile or misconfigured sender). Nothing of it is stored, and it is
    // ACKNOWLEDGED, with the refusal in the answer: a 400 would make the sender's link
    // reconnect and send the same batch again, forever, with every later batch stuck behind
    // it. (The cost: the sender's w=quorum/all counts this node for that batch.)
    ++batchesRefused_;
    spdlog::warn(
        "mesh: refused a batch from {:.64}: {} {}; acknowledged so its stream goes on, nothing "
        "of it stored",
        req.header("x-mesh-from"), f.error().code, f.error().message);
    auto envelope = wire::validateFrame(req.body, wire::FrameType::kBatch);
    std::string body = "{\"ack\":";
    json::appendUint(body, envelope.ok() ? envelope->seq : 0);
    body.append(",\"refused\":\"INVALID_RECORD\"}");
    answer(r, req.header("x-mesh-auth"), 200, body, "application/json",
           {{"X-Mesh-Error", "INVALID_RECORD"}});
    return;
  }
  if (!f.ok()) {  // corrupt: a 400, the link reconnects and the sender sends it again
    ++batchesRefused_;
    spdlog::warn("mesh: refused a batch from {:.64}: {} {}", req.header("x-mesh-from"),
                 f.error().code, f.error().message);
    answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_BATCH"), "application/json",
           {{"X-Mesh-Error", f.error().code}});
    return;
  }
  uint64_t refused = 0;
  wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
    refused += store_->applyRemote(m) == ApplyResult::kRefusedClock ? 1 : 0;
  });
  if (refused > 0) {
    clockRefusals_ += refused;
    spdlog::warn(
        "mesh: refused {} records from {} stamped more than {} ms ahead of our clock "
        "(anti-entropy retries them once the clocks agree)",
        refused, req.header("x-mesh-from"), opts_.maxClockDriftMs);
  }
  ++batchesApplied_;
  std::string from(req.header("x-mesh-from"));
  if (!from.empty()) {
    membership_.contact(from, nowMs());
  }
  std::string body = "{\"ack\":";
  json::appendUint(body, f->seq);
  body.push_back('}');
  answer(r, req.header("x-mesh-auth"), 200, body);
}

}  // namespace db

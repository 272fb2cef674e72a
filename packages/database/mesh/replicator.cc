// Replicator (see replicator.h): the turn's batch, the peers' outboxes and links, acks and the
// waiters of w=quorum/all, and the batches peers stream to us. Loop thread only.
// The one thing to get right: a write reaches a peer only through its Outbox, never directly.
#include "database/mesh/replicator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "common/http/json.h"
#include "common/http/url.h"

namespace db {

namespace json = common::json;

Replicator::Replicator(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
                       Membership& membership, StoreBridge& store, Owner& owner)
    : loop_(loop),
      opts_(opts),
      transport_(transport),
      membership_(membership),
      store_(store),
      owner_(owner),
      waiterTimer_(loop, [this] {
        waiters_.expire(nowMs());
        armWaiterTimer();
      }) {}

// ---------------------------------------------------------------------------------------------
// Outgoing batches
// ---------------------------------------------------------------------------------------------

void Replicator::onAppend(Ticket ticket, const LogEntry& e, Source source) {
  // A peer's record is not streamed: its origin streams it to every member itself.
  if (source == Source::kPeer) return;
  // Alone (the first node, or every other one gone): nobody to stream to; a node that joins
  // later copies a snapshot taken after it subscribed, so nothing is lost by not batching.
  if (state_ == State::kClosed || peers_.empty()) return;
  batch_.frame.add(e.kind, e.key, e.value, e.hlc, e.origin, e.collection, e.expiresAtMs);
  batch_.maxHlc = std::max(batch_.maxHlc, e.hlc);
  batch_.lastTicket = ticket;
  if (batch_.frame.bytes() >= opts_.maxBatchBytes) flush();
}

void Replicator::flush() {
  if (batch_.frame.empty()) return;
  batch_.frame.setSeq(++batch_.seq);
  batch_.sent.emplace_back(batch_.seq, batch_.lastTicket);
  if (batch_.sent.size() > kSentBatchesKept) batch_.sent.pop_front();
  auto frame = std::make_shared<const std::string>(batch_.frame.finish());
  uint64_t maxHlc = batch_.maxHlc;
  batch_.maxHlc = 0;
  uint64_t now = nowMs();
  for (auto& [id, p] : peers_) {
    if (p->outbox.idle()) p->oldestUnackedSinceMs = now;
    if (!p->outbox.push(batch_.seq, frame, maxHlc)) {
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
  ++counters_.batchesSent;
}

void Replicator::pump(Peer& p) {
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
    std::string proof = transport_.sign("/_mesh/replicate", "", *e->frame);
    if (!proof.empty()) {
      head.append("\r\nX-Mesh-Auth: ");
      head.append(proof);
    }
    head.append("\r\n\r\n");
    p.link->send(std::move(head), e->frame, std::move(proof));
    p.outbox.markSent();
  }
}

// ---------------------------------------------------------------------------------------------
// Links and acks
// ---------------------------------------------------------------------------------------------

void Replicator::onLinkConnected(PeerLink& link) {
  Peer* p = peer(link.peerId());
  if (p == nullptr) return;
  p->outbox.rewind();
  pump(*p);
}

void Replicator::onLinkAck(PeerLink& link, uint64_t seq) {
  Peer* p = peer(link.peerId());
  if (p == nullptr) return;
  p->outbox.ack(seq);
  p->lastAckMs = nowMs();
  if (!p->outbox.idle()) p->oldestUnackedSinceMs = p->lastAckMs;
  membership_.contact(p->id, p->lastAckMs);
  waiters_.ack(p->id, seq);
  pump(*p);
  owner_.onPeerAcked();
}

void Replicator::onLinkWritable(PeerLink& link) {
  if (Peer* p = peer(link.peerId())) pump(*p);
}

void Replicator::onLinkForged(PeerLink& link, const std::string& why) {
  transport_.countForged();
  const Peer* p = peer(link.peerId());
  spdlog::warn("mesh: replication link to {} ({}): {}; reconnecting", link.peerId(),
               p != nullptr ? p->url : std::string("?"), why);
}

// ---------------------------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------------------------

Peer* Replicator::peer(const std::string& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second.get();
}

Peer& Replicator::addPeer(const Member& m, Peer::Repair repair) {
  auto np = std::make_unique<Peer>(opts_.windowBytes);
  np->id = m.id;
  np->url = m.url;
  np->epoch = m.epoch;
  np->repair = repair;
  Peer& p = *peers_.emplace(m.id, std::move(np)).first->second;
  restartLink(p);
  return p;
}

void Replicator::followPeer(Peer& p, const Member& m) {
  p.url = m.url;
  p.epoch = m.epoch;
  p.state = Peer::State::kNotReady;
  restartLink(p);
}

void Replicator::unlinkPeer(const std::string& id) {
  if (Peer* p = peer(id); p != nullptr && p->link != nullptr) {
    p->link->destroy();
    p->link = nullptr;
  }
}

bool Replicator::removePeer(const std::string& id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return false;
  if (it->second->link != nullptr) it->second->link->destroy();
  peers_.erase(it);
  return true;
}

void Replicator::restartLink(Peer& p) {
  auto url = common::parseHttpUrl(p.url);
  if (p.link != nullptr) p.link->destroy();
  p.link = nullptr;
  if (!url.ok()) return;
  p.host = url->host;
  p.port = url->port;
  p.outbox.rewind();
  p.link = new PeerLink(loop_, p.id, p.host, p.port, this, opts_.reconnectMinMs,
                        opts_.reconnectMaxMs, &transport_.auth());
  p.link->start();
}

bool Replicator::drained() const {
  for (const auto& [id, p] : peers_) {
    if (!p->outbox.idle()) return false;
  }
  return true;
}

uint64_t Replicator::deliveredHlc(uint64_t stable) const {
  uint64_t delivered = stable;
  for (const auto& [id, p] : peers_)
    delivered = std::min(delivered, p->outbox.deliveredHlc(stable));
  return delivered;
}

void Replicator::newLife() {
  batch_.frame.finish();
  batch_.maxHlc = 0;
  waiters_.failAll();
  for (auto& [id, p] : peers_) {
    p->outbox.reset();
    p->state = Peer::State::kNotReady;
    restartLink(*p);
  }
}

int Replicator::close(const std::function<void()>& closedOne) {
  state_ = State::kClosed;
  // Writers waiting for replication get their answer now.
  waiters_.failAll();
  int closing = 0;
  for (auto& [id, p] : peers_) {
    if (p->link != nullptr) {
      ++closing;
      p->link->destroy(closedOne);
      p->link = nullptr;
    }
  }
  peers_.clear();
  waiterTimer_.close(closedOne);
  return closing + 1;
}

// ---------------------------------------------------------------------------------------------
// Write concerns
// ---------------------------------------------------------------------------------------------

uint64_t Replicator::seqOf(Ticket ticket) const {
  // Not flushed yet: it leaves with the next batch. Older than every batch remembered: the
  // oldest one is a safe stand-in (acks are cumulative, so it was acked no later than ticket's).
  const auto& sent = batch_.sent;
  if (sent.empty() || ticket > sent.back().second) return batch_.seq + 1;
  auto it = std::lower_bound(sent.begin(), sent.end(), ticket,
                             [](const auto& b, Ticket t) { return b.second < t; });
  return it == sent.end() ? batch_.seq + 1 : it->first;
}

void Replicator::awaitTicket(Ticket ticket, WriteLevel level,
                             std::function<void(bool ok, int acked)> done) {
  uint64_t seq = seqOf(ticket);
  int n = 1 + static_cast<int>(peers_.size());
  int needed = level == WriteLevel::kAll ? n : level == WriteLevel::kQuorum ? n / 2 + 1 : 1;
  if (needed <= 1 || state_ == State::kClosed) {
    done(state_ != State::kClosed, 1);
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

void Replicator::armWaiterTimer() {
  if (waiters_.empty() || state_ == State::kClosed) return;
  uint64_t earliest = waiters_.earliestDeadline();
  uint64_t now = nowMs();
  waiterTimer_.start(earliest > now ? earliest - now : 0);
}

// ---------------------------------------------------------------------------------------------
// Incoming batches
// ---------------------------------------------------------------------------------------------

void Replicator::handleReplicate(const common::http::Request& req, common::http::Responder r) {
  if (!transport_.authorized(req, r)) return;
  auto f = store_.admit(req.body, wire::FrameType::kBatch);
  if (!f.ok() && f.error().code == "INVALID_RECORD") {
    // Well-formed, but a record breaks the rules a client's write obeys (never from a peer with
    // the same limits: a hostile or misconfigured sender). Nothing of it is stored, and it is
    // ACKNOWLEDGED, with the refusal in the answer: a 400 would make the sender's link
    // reconnect and send the same batch again, forever, with every later batch stuck behind
    // it. (The cost: the sender's w=quorum/all counts this node for that batch.)
    ++counters_.batchesRefused;
    spdlog::warn(
        "mesh: refused a batch from {:.64}: {} {}; acknowledged so its stream goes on, nothing "
        "of it stored",
        req.header("x-mesh-from"), f.error().code, f.error().message);
    auto envelope = wire::validateFrame(req.body, wire::FrameType::kBatch);
    std::string body = "{\"ack\":";
    json::appendUint(body, envelope.ok() ? envelope->seq : 0);
    body.append(",\"refused\":\"INVALID_RECORD\"}");
    transport_.answer(r, req.header("x-mesh-auth"), 200, body, "application/json",
                      {{"X-Mesh-Error", "INVALID_RECORD"}});
    return;
  }
  if (!f.ok()) {  // corrupt: a 400, the link reconnects and the sender sends it again
    ++counters_.batchesRefused;
    spdlog::warn("mesh: refused a batch from {:.64}: {} {}", req.header("x-mesh-from"),
                 f.error().code, f.error().message);
    transport_.answer(r, req.header("x-mesh-auth"), 400, json::errorBody("BAD_BATCH"),
                      "application/json", {{"X-Mesh-Error", f.error().code}});
    return;
  }
  uint64_t refused = 0;
  wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
    refused += store_.applyRemote(m) == ApplyResult::kRefusedClock ? 1 : 0;
  });
  if (refused > 0) {
    counters_.clockRefusals += refused;
    spdlog::warn(
        "mesh: refused {} records from {} stamped more than {} ms ahead of our clock "
        "(anti-entropy retries them once the clocks agree)",
        refused, req.header("x-mesh-from"), opts_.maxClockDriftMs);
  }
  ++counters_.batchesApplied;
  std::string from(req.header("x-mesh-from"));
  if (!from.empty()) {
    membership_.contact(from, nowMs());
  }
  std::string body = "{\"ack\":";
  json::appendUint(body, f->seq);
  body.push_back('}');
  transport_.answer(r, req.header("x-mesh-auth"), 200, body);
}

}  // namespace db

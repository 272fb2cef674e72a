// Replicator: the live replication stream, both directions. Client writes reach it from the
// WriteLog through MeshCluster (onAppend), go into the turn's batch, sealed at the log's end of
// turn (flush) or when full, pushed into every live peer's Outbox and pipelined on its PeerLink;
// acks settle the w=quorum/all waiters (AckWaiters). Incoming batches (POST /_mesh/replicate)
// are admitted whole (envelope and record rules), then applied. It keeps one Peer per live,
// admitted member: MeshCluster adds and removes them as Membership changes.
// Owned by MeshCluster; loop thread only; close(closedOne) before destruction.
// The one thing to get right: a write reaches a peer only through its Outbox, never directly, so
// a reconnect, a slow peer or a dead one never loses or blocks a write.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/http/server.h"
#include "database/core/replication.h"
#include "database/core/write_log.h"
#include "database/mesh/ack_waiters.h"
#include "database/mesh/membership.h"
#include "database/mesh/mesh_options.h"
#include "database/mesh/mesh_timer.h"
#include "database/mesh/mesh_transport.h"
#include "database/mesh/outbox.h"
#include "database/mesh/peer_link.h"
#include "database/mesh/store_bridge.h"
#include "database/mesh/wire.h"

namespace db {

// One live, admitted member we stream to, and what it told us about itself.
struct Peer {
  enum class State { kNotReady, kReady };  // what it said (piggybacked on pings)
  enum class Repair { kNone, kSoon };      // met while we were ready: one anti-entropy round first
  std::string id;
  std::string url;
  std::string host;
  uint16_t port = 0;
  uint64_t epoch = 0;  // the life of the peer we stream to
  Outbox outbox;
  PeerLink* link = nullptr;  // owned; destroyed with PeerLink::destroy()
  uint64_t oldestUnackedSinceMs = 0;
  uint64_t lastAckMs = 0;
  State state = State::kNotReady;
  uint64_t deliveredHlc = 0;  // every write of the peer's up to this reached all its peers
  uint64_t unsyncedMs = 0;    // what a crash may lose of what it acknowledged (its gossip)
  std::string digest;
  Repair repair = Repair::kNone;
  explicit Peer(size_t window) : outbox(window) {}
  bool ready() const { return state == State::kReady; }
};

class Replicator final : private PeerLink::Delegate {
 public:
  using Peers = std::map<std::string, std::unique_ptr<Peer>>;
  // Told when a peer acknowledged batches (a leave waits for every outbox to drain).
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void onPeerAcked() = 0;
  };
  struct Counters {
    uint64_t batchesSent = 0;
    uint64_t batchesRefused = 0;
    uint64_t batchesApplied = 0;
    uint64_t clockRefusals = 0;  // peer records stamped too far ahead of our clock
  };

  Replicator(uv_loop_t* loop, const MeshOptions& opts, MeshTransport& transport,
             Membership& membership, StoreBridge& store, Owner& owner);
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // The log's entries: client writes (and records kept across a wipe) join the turn's batch.
  void onAppend(Ticket ticket, const LogEntry& entry, Source source);
  void flush();  // seals the batch and pushes it to every peer
  void awaitTicket(Ticket ticket, WriteLevel level, std::function<void(bool ok, int acked)> done);
  void handleReplicate(const common::http::Request& req, common::http::Responder r);

  // Peers.
  const Peers& peers() const { return peers_; }
  Peer* peer(const std::string& id);
  // A new peer for member `m`, its link connecting.
  Peer& addPeer(const Member& m, Peer::Repair repair);
  // `m` restarted (a new life, maybe at a new address): the stream follows it.
  void followPeer(Peer& p, const Member& m);
  // A candidate is sent nothing until it proves itself: its link goes, the Peer stays.
  void unlinkPeer(const std::string& id);
  // Drops the peer (false: there was none); its link goes.
  bool removePeer(const std::string& id);
  // `id` is dead or gone: it no longer counts for the write concerns of waiting writes.
  void peerGone(const std::string& id) { waiters_.peerGone(id); }
  bool drained() const;  // every peer acknowledged every batch
  // The smallest delivered point over the peers' outboxes (see Outbox::deliveredHlc).
  uint64_t deliveredHlc(uint64_t stable) const;
  // A new life after an eviction: the batch, waiters and every outbox forgotten, links anew.
  void newLife();
  // Fails every waiter, destroys every link, closes the timer; closedOne() runs once per handle
  // or link closed. Returns how many closedOne() calls will come.
  int close(const std::function<void()>& closedOne);

  const Counters& counters() const { return counters_; }

 private:
  enum class State { kOpen, kClosed };
  struct Batch {
    wire::FrameWriter frame{wire::FrameType::kBatch};
    uint64_t maxHlc = 0;
    uint64_t seq = 0;
    Ticket lastTicket = 0;  // the newest ticket in the frame
    // (seq, last ticket) of the recent batches, oldest first: which batch a ticket travelled in.
    std::deque<std::pair<uint64_t, Ticket>> sent;
  };
  static constexpr size_t kSentBatchesKept = 256;

  // PeerLink::Delegate
  void onLinkConnected(PeerLink& link) override;
  void onLinkAck(PeerLink& link, uint64_t seq) override;
  void onLinkWritable(PeerLink& link) override;
  void onLinkForged(PeerLink& link, const std::string& why) override;

  void pump(Peer& p);
  void restartLink(Peer& p);            // a new PeerLink to p's current address
  uint64_t seqOf(Ticket ticket) const;  // the batch that carries (or will carry) the ticket
  void armWaiterTimer();
  uint64_t nowMs() const { return uv_now(loop_); }

  uv_loop_t* loop_;
  const MeshOptions& opts_;
  MeshTransport& transport_;
  Membership& membership_;
  StoreBridge& store_;
  Owner& owner_;
  State state_ = State::kOpen;
  Peers peers_;  // live, admitted members only
  Batch batch_;
  AckWaiters waiters_;  // w=quorum/all writes waiting for acks
  MeshTimer waiterTimer_;
  Counters counters_;
};

}  // namespace db

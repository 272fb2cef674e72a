// Outbox: one peer's window of replication batches that were sent (or are waiting to be) and are
// not acknowledged yet. Pure bookkeeping, no I/O: PeerLink writes what nextToSend() returns,
// feeds acks back, and calls rewind() after a reconnect so every un-acked batch is sent again.
// Owned by the Replicator (one per live peer); loop thread only.
// The one thing to get right: when the window is full the outbox does NOT block writers: it drops
// its batches and reports overflow; the peer is then repaired by anti-entropy, and until that
// repair succeeds deliveredHlc() stops advancing (so tombstones it may lack are kept).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace db {

class Outbox {
 public:
  struct Entry {
    uint64_t seq = 0;
    std::shared_ptr<const std::string> frame;  // shared by every peer's outbox
    uint64_t maxHlc = 0;                       // newest mutation in the batch
  };

  explicit Outbox(size_t windowBytes) : windowBytes_(windowBytes) {}

  // Queues a batch (seqs strictly increase). Returns false when it would overflow the window:
  // everything queued is dropped and overflowed() becomes true.
  bool push(uint64_t seq, std::shared_ptr<const std::string> frame, uint64_t maxHlc);
  // The next batch not yet written on the current connection, or nullptr.
  const Entry* nextToSend() const;
  void markSent() { ++sent_; }
  // The peer applied every batch up to `seq`. Returns the number of batches released.
  size_t ack(uint64_t seq);
  // A new connection: everything un-acked goes out again, in order.
  void rewind() { sent_ = 0; }
  // An anti-entropy round with the peer starts: batches queue again from now on (the round
  // covers what was dropped), but deliveredHlc() stays put until repaired().
  void reopen() {
    if (state_ == State::kOverflowed) state_ = State::kRepairing;
  }
  // The peer is repaired (anti-entropy/snapshot covered everything up to `hlc`).
  void repaired(uint64_t hlc);
  // Forget everything (the peer is dead or left).
  void reset();

  bool overflowed() const { return state_ == State::kOverflowed; }
  // Dropped batches not yet covered by a successful repair (overflowed, or reopened since).
  bool needsRepair() const { return state_ != State::kStreaming; }
  bool idle() const { return queue_.empty(); }
  size_t pending() const { return queue_.size(); }
  size_t inFlight() const { return sent_; }
  size_t bytes() const { return bytes_; }
  uint64_t ackedSeq() const { return ackedSeq_; }
  // Every mutation of ours with hlc <= this reached the peer. `nowHlc` is our clock's latest
  // stamp, used when nothing is outstanding.
  uint64_t deliveredHlc(uint64_t nowHlc) const;

 private:
  // kStreaming: every batch since the last repair is queued or acked. kOverflowed: the window
  // overflowed, batches are dropped. kRepairing: batches queue again (reopen), but those dropped
  // are covered only once a repair succeeds (repaired).
  enum class State { kStreaming, kOverflowed, kRepairing };

  size_t windowBytes_;
  std::deque<Entry> queue_;
  size_t sent_ = 0;  // queue_[0, sent_) were written on the current connection
  size_t bytes_ = 0;
  uint64_t ackedSeq_ = 0;
  uint64_t ackedHlc_ = 0;
  State state_ = State::kStreaming;
  uint64_t stuckHlc_ = 0;  // deliveredHlc() while needsRepair()
};

}  // namespace db

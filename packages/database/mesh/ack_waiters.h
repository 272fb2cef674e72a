// AckWaiters: the writes waiting for peers' acks (w=quorum / w=all). Each waiter names the batch
// that carries its write (seq), how many copies it needs (this node counts as one), the peers
// whose ack would count, and a deadline. Pure bookkeeping, no I/O and no clock: the replicator
// feeds it acks, departed peers and the time, and arms its own timer at earliestDeadline().
// Owned by the Replicator; loop thread only.
// The one thing to get right: a waiter is answered exactly once, and only after the sweep that
// found it finished, so an answer that leads to a new write (and a new waiter) cannot
// invalidate the sweep.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace db {

class AckWaiters {
 public:
  using Done = std::function<void(bool ok, int acked)>;

  // Waits for `needed` copies of batch `seq`; `acked` already exist, `waitingFor` may add theirs.
  void add(uint64_t seq, int needed, int acked, std::vector<std::string> waitingFor,
           uint64_t deadlineMs, Done done);
  // `peerId` acked every batch up to `seq`: answers (ok) the waiters that now have enough.
  void ack(const std::string& peerId, uint64_t seq);
  // `peerId` is dead or gone: it no longer counts, so w=all waits for the nodes still alive.
  void peerGone(const std::string& peerId);
  // Answers (not ok) every waiter whose deadline is at or before `nowMs`.
  void expire(uint64_t nowMs);
  // Answers (not ok) every waiter: the node closes or is wiped.
  void failAll();

  bool empty() const { return waiters_.empty(); }
  uint64_t earliestDeadline() const;  // UINT64_MAX when empty

 private:
  struct Waiter {
    uint64_t seq;
    int needed;
    int acked;
    std::vector<std::string> waitingFor;
    uint64_t deadlineMs;
    Done done;
  };
  // Removes the waiters for which `finished` holds, then answers them (ok, acked).
  void finish(const std::function<bool(const Waiter&)>& finished, bool ok);

  std::deque<Waiter> waiters_;
};

}  // namespace db

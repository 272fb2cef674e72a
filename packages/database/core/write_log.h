// db::WriteLog: the node's one write seam. Every change the node applies to its keyspace (a
// client's write, a peer's record, a wipe) is appended here in order and gets a ticket; the
// subscribers take it from there: the persister (the disk) and the mesh's replicator (the
// peers). Once per loop turn the log ends the turn: each subscriber writes or sends what the
// turn appended (one write and one frame per turn: group commit), then the held client answers
// go out, so a write leaves for the disk and the peers before its 200 leaves for the client.
// w= is await(ticket, level): local, disk (fsynced), quorum, all; under FSYNC=always every
// level also waits for the disk.
//
//   route -> keyspace -> log.append -> { disk, peers } -> log.await -> answer
//
// The Node owns it and wires the subscribers; loop thread only. The one thing to get right:
// append() right after the keyspace applied the change, in the same callback, so tickets follow
// the keyspace's order and a ticket covers every change before it.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "database/core/durability.h"
#include "database/core/replication.h"
#include "database/core/write_log_types.h"

namespace db {

// Told of every entry, synchronously, in ticket order; then once at the end of every loop turn.
class LogSubscriber {
 public:
  virtual ~LogSubscriber() = default;
  virtual void onAppend(Ticket ticket, const LogEntry& entry, Source source) = 0;
  // Whether this subscriber is told of Source::kExpiry entries (the watch hub); the disk and
  // the peers are not (see Source::kExpiry).
  virtual bool wantsExpiry() const { return false; }
  // The keyspace was wiped (an evicted node copies the cluster's data again).
  virtual void onReset() {}
  // The end of a loop turn: write / send what this turn appended. Called every turn.
  virtual void onTurnEnd() = 0;
};

// What await() answers: ok, or the first failure (DISK_UNAVAILABLE, REPLICATION_TIMEOUT) with
// how many nodes held the write (the replication part; 1 when only this node counted).
struct WriteOutcome {
  common::Status status = common::okStatus();
  int acked = 1;
};

class WriteLog {
 public:
  // `loop` may be null for a log that is never started (tests of a subscriber alone).
  explicit WriteLog(uv_loop_t* loop);
  ~WriteLog();
  WriteLog(const WriteLog&) = delete;
  WriteLog& operator=(const WriteLog&) = delete;

  // Wiring, before start(). Subscribers end their turns in the order they subscribed (the disk
  // first, then the peers); `afterTurn` runs last (the server's held answers).
  void subscribe(LogSubscriber& subscriber);
  void setDurability(Durability& durability);     // default: memory (nothing to wait for)
  void setReplication(Replication& replication);  // default: none (a node alone)
  void afterTurn(std::function<void()> fn) { afterTurn_ = std::move(fn); }
  void start();
  // Ends the last turn and closes the handle; done runs on the loop.
  void close(std::function<void()> done);

  // Whether a write at `level` may be applied now: PERSISTENCE_DISABLED (w=disk in memory
  // mode), DISK_UNAVAILABLE (the log cannot be written). Checked before the keyspace applies it.
  common::Status admit(WriteLevel level) const;
  Ticket append(const LogEntry& entry, Source source);
  Ticket append(const Mutation& m, Source source) { return append(LogEntry::of(m), source); }
  void reset();
  Ticket last() const { return last_; }
  // done once the write of `ticket` went as far as `level` asks, or at the first failure. Runs
  // on the loop, exactly once, maybe inline.
  void await(Ticket ticket, WriteLevel level, std::function<void(const WriteOutcome&)> done);

  const Durability& durability() const { return *durability_; }

 private:
  static void onCheck(uv_check_t* h) noexcept;
  void endTurn();

  uv_loop_t* loop_;
  uv_check_t check_;
  std::vector<LogSubscriber*> subscribers_;
  MemoryDurability memory_;
  Durability* durability_ = &memory_;
  Replication* replication_ = nullptr;
  std::function<void()> afterTurn_;
  std::function<void()> closed_;
  bool started_ = false;
  Ticket last_ = 0;
};

}  // namespace db

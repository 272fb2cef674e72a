// Persister: the node's durable log on the loop side. It subscribes to the WriteLog (every
// applied change: client writes and replicated ones), encodes each into the current turn's
// buffer under the log's ticket; at the end of every loop turn (WriteLog's onTurnEnd) the buffer
// goes to the DiskWriter thread as ONE append, so one write and at most one fsync cover a turn
// (group commit). Completions come back through a uv_async_t and answer awaitSynced() waiters.
// It also compacts: when the files pass kCompactRatio x the store's memory (and
// compactMinBytes), it starts log.<gen+1>, writes snapshot.<gen+1> in slices of sliceRecords
// records per turn (one slice in flight; no fork, no copy of the data), then drops the old files.
// Owned by the Node, created after recovery, closed in the shutdown chain. Loop thread only.
// The one thing to get right: the snapshot is fuzzy (writes go on while it is cut), which is
// correct only because every change after the rotation is in the new log and replay is a LWW
// merge: never start the snapshot scan before the log was rotated.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "database/core/durability.h"
#include "database/core/write_log.h"
#include "database/persistence/data_dir.h"
#include "database/persistence/disk_writer.h"
#include "database/persistence/recovery.h"
#include "database/storage/keyspace.h"

namespace db::persistence {

struct PersisterOptions {
  FsyncPolicy fsync = FsyncPolicy::kEverySec;
  uint64_t compactMinBytes = uint64_t{64} << 20;  // logs smaller than this are never compacted
  size_t sliceRecords = 10000;                    // snapshot records encoded per loop turn
  uint64_t retryMs = 1000;                        // a failing disk is retried this often
};

class Persister : public LogSubscriber, public Durability {
 public:
  // Files (snapshot + logs) above this multiple of the store's memory trigger a compaction: the
  // peak while compacting (old files + the new snapshot) stays under ~2.5x.
  static constexpr double kCompactRatio = 1.5;

  Persister(uv_loop_t* loop, Keyspace& keyspace, const DataDir& dir, PersisterOptions opts,
            const RecoveryReport& recovered, FileOps& ops = posixFileOps());
  ~Persister() override;
  Persister(const Persister&) = delete;
  Persister& operator=(const Persister&) = delete;

  // Opens log.<nextGen>; from now on the WriteLog's entries are written (the Node subscribes it).
  void start();
  // Writes what is buffered, stops the writer thread (a last fsync), closes
  // the handles, then calls done (on the loop). Blocks the loop for that last fsync only.
  void close(std::function<void()> done);
  // Starts a compaction now if none runs (tests, and an operator could wire it to a route).
  void compactNow();

  // ---- LogSubscriber ----
  void onAppend(Ticket ticket, const LogEntry& e, Source source) override;
  void onReset() override;
  void onTurnEnd() override;  // the turn's append (group commit), then the compaction's slice

  // ---- Durability ----
  bool persistent() const override { return true; }
  common::Status writable() const override;
  bool syncEveryWrite() const override { return opts_.fsync == FsyncPolicy::kAlways; }
  void awaitSynced(uint64_t ticket, std::function<void(common::Status)> done) override;
  void appendStatus(std::string& json) const override;

  struct Stats {
    uint64_t syncedTicket = 0;
    uint64_t logBytes = 0;       // bytes of the logs that make up the state (incl. buffered)
    uint64_t snapshotBytes = 0;  // the current snapshot
    uint64_t compactions = 0;    // snapshots committed
    uint64_t compactionsFailed = 0;
    uint64_t diskErrors = 0;
    bool compacting = false;
    bool failed = false;
  };
  Stats stats() const;

 private:
  enum class Compaction : uint8_t { kIdle, kSnapshotting, kCommitting };
  static void onAsync(uv_async_t* h) noexcept;
  void flush();
  void onProgress();
  void driveCompaction();
  bool shouldCompact() const;
  void startCompaction();
  void writeSlice();

  uv_loop_t* loop_;
  Keyspace& keyspace_;
  const DataDir& dir_;
  PersisterOptions opts_;
  std::unique_ptr<DiskWriter> writer_;
  uv_async_t async_;
  bool started_ = false;
  bool closed_ = false;
  std::function<void()> closedDone_;

  std::string buffer_;       // this turn's records
  Ticket ticket_ = 0;        // the last entry buffered
  bool syncWanted_ = false;  // a w=disk waiter needs an fsync that the policy would not do
  std::multimap<uint64_t, std::function<void(common::Status)>> waiters_;
  DiskWriter::Progress progress_;

  uint64_t nextGen_;
  std::vector<std::string> liveFiles_;  // snapshot + logs the state is made of (before rotation)
  uint64_t logBytes_ = 0;
  uint64_t snapshotBytes_ = 0;
  uint64_t recoveredTornTails_ = 0;

  Compaction compaction_ = Compaction::kIdle;
  uint64_t snapGen_ = 0;
  std::string snapCursor_;
  bool snapFirst_ = false;
  uint64_t slicesSent_ = 0;
  uint64_t snapBytes_ = 0;           // bytes of the snapshot being written
  uint64_t logBytesAtRotation_ = 0;  // the part of logBytes_ the new snapshot replaces
  std::vector<std::string> obsolete_;
  uint64_t compactions_ = 0;
  uint64_t compactionsFailed_ = 0;
  uint64_t retryCompactionAtMs_ = 0;
};

}  // namespace db::persistence

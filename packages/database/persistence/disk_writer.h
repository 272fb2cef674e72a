// DiskWriter: the one thread that touches the node's files after start. The loop thread queues
// operations (append a batch to the log, switch to a new log, write a snapshot slice, commit a
// snapshot) and the thread runs them in order: write(), then fsync per FsyncPolicy (always: each
// batch; everysec: at most once a second, also when idle; no: never, unless a batch asks).
// Progress (last ticket written / fsynced, the current disk error, snapshot steps) is read by
// the loop with progress() after `notify` (called on the writer thread; the Persister makes it a
// uv_async_send). On ENOSPC/EIO it reports the error, truncates the log back to the last good
// size and retries every retryMs until the whole unsynced tail is rewritten and fsynced.
// The one thing to get right: after a failed fsync the page cache may have dropped the data
// (Linux marks it clean), so a retry rewrites every byte since the last good fsync, never just
// fsyncs again.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "database/persistence/file_ops.h"

namespace db::persistence {

enum class FsyncPolicy : uint8_t { kAlways, kEverySec, kNo };
const char* toString(FsyncPolicy p);
bool parseFsyncPolicy(std::string_view text, FsyncPolicy& out);

class DiskWriter {
 public:
  struct Progress {
    uint64_t written = 0;        // the last ticket written to the log (at least in the page cache)
    uint64_t synced = 0;         // the last ticket written and fsynced
    int error = 0;               // -errno of the failing log operation; 0 when healthy
    std::string errorWhere;      // "write log.0000000003", for the log line and /status
    uint64_t diskErrors = 0;     // failed operations so far (log and snapshot)
    uint64_t slicesWritten = 0;  // snapshot slices written (the loop has one in flight)
    uint64_t snapshotCommitted = 0;  // generation of the last committed snapshot
    uint64_t snapshotFailed = 0;     // generation of the last snapshot abandoned on an error
  };

  DiskWriter(FileOps& ops, FsyncPolicy policy, std::function<void()> notify,
             uint64_t retryMs = 1000);
  ~DiskWriter();  // stop()s
  DiskWriter(const DiskWriter&) = delete;
  DiskWriter& operator=(const DiskWriter&) = delete;

  // ---- loop thread: queue operations (they run in this order) ----
  // Creates `path` and fsyncs its directory; later appends go there (the previous log is
  // fsynced and closed first).
  void openLog(std::string path);
  // Writes `bytes` (records whose last ticket is `ticket`); fsyncs when the policy says so or
  // `sync` is set (w=disk). bytes may be empty (a sync request alone).
  void append(std::string bytes, uint64_t ticket, bool sync);
  void beginSnapshot(std::string tmpPath);
  void snapshotSlice(std::string bytes);
  // fsync + close the snapshot, rename it to `path`, fsync the directory, delete `obsolete`.
  void commitSnapshot(std::string path, uint64_t gen, std::vector<std::string> obsolete);

  Progress progress() const;
  // Runs the queued operations, a last fsync (unless a disk error persists), and joins.
  // Idempotent. Blocks the caller until the thread ended.
  void stop();

 private:
  struct Op {
    enum class Kind : uint8_t { kOpenLog, kAppend, kBeginSnapshot, kSlice, kCommit };
    Kind kind = Kind::kAppend;
    std::string bytes;  // data, or a path
    uint64_t ticket = 0;
    bool sync = false;
    std::vector<std::string> obsolete;
  };
  static Op makeOp(Op::Kind kind, std::string bytes, uint64_t ticket = 0, bool sync = false);
  void push(Op op);
  void run();
  void execute(Op& op);
  void doOpenLog(const std::string& path);
  void doAppend(Op& op);
  bool syncLog();  // false after a failure that was repaired (the repair synced)
  void repair(int err, const std::string& where);
  void snapshotOp(Op& op);
  void fail(int err, std::string where);  // under no lock
  bool waitRetry();                       // false when stopping
  std::string name(const std::string& path) const;
  void publish(const std::function<void(Progress&)>& change);

  FileOps& ops_;
  const FsyncPolicy policy_;
  const std::function<void()> notify_;
  const uint64_t retryMs_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  Progress progress_;

  // Writer thread only.
  int logFd_ = -1;
  std::string logPath_;
  std::string dir_;
  uint64_t stableSize_ = 0;  // log bytes known to be on disk (fsynced; written, under kNo)
  std::string unstable_;     // bytes written after stableSize_ (rewritten after a failure)
  uint64_t unstableTicket_ = 0;
  uint64_t lastSyncMs_ = 0;
  int snapFd_ = -1;
  std::string snapPath_;
  bool snapBroken_ = false;

  std::thread thread_;
};

}  // namespace db::persistence

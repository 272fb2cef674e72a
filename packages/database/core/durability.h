// db::Durability: what the write log (write_log.h) needs from the disk: whether a ticket is
// fsynced yet. w=disk, or FSYNC=always for every write, waits for the write's ticket to be
// fsynced before the 200. While the disk fails (ENOSPC, EIO) writable() refuses client writes
// with DISK_UNAVAILABLE. Implementations: persistence::Persister (DATA_DIR) and
// MemoryDurability (--memory). Loop thread only. The one thing to get right: a ticket is
// synced only once every entry up to it is on disk (tickets are the log's order).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/core/result.h"

namespace db {

class Durability {
 public:
  virtual ~Durability() = default;
  // False in memory mode (w=disk is then refused with PERSISTENCE_DISABLED).
  virtual bool persistent() const = 0;
  // okStatus, or DISK_UNAVAILABLE while the log cannot be written.
  virtual common::Status writable() const = 0;
  // True under FSYNC=always: every write waits for its fsync.
  virtual bool syncEveryWrite() const = 0;
  // done(ok) once `ticket` is written and fsynced; done(DISK_UNAVAILABLE) if the disk fails
  // first; PERSISTENCE_DISABLED in memory mode. Runs on the loop, exactly once, maybe inline.
  virtual void awaitSynced(uint64_t ticket, std::function<void(common::Status)> done) = 0;
  // Appends the persistence part of /status as JSON members (each starting with a comma).
  virtual void appendStatus(std::string& json) const = 0;
};

// --memory: nothing is written, nothing to wait for (w=disk is refused: there is no disk).
class MemoryDurability : public Durability {
 public:
  bool persistent() const override { return false; }
  common::Status writable() const override { return common::okStatus(); }
  bool syncEveryWrite() const override { return false; }
  void awaitSynced(uint64_t, std::function<void(common::Status)> done) override {
    done(common::Error{"PERSISTENCE_DISABLED", "the node runs with --memory"});
  }
  void appendStatus(std::string& json) const override {
    json.append(",\"persistence\":{\"mode\":\"memory\"}");
  }
};

}  // namespace db

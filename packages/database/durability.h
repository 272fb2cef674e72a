// db::Durability: what the API routes need from the persistence layer. A write is applied to
// the Keyspace (which hands it to the log through its observer) and gets the log's ticket;
// w=disk, or FSYNC=always for every write, waits for that ticket to be fsynced before the 200.
// While the disk fails (ENOSPC, EIO) writable() refuses client writes with DISK_UNAVAILABLE.
// Implementations: persistence::Persister (DATA_DIR) and MemoryDurability (--memory).
// Loop thread only. The one thing to get right: lastTicket() must be read right after the
// write that produced it, in the same callback; any later write moves it on.
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
  // The ticket of the last mutation handed to the log (0: none).
  virtual uint64_t lastTicket() const = 0;
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
  uint64_t lastTicket() const override { return 0; }
  bool syncEveryWrite() const override { return false; }
  void awaitSynced(uint64_t, std::function<void(common::Status)> done) override {
    done(common::Error{"PERSISTENCE_DISABLED", "the node runs with --memory"});
  }
  void appendStatus(std::string& json) const override {
    json.append(",\"persistence\":{\"mode\":\"memory\"}");
  }
};

}  // namespace db

// db::Replication: what the write log needs from the peers to answer w=quorum and w=all: word
// that every write up to a ticket reached enough nodes. Its implementation is the mesh's
// replicator (database/mesh), which subscribes to the log for the writes it streams.
// Loop thread only. The one thing to get right: this node counts as one of the nodes that hold
// the write (it applied it before the ticket existed).
#pragma once

#include <functional>

#include "database/core/write_log_types.h"

namespace db {

class Replication {
 public:
  virtual ~Replication() = default;
  // done(ok, acked) once the nodes `level` asks for (kQuorum: a majority of the live members,
  // kAll: every live member; this node included) hold every write up to `ticket`, or
  // done(false, acked) after the replication timeout. Runs on the loop, exactly once, maybe
  // inline.
  virtual void awaitTicket(Ticket ticket, WriteLevel level,
                           std::function<void(bool ok, int acked)> done) = 0;
};

}  // namespace db

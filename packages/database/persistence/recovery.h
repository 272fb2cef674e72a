// recover(): rebuilds a Keyspace from a DataDir at start, before the node listens: deletes the
// leftovers of an interrupted compaction, loads the current snapshot, replays the logs after it
// through Keyspace::replay (apply's LWW merge without the clock-drift refusal, so a record seen
// twice is harmless and a wall clock that went back loses nothing). A torn last record
// of a log (a crash mid-write) is cut off, logged and counted. A bad record with data after it
// (or any bad record in a snapshot, which was fsynced before it was named) stops the start with
// DATA_DAMAGED naming the file and offset, unless `repair`, which truncates the file there (as
// redis-check-aof --fix) and goes on. Loop thread, before the loop runs (nothing replayed is
// appended to the WriteLog: it is on disk already). The one thing to get right: records are
// replayed in file order, and a kReset record wipes everything before it (an evicted node that
// forgot its data).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "database/persistence/data_dir.h"
#include "database/storage/keyspace.h"

namespace db::persistence {

struct RecoveryReport {
  uint64_t records = 0;                // records read (snapshot + logs)
  uint64_t refused = 0;                // records the keyspace refused (clock, limits): logged
  uint64_t tornTails = 0;              // torn last records cut off
  uint64_t tornBytes = 0;              // bytes cut off by torn tails
  uint64_t repairedBytes = 0;          // bytes cut off by --repair
  uint64_t snapshotBytes = 0;          // size of the current snapshot
  uint64_t logBytes = 0;               // size of the logs replayed (after cuts)
  uint64_t nextGen = 1;                // the generation the new log must use
  std::vector<std::string> liveFiles;  // the snapshot and logs that make up the state
  std::string summary() const;
};

common::Result<RecoveryReport> recover(const DataDir& dir, Keyspace& keyspace, bool repair);

}  // namespace db::persistence

// The write log's vocabulary (write_log.h): tickets, write levels, where an entry came from,
// and the entry itself as views. Plain types, no thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "database/storage/mutation.h"

namespace db {

// A write's place in the node's log: 1, 2, 3, ... in the order the keyspace applied them.
using Ticket = uint64_t;

// How far a write must have gone before its 200 (the `w=` parameter).
enum class WriteLevel : uint8_t {
  kLocal,   // applied here (and under FSYNC=always, on disk)
  kDisk,    // in the log file, fsynced
  kQuorum,  // applied by a majority of the live members
  kAll,     // applied by every live member
};
// "", "1", "local", "disk", "quorum", "all"; nullopt for anything else.
std::optional<WriteLevel> parseWriteLevel(std::string_view w);

// Where an appended entry came from. The disk takes every entry; the peers only what this node
// must spread (a peer already has what it sent us, and so do its other peers).
enum class Source : uint8_t {
  kClient,     // a client's write, stamped here
  kPeer,       // a peer's record: its stream, a snapshot page, an anti-entropy repair
  kPreserved,  // a record this node kept across a wipe and must spread again
  // An expired record this node dropped (kind kDelete, the record's hlc and origin). Delivered
  // only to subscribers that ask for it (LogSubscriber::wantsExpiry: the watch hub): the disk
  // re-reads the record with its expiry at recovery, and every peer expires it on its own.
  kExpiry,
};

// One applied change, as views into the caller's data: valid during the call only.
struct LogEntry {
  Mutation::Kind kind = Mutation::Kind::kPut;
  std::string_view key;
  std::string_view value;
  uint64_t hlc = 0;
  std::string_view origin;
  std::string_view collection{};  // "" = the default collection
  uint64_t expiresAtMs = 0;       // kPut: when it expires (0 = never)

  static LogEntry of(const Mutation& m) {
    return {m.kind, m.key, m.value, m.hlc, m.origin, m.collection, m.expiresAtMs};
  }
};

}  // namespace db

// db::Mutation: one replicated change of the keyspace (a put, a delete, or a cluster-wide clear
// of one collection), stamped with its hybrid logical clock time and the id of the node that
// made it, in a named collection ("" = the default collection, docs/collections.md). Keyspace
// returns one for every client write; the mesh ships them (wire.h) and peers apply them.
// Plain value type, no thread affinity. The one thing to get right: (hlc, origin) is the
// record's version everywhere (LWW); two mutations never share it unless they are the same one.
#pragma once

#include <cstdint>
#include <string>

namespace db {

struct Mutation {
  enum class Kind : uint8_t { kPut = 0, kDelete = 1, kClear = 2 };
  Kind kind = Kind::kPut;
  std::string key;           // empty for kClear
  std::string value;         // empty for kDelete and kClear
  uint64_t hlc = 0;          // Hlc timestamp (48-bit ms << 16 | 16-bit counter)
  std::string origin;        // node id that made the change
  std::string collection{};  // "" = the default collection; a kClear clears this one only
  // Wall-clock ms since the epoch at which a kPut expires (docs/ttl.md); 0 = never. Decided once
  // by the node that stamped the write and carried with the record everywhere.
  uint64_t expiresAtMs = 0;
};

}  // namespace db

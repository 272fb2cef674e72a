// The rules every stored record obeys, in one place: the API checks a client's key and value
// with them (http/params.cc) and the mesh checks every record a peer sends (mesh/store_bridge.cc)
// before anything of its frame is applied. Pure functions, no allocation on success, any thread.
// Codes are the API's: EMPTY_KEY, INVALID_ENCODING (not UTF-8: overlongs, surrogates and code
// points above U+10FFFF included), MAXIMUM_KEY_LENGTH_REACHED, MAXIMUM_VALUE_LENGTH_REACHED; plus
// INVALID_ORIGIN and INVALID_RECORD (shape: kind, key/value presence, hlc) for replicated records;
// a collection name (c=) has codes of its own: INVALID_COLLECTION (empty or not UTF-8) and
// MAXIMUM_COLLECTION_LENGTH_REACHED.
// The one thing to get right: limits count Unicode code points and are inclusive, and they are
// THIS node's limits: a peer's record over them is refused even if the peer accepted it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/core/result.h"
#include "database/storage/mutation.h"

namespace db {

struct Limits {
  size_t maxKeyLength = 64;     // code points, inclusive (MAX_KEY_LENGTH)
  size_t maxValueLength = 256;  // code points, inclusive (MAX_VALUE_LENGTH)
};

// A collection name is 1..kMaxCollectionLength code points (inclusive) of UTF-8, like a key.
inline constexpr size_t kMaxCollectionLength = 64;
// Its longest spelling in bytes (4 per code point): what the wire and the files accept.
inline constexpr size_t kMaxCollectionBytes = 4 * kMaxCollectionLength;

// The longest origin (node id) a record may carry, as on the wire (its length is one byte in
// the digest encoding).
inline constexpr size_t kMaxOriginBytes = 255;

// EMPTY_KEY, then INVALID_ENCODING, then MAXIMUM_KEY_LENGTH_REACHED (the API's order).
common::Status checkKey(std::string_view key, const Limits& limits);
// INVALID_ENCODING, then MAXIMUM_VALUE_LENGTH_REACHED. An empty value is valid.
common::Status checkValue(std::string_view value, const Limits& limits);
// A collection name (never "": the default collection is the absence of a name):
// INVALID_COLLECTION (empty, or not UTF-8), then MAXIMUM_COLLECTION_LENGTH_REACHED.
common::Status checkCollection(std::string_view collection);
// A node id: 1..kMaxOriginBytes bytes of UTF-8 without control characters (it is a host name
// in practice, and it ends up in logs and in /status). INVALID_ORIGIN otherwise.
common::Status checkOrigin(std::string_view origin);

// A whole replicated record. kPut: key and value rules; kDelete: key rules and no value; kClear:
// no key and no value. Every kind: origin rules and an hlc above 0 (a real clock never stamps 0;
// a clear mark at 0 would mean "never cleared" with an origin, which no snapshot can carry);
// a non-empty collection: the collection rules.
common::Status checkRecord(Mutation::Kind kind, std::string_view key, std::string_view value,
                           uint64_t hlc, std::string_view origin, const Limits& limits,
                           std::string_view collection = {});

}  // namespace db

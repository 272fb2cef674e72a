// Validation of the API's query parameters, in the original's order with meshkv's fixes:
// INVALID_ENCODING (the query cannot be read) -> DUPLICATE_PARAM (a repeated k or v) ->
// MISSING_KEY_PARAM -> EMPTY_KEY -> MAXIMUM_KEY_LENGTH_REACHED -> (writes) MISSING_VALUE_PARAM
// -> MAXIMUM_VALUE_LENGTH_REACHED. A c= (collection, docs/collections.md) is checked right after
// DUPLICATE_PARAM: INVALID_COLLECTION (empty) or MAXIMUM_COLLECTION_LENGTH_REACHED. A write's
// ttl= (docs/ttl.md) comes last: BAD_TTL unless 1..kMaxTtlSeconds whole seconds. Limits count
// Unicode code points and are inclusive; the key and value rules themselves live in
// storage/record_rules.h, shared with the mesh (a peer's records obey the same rules). Pure
// functions over the raw query string; loop thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "database/storage/record_rules.h"

namespace db {

struct KeyParams {
  std::string key;
  std::string value;       // only for routes that take one
  std::string w;           // write concern as sent ("", "1", "local", "quorum", "all")
  std::string collection;  // c=; "" = the default collection
  uint64_t ttlMs = 0;      // ttl= of a write, in ms; 0 = none
};

// ttl=: seconds, 1..kMaxTtlSeconds (about 10 years), digits only.
inline constexpr uint64_t kMaxTtlSeconds = 315'360'000;
common::Result<uint64_t> parseTtlSeconds(std::string_view text);  // BAD_TTL
// The ttl= of a query (REST writes), in ms: 0 when absent; DUPLICATE_PARAM, BAD_TTL,
// INVALID_ENCODING.
common::Result<uint64_t> parseTtlParam(std::string_view query);

enum class Need { kKey, kKeyAndValue };

// Fills `out` (whose buffers are reused: no allocation in steady state) or returns the error.
common::Status parseKeyParams(std::string_view query, Need need, const Limits& limits,
                              KeyParams& out);

struct ListParams {
  std::string collection;  // c=; "" = the default collection
  std::string prefix;
  size_t limit = 0;  // 0: no limit (the whole list, streamed)
  std::string cursor;
};

// c=, prefix=, limit= (1..10000 per page), cursor= (from a previous page's X-Cursor).
common::Result<ListParams> parseListParams(std::string_view query);

// The parameters of /clear: c= (collection) and w= (write concern).
struct ClearParams {
  std::string collection;
  std::string w;
};
common::Result<ClearParams> parseClearParams(std::string_view query);

}  // namespace db

// See record_rules.h. The codes are what clients and the mesh's logs show; only the shape
// errors (INVALID_RECORD) say more, since a client can never cause them.
#include "database/storage/record_rules.h"

#include <cstdint>
#include <cstring>

#include "common/http/url.h"

namespace db {

using common::Error;

namespace {

constexpr size_t kNotUtf8 = SIZE_MAX;

// Code points of `s`, or kNotUtf8. Every replicated record passes here, so the ASCII prefix
// (most keys and values) is checked 8 bytes at a time; from the first word with a high bit on
// (a character boundary: everything before it is ASCII) the full check takes over.
size_t codePoints(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if ((word & 0x8080808080808080ull) != 0) break;
  }
  std::string_view rest = s.substr(i);
  if (!common::isValidUtf8(rest)) return kNotUtf8;
  return i + common::countCodePoints(rest);
}

}  // namespace

common::Status checkKey(std::string_view key, const Limits& limits) {
  if (key.empty()) return Error{"EMPTY_KEY", ""};
  size_t n = codePoints(key);
  if (n == kNotUtf8) return Error{"INVALID_ENCODING", ""};
  if (n > limits.maxKeyLength) return Error{"MAXIMUM_KEY_LENGTH_REACHED", ""};
  return common::okStatus();
}

common::Status checkValue(std::string_view value, const Limits& limits) {
  size_t n = codePoints(value);
  if (n == kNotUtf8) return Error{"INVALID_ENCODING", ""};
  if (n > limits.maxValueLength) return Error{"MAXIMUM_VALUE_LENGTH_REACHED", ""};
  return common::okStatus();
}

common::Status checkCollection(std::string_view collection) {
  if (collection.empty()) return Error{"INVALID_COLLECTION", "empty"};
  size_t n = codePoints(collection);
  if (n == kNotUtf8) return Error{"INVALID_COLLECTION", "not UTF-8"};
  if (n > kMaxCollectionLength) return Error{"MAXIMUM_COLLECTION_LENGTH_REACHED", ""};
  return common::okStatus();
}

common::Status checkOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginBytes || !common::isValidUtf8(origin)) {
    return Error{"INVALID_ORIGIN", ""};
  }
  for (char c : origin) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return Error{"INVALID_ORIGIN", ""};
  }
  return common::okStatus();
}

common::Status checkRecord(Mutation::Kind kind, std::string_view key, std::string_view value,
                           uint64_t hlc, std::string_view origin, const Limits& limits,
                           std::string_view collection) {
  if (hlc == 0) return Error{"INVALID_RECORD", "hlc 0"};
  if (auto st = checkOrigin(origin); !st.ok()) return st;
  if (!collection.empty()) {
    if (auto st = checkCollection(collection); !st.ok()) return st;
  }
  switch (kind) {
    case Mutation::Kind::kPut:
      if (auto st = checkKey(key, limits); !st.ok()) return st;
      return checkValue(value, limits);
    case Mutation::Kind::kDelete:
      if (!value.empty()) return Error{"INVALID_RECORD", "a delete carries no value"};
      return checkKey(key, limits);
    case Mutation::Kind::kClear:
      if (!key.empty() || !value.empty()) {
        return Error{"INVALID_RECORD", "a clear carries no key and no value"};
      }
      return common::okStatus();
  }
  return Error{"INVALID_RECORD", "unknown kind"};
}

}  // namespace db

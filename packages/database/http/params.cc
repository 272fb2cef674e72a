// See params.h.
#include "database/http/params.h"

#include <charconv>

#include "common/http/url.h"

namespace db {

using common::Error;

common::Status parseKeyParams(std::string_view query, Need need, const Limits& limits,
                              KeyParams& out) {
  thread_local std::string scratch;
  out.key.clear();
  out.value.clear();
  out.w.clear();
  out.collection.clear();
  out.ttlMs = 0;
  thread_local std::string ttl;
  ttl.clear();
  bool seenK = false, seenV = false, seenW = false, seenC = false, seenT = false;
  const char* duplicate = nullptr;
  bool encodingOk = true;
  // Every parameter is decoded and checked, so INVALID_ENCODING comes first whatever its place.
  common::forEachRawParam(query, [&](std::string_view rawName, std::string_view rawValue, bool) {
    if (!common::formDecode(rawName, scratch) || !common::isValidUtf8(scratch)) {
      encodingOk = false;
      return false;
    }
    std::string* target = &scratch;
    bool* seen = nullptr;
    if (scratch == "k") {
      seen = &seenK;
      target = &out.key;
    } else if (scratch == "v" && need == Need::kKeyAndValue) {
      seen = &seenV;
      target = &out.value;
    } else if (scratch == "w") {
      seen = &seenW;
      target = &out.w;
    } else if (scratch == "c") {
      seen = &seenC;
      target = &out.collection;
    } else if (scratch == "ttl" && need == Need::kKeyAndValue) {
      seen = &seenT;
      target = &ttl;
    }
    if (seen != nullptr) {
      if (*seen && duplicate == nullptr) {
        duplicate = seen == &seenK   ? "k"
                    : seen == &seenV ? "v"
                    : seen == &seenW ? "w"
                    : seen == &seenT ? "ttl"
                                     : "c";
      }
      *seen = true;
    }
    if (!common::formDecode(rawValue, *target) || !common::isValidUtf8(*target)) {
      encodingOk = false;
      return false;
    }
    return true;
  });
  if (!encodingOk) return Error{"INVALID_ENCODING", ""};
  if (duplicate != nullptr) return Error{"DUPLICATE_PARAM", std::string("repeated ") + duplicate};
  if (seenC) {
    if (auto st = checkCollection(out.collection); !st.ok()) return st;
  }
  if (!seenK) return Error{"MISSING_KEY_PARAM", ""};
  // The record rules (shared with the mesh); UTF-8 was checked above, so only EMPTY_KEY and the
  // length limits can come out of them here.
  if (auto st = checkKey(out.key, limits); !st.ok()) return st;
  if (need == Need::kKeyAndValue) {
    if (!seenV) return Error{"MISSING_VALUE_PARAM", ""};
    if (auto st = checkValue(out.value, limits); !st.ok()) return st;
    if (seenT) {
      auto secs = parseTtlSeconds(ttl);
      if (!secs.ok()) return secs.error();
      out.ttlMs = *secs * 1000;
    }
  }
  return common::okStatus();
}

common::Result<uint64_t> parseTtlSeconds(std::string_view text) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n == 0 ||
      n > kMaxTtlSeconds) {
    return Error{"BAD_TTL", "ttl must be whole seconds, 1 to " + std::to_string(kMaxTtlSeconds)};
  }
  return n;
}

common::Result<uint64_t> parseTtlParam(std::string_view query) {
  auto parsed = common::parseQuery(query);
  if (!parsed.ok()) return parsed.error();
  const std::string* ttl = nullptr;
  for (const auto& p : *parsed) {
    if (p.name != "ttl") continue;
    if (ttl != nullptr) return Error{"DUPLICATE_PARAM", "repeated ttl"};
    ttl = &p.value;
  }
  if (ttl == nullptr) return uint64_t{0};
  auto secs = parseTtlSeconds(*ttl);
  if (!secs.ok()) return secs.error();
  return *secs * 1000;
}

common::Result<ListParams> parseListParams(std::string_view query) {
  auto parsed = common::parseQuery(query);
  if (!parsed.ok()) return parsed.error();
  ListParams out;
  bool seenPrefix = false, seenLimit = false, seenCursor = false, seenC = false;
  for (const auto& p : *parsed) {
    bool* seen = p.name == "prefix"   ? &seenPrefix
                 : p.name == "limit"  ? &seenLimit
                 : p.name == "cursor" ? &seenCursor
                 : p.name == "c"      ? &seenC
                                      : nullptr;
    if (seen == nullptr) continue;
    if (*seen) return Error{"DUPLICATE_PARAM", "repeated " + p.name};
    *seen = true;
    if (p.name == "c") {
      if (auto st = checkCollection(p.value); !st.ok()) return st.error();
      out.collection = p.value;
    } else if (p.name == "prefix") {
      out.prefix = p.value;
    } else if (p.name == "cursor") {
      out.cursor = p.value;
    } else {
      size_t n = 0;
      auto [ptr, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      if (ec != std::errc() || ptr != p.value.data() + p.value.size() || n == 0) {
        return Error{"INVALID_LIMIT", "limit must be a positive integer"};
      }
      out.limit = std::min<size_t>(n, 10000);
    }
  }
  return out;
}

common::Result<ClearParams> parseClearParams(std::string_view query) {
  auto parsed = common::parseQuery(query);
  if (!parsed.ok()) return parsed.error();
  ClearParams out;
  bool seenW = false, seenC = false;
  for (const auto& q : *parsed) {
    bool* seen = q.name == "w" ? &seenW : q.name == "c" ? &seenC : nullptr;
    if (seen == nullptr) continue;
    if (*seen) return Error{"DUPLICATE_PARAM", "repeated " + q.name};
    *seen = true;
    if (q.name == "w") {
      out.w = q.value;
    } else {
      if (auto st = checkCollection(q.value); !st.ok()) return st.error();
      out.collection = q.value;
    }
  }
  return out;
}

}  // namespace db

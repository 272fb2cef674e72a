// See params.h.
#include "database/http/params.h"

#include <charconv>

#include "common/http/url.h"

namespace db {

using common::Error;

common::Result<KeyParams> parseKeyParams(std::string_view query, Need need, const Limits& limits) {
  auto parsed = common::parseQuery(query);
  if (!parsed.ok()) return parsed.error();
  const common::QueryParam* k = nullptr;
  const common::QueryParam* v = nullptr;
  const common::QueryParam* w = nullptr;
  for (const auto& p : *parsed) {
    const common::QueryParam** slot = p.name == "k"   ? &k
                                      : p.name == "v" ? (need == Need::kKeyAndValue ? &v : nullptr)
                                      : p.name == "w" ? &w
                                                      : nullptr;
    if (slot == nullptr) continue;
    if (*slot != nullptr) return Error{"DUPLICATE_PARAM", "repeated " + p.name};
    *slot = &p;
  }
  if (k == nullptr) return Error{"MISSING_KEY_PARAM", ""};
  if (k->value.empty()) return Error{"EMPTY_KEY", ""};
  if (common::countCodePoints(k->value) > limits.maxKeyLength) {
    return Error{"MAXIMUM_KEY_LENGTH_REACHED", ""};
  }
  KeyParams out;
  out.key = k->value;
  if (need == Need::kKeyAndValue) {
    if (v == nullptr) return Error{"MISSING_VALUE_PARAM", ""};
    if (common::countCodePoints(v->value) > limits.maxValueLength) {
      return Error{"MAXIMUM_VALUE_LENGTH_REACHED", ""};
    }
    out.value = v->value;
  }
  if (w != nullptr) out.w = w->value;
  return out;
}

common::Result<ListParams> parseListParams(std::string_view query) {
  auto parsed = common::parseQuery(query);
  if (!parsed.ok()) return parsed.error();
  ListParams out;
  bool seenPrefix = false, seenLimit = false, seenCursor = false;
  for (const auto& p : *parsed) {
    bool* seen = p.name == "prefix"   ? &seenPrefix
                 : p.name == "limit"  ? &seenLimit
                 : p.name == "cursor" ? &seenCursor
                                      : nullptr;
    if (seen == nullptr) continue;
    if (*seen) return Error{"DUPLICATE_PARAM", "repeated " + p.name};
    *seen = true;
    if (p.name == "prefix") {
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

}  // namespace db

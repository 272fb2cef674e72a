// See rest_path.h.
#include "database/http/rest_path.h"

#include <array>

#include "common/http/url.h"

namespace db {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

common::Status decodeSegment(std::string_view raw, std::string& out) {
  if (!percentDecode(raw, out) || !common::isValidUtf8(out)) {
    return common::Error{"INVALID_ENCODING", "a path segment is not percent-encoded UTF-8"};
  }
  return common::okStatus();
}

}  // namespace

bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

common::Status decodeRestPath(std::string_view path, const Limits& limits, RestPath& out) {
  out.shape = RestPath::Shape::kRoot;
  out.collection.clear();
  out.key.clear();
  out.value.clear();
  // The server routes "/kv" and "/kv/..." here; anything else is a caller's bug, refused alike.
  if (path.substr(0, kRestRoot.size()) != kRestRoot) {
    return common::Error{"UNKNOWN_ROUTE", ""};
  }
  std::string_view rest = path.substr(kRestRoot.size());
  if (rest.empty() || rest == "/") return common::okStatus();
  if (rest.front() != '/') return common::Error{"UNKNOWN_ROUTE", ""};
  rest.remove_prefix(1);

  std::array<std::string_view, 3> raw;
  size_t n = 0;
  while (true) {
    size_t slash = rest.find('/');
    if (n == raw.size()) {
      return common::Error{"TOO_MANY_PATH_SEGMENTS", "at most /kv/COLLECTION/KEY/VALUE"};
    }
    raw[n++] = rest.substr(0, slash);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  for (size_t i = 0; i < n; ++i) {
    if (raw[i].empty()) return common::Error{"EMPTY_PATH_SEGMENT", "a path segment is empty"};
  }
  std::string* targets[] = {&out.collection, &out.key, &out.value};
  for (size_t i = 0; i < n; ++i) {
    if (auto st = decodeSegment(raw[i], *targets[i]); !st.ok()) return st;
  }
  if (out.collection == kRestDefaultCollection) {
    out.collection.clear();
  } else if (auto st = checkCollection(out.collection); !st.ok()) {
    return st;
  }
  out.shape = RestPath::Shape::kCollection;
  if (n >= 2) {
    if (auto st = checkKey(out.key, limits); !st.ok()) return st;
    out.shape = RestPath::Shape::kKey;
  }
  if (n == 3) {
    if (auto st = checkValue(out.value, limits); !st.ok()) return st;
    out.shape = RestPath::Shape::kKeyValue;
  }
  return common::okStatus();
}

}  // namespace db

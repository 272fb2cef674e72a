// Text helpers for the HTTP layer: percent/form decoding of query strings, UTF-8 validation and
// code-point counting, and parsing of http:// URLs used in configuration. Pure functions, no
// allocation beyond their outputs; safe from any thread.
// A newcomer's trap: form decoding turns '+' into a space, but only in the query string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace common {

// Decodes %XX escapes and '+' (as a space). Returns false on a broken escape ("%", "%4", "%zz").
bool formDecode(std::string_view in, std::string& out);

struct QueryParam {
  std::string name;
  std::string value;
  bool hasValue;  // "k" alone has no value; "k=" has an empty one
};

// Calls f(rawName, rawValue, hasValue) for each non-empty "name[=value]" of a raw query, in
// order, without decoding or allocating. Stops early when f returns false.
template <typename F>
void forEachRawParam(std::string_view query, F&& f) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    bool hasValue = eq != std::string_view::npos;
    if (!f(pair.substr(0, eq), hasValue ? pair.substr(eq + 1) : std::string_view{}, hasValue)) {
      return;
    }
  }
}

// Splits "a=1&b=2" into decoded pairs. Error code INVALID_ENCODING on a broken escape or bytes
// that are not UTF-8 after decoding.
Result<std::vector<QueryParam>> parseQuery(std::string_view query);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool isValidUtf8(std::string_view s);

// Number of code points in valid UTF-8 (counts lead bytes).
size_t countCodePoints(std::string_view s);

struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string path;  // begins with '/', "/" when absent
};

// Parses "http://host[:port][/path]"; host may be a name, IPv4 or [IPv6].
Result<HttpUrl> parseHttpUrl(std::string_view url);

// Appends %XX-encoding of every byte outside [A-Za-z0-9-._~] (for building query strings).
void urlEncode(std::string_view in, std::string& out);

}  // namespace common

// Fuzz target: the rules every stored record obeys (database/storage/record_rules.h), applied to
// every client write and every record a peer sends. Input: max key length, max value length,
// kind, 8 bytes of hlc, key length, origin length, then key, origin and value bytes. Properties,
// against references written here independently of the code (a byte-by-byte UTF-8 decoder per
// Unicode table 3-7): checkKey/checkValue/checkOrigin accept exactly what their contracts say,
// with the error codes in the documented order, and checkRecord is the documented combination
// for each kind. The one thing to get right: limits count code points and are inclusive.
#include <cstdint>
#include <string>
#include <string_view>

#include "database/storage/record_rules.h"
#include "fuzz_check.h"

namespace {

constexpr size_t kBad = SIZE_MAX;

// Code points of s, or kBad when s is not well-formed UTF-8 (Unicode 15, table 3-7).
size_t referenceCodePoints(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    auto cont = [&](size_t k, unsigned lo, unsigned hi) {
      return i + k < s.size() && b(k) >= lo && b(k) <= hi;
    };
    unsigned c = b(0);
    if (c <= 0x7f) {
      i += 1;
    } else if (c >= 0xc2 && c <= 0xdf && cont(1, 0x80, 0xbf)) {
      i += 2;
    } else if (c == 0xe0 && cont(1, 0xa0, 0xbf) && cont(2, 0x80, 0xbf)) {
      i += 3;
    } else if (((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) && cont(1, 0x80, 0xbf) &&
               cont(2, 0x80, 0xbf)) {
      i += 3;
    } else if (c == 0xed && cont(1, 0x80, 0x9f) && cont(2, 0x80, 0xbf)) {
      i += 3;
    } else if (c == 0xf0 && cont(1, 0x90, 0xbf) && cont(2, 0x80, 0xbf) && cont(3, 0x80, 0xbf)) {
      i += 4;
    } else if (c >= 0xf1 && c <= 0xf3 && cont(1, 0x80, 0xbf) && cont(2, 0x80, 0xbf) &&
               cont(3, 0x80, 0xbf)) {
      i += 4;
    } else if (c == 0xf4 && cont(1, 0x80, 0x8f) && cont(2, 0x80, 0xbf) && cont(3, 0x80, 0xbf)) {
      i += 4;
    } else {
      return kBad;
    }
  }
  return n;
}

std::string codeOf(const common::Status& st) {
  return st.ok() ? "" : st.error().code;
}

std::string expectedKey(std::string_view key, const db::Limits& l) {
  if (key.empty()) return "EMPTY_KEY";
  size_t n = referenceCodePoints(key);
  if (n == kBad) return "INVALID_ENCODING";
  return n > l.maxKeyLength ? "MAXIMUM_KEY_LENGTH_REACHED" : "";
}

std::string expectedValue(std::string_view value, const db::Limits& l) {
  size_t n = referenceCodePoints(value);
  if (n == kBad) return "INVALID_ENCODING";
  return n > l.maxValueLength ? "MAXIMUM_VALUE_LENGTH_REACHED" : "";
}

std::string expectedOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > db::kMaxOriginBytes) return "INVALID_ORIGIN";
  if (referenceCodePoints(origin) == kBad) return "INVALID_ORIGIN";
  for (char c : origin) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "INVALID_ORIGIN";
  }
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  db::Limits limits;
  limits.maxKeyLength = in.byte();
  limits.maxValueLength = in.byte();
  auto kind = static_cast<db::Mutation::Kind>(in.byte() % 4);  // 3: an unknown kind
  uint64_t hlc = 0;
  for (int i = 0; i < 8; ++i) hlc |= uint64_t{in.byte()} << (8 * i);
  size_t keyLen = in.byte();
  size_t originLen = in.byte();
  std::string_view rest = in.rest();
  std::string_view key = rest.substr(0, keyLen);
  rest.remove_prefix(key.size());
  std::string_view origin = rest.substr(0, originLen);
  rest.remove_prefix(origin.size());
  std::string_view value = rest;

  std::string k = codeOf(db::checkKey(key, limits));
  std::string v = codeOf(db::checkValue(value, limits));
  std::string o = codeOf(db::checkOrigin(origin));
  FUZZ_CHECK(k == expectedKey(key, limits), "checkKey as its contract says");
  FUZZ_CHECK(v == expectedValue(value, limits), "checkValue as its contract says");
  FUZZ_CHECK(o == expectedOrigin(origin), "checkOrigin as its contract says");

  std::string r = codeOf(db::checkRecord(kind, key, value, hlc, origin, limits));
  std::string want;
  if (hlc == 0) {
    want = "INVALID_RECORD";
  } else if (!o.empty()) {
    want = o;
  } else if (kind == db::Mutation::Kind::kPut) {
    want = !k.empty() ? k : v;
  } else if (kind == db::Mutation::Kind::kDelete) {
    want = !value.empty() ? "INVALID_RECORD" : k;
  } else if (kind == db::Mutation::Kind::kClear) {
    want = key.empty() && value.empty() ? "" : "INVALID_RECORD";
  } else {
    want = "INVALID_RECORD";
  }
  FUZZ_CHECK(r == want, "checkRecord is the documented combination for its kind");
  return 0;
}

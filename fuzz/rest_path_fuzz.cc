// Fuzz target: the REST interface's path decoder (database/http/rest_path.h), which sees every
// byte a client puts in a /kv/... path. Properties, beyond "no crash": the verdict (accepted or
// which code) and the decoded collection, key and value agree with a naive reference written
// here from the README ("REST interface") (split on '/', then %XX-decode, then UTF-8 and the
// code-point limits); an accepted path re-encoded with urlEncode decodes to the same thing; '+' is
// never a space. The one thing to get right: the reference must stay naive, or it shares the
// decoder's bugs.
#include <string>
#include <string_view>
#include <vector>

#include "common/http/url.h"
#include "database/http/rest_path.h"
#include "fuzz_check.h"
#include "naive_reference.h"

namespace {

using fuzz::hexDigit;
using fuzz::refUtf8;

bool refDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (in.size() - i < 3) return false;
    int hi = hexDigit(in[i + 1]), lo = hexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

struct Ref {
  std::string code = "ok";
  int segments = 0;
  std::string parts[3];
};

Ref failed(const char* code) {
  Ref r;
  r.code = code;
  return r;
}

Ref reference(std::string_view path, const db::Limits& limits) {
  Ref r;
  if (path.substr(0, 3) != "/kv") return failed("UNKNOWN_ROUTE");
  std::string_view rest = path.substr(3);
  if (rest.empty() || rest == "/") return r;
  if (rest[0] != '/') return failed("UNKNOWN_ROUTE");
  std::vector<std::string_view> raw;
  size_t start = 1;
  for (size_t i = 1; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == '/') {
      raw.push_back(rest.substr(start, i - start));
      start = i + 1;
    }
  }
  if (raw.size() > 3) return failed("TOO_MANY_PATH_SEGMENTS");
  for (auto s : raw) {
    if (s.empty()) return failed("EMPTY_PATH_SEGMENT");
  }
  r.segments = static_cast<int>(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (!refDecode(raw[i], r.parts[i]) || refUtf8(r.parts[i]) < 0) {
      return failed("INVALID_ENCODING");
    }
  }
  if (r.parts[0] == "_") {
    r.parts[0].clear();
  } else if (static_cast<size_t>(refUtf8(r.parts[0])) > db::kMaxCollectionLength) {
    return failed("MAXIMUM_COLLECTION_LENGTH_REACHED");
  }
  if (r.segments >= 2 && static_cast<size_t>(refUtf8(r.parts[1])) > limits.maxKeyLength) {
    return failed("MAXIMUM_KEY_LENGTH_REACHED");
  }
  if (r.segments == 3 && static_cast<size_t>(refUtf8(r.parts[2])) > limits.maxValueLength) {
    return failed("MAXIMUM_VALUE_LENGTH_REACHED");
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  db::Limits limits{in.byte(), in.byte()};
  std::string_view path = in.rest();

  db::RestPath got;
  auto st = db::decodeRestPath(path, limits, got);
  Ref want = reference(path, limits);
  FUZZ_CHECK((st.ok() ? std::string("ok") : st.error().code) == want.code,
             "the verdict is the reference's, code included");
  if (!st.ok()) return 0;
  FUZZ_CHECK(static_cast<int>(got.shape) == want.segments, "one shape per segment count");
  FUZZ_CHECK(
      got.collection == want.parts[0] && got.key == want.parts[1] && got.value == want.parts[2],
      "segments decode as the reference ('+' kept, %2F inside a segment)");

  // Re-encoded, the same path decodes to the same record.
  if (got.shape == db::RestPath::Shape::kRoot) return 0;
  std::string again = "/kv/";
  common::urlEncode(got.collection.empty() ? "_" : got.collection, again);
  const std::string* more[] = {&got.key, &got.value};
  for (int i = 0; i + 1 < static_cast<int>(got.shape); ++i) {
    again += '/';
    common::urlEncode(*more[i], again);
  }
  db::RestPath back;
  FUZZ_CHECK(db::decodeRestPath(again, limits, back).ok(), "a re-encoded path is accepted");
  FUZZ_CHECK(back.shape == got.shape && back.collection == got.collection && back.key == got.key &&
                 back.value == got.value,
             "a re-encoded path decodes to the same segments");
  return 0;
}

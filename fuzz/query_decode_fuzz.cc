// Fuzz target: the query-string side of the API (common/http/url.h form decoding and UTF-8
// checks, database/http/params.h key/value and list parameters), which sees every byte a client
// puts after '?'. Properties, beyond "no crash": formDecode and isValidUtf8 agree with small
// reference implementations written here from the RFC 3986 / Unicode table 3-7 definitions;
// whatever parseQuery or parseKeyParams accept is valid UTF-8 within the limits; urlEncode then
// formDecode gives back the input. The one thing to get right: the references must stay naive
// (byte by byte), or they would share the bugs of the code they check.
#include <string>
#include <string_view>

#include "common/http/url.h"
#include "database/http/params.h"
#include "fuzz_check.h"
#include "naive_reference.h"

namespace {

using fuzz::hexDigit;
using fuzz::refUtf8;

bool refFormDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (in.size() - i < 3) return false;  // '%' and two more bytes
      int hi = hexDigit(in[i + 1]), lo = hexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t maxKey = in.byte(), maxValue = in.byte();
  std::string_view s = in.rest();

  std::string out, ref;
  bool ok = common::formDecode(s, out);
  bool refOk = refFormDecode(s, ref);
  FUZZ_CHECK(ok == refOk, "formDecode accepts exactly the well-formed escapes");
  if (ok) FUZZ_CHECK(out == ref, "formDecode decodes as the reference");
  if (ok) FUZZ_CHECK(out.size() <= s.size(), "decoding never grows the text");

  long cps = refUtf8(s);
  FUZZ_CHECK(common::isValidUtf8(s) == (cps >= 0), "isValidUtf8 agrees with the reference");
  if (cps >= 0) {
    FUZZ_CHECK(common::countCodePoints(s) == static_cast<size_t>(cps), "code points counted");
  }

  std::string enc, back;
  common::urlEncode(s, enc);
  FUZZ_CHECK(common::formDecode(enc, back) && back == s, "urlEncode round-trips");

  auto q = common::parseQuery(s);
  if (q.ok()) {
    for (const auto& p : *q) {
      FUZZ_CHECK(refUtf8(p.name) >= 0 && refUtf8(p.value) >= 0, "accepted params are UTF-8");
      FUZZ_CHECK(p.name.size() + p.value.size() <= s.size(), "a param is never longer");
    }
  }

  db::Limits limits{maxKey, maxValue};
  db::KeyParams kp;
  for (db::Need need : {db::Need::kKey, db::Need::kKeyAndValue}) {
    auto st = db::parseKeyParams(s, need, limits, kp);
    if (!st.ok()) continue;
    FUZZ_CHECK(!kp.key.empty(), "an accepted key is not empty");
    long kc = refUtf8(kp.key), vc = refUtf8(kp.value), wc = refUtf8(kp.w);
    FUZZ_CHECK(kc >= 0 && vc >= 0 && wc >= 0, "accepted key, value and w are UTF-8");
    FUZZ_CHECK(static_cast<size_t>(kc) <= limits.maxKeyLength, "key within its limit");
    if (need == db::Need::kKeyAndValue) {
      FUZZ_CHECK(static_cast<size_t>(vc) <= limits.maxValueLength, "value within its limit");
    }
  }

  auto lp = db::parseListParams(s);
  if (lp.ok()) {
    FUZZ_CHECK(lp->limit <= 10000, "a page is at most 10000 keys");
    FUZZ_CHECK(refUtf8(lp->prefix) >= 0 && refUtf8(lp->cursor) >= 0, "prefix, cursor UTF-8");
  }

  auto url = common::parseHttpUrl(s);
  if (url.ok()) {
    FUZZ_CHECK(!url->host.empty(), "an accepted URL has a host");
    FUZZ_CHECK(!url->path.empty() && url->path.front() == '/', "its path begins with '/'");
  }
  return 0;
}

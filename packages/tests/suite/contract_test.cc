// meshkv's API contract beyond the original suite: inclusive code-point limits at their
// boundaries, the validation order, form decoding and UTF-8 checks, keys that broke the
// original's JS object store, JSON escaping of control characters, astral characters, write
// concerns, any method answered as GET, and the shape of /status, /settings, /ping and 404s.
// Limits are read from /status. Values are checked by decoding the JSON body (RapidJSON,
// UTF-8 validated), never by comparing escaped text.
#include <set>

#include "tests/suite/testing.h"

namespace suite {
namespace {

// A string of n copies of unit (one code point) after `head` (ASCII), n counted in code points.
std::string ofLength(const std::string& head, const std::string& unit, size_t total) {
  return head + repeat(unit, total - head.size());
}

struct Unit {
  const char* name;
  const char* text;  // one code point
};
const Unit kUnits[] = {{"1byte", "a"}, {"2byte", "é"}, {"3byte", "€"}, {"4byte", "😀"}};

// ---- limits -------------------------------------------------------------------------------

using Limits = ApiTest;

TEST_F(Limits, KeyOfExactlyTheLimitIsAcceptedAndOneMoreIsRefused) {
  const size_t max = maxKeyLength();
  for (const Unit& u : kUnits) {
    SCOPED_TRACE(u.name);
    std::string head = key(std::string("klim:") + u.name + ":");
    if (head.size() + 2 > max) GTEST_SKIP() << "maxKeyLength " << max << " too small for a prefix";
    for (size_t len : {max - 1, max}) {
      std::string k = ofLength(head, u.text, len);
      std::string v = "len" + std::to_string(len);
      expectSuccess(c_.get("/set?k=" + enc(k) + "&v=" + v));
      expectValue(c_, k, v);
      expectSuccess(eventuallyGet(c_, "/is?k=" + enc(k), 200));
    }
    std::string over = ofLength(head, u.text, max + 1);
    for (const char* route : {"/set?v=x&k=", "/get?k=", "/rm?k=", "/is?k="}) {
      expectError(c_.get(route + enc(over)), 400, "MAXIMUM_KEY_LENGTH_REACHED");
    }
  }
}

TEST_F(Limits, ValueOfExactlyTheLimitIsAcceptedAndOneMoreIsRefused) {
  const size_t max = maxValueLength();
  for (const Unit& u : kUnits) {
    SCOPED_TRACE(u.name);
    for (size_t len : {max - 1, max}) {
      std::string k = key(std::string("vlim:") + u.name + ":" + std::to_string(len));
      std::string v = repeat(u.text, len);
      expectSuccess(c_.get("/set?k=" + enc(k) + "&v=" + enc(v)));
      expectValue(c_, k, v);
    }
    std::string k = key(std::string("vlim:") + u.name + ":over");
    expectError(c_.get("/set?k=" + enc(k) + "&v=" + enc(repeat(u.text, max + 1))), 400,
                "MAXIMUM_VALUE_LENGTH_REACHED");
    expectError(c_.get("/get?k=" + enc(k)), 404, "MISSING_RECORD");
  }
}

TEST_F(Limits, StatusAndSettingsReportTheSameLimits) {
  Response a = c_.get("/status"), b = c_.get("/settings");
  auto da = parseJson(a.body), db = parseJson(b.body);
  ASSERT_TRUE(da && db && da->IsObject() && db->IsObject()) << describe(a) << describe(b);
  for (const char* f : {"maxKeyLength", "maxValueLength"}) {
    ASSERT_TRUE(db->HasMember(f) && (*db)[f].IsUint()) << f << " in " << b.body;
    EXPECT_EQ((*da)[f].GetUint(), (*db)[f].GetUint()) << f;
  }
}

// ---- validation order -----------------------------------------------------------------------

using Validation = ApiTest;

TEST_F(Validation, InvalidEncodingComesFirstWhereverItIs) {
  std::string tooLong = repeat("k", maxKeyLength() + 1);
  for (const std::string& q :
       std::vector<std::string>{"/get?k=%zz", "/get?k=a&x=%zz", "/get?x=%zz&k=a&k=b",
                                "/set?k=a&v=%", "/set?%zz=1", "/set?k=" + tooLong + "&v=%C3",
                                "/get?k=&junk=%FF", "/rm?k=%E2%82", "/is?k=a%2", "/clear?w=%FF"}) {
    expectError(c_.get(q), 400, "INVALID_ENCODING");
  }
}

TEST_F(Validation, DuplicateParamComesBeforeTheKeyChecks) {
  expectError(c_.get("/set?k=a&k=b&v=1"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/set?k=" + enc(key("dup:v")) + "&v=1&v=2"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/get?k=&k="), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/set?v=1&v=2"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/rm?k=a&k=a"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/is?k=" + repeat("x", maxKeyLength() + 1) + "&k=y"), 400, "DUPLICATE_PARAM");
  // A refused write stored nothing (the original stored an array and slipped past the limit).
  expectError(c_.get("/get?k=" + enc(key("dup:v"))), 404, "MISSING_RECORD");
}

TEST_F(Validation, KeyErrorsComeBeforeValueErrors) {
  std::string longKey = repeat("k", maxKeyLength() + 1);
  std::string longValue = repeat("v", maxValueLength() + 1);
  expectError(c_.get("/set"), 400, "MISSING_KEY_PARAM");
  expectError(c_.get("/set?v=" + longValue), 400, "MISSING_KEY_PARAM");
  expectError(c_.get("/set?k="), 400, "EMPTY_KEY");
  expectError(c_.get("/set?k=&v=" + longValue), 400, "EMPTY_KEY");
  expectError(c_.get("/set?k=" + longKey), 400, "MAXIMUM_KEY_LENGTH_REACHED");
  expectError(c_.get("/set?k=" + longKey + "&v=" + longValue), 400, "MAXIMUM_KEY_LENGTH_REACHED");
  expectError(c_.get("/set?k=ok"), 400, "MISSING_VALUE_PARAM");
  expectError(c_.get("/set?k=ok&v=" + longValue), 400, "MAXIMUM_VALUE_LENGTH_REACHED");
}

TEST_F(Validation, WriteConcernsAreAcceptedAndAnythingElseIsRefused) {
  for (const char* w : {"quorum", "all", "1", "local"}) {
    std::string k = key(std::string("w:") + w);
    expectSuccess(c_.get("/set?k=" + enc(k) + "&v=x&w=" + w));
    expectValue(c_, k, "x");
    expectSuccess(eventuallyGet(c_, "/rm?k=" + enc(k) + "&w=" + w, 200));
  }
  std::string k = key("w:bad");
  put(c_, k, "kept");
  for (const char* w : {"2", "majority", "ALL", "Quorum", "0", "none"}) {
    SCOPED_TRACE(w);
    expectError(c_.get("/set?k=" + enc(k) + "&v=changed&w=" + w), 400, "INVALID_WRITE_CONCERN");
    expectError(c_.get("/rm?k=" + enc(k) + "&w=" + w), 400, "INVALID_WRITE_CONCERN");
    expectError(c_.get(std::string("/clear?w=") + w), 400, "INVALID_WRITE_CONCERN");
  }
  expectValue(c_, k, "kept");  // nothing above wrote, removed or cleared
}

// An empty `w=` (or a bare `w`) means the default, like an absent parameter (decided by the
// lead; README "The API").
TEST_F(Validation, EmptyWriteConcernMeansTheDefault) {
  const std::string k = key("w:empty");
  put(c_, k, "kept");
  expectSuccess(c_.get("/set?k=" + enc(k) + "&v=changed&w="));
  expectValue(c_, k, "changed");
}

TEST_F(Validation, ARepeatedWriteConcernIsRefused) {
  const std::string k = key("w:twice");
  expectError(c_.get("/set?k=" + enc(k) + "&v=x&w=1&w=all"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/rm?k=" + enc(k) + "&w=1&w=all"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/clear?w=1&w=all"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/get?k=" + enc(k)), 404, "MISSING_RECORD");
}

// ---- encodings ------------------------------------------------------------------------------

using Encoding = ApiTest;

TEST_F(Encoding, BrokenEscapesAreInvalidEncoding) {
  for (const char* raw : {"%", "%4", "%zz", "%G1", "a%", "%%41", "%4g"}) {
    SCOPED_TRACE(raw);
    expectError(c_.get(std::string("/get?k=") + raw), 400, "INVALID_ENCODING");
    expectError(c_.get("/set?k=" + enc(key("enc:broken")) + "&v=" + raw), 400, "INVALID_ENCODING");
  }
}

TEST_F(Encoding, BytesThatAreNotUtf8AreInvalidEncoding) {
  // Stray bytes, truncated sequences, overlong forms, surrogates, and code points past U+10FFFF.
  for (const char* raw : {"%FF", "%FE", "%80", "%C3", "%C3%28", "%E2%82", "%E2%28%A1", "%F0%9F%98",
                          "%C0%AF", "%C1%BF", "%E0%80%AF", "%F0%80%80%AF", "%C0%80", "%ED%A0%80",
                          "%ED%BF%BF", "%F4%90%80%80", "%F8%88%80%80%80"}) {
    SCOPED_TRACE(raw);
    expectError(c_.get(std::string("/get?k=x") + raw), 400, "INVALID_ENCODING");
    expectError(c_.get("/set?k=" + enc(key("enc:utf8")) + "&v=" + raw), 400, "INVALID_ENCODING");
  }
  expectError(c_.get("/get?k=" + enc(key("enc:utf8"))), 404, "MISSING_RECORD");
}

TEST_F(Encoding, PlusIsASpaceAndEscapedPlusIsAPlus) {
  std::string base = enc(key("enc:plus"));
  expectSuccess(c_.get("/set?k=" + base + "+a+b&v=x+y"));
  expectValue(c_, key("enc:plus") + " a b", "x y");
  expectSuccess(c_.get("/set?k=" + base + "%2Ba%2Bb&v=1%2B1"));
  expectValue(c_, key("enc:plus") + "+a+b", "1+1");
  expectValue(c_, key("enc:plus") + " a b", "x y");  // a different key, untouched
  // %20 and + are the same key.
  expectValue(c_, key("enc:plus") + " a b", "x y");
  Response r = eventuallyGet(c_, "/get?k=" + base + "%20a%20b", 200);
  EXPECT_EQ(jsonString(r.body), std::optional<std::string>("x y")) << describe(r);
}

TEST_F(Encoding, EscapesOfSafeCharactersDecodeToTheSameKey) {
  put(c_, key("enc:same"), "v1");
  std::string spelled;
  for (char ch : key("enc:same")) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02x", static_cast<unsigned char>(ch));  // lower-case hex
    spelled += buf;
  }
  Response r = eventuallyGet(c_, "/get?k=" + spelled, 200);
  EXPECT_EQ(jsonString(r.body), std::optional<std::string>("v1")) << describe(r);
}

// ---- keys and values that are just bytes ------------------------------------------------------

using Records = ApiTest;

TEST_F(Records, PrototypeLikeKeysArePlainKeys) {
  // Exact names, no run prefix: they are the point. The value carries the run id instead.
  const std::string v = "run-" + target().runId;
  for (const std::string& k : std::vector<std::string>{
           std::string("__proto__"), std::string("constructor"), std::string("toString"),
           std::string("hasOwnProperty"), std::string("valueOf"), std::string("\0", 1),
           std::string("a\0b", 3)}) {
    SCOPED_TRACE(enc(k));
    expectError(eventuallyGet(c_, "/rm?k=" + enc(k), 404), 404, "MISSING_RECORD");
    expectError(c_.get("/is?k=" + enc(k)), 404, "MISSING_RECORD");
    expectError(c_.get("/get?k=" + enc(k)), 404, "MISSING_RECORD");
    expectSuccess(c_.get("/set?k=" + enc(k) + "&v=" + enc(v)));
    expectValue(c_, k, v);
    expectSuccess(eventuallyGet(c_, "/is?k=" + enc(k), 200));
    Response keys = eventuallyGet(c_, "/getKeys?prefix=" + enc(k), 200);
    auto list = stringArray(keys.body);
    ASSERT_TRUE(list) << describe(keys);
    EXPECT_EQ(std::count(list->begin(), list->end(), k), 1) << describe(keys);
    expectSuccess(eventuallyGet(c_, "/rm?k=" + enc(k), 200));
    expectError(eventuallyGet(c_, "/get?k=" + enc(k), 404), 404, "MISSING_RECORD");
  }
}

TEST_F(Records, ControlCharactersComeBackAsValidJsonEscapes) {
  std::string value = "line1\nline2\ttab\x01\x02\x1f\x7f quote\" back\\ slash/ nul";
  value.push_back('\0');
  value += "end\r";
  std::string k = key("ctl:\n\t\x01");
  put(c_, k, value);
  Response r = eventuallyGet(c_, "/get?k=" + enc(k), 200);
  for (unsigned char ch : r.body) EXPECT_GE(ch, 0x20) << "raw control byte in " << r.body;
  EXPECT_EQ(jsonString(r.body), std::optional<std::string>(value)) << describe(r);
  // The list routes escape the same way (key and value).
  Response all = eventuallyGet(c_, "/getAll?prefix=" + enc(key("ctl:")), 200);
  for (unsigned char ch : all.body) EXPECT_GE(ch, 0x20) << "raw control byte in /getAll";
  auto pairs = pairArray(all.body);
  ASSERT_TRUE(pairs) << describe(all);
  ASSERT_EQ(pairs->size(), 1u) << describe(all);
  EXPECT_EQ((*pairs)[0].first, k);
  EXPECT_EQ((*pairs)[0].second, value);
}

TEST_F(Records, AstralCharactersRoundTrip) {
  const std::string value = "𤭢😀𝄞 mixed é € 🏳️‍🌈";
  const std::string k = key("astral:😀𝄞");
  put(c_, k, value);
  expectValue(c_, k, value);
  Response all = eventuallyGet(c_, "/getAll?prefix=" + enc(key("astral:")), 200);
  auto pairs = pairArray(all.body);
  ASSERT_TRUE(pairs) << describe(all);
  ASSERT_EQ(pairs->size(), 1u) << describe(all);
  EXPECT_EQ((*pairs)[0], std::make_pair(k, value));
}

TEST_F(Records, OverwriteReplacesAndEmptyValueIsAValue) {
  const std::string k = key("overwrite");
  put(c_, k, "first");
  put(c_, k, "second");
  expectValue(c_, k, "second");
  put(c_, k, "");
  expectValue(c_, k, "");
  expectSuccess(c_.get("/is?k=" + enc(k)));
}

// ---- HTTP surface ---------------------------------------------------------------------------

using Surface = ApiTest;

TEST_F(Surface, AnyMethodIsAnsweredAsGet) {
  const std::string k = key("method");
  expectSuccess(c_.get("/set?k=" + enc(k) + "&v=posted", "POST"));
  Response r = eventuallyGet(c_, "/get?k=" + enc(k), 200);
  EXPECT_EQ(jsonString(r.body), std::optional<std::string>("posted"));
  EXPECT_EQ(c_.get("/get?k=" + enc(k), "PUT").status, 200);
  EXPECT_EQ(c_.get("/is?k=" + enc(k), "PATCH").status, 200);
  expectSuccess(c_.get("/rm?k=" + enc(k), "DELETE"));
  expectError(c_.get("/get?k=" + enc(k), "OPTIONS"), 404, "MISSING_RECORD");
}

TEST_F(Surface, EveryAnswerIsJsonWithContentLength) {
  const std::string k = key("surface");
  put(c_, k, "v");
  for (const std::string& path : std::vector<std::string>{
           "/set?k=" + enc(k) + "&v=v", "/get?k=" + enc(k), "/is?k=" + enc(k), std::string("/get"),
           std::string("/healthcheck"), std::string("/status"), std::string("/settings"),
           std::string("/ping"), std::string("/nope"), "/getKeys?limit=5&prefix=" + enc(k)}) {
    SCOPED_TRACE(path);
    Response r = c_.get(path);
    EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0u)
        << r.header("content-type");
    ASSERT_TRUE(r.has("content-length")) << describe(r);
    EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
    EXPECT_TRUE(parseJson(r.body)) << describe(r);
  }
}

TEST_F(Surface, UnknownRoutesAre404UnknownRoute) {
  for (const char* p : {"/nope", "/", "/SET?k=a&v=b", "/set/extra?k=a&v=b", "/get/", "/getall"}) {
    SCOPED_TRACE(p);
    expectError(c_.get(p), 404, "UNKNOWN_ROUTE");
  }
}

TEST_F(Surface, StatusHasTheDocumentedFields) {
  for (const char* route : {"/status", "/settings"}) {
    SCOPED_TRACE(route);
    Response r = c_.get(route);
    ASSERT_EQ(r.status, 200) << describe(r);
    auto d = parseJson(r.body);
    ASSERT_TRUE(d && d->IsObject()) << describe(r);
    for (const char* s : {"version", "hostname"}) {
      EXPECT_TRUE(d->HasMember(s) && (*d)[s].IsString() && (*d)[s].GetStringLength() > 0) << s;
    }
    for (const char* n : {"port", "maxKeyLength", "maxValueLength", "availableRecords",
                          "uptimeSeconds", "openConnections"}) {
      EXPECT_TRUE(d->HasMember(n) && (*d)[n].IsUint64()) << n << " in " << r.body;
    }
    ASSERT_TRUE(d->HasMember("port") && (*d)["port"].IsUint());
    EXPECT_GT((*d)["port"].GetUint(), 0u);
    EXPECT_LT((*d)["port"].GetUint(), 65536u);
    EXPECT_TRUE(d->HasMember("memory") && (*d)["memory"].IsObject()) << r.body;
    EXPECT_GE((*d)["openConnections"].GetUint64(), 1u) << "this very connection is open";
    EXPECT_NE(std::string((*d)["hostname"].GetString()), "undefined");
  }
}

TEST_F(Surface, AvailableRecordsCountsWrites) {
  auto records = [&]() -> long long {
    auto d = parseJson(c_.get("/status").body);
    return d && d->IsObject() && d->HasMember("availableRecords")
               ? static_cast<long long>((*d)["availableRecords"].GetUint64())
               : -1;
  };
  expectSuccess(c_.get("/clear"));
  EXPECT_TRUE(eventually([&] { return records() == 0; })) << records();
  for (int i = 0; i < 3; ++i) put(c_, key("count:" + std::to_string(i)), "x");
  EXPECT_TRUE(eventually([&] { return records() == 3; })) << records();
  expectSuccess(c_.get("/rm?k=" + enc(key("count:0"))));
  EXPECT_TRUE(eventually([&] { return records() == 2; })) << records();
}

TEST_F(Surface, PingListsNodes) {
  Response r = c_.get("/ping");
  ASSERT_EQ(r.status, 200) << describe(r);
  auto d = parseJson(r.body);
  ASSERT_TRUE(d && d->IsObject()) << describe(r);
  ASSERT_TRUE(d->HasMember("nodes") && (*d)["nodes"].IsArray()) << r.body;
  // Every node runs the mesh, a lone one too: it lists at least itself.
  EXPECT_GE((*d)["nodes"].Size(), 1u) << r.body;
}

}  // namespace
}  // namespace suite

// Unit tests for the API's parameter validation: the order of the checks (the contract clients
// see when a request has several problems) and the inclusive code-point limits at every
// boundary, with 1-, 3- and 4-byte characters.
#include "database/http/params.h"

#include <gtest/gtest.h>

#include "common/http/url.h"

namespace db {
namespace {

std::string repeat(std::string_view unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.append(unit);
  return s;
}

std::string encoded(std::string_view raw) {
  std::string out;
  common::urlEncode(raw, out);
  return out;
}

struct Parsed {
  common::Status status;
  KeyParams params;
  bool ok() const { return status.ok(); }
  const KeyParams* operator->() const { return &params; }
};

Parsed parseKeyParams(std::string_view query, Need need, const Limits& limits) {
  Parsed p{common::okStatus(), {}};
  p.status = db::parseKeyParams(query, need, limits, p.params);
  return p;
}

std::string codeOf(const Parsed& r) {
  return r.ok() ? "OK" : r.status.error().code;
}

const Limits kLimits{64, 256};

TEST(KeyParams, OriginalOrderForWrites) {
  EXPECT_EQ(codeOf(parseKeyParams("", Need::kKeyAndValue, kLimits)), "MISSING_KEY_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("v=1", Need::kKeyAndValue, kLimits)), "MISSING_KEY_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("k=&v=1", Need::kKeyAndValue, kLimits)), "EMPTY_KEY");
  EXPECT_EQ(codeOf(parseKeyParams("k", Need::kKeyAndValue, kLimits)), "EMPTY_KEY");
  // key too long wins over a missing value
  EXPECT_EQ(codeOf(parseKeyParams("k=" + repeat("a", 65), Need::kKeyAndValue, kLimits)),
            "MAXIMUM_KEY_LENGTH_REACHED");
  EXPECT_EQ(codeOf(parseKeyParams("k=a", Need::kKeyAndValue, kLimits)), "MISSING_VALUE_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("k=a&v=" + repeat("b", 257), Need::kKeyAndValue, kLimits)),
            "MAXIMUM_VALUE_LENGTH_REACHED");
  EXPECT_EQ(codeOf(parseKeyParams("k=a&v=", Need::kKeyAndValue, kLimits)), "OK");
}

TEST(KeyParams, EncodingThenDuplicatesComeFirst) {
  EXPECT_EQ(codeOf(parseKeyParams("k=a&k=b&v=%zz", Need::kKeyAndValue, kLimits)),
            "INVALID_ENCODING");
  EXPECT_EQ(codeOf(parseKeyParams("v=1&v=2", Need::kKeyAndValue, kLimits)), "DUPLICATE_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("k=a&k=b", Need::kKey, kLimits)), "DUPLICATE_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("k=&k=", Need::kKey, kLimits)), "DUPLICATE_PARAM");
  // reads ignore v entirely, repeated or not
  EXPECT_EQ(codeOf(parseKeyParams("k=a&v=1&v=2", Need::kKey, kLimits)), "OK");
  EXPECT_EQ(codeOf(parseKeyParams("k=%FF", Need::kKey, kLimits)), "INVALID_ENCODING");
}

TEST(KeyParams, LimitsAreInclusiveCodePoints) {
  for (std::string_view unit : {"a", "\xE2\x9C\x93", "\xF0\xA4\xAD\xA2"}) {
    SCOPED_TRACE(std::string(unit));
    EXPECT_EQ(codeOf(parseKeyParams("k=" + encoded(repeat(unit, 63)), Need::kKey, kLimits)), "OK");
    EXPECT_EQ(codeOf(parseKeyParams("k=" + encoded(repeat(unit, 64)), Need::kKey, kLimits)), "OK");
    EXPECT_EQ(codeOf(parseKeyParams("k=" + encoded(repeat(unit, 65)), Need::kKey, kLimits)),
              "MAXIMUM_KEY_LENGTH_REACHED");
    std::string kv = "k=x&v=";
    EXPECT_EQ(codeOf(parseKeyParams(kv + encoded(repeat(unit, 256)), Need::kKeyAndValue, kLimits)),
              "OK");
    EXPECT_EQ(codeOf(parseKeyParams(kv + encoded(repeat(unit, 257)), Need::kKeyAndValue, kLimits)),
              "MAXIMUM_VALUE_LENGTH_REACHED");
  }
}

TEST(KeyParams, DecodesFormEncoding) {
  auto r = parseKeyParams("k=a+b%2Bc&v=%F0%A4%AD%A2&w=all", Need::kKeyAndValue, kLimits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->key, "a b+c");
  EXPECT_EQ(r->value, "\xF0\xA4\xAD\xA2");
  EXPECT_EQ(r->w, "all");
  r = parseKeyParams("k=%00", Need::kKey, kLimits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->key, std::string(1, '\0'));
}

TEST(ListParams, PrefixLimitCursor) {
  auto r = parseListParams("prefix=user%3A&limit=20&cursor=abc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prefix, "user:");
  EXPECT_EQ(r->limit, 20u);
  EXPECT_EQ(r->cursor, "abc");
  EXPECT_EQ(parseListParams("limit=0").error().code, "INVALID_LIMIT");
  EXPECT_EQ(parseListParams("limit=-1").error().code, "INVALID_LIMIT");
  EXPECT_EQ(parseListParams("limit=x").error().code, "INVALID_LIMIT");
  EXPECT_EQ(parseListParams("prefix=a&prefix=b").error().code, "DUPLICATE_PARAM");
  EXPECT_EQ(parseListParams("limit=999999")->limit, 10000u);
  EXPECT_EQ(parseListParams("")->limit, 0u);
}

TEST(KeyParams, ACollectionIsCheckedAfterDuplicatesAndBeforeTheKey) {
  auto p = parseKeyParams("c=users&k=a&v=1", Need::kKeyAndValue, kLimits);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->collection, "users");
  auto none = parseKeyParams("k=a&v=1", Need::kKeyAndValue, kLimits);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->collection, "");  // the default collection
  EXPECT_EQ(codeOf(parseKeyParams("c=&k=a", Need::kKey, kLimits)), "INVALID_COLLECTION");
  EXPECT_EQ(codeOf(parseKeyParams("c=" + repeat("c", 65), Need::kKey, kLimits)),
            "MAXIMUM_COLLECTION_LENGTH_REACHED");
  EXPECT_EQ(codeOf(parseKeyParams("c=" + encoded(repeat("\xF0\x9F\x98\x80", 64)) + "&k=a",
                                  Need::kKey, kLimits)),
            "OK");  // 64 code points of 4 bytes
  EXPECT_EQ(codeOf(parseKeyParams("c=a&c=b&k=a", Need::kKey, kLimits)), "DUPLICATE_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("c=%FF&k=a", Need::kKey, kLimits)), "INVALID_ENCODING");
  // A bad collection is reported before a missing or empty key.
  EXPECT_EQ(codeOf(parseKeyParams("c=", Need::kKey, kLimits)), "INVALID_COLLECTION");
}

TEST(ListParams, CollectionAndClearParams) {
  auto l = parseListParams("c=users&prefix=a&limit=5");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->collection, "users");
  EXPECT_EQ(l->prefix, "a");
  EXPECT_EQ(parseListParams("c=").error().code, "INVALID_COLLECTION");
  EXPECT_EQ(parseListParams("c=a&c=b").error().code, "DUPLICATE_PARAM");
  auto c = parseClearParams("c=users&w=quorum");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->collection, "users");
  EXPECT_EQ(c->w, "quorum");
  auto d = parseClearParams("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->collection, "");
  EXPECT_EQ(parseClearParams("c=" + repeat("c", 65)).error().code,
            "MAXIMUM_COLLECTION_LENGTH_REACHED");
  EXPECT_EQ(parseClearParams("w=1&w=2").error().code, "DUPLICATE_PARAM");
}

TEST(KeyParams, TtlIsWholePositiveSecondsCheckedLast) {
  auto w = Need::kKeyAndValue;
  auto ok = parseKeyParams("k=a&v=1&ttl=2", w, kLimits);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->ttlMs, 2000u);
  EXPECT_EQ(parseKeyParams("k=a&v=1", w, kLimits)->ttlMs, 0u);
  EXPECT_EQ(parseKeyParams("k=a&v=1&ttl=315360000", w, kLimits)->ttlMs, 315360000000u);
  for (const char* bad :
       {"0", "-1", "", "1.5", "abc", "1e3", "+5", " 5", "315360001", "99999999999999999999999"}) {
    EXPECT_EQ(codeOf(parseKeyParams("k=a&v=1&ttl=" + encoded(bad), w, kLimits)), "BAD_TTL") << bad;
  }
  EXPECT_EQ(codeOf(parseKeyParams("k=a&v=1&ttl=1&ttl=2", w, kLimits)), "DUPLICATE_PARAM");
  // The key and value rules come first.
  EXPECT_EQ(codeOf(parseKeyParams("v=1&ttl=0", w, kLimits)), "MISSING_KEY_PARAM");
  EXPECT_EQ(codeOf(parseKeyParams("k=a&ttl=0", w, kLimits)), "MISSING_VALUE_PARAM");
  // Routes without a value (/get, /ttl, /persist) ignore it, as any unknown parameter.
  EXPECT_EQ(codeOf(parseKeyParams("k=a&ttl=0", Need::kKey, kLimits)), "OK");
}

TEST(TtlParam, RestQueries) {
  EXPECT_EQ(parseTtlParam("").value(), 0u);
  EXPECT_EQ(parseTtlParam("w=all").value(), 0u);
  EXPECT_EQ(parseTtlParam("ttl=60&w=all").value(), 60000u);
  EXPECT_EQ(parseTtlParam("ttl=0").error().code, "BAD_TTL");
  EXPECT_EQ(parseTtlParam("ttl=x").error().code, "BAD_TTL");
  EXPECT_EQ(parseTtlParam("ttl=1&ttl=1").error().code, "DUPLICATE_PARAM");
  EXPECT_EQ(parseTtlParam("ttl=%zz").error().code, "INVALID_ENCODING");
}

}  // namespace
}  // namespace db

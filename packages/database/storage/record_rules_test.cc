// Unit tests for the record rules shared by the API and the mesh: keys and values at and past
// their code-point limits with 1-, 2-, 3- and 4-byte characters, the encodings that are not
// UTF-8 (stray bytes, overlongs, surrogates, past U+10FFFF, truncated sequences), origin ids,
// and the shape of replicated records (what a delete and a clear may carry, hlc 0).
#include "database/storage/record_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace db {
namespace {

std::string repeat(std::string_view unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.append(unit);
  return s;
}

template <typename R>
std::string codeOf(const R& r) {
  return r.ok() ? "OK" : r.error().code;
}

std::string key(std::string_view k, Limits l = {}) {
  return codeOf(checkKey(k, l));
}
std::string value(std::string_view v, Limits l = {}) {
  return codeOf(checkValue(v, l));
}
std::string record(Mutation::Kind kind, std::string_view k, std::string_view v,
                   uint64_t hlc = 1 << 16, std::string_view origin = "n1", Limits l = {}) {
  return codeOf(checkRecord(kind, k, v, hlc, origin, l));
}

TEST(RecordRules, KeyLimitCountsCodePointsInclusively) {
  EXPECT_EQ(key("a"), "OK");
  EXPECT_EQ(key(""), "EMPTY_KEY");
  for (std::string_view unit : {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
    EXPECT_EQ(key(repeat(unit, 64)), "OK") << unit.size() << "-byte characters";
    EXPECT_EQ(key(repeat(unit, 65)), "MAXIMUM_KEY_LENGTH_REACHED") << unit.size();
  }
  // 64 four-byte characters are 256 bytes: bytes are not what is counted.
  EXPECT_EQ(key(repeat("\xF0\x9F\x98\x80", 63) + "a"), "OK");
  EXPECT_EQ(key(repeat("x", 500)), "MAXIMUM_KEY_LENGTH_REACHED");
  EXPECT_EQ(key(repeat("x", 10), Limits{10, 256}), "OK");
  EXPECT_EQ(key(repeat("x", 11), Limits{10, 256}), "MAXIMUM_KEY_LENGTH_REACHED");
}

TEST(RecordRules, KeysAndValuesMustBeUtf8) {
  const char* bad[] = {
      "\xFF\xFE",          // never valid in UTF-8
      "\x80",              // a continuation byte alone
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xF0\x80\x80\xAF",  // overlong, 4 bytes
      "\xED\xA0\x80",      // U+D800, a UTF-16 surrogate
      "\xED\xBF\xBF",      // U+DFFF
      "\xF4\x90\x80\x80",  // U+110000, past the last code point
      "\xE2\x82",          // truncated euro sign
      "ok\xC3",            // truncated at the end
  };
  for (const char* b : bad) {
    EXPECT_EQ(key(b), "INVALID_ENCODING") << testing::PrintToString(std::string(b));
    EXPECT_EQ(value(b), "INVALID_ENCODING") << testing::PrintToString(std::string(b));
  }
  // Encoding comes before length: a long key of bad bytes is an encoding error.
  EXPECT_EQ(key(repeat("\xFF", 500)), "INVALID_ENCODING");
  // The edges that are valid.
  EXPECT_EQ(key("\xED\x9F\xBF"), "OK");      // U+D7FF, just below the surrogates
  EXPECT_EQ(key("\xEE\x80\x80"), "OK");      // U+E000, just above
  EXPECT_EQ(key("\xF4\x8F\xBF\xBF"), "OK");  // U+10FFFF
  EXPECT_EQ(key(std::string("a\0b", 3)), "OK") << "NUL is a code point (the API accepts %00)";
  // After ASCII runs of any length (the check reads 8 bytes at a time), across word edges.
  for (size_t ascii = 0; ascii < 20; ++ascii) {
    std::string head(ascii, 'a');
    EXPECT_EQ(value(head + "\xFF\xFE"), "INVALID_ENCODING") << ascii;
    EXPECT_EQ(value(head + "\xE2\x82"), "INVALID_ENCODING") << ascii;
    EXPECT_EQ(value(head + "\xC0\xAF" + head), "INVALID_ENCODING") << ascii;
    EXPECT_EQ(value(head + "\xE2\x82\xAC" + head), "OK") << ascii;
    EXPECT_EQ(key(head + repeat("\xE2\x82\xAC", 64 - ascii)), "OK") << ascii;
    EXPECT_EQ(key(head + repeat("\xE2\x82\xAC", 65 - ascii)), "MAXIMUM_KEY_LENGTH_REACHED")
        << ascii;
  }
}

TEST(RecordRules, ValueLimitCountsCodePointsAndEmptyIsValid) {
  EXPECT_EQ(value(""), "OK");
  EXPECT_EQ(value(repeat("\xE2\x82\xAC", 256)), "OK");
  EXPECT_EQ(value(repeat("\xE2\x82\xAC", 257)), "MAXIMUM_VALUE_LENGTH_REACHED");
  EXPECT_EQ(value(repeat("v", 3), Limits{64, 3}), "OK");
  EXPECT_EQ(value(repeat("v", 4), Limits{64, 3}), "MAXIMUM_VALUE_LENGTH_REACHED");
  EXPECT_EQ(value("x", Limits{64, 0}), "MAXIMUM_VALUE_LENGTH_REACHED");
}

TEST(RecordRules, OriginIsAPrintableNodeIdOfAtMost255Bytes) {
  EXPECT_EQ(codeOf(checkOrigin("meshkv-node-1")), "OK");
  EXPECT_EQ(codeOf(checkOrigin("127.0.0.2")), "OK");
  EXPECT_EQ(codeOf(checkOrigin("n\xC5\x93ud")), "OK");  // UTF-8 is fine
  EXPECT_EQ(codeOf(checkOrigin(repeat("o", 255))), "OK");
  EXPECT_EQ(codeOf(checkOrigin(repeat("o", 256))), "INVALID_ORIGIN");
  EXPECT_EQ(codeOf(checkOrigin("")), "INVALID_ORIGIN");
  EXPECT_EQ(codeOf(checkOrigin("\xFF\xFE")), "INVALID_ORIGIN");
  EXPECT_EQ(codeOf(checkOrigin("a\nb")), "INVALID_ORIGIN");
  EXPECT_EQ(codeOf(checkOrigin(std::string("a\0b", 3))), "INVALID_ORIGIN");
  EXPECT_EQ(codeOf(checkOrigin("a\x7F")), "INVALID_ORIGIN");
}

TEST(RecordRules, RecordsFollowTheKeyValueAndOriginRulesAndTheirShape) {
  using K = Mutation::Kind;
  EXPECT_EQ(record(K::kPut, "k", "v"), "OK");
  EXPECT_EQ(record(K::kPut, "k", ""), "OK");
  EXPECT_EQ(record(K::kPut, "", "v"), "EMPTY_KEY");
  EXPECT_EQ(record(K::kPut, "\xFF\xFE", "v"), "INVALID_ENCODING");
  EXPECT_EQ(record(K::kPut, repeat("k", 65), "v"), "MAXIMUM_KEY_LENGTH_REACHED");
  EXPECT_EQ(record(K::kPut, "k", "\xC0\xAF"), "INVALID_ENCODING");
  EXPECT_EQ(record(K::kPut, "k", repeat("v", 257)), "MAXIMUM_VALUE_LENGTH_REACHED");
  // A tombstone carries a key: the same key rules.
  EXPECT_EQ(record(K::kDelete, "k", ""), "OK");
  EXPECT_EQ(record(K::kDelete, "", ""), "EMPTY_KEY");
  EXPECT_EQ(record(K::kDelete, "\xFF\xFE", ""), "INVALID_ENCODING");
  EXPECT_EQ(record(K::kDelete, repeat("k", 500), ""), "MAXIMUM_KEY_LENGTH_REACHED");
  EXPECT_EQ(record(K::kDelete, "k", "v"), "INVALID_RECORD");
  // A clear carries neither.
  EXPECT_EQ(record(K::kClear, "", ""), "OK");
  EXPECT_EQ(record(K::kClear, "k", ""), "INVALID_RECORD");
  EXPECT_EQ(record(K::kClear, "", "v"), "INVALID_RECORD");
  // Every kind: an origin and a real clock.
  EXPECT_EQ(record(K::kPut, "k", "v", 1 << 16, ""), "INVALID_ORIGIN");
  EXPECT_EQ(record(K::kClear, "", "", 1 << 16, "\xFF"), "INVALID_ORIGIN");
  EXPECT_EQ(record(K::kPut, "k", "v", 0), "INVALID_RECORD");
  EXPECT_EQ(record(K::kClear, "", "", 0), "INVALID_RECORD");
  EXPECT_EQ(record(static_cast<K>(7), "k", "v"), "INVALID_RECORD");
  // This node's limits, whatever the sender's were.
  EXPECT_EQ(record(K::kPut, repeat("k", 20), "v", 1 << 16, "n1", Limits{16, 256}),
            "MAXIMUM_KEY_LENGTH_REACHED");
}

std::string collectionCode(std::string_view c) {
  auto st = checkCollection(c);
  return st.ok() ? "OK" : st.error().code;
}

TEST(RecordRules, CollectionNamesAreOneTo64CodePointsOfUtf8) {
  EXPECT_EQ(collectionCode("users"), "OK");
  EXPECT_EQ(collectionCode(repeat("c", 64)), "OK");
  EXPECT_EQ(collectionCode(repeat("\xC3\xA9", 64)), "OK");  // 64 code points, 128 bytes
  EXPECT_EQ(collectionCode(""), "INVALID_COLLECTION");
  EXPECT_EQ(collectionCode("\xFF"), "INVALID_COLLECTION");
  EXPECT_EQ(collectionCode("\xED\xA0\x80"), "INVALID_COLLECTION");  // a surrogate
  EXPECT_EQ(collectionCode(repeat("c", 65)), "MAXIMUM_COLLECTION_LENGTH_REACHED");
  // A replicated record is checked with the same rule; "" is the default collection.
  auto rec = [](std::string_view c) {
    auto st = checkRecord(Mutation::Kind::kPut, "k", "v", 1 << 16, "n1", Limits{}, c);
    return st.ok() ? std::string("OK") : st.error().code;
  };
  EXPECT_EQ(rec(""), "OK");
  EXPECT_EQ(rec("users"), "OK");
  EXPECT_EQ(rec(repeat("c", 65)), "MAXIMUM_COLLECTION_LENGTH_REACHED");
  EXPECT_EQ(rec("\xC0\xAF"), "INVALID_COLLECTION");
}

}  // namespace
}  // namespace db

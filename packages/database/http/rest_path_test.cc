// Unit tests for the REST path decoder: the shapes, percent-escapes ('%2F' inside a segment,
// '+' kept), and every refusal with its code: bad escapes, invalid UTF-8, empty segments, too
// many segments, over-long collection / key / value (code points, inclusive).
#include "database/http/rest_path.h"

#include <gtest/gtest.h>

#include <string>

namespace db {
namespace {

using Shape = RestPath::Shape;

std::string repeat(std::string_view unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.append(unit);
  return s;
}

std::string codeOf(std::string_view path, const Limits& limits = {}) {
  RestPath p;
  auto st = decodeRestPath(path, limits, p);
  return st.ok() ? "ok" : st.error().code;
}

RestPath decoded(std::string_view path) {
  RestPath p;
  auto st = decodeRestPath(path, Limits{}, p);
  EXPECT_TRUE(st.ok()) << path << ": " << st.error().code;
  return p;
}

TEST(RestPath, RootWithOrWithoutSlash) {
  EXPECT_EQ(decoded("/kv").shape, Shape::kRoot);
  EXPECT_EQ(decoded("/kv/").shape, Shape::kRoot);
}

TEST(RestPath, Shapes) {
  RestPath c = decoded("/kv/users");
  EXPECT_EQ(c.shape, Shape::kCollection);
  EXPECT_EQ(c.collection, "users");
  RestPath k = decoded("/kv/users/ada");
  EXPECT_EQ(k.shape, Shape::kKey);
  EXPECT_EQ(k.collection, "users");
  EXPECT_EQ(k.key, "ada");
  RestPath v = decoded("/kv/users/ada/lovelace");
  EXPECT_EQ(v.shape, Shape::kKeyValue);
  EXPECT_EQ(v.value, "lovelace");
}

TEST(RestPath, UnderscoreIsTheDefaultCollection) {
  EXPECT_EQ(decoded("/kv/_").collection, "");
  EXPECT_EQ(decoded("/kv/_/k").collection, "");
  EXPECT_EQ(decoded("/kv/__").collection, "__");
}

TEST(RestPath, PercentEscapesAreDecodedAfterSplitting) {
  RestPath p = decoded("/kv/a%2Fb/k%20%C3%A9/x%2Fy+z");
  EXPECT_EQ(p.collection, "a/b");
  EXPECT_EQ(p.key, "k \xC3\xA9");
  EXPECT_EQ(p.value, "x/y+z");                                // a path: '+' is a plus
  EXPECT_EQ(decoded("/kv/c/%e2%82%ac").key, "\xE2\x82\xAC");  // lower-case hex
  EXPECT_EQ(decoded("/kv/%5F/k").collection, "");             // "_" however spelled
}

TEST(RestPath, BadEscapes) {
  EXPECT_EQ(codeOf("/kv/c/%"), "INVALID_ENCODING");
  EXPECT_EQ(codeOf("/kv/c/%4"), "INVALID_ENCODING");
  EXPECT_EQ(codeOf("/kv/c/a%zz"), "INVALID_ENCODING");
  EXPECT_EQ(codeOf("/kv/%g1"), "INVALID_ENCODING");
  EXPECT_EQ(codeOf("/kv/c/k/%"), "INVALID_ENCODING");
}

TEST(RestPath, InvalidUtf8) {
  EXPECT_EQ(codeOf("/kv/c/%FF"), "INVALID_ENCODING");
  EXPECT_EQ(codeOf("/kv/c/%C0%AF"), "INVALID_ENCODING");     // overlong '/'
  EXPECT_EQ(codeOf("/kv/c/%ED%A0%80"), "INVALID_ENCODING");  // a surrogate
  EXPECT_EQ(codeOf("/kv/%C3"), "INVALID_ENCODING");          // truncated
  EXPECT_EQ(codeOf("/kv/c/k\xFF"), "INVALID_ENCODING");      // raw, unescaped
}

TEST(RestPath, EmptySegments) {
  EXPECT_EQ(codeOf("/kv//k"), "EMPTY_PATH_SEGMENT");
  EXPECT_EQ(codeOf("/kv/c/"), "EMPTY_PATH_SEGMENT");
  EXPECT_EQ(codeOf("/kv/c//v"), "EMPTY_PATH_SEGMENT");
  EXPECT_EQ(codeOf("/kv/c/k/"), "EMPTY_PATH_SEGMENT");
  EXPECT_EQ(codeOf("/kv//"), "EMPTY_PATH_SEGMENT");
}

TEST(RestPath, TooManySegments) {
  EXPECT_EQ(codeOf("/kv/c/k/v/x"), "TOO_MANY_PATH_SEGMENTS");
  EXPECT_EQ(codeOf("/kv/c/k/v/"), "TOO_MANY_PATH_SEGMENTS");
  EXPECT_EQ(codeOf("/kv/a/b/c/d/e/f/g"), "TOO_MANY_PATH_SEGMENTS");
}

TEST(RestPath, NotUnderTheRoot) {
  EXPECT_EQ(codeOf("/kvx/c"), "UNKNOWN_ROUTE");
  EXPECT_EQ(codeOf("/get"), "UNKNOWN_ROUTE");
}

TEST(RestPath, OverLongNamesCountCodePointsInclusively) {
  Limits limits{.maxKeyLength = 4, .maxValueLength = 3};
  std::string c64 = repeat("%F0%9F%98%80", 64);  // 64 four-byte code points
  EXPECT_EQ(codeOf("/kv/" + c64, limits), "ok");
  EXPECT_EQ(codeOf("/kv/" + c64 + "x", limits), "MAXIMUM_COLLECTION_LENGTH_REACHED");
  EXPECT_EQ(codeOf("/kv/c/" + repeat("%C3%A9", 4), limits), "ok");
  EXPECT_EQ(codeOf("/kv/c/" + repeat("%C3%A9", 5), limits), "MAXIMUM_KEY_LENGTH_REACHED");
  EXPECT_EQ(codeOf("/kv/c/k/abc", limits), "ok");
  EXPECT_EQ(codeOf("/kv/c/k/abcd", limits), "MAXIMUM_VALUE_LENGTH_REACHED");
}

TEST(RestPath, OrderOfCodes) {
  // Structure first (segments), then encoding, then the rules, collection before key.
  EXPECT_EQ(codeOf("/kv/%zz/k/v/x"), "TOO_MANY_PATH_SEGMENTS");
  EXPECT_EQ(codeOf("/kv/%zz//v"), "EMPTY_PATH_SEGMENT");
  EXPECT_EQ(codeOf("/kv/" + repeat("x", 65) + "/%zz"), "INVALID_ENCODING");
  EXPECT_EQ(codeOf("/kv/" + repeat("x", 65) + "/" + repeat("k", 65)),
            "MAXIMUM_COLLECTION_LENGTH_REACHED");
}

TEST(RestPath, BuffersAreResetBetweenCalls) {
  RestPath p;
  ASSERT_TRUE(decodeRestPath("/kv/c/k/v", Limits{}, p).ok());
  ASSERT_TRUE(decodeRestPath("/kv/d", Limits{}, p).ok());
  EXPECT_EQ(p.shape, Shape::kCollection);
  EXPECT_EQ(p.collection, "d");
  EXPECT_EQ(p.key, "");
  EXPECT_EQ(p.value, "");
}

TEST(PercentDecode, PlusStaysAndEscapesDecode) {
  std::string out;
  ASSERT_TRUE(percentDecode("a+b%41%2b", out));
  EXPECT_EQ(out, "a+bA+");
  EXPECT_FALSE(percentDecode("%", out));
  EXPECT_FALSE(percentDecode("ab%4", out));
}

}  // namespace
}  // namespace db

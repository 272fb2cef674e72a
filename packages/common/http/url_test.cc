// Unit tests for url.h: form decoding, UTF-8 validation and code-point counting at every
// boundary, URL parsing.
#include "common/http/url.h"

#include <gtest/gtest.h>

namespace common {
namespace {

TEST(FormDecode, PlusIsSpaceAndEscapesAreBytes) {
  std::string out;
  ASSERT_TRUE(formDecode("a+b%20c%E2%9C%93", out));
  EXPECT_EQ(out, "a b c\xE2\x9C\x93");
}

TEST(FormDecode, BrokenEscapesAreRefused) {
  std::string out;
  EXPECT_FALSE(formDecode("%", out));
  EXPECT_FALSE(formDecode("%4", out));
  EXPECT_FALSE(formDecode("a%zz", out));
  EXPECT_FALSE(formDecode("%g0", out));
  EXPECT_TRUE(formDecode("%00", out));
  EXPECT_EQ(out, std::string(1, '\0'));
}

TEST(ParseQuery, KeepsOrderEmptyValuesAndBareNames) {
  auto r = parseQuery("k=a&v=&flag&&x=%2B");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].name, "k");
  EXPECT_EQ((*r)[0].value, "a");
  EXPECT_TRUE((*r)[1].hasValue);
  EXPECT_EQ((*r)[1].value, "");
  EXPECT_FALSE((*r)[2].hasValue);
  EXPECT_EQ((*r)[3].value, "+");
}

TEST(ParseQuery, InvalidUtf8AfterDecodingIsInvalidEncoding) {
  auto r = parseQuery("k=%FF");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "INVALID_ENCODING");
  EXPECT_FALSE(parseQuery("k=%E2%9C").ok());  // truncated sequence
  EXPECT_FALSE(parseQuery("k=%zz").ok());
}

TEST(Utf8, AcceptsWellFormedRejectsTheRest) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("\xC2\x80"));           // U+0080
  EXPECT_TRUE(isValidUtf8("\xED\x9F\xBF"));       // U+D7FF
  EXPECT_TRUE(isValidUtf8("\xF0\xA4\xAD\xA2"));   // U+24B62, astral
  EXPECT_TRUE(isValidUtf8("\xF4\x8F\xBF\xBF"));   // U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(isValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(isValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(isValidUtf8("\xF0\xA4\xAD"));      // truncated
  EXPECT_FALSE(isValidUtf8("\xFF"));
}

TEST(Utf8, CountsCodePointsNotBytes) {
  EXPECT_EQ(countCodePoints(""), 0u);
  EXPECT_EQ(countCodePoints("abc"), 3u);
  EXPECT_EQ(countCodePoints("\xE2\x9C\x93"), 1u);
  EXPECT_EQ(countCodePoints("\xF0\xA4\xAD\xA2x"), 2u);
}

TEST(HttpUrl, ParsesHostPortPath) {
  auto u = parseHttpUrl("http://proxy");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "proxy");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/");
  u = parseHttpUrl("http://127.0.0.1:8080/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "/x");
  u = parseHttpUrl("http://[::1]:9");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_FALSE(parseHttpUrl("undefined").ok());
  EXPECT_FALSE(parseHttpUrl("http://host:70000").ok());
  EXPECT_FALSE(parseHttpUrl("http://:80").ok());
  EXPECT_FALSE(parseHttpUrl("https://x").ok());
}

}  // namespace
}  // namespace common

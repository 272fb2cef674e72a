// Unit tests of the client's request targets and answer parsing (protocol.h): what reaches the
// server for awkward keys, and what a caller gets back for each kind of answer.
#include "client/protocol.h"

#include <gtest/gtest.h>

namespace meshkv::protocol {
namespace {

TEST(Protocol, TargetsEncodeEveryByteTheServerWouldMisread) {
  EXPECT_EQ(target("/set", {{"k", "a b+c&d"}, {"v", "é=%"}}),
            "/set?k=a%20b%2Bc%26d&v=%C3%A9%3D%25");
  EXPECT_EQ(target("/set", {{"k", "k"}, {"v", ""}, {"w", "", true}}), "/set?k=k&v=");
  EXPECT_EQ(target("/getKeys", {{"prefix", "", true}, {"limit", "10"}}), "/getKeys?limit=10");
}

TEST(Protocol, CollectionsTtlAndWriteConcernReachTheQueryOnlyWhenSet) {
  // Without a collection, a ttl or a w=, the targets are what they always were.
  EXPECT_EQ(keyTarget("/get", "k", ""), "/get?k=k");
  EXPECT_EQ(setTarget("k", "v", {}), "/set?k=k&v=v");
  EXPECT_EQ(writeTarget("/rm", "k", {}), "/rm?k=k");
  EXPECT_EQ(clearTarget({}), "/clear");
  EXPECT_EQ(listTarget({}, ""), "/getKeys?limit=1000");
  // With them: c= (encoded) on every key and list operation and /clear.
  WriteOptions o;
  o.collection = "us ers";
  o.w = "all";
  o.ttlSeconds = 30;
  EXPECT_EQ(keyTarget("/get", "k", "us ers"), "/get?c=us%20ers&k=k");
  EXPECT_EQ(keyTarget("/is", "k", "c"), "/is?c=c&k=k");
  EXPECT_EQ(setTarget("k", "v", o), "/set?c=us%20ers&k=k&v=v&w=all&ttl=30");
  EXPECT_EQ(writeTarget("/rm", "k", o), "/rm?c=us%20ers&k=k&w=all");
  EXPECT_EQ(clearTarget(o), "/clear?c=us%20ers&w=all");
  ListOptions l;
  l.collection = "c";
  l.prefix = "p";
  l.kind = ListKind::kAll;
  l.pageSize = 5;
  EXPECT_EQ(listTarget(l, "cur"), "/getAll?c=c&prefix=p&limit=5&cursor=cur");
}

TEST(Protocol, TtlAndPersistTargetsAndAnswers) {
  EXPECT_EQ(keyTarget("/ttl", "a+b", ""), "/ttl?k=a%2Bb");
  EXPECT_EQ(keyTarget("/ttl", "k", "c"), "/ttl?c=c&k=k");
  WriteOptions o;
  o.collection = "c";
  EXPECT_EQ(writeTarget("/persist", "k", o), "/persist?c=c&k=k");
  EXPECT_EQ(writeTarget("/persist", "k", {}), "/persist?k=k");
  WriteOptions ttl;
  ttl.ttlSeconds = 1;
  EXPECT_EQ(setTarget("k", "v", ttl), "/set?k=k&v=v&ttl=1");
  EXPECT_EQ(*parseTtl(R"({"key":"k","ttl":42})"), 42);
  EXPECT_EQ(*parseTtl(R"({"key":"k","ttl":-1})"), -1);  // no expiry
  EXPECT_EQ(parseTtl(R"({"key":"k","ttl":-2})").error().code, kBadResponse);
  EXPECT_EQ(parseTtl(R"({"key":"k","ttl":"5"})").error().code, kBadResponse);
  EXPECT_EQ(parseTtl(R"({"key":"k"})").error().code, kBadResponse);
  EXPECT_EQ(parseTtl("42").error().code, kBadResponse);
}

TEST(Protocol, UrlsGiveHostAndPort) {
  auto a = parseUrl("http://127.0.0.1:8081");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8081);
  auto b = parseUrl("http://[::1]:9/x");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 9);
  EXPECT_EQ(parseUrl("http://node1")->port, 80);
  EXPECT_EQ(parseUrl("127.0.0.1:80").error().code, kBadUrl);
  EXPECT_EQ(parseUrl("http://h:0").error().code, kBadUrl);
  EXPECT_EQ(parseUrl("http://h:99999").error().code, kBadUrl);
}

TEST(Protocol, ErrorsCarryTheServerCode) {
  EXPECT_EQ(errorOf(404, R"({"error":"MISSING_RECORD"})").code, "MISSING_RECORD");
  EXPECT_EQ(errorOf(502, "<html>").code, "HTTP_502");
}

TEST(Protocol, AnswersBecomeValues) {
  EXPECT_EQ(*parseString(R"("a\"b\u00e9")"), "a\"b\xc3\xa9");
  EXPECT_EQ(parseString("{}").error().code, kBadResponse);
  auto keys = parseList(R"(["a","b"])", ListKind::kKeys);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1].key, "b");
  auto all = parseList(R"([{"k":"a","v":"1"}])", ListKind::kAll);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].value, "1");
  EXPECT_FALSE(parseList(R"([1])", ListKind::kKeys).ok());
  auto s = parseStatus(
      R"({"version":"0.1.0","hostname":"n1","availableRecords":3,"ready":true,)"
      R"("members":[{"id":"n1","url":"http://127.0.0.1:1","state":"alive","self":true}]})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->records, 3u);
  EXPECT_TRUE(s->ready);
  ASSERT_EQ(s->members.size(), 1u);
  EXPECT_TRUE(s->members[0].self);
  EXPECT_EQ(s->members[0].url, "http://127.0.0.1:1");
}

}  // namespace
}  // namespace meshkv::protocol

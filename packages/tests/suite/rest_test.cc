// The REST interface under /kv (README.md, "REST interface") as a client sees it: every route and
// method, HEAD, 405 with Allow, 413 for a body over the value limit, any Content-Type, the default
// collection as "_", and that it is the same store as the GET API both ways. Run alone and through
// the balancer (scripts/integration.sh); a w=all write is on every node when it is answered.
#include <rapidjson/document.h>

#include "tests/suite/testing.h"

namespace suite {
namespace {

using Rest = ApiTest;

std::string at(const std::string& collection, const std::string& k = "") {
  return "/kv/" + enc(collection) + (k.empty() ? "" : "/" + enc(k));
}

void expectRecord(const Response& r, long status, const std::string& k, const std::string& v) {
  EXPECT_EQ(r.status, status) << describe(r);
  auto d = parseJson(r.body);
  ASSERT_TRUE(d && d->IsObject() && d->HasMember("key") && d->HasMember("value")) << describe(r);
  EXPECT_EQ((*d)["key"].GetString(), k);
  EXPECT_EQ(std::string((*d)["value"].GetString(), (*d)["value"].GetStringLength()), v);
}

TEST_F(Rest, PutCreatesThenReplacesAndGetReadsIt) {
  std::string c = key("rest-users"), k = key("rest:put");
  expectRecord(c_.send("PUT", at(c, k), "ada"), 201, k, "ada");
  expectRecord(c_.send("PUT", at(c, k), "lovelace"), 200, k, "lovelace");
  Response got;
  ASSERT_TRUE(eventually([&] {
    got = c_.get(at(c, k));
    return got.status == 200 && got.body.find("lovelace") != std::string::npos;
  })) << describe(got);
  expectRecord(got, 200, k, "lovelace");
  EXPECT_EQ(got.header("content-type").rfind("application/json", 0), 0u);
}

TEST_F(Rest, PostTakesTheValueFromThePath) {
  std::string c = key("rest-post"), k = key("rest:post/slash");
  expectRecord(c_.send("POST", at(c, k) + "/" + enc("a value/with+signs")), 201, k,
               "a value/with+signs");
  expectRecord(c_.send("POST", at(c, k) + "/again"), 200, k, "again");
}

TEST_F(Rest, DeleteRemovesAKeyThen404) {
  std::string c = key("rest-del"), k = key("rest:del");
  expectRecord(c_.send("PUT", at(c, k), "x"), 201, k, "x");
  Response del = c_.send("DELETE", at(c, k));
  EXPECT_EQ(del.status, 200) << describe(del);
  EXPECT_EQ(del.body, "{\"key\":" + std::string("\"") + k + "\"}");
  expectError(eventuallyGet(c_, at(c, k), 404), 404, "MISSING_RECORD");
  expectError(c_.send("DELETE", at(c, k)), 404, "MISSING_RECORD");
}

TEST_F(Rest, ACollectionListsItsRecordsAndDeleteClearsIt) {
  std::string c = key("rest-list"), other = key("rest-list-other"), p = key("rest:list:");
  for (int i = 0; i < 3; ++i) {
    std::string k = p + std::to_string(i);
    expectRecord(c_.send("PUT", at(c, k), "v" + std::to_string(i)), 201, k,
                 "v" + std::to_string(i));
  }
  expectRecord(c_.send("PUT", at(other, p + "x"), "o"), 201, p + "x", "o");
  std::optional<std::vector<std::pair<std::string, std::string>>> all;
  ASSERT_TRUE(eventually([&] {
    all = pairArray(c_.get(at(c) + "?prefix=" + enc(p)).body);
    return all && all->size() == 3;
  }));
  EXPECT_EQ((*all)[0].first.rfind(p, 0), 0u);
  // Paged like /getAll: limit= and the X-Cursor of the next page.
  Response page = c_.get(at(c) + "?prefix=" + enc(p) + "&limit=2");
  EXPECT_EQ(page.status, 200) << describe(page);
  auto first = pairArray(page.body);
  ASSERT_TRUE(first) << describe(page);
  EXPECT_LE(first->size(), 2u);
  // DELETE /kv/C clears C only.
  expectSuccess(c_.send("DELETE", at(c)));
  Response empty = eventuallyGet(c_, at(c) + "?prefix=" + enc(p), 200, "[]");
  EXPECT_EQ(empty.body, "[]") << describe(empty);
  expectRecord(eventuallyGet(c_, at(other, p + "x"), 200), 200, p + "x", "o");
}

TEST_F(Rest, RootListsCollectionsWithCounts) {
  std::string c = key("rest-root");
  expectRecord(c_.send("PUT", at(c, "k"), "v"), 201, "k", "v");
  Response r = c_.get("/kv");
  EXPECT_EQ(r.status, 200) << describe(r);
  auto d = parseJson(r.body);
  ASSERT_TRUE(d && d->IsObject() && d->HasMember("collections")) << describe(r);
  EXPECT_EQ(std::string((*d)["collections"][0]["name"].GetString()), "");  // the default first
  EXPECT_TRUE(
      eventually([&] { return c_.get("/kv/").body.find("\"" + c + "\"") != std::string::npos; }));
}

TEST_F(Rest, TheGetApiAndRestAreTheSameStore) {
  std::string c = key("rest-both"), k1 = key("rest:both:1"), k2 = key("rest:both:2");
  // PUT, then the GET API reads it (and the default collection is "_").
  expectRecord(c_.send("PUT", at(c, k1), "from-rest"), 201, k1, "from-rest");
  Response got = eventuallyGet(c_, "/get?c=" + enc(c) + "&k=" + enc(k1), 200, "\"from-rest\"");
  EXPECT_EQ(got.body, "\"from-rest\"");
  expectRecord(c_.send("PUT", at("_", k1), "in-default"), 201, k1, "in-default");
  expectValue(c_, k1, "in-default");
  // /set, then REST reads it.
  expectSuccess(c_.get("/set?c=" + enc(c) + "&k=" + enc(k2) + "&v=from-get"));
  expectRecord(eventuallyGet(c_, at(c, k2), 200), 200, k2, "from-get");
  put(c_, k2, "default-from-get");
  expectRecord(eventuallyGet(c_, at("_", k2), 200), 200, k2, "default-from-get");
}

TEST_F(Rest, HeadAnswersLikeGetWithoutABody) {
  std::string c = key("rest-head"), k = key("rest:head");
  expectRecord(c_.send("PUT", at(c, k), "v"), 201, k, "v");
  ASSERT_EQ(eventuallyGet(c_, at(c, k), 200).status, 200);
  Response h = c_.send("HEAD", at(c, k));
  EXPECT_EQ(h.status, 200) << describe(h);
  EXPECT_EQ(h.body, "");
  EXPECT_EQ(c_.send("HEAD", at(c, key("rest:head:none"))).status, 404);
  EXPECT_EQ(c_.send("HEAD", "/kv").status, 200);
  Response list = c_.send("HEAD", at(c));  // a streamed list: its headers only
  EXPECT_EQ(list.status, 200) << describe(list);
  EXPECT_EQ(list.body, "");
  EXPECT_EQ(c_.send("HEAD", at(c) + "?limit=1").status, 200);
  // The connection is still good for the next request.
  expectRecord(c_.get(at(c, k)), 200, k, "v");
}

TEST_F(Rest, AnUnsupportedMethodIs405WithAllow) {
  std::string c = key("rest-405");
  Response r = c_.send("POST", "/kv");
  expectError(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  r = c_.send("PUT", at(c));
  expectError(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "GET, HEAD, DELETE");
  r = c_.send("POST", at(c, "k"), "v");
  expectError(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "GET, HEAD, PUT, DELETE");
  r = c_.get(at(c, "k") + "/v");
  expectError(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "POST");
  expectError(c_.get(at(c, "k")), 404, "MISSING_RECORD");  // nothing was stored
}

TEST_F(Rest, ABodyOverTheValueLimitIs413AndNothingIsStored) {
  std::string c = key("rest-413"), k = key("rest:big");
  size_t max = maxValueLength();
  expectRecord(c_.send("PUT", at(c, k), std::string(max, 'v')), 201, k, std::string(max, 'v'));
  // Over in code points but within the byte bound: counted, then refused.
  expectError(c_.send("PUT", at(c, k), std::string(max + 1, 'w')), 413,
              "MAXIMUM_VALUE_LENGTH_REACHED");
  // Over the byte bound: refused from the head, the connection closes (curl reconnects).
  Client other;
  Response r = other.send("PUT", at(c, k), std::string(4 * max + 1, 'x'));
  EXPECT_EQ(r.status, 413) << describe(r);
  expectRecord(c_.get(at(c, k)), 200, k, std::string(max, 'v'));
}

TEST_F(Rest, AnyContentTypeButTheBodyMustBeUtf8) {
  std::string c = key("rest-type"), k = key("rest:type");
  expectRecord(c_.send("PUT", at(c, k), "{\"a\":1}", "application/json"), 201, k, "{\"a\":1}");
  expectRecord(c_.send("PUT", at(c, k), "caf\xC3\xA9", "text/plain; charset=utf-8"), 200, k,
               "caf\xC3\xA9");
  expectRecord(c_.send("PUT", at(c, key("rest:empty")), ""), 201, key("rest:empty"), "");
  expectError(c_.send("PUT", at(c, k), "\xFF\xFE"), 400, "INVALID_ENCODING");
}

TEST_F(Rest, BadPathsAndQueriesAreClear400s) {
  std::string c = key("rest-bad");
  expectError(c_.get("/kv/" + enc(c) + "/%zz"), 400, "INVALID_ENCODING");
  expectError(c_.get("/kv/" + enc(c) + "/%FF"), 400, "INVALID_ENCODING");
  expectError(c_.get("/kv//k"), 400, "EMPTY_PATH_SEGMENT");
  expectError(c_.get("/kv/" + enc(c) + "/"), 400, "EMPTY_PATH_SEGMENT");
  expectError(c_.get("/kv/a/b/c/d"), 400, "TOO_MANY_PATH_SEGMENTS");
  expectError(c_.get("/kv/" + repeat("x", 65)), 400, "MAXIMUM_COLLECTION_LENGTH_REACHED");
  expectError(c_.send("PUT", at(c, repeat("k", maxKeyLength() + 1)), "v"), 400,
              "MAXIMUM_KEY_LENGTH_REACHED");
  expectError(c_.send("PUT", at(c, "k") + "?w=sometimes", "v"), 400, "INVALID_WRITE_CONCERN");
  expectError(c_.send("PUT", at(c, "k") + "?w=1&w=all", "v"), 400, "DUPLICATE_PARAM");
  expectError(c_.send("PUT", at(c, "k") + "?c=other", "v"), 400, "DUPLICATE_PARAM");
  expectError(c_.get(at(c) + "?limit=0"), 400, "INVALID_LIMIT");
  expectError(c_.get(at(c, "k")), 404, "MISSING_RECORD");  // none of the writes stored it
  expectError(c_.get("/kvx"), 404, "UNKNOWN_ROUTE");
}

// w=all answers once every live node applied the write: each other connection (through the
// balancer, likely another node) reads it once, without polling.
TEST(RestVisibility, AnAllWriteIsOnEveryNodeWhenItIsAnswered) {
  Client writer;
  std::string c = key("rest-wall"), k = key("rest:w:all");
  expectRecord(writer.send("PUT", at(c, k) + "?w=all", "acked"), 201, k, "acked");
  for (int i = 0; i < 6; ++i) {
    Client reader;
    SCOPED_TRACE("reader " + std::to_string(i));
    expectRecord(reader.get(at(c, k)), 200, k, "acked");
  }
  Response del = writer.send("DELETE", at(c, k) + "?w=all");
  EXPECT_EQ(del.status, 200) << describe(del);
  for (int i = 0; i < 6; ++i) {
    Client reader;
    expectError(reader.get(at(c, k)), 404, "MISSING_RECORD");
  }
}

}  // namespace
}  // namespace suite

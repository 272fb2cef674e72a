// Collections (c=, docs/collections.md) as a client sees them: the same key in two collections
// is two records; every data route and the list routes take c=; /clear?c= empties one
// collection and leaves the others (the default one included); /collections and /status list
// each collection with its records and bytes; a bad name is a 400 with its own code. Each test
// names its collections after the run (key()), so runs never see each other's.
#include <rapidjson/document.h>

#include "tests/suite/testing.h"

namespace suite {
namespace {

using Collections = ApiTest;

std::string in(const std::string& collection) {
  return "c=" + enc(collection) + "&";
}

// The entry of `name` in /collections, once it shows `records` live records.
bool collectionShows(Client& c, const std::string& name, uint64_t records, uint64_t* bytes) {
  Response r = c.get("/collections");
  auto d = parseJson(r.body);
  if (r.status != 200 || !d || !d->IsObject() || !d->HasMember("collections")) return false;
  for (const auto& e : (*d)["collections"].GetArray()) {
    if (e["name"].GetString() != name) continue;
    if (bytes != nullptr) *bytes = e["bytes"].GetUint64();
    return e["records"].GetUint64() == records;
  }
  return records == 0;
}

TEST_F(Collections, TheSameKeyInTwoCollectionsIsTwoRecords) {
  std::string users = key("users"), k = key("coll:same");
  put(c_, k, "in-default");
  expectSuccess(c_.get("/set?" + in(users) + "k=" + enc(k) + "&v=in-users"));
  expectValue(c_, k, "in-default");
  Response got = eventuallyGet(c_, "/get?" + in(users) + "k=" + enc(k), 200, "\"in-users\"");
  EXPECT_EQ(got.body, "\"in-users\"");
  expectSuccess(c_.get("/is?" + in(users) + "k=" + enc(k)));
  // Gone from the collection, still in the default one.
  expectSuccess(c_.get("/rm?" + in(users) + "k=" + enc(k)));
  expectError(eventuallyGet(c_, "/get?" + in(users) + "k=" + enc(k), 404), 404, "MISSING_RECORD");
  expectError(c_.get("/is?" + in(users) + "k=" + enc(k)), 404, "MISSING_RECORD");
  expectError(c_.get("/rm?" + in(users) + "k=" + enc(k)), 404, "MISSING_RECORD");
  expectValue(c_, k, "in-default");
  // A collection nobody wrote to holds nothing.
  expectError(c_.get("/get?" + in(key("never")) + "k=" + enc(k)), 404, "MISSING_RECORD");
  EXPECT_EQ(c_.get("/getKeys?" + in(key("never"))).body, "[]");
}

TEST_F(Collections, ListsShowTheirCollectionOnly) {
  std::string users = key("list-users"), p = key("coll:list:");
  for (int i = 0; i < 3; ++i) {
    expectSuccess(c_.get("/set?" + in(users) + "k=" + enc(p + std::to_string(i)) + "&v=u"));
  }
  put(c_, p + "default", "d");
  Response all = eventuallyGet(c_, "/getAll?" + in(users) + "prefix=" + enc(p), 200);
  EXPECT_TRUE(eventually([&] {
    all = c_.get("/getAll?" + in(users) + "prefix=" + enc(p));
    auto d = parseJson(all.body);
    return d && d->IsArray() && d->Size() == 3;
  })) << describe(all);
  EXPECT_EQ(all.body.find("default"), std::string::npos) << all.body;
  // Paged by one, with the cursor: every record once.
  std::string cursor;
  int seen = 0;
  for (int page = 0; page < 10; ++page) {
    Response r = c_.get("/getKeys?" + in(users) + "prefix=" + enc(p) + "&limit=1" +
                        (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << describe(r);
    auto d = parseJson(r.body);
    ASSERT_TRUE(d && d->IsArray());
    seen += static_cast<int>(d->Size());
    cursor = r.header("x-cursor");
    if (cursor.empty()) break;
  }
  EXPECT_EQ(seen, 3);
  // The default collection's list has its own record and none of the collection's.
  Response def = c_.get("/getKeys?prefix=" + enc(p));
  EXPECT_EQ(def.body, "[\"" + p + "default\"]") << describe(def);
}

TEST_F(Collections, ClearingOneCollectionLeavesTheOthers) {
  std::string a = key("clear-a"), b = key("clear-b"), k = key("coll:clear");
  expectSuccess(c_.get("/set?" + in(a) + "k=" + enc(k) + "&v=a"));
  expectSuccess(c_.get("/set?" + in(b) + "k=" + enc(k) + "&v=b"));
  put(c_, k, "default");
  expectSuccess(c_.get("/clear?" + in(a)));
  EXPECT_EQ(eventuallyGet(c_, "/getKeys?" + in(a), 200, "[]").body, "[]");
  expectError(c_.get("/get?" + in(a) + "k=" + enc(k)), 404, "MISSING_RECORD");
  EXPECT_EQ(eventuallyGet(c_, "/get?" + in(b) + "k=" + enc(k), 200, "\"b\"").body, "\"b\"");
  expectValue(c_, k, "default");
  // A write after the clear is kept.
  expectSuccess(c_.get("/set?" + in(a) + "k=" + enc(k) + "&v=again"));
  EXPECT_EQ(eventuallyGet(c_, "/get?" + in(a) + "k=" + enc(k), 200, "\"again\"").body, "\"again\"");
  // The default collection's clear leaves the collections.
  expectSuccess(c_.get("/clear"));
  expectError(eventuallyGet(c_, "/get?k=" + enc(k), 404), 404, "MISSING_RECORD");
  EXPECT_EQ(c_.get("/get?" + in(b) + "k=" + enc(k)).body, "\"b\"");
}

TEST_F(Collections, CollectionsAndStatusCountRecordsAndBytes) {
  std::string c = key("stats"), k = key("coll:stats");
  expectSuccess(c_.get("/set?" + in(c) + "k=" + enc(k + "1") + "&v=abc"));
  expectSuccess(c_.get("/set?" + in(c) + "k=" + enc(k + "2") + "&v=de"));
  uint64_t bytes = 0;
  EXPECT_TRUE(eventually([&] { return collectionShows(c_, c, 2, &bytes); }));
  EXPECT_EQ(bytes, 2 * (k.size() + 1) + 5);  // keys and values, in bytes
  Response s = c_.get("/status");
  EXPECT_NE(s.body.find("\"collections\":["), std::string::npos) << describe(s);
  EXPECT_NE(s.body.find("\"name\":\"" + c + "\""), std::string::npos) << describe(s);
  expectSuccess(c_.get("/clear?" + in(c)));
  EXPECT_TRUE(eventually([&] { return collectionShows(c_, c, 0, nullptr); }));
}

TEST_F(Collections, ABadNameIsA400WithItsOwnCode) {
  std::string k = enc(key("coll:bad"));
  std::string tooLong = enc(repeat("c", 65));
  for (const std::string& route :
       {"/set?k=" + k + "&v=1&", "/get?k=" + k + "&", "/rm?k=" + k + "&", "/is?k=" + k + "&",
        std::string("/getKeys?"), std::string("/getValues?"), std::string("/getAll?limit=5&"),
        std::string("/clear?")}) {
    SCOPED_TRACE(route);
    expectError(c_.get(route + "c="), 400, "INVALID_COLLECTION");
    expectError(c_.get(route + "c=" + tooLong), 400, "MAXIMUM_COLLECTION_LENGTH_REACHED");
    expectError(c_.get(route + "c=a&c=b"), 400, "DUPLICATE_PARAM");
  }
  // 64 code points (of 4 bytes each) is a valid name.
  std::string longest = repeat("\xF0\x9F\x98\x80", 64);
  expectSuccess(c_.get("/set?c=" + enc(longest) + "&k=" + k + "&v=1"));
  expectSuccess(c_.get("/clear?c=" + enc(longest)));
}

}  // namespace
}  // namespace suite

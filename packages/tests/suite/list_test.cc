// The list routes (/getKeys, /getValues, /getAll) beyond the original: exactly [] after /clear,
// /clear really empties, whole lists streamed chunked, and paging with prefix + limit + cursor
// (X-Cursor) that returns every record of a prefix exactly once, each page a Content-Length
// answer. Paging keeps one Client: a cursor belongs to the node that issued it, and through the
// balancer one keep-alive connection stays on one node.
#include <map>

#include "tests/suite/testing.h"

namespace suite {
namespace {

using ListRoutes = ApiTest;

TEST_F(ListRoutes, AfterClearEveryListIsExactlyAnEmptyArray) {
  put(c_, key("list:before-clear"), "x");
  expectSuccess(c_.get("/clear"));
  for (const char* route :
       {"/getKeys", "/getValues", "/getAll", "/getKeys?limit=10", "/getAll?limit=1"}) {
    SCOPED_TRACE(route);
    Response r = eventuallyGet(c_, route, 200, "[]");
    EXPECT_EQ(r.body, "[]") << describe(r);
    EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0u);
  }
  EXPECT_FALSE(c_.get("/getKeys?limit=10").has("x-cursor"));
}

TEST_F(ListRoutes, ClearReallyEmptiesTheStore) {
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(key("clear:real:" + std::to_string(i)));
    put(c_, keys.back(), "v" + std::to_string(i));
  }
  for (const auto& k : keys) expectValue(c_, k, "v" + k.substr(k.size() - 1));
  expectSuccess(c_.get("/clear"));
  for (const auto& k : keys) {
    expectError(eventuallyGet(c_, "/get?k=" + enc(k), 404), 404, "MISSING_RECORD");
    expectError(c_.get("/is?k=" + enc(k)), 404, "MISSING_RECORD");
    expectError(c_.get("/rm?k=" + enc(k)), 404, "MISSING_RECORD");
  }
  Response s;
  EXPECT_TRUE(eventually([&] {
    s = c_.get("/status");
    auto d = parseJson(s.body);
    return d && d->IsObject() && d->HasMember("availableRecords") &&
           (*d)["availableRecords"].GetUint64() == 0;
  })) << describe(s);
  // Writes after a clear are kept.
  put(c_, keys[0], "after");
  expectValue(c_, keys[0], "after");
}

TEST_F(ListRoutes, WholeListsAreStreamedChunked) {
  put(c_, key("chunked"), "x");
  for (const char* route : {"/getKeys", "/getValues", "/getAll"}) {
    SCOPED_TRACE(route);
    Response r = eventuallyGet(c_, std::string(route) + "?prefix=" + enc(key("chunked")), 200);
    EXPECT_NE(r.header("transfer-encoding").find("chunked"), std::string::npos) << describe(r);
    EXPECT_FALSE(r.has("content-length"));
    EXPECT_TRUE(parseJson(r.body) && parseJson(r.body)->IsArray()) << describe(r);
  }
}

TEST_F(ListRoutes, PrefixSelectsOnlyItsKeys) {
  const std::string p = key("pfx:");
  put(c_, p + "a", "1");
  put(c_, p + "b", "2");
  put(c_, key("pfy:c"), "3");  // shares all but the last byte of the prefix
  put(c_, key("pf"), "4");     // shorter than the prefix
  Response last;
  EXPECT_TRUE(eventually([&] {
    last = c_.get("/getKeys?prefix=" + enc(p));
    auto l = stringArray(last.body);
    if (!l) return false;
    std::sort(l->begin(), l->end());
    return *l == std::vector<std::string>{p + "a", p + "b"};
  })) << describe(last);
  Response values = c_.get("/getValues?prefix=" + enc(p));
  auto v = stringArray(values.body);
  ASSERT_TRUE(v) << describe(values);
  std::sort(v->begin(), v->end());
  EXPECT_EQ(*v, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(c_.get("/getAll?prefix=" + enc(key("pfz"))).body, "[]");
}

// Pages through route?prefix=p&limit=n; returns the items (raw JSON elements as text via the
// route's parser) or fails the test. Every page must be a Content-Length answer, at most n long,
// never empty unless it is the only page, and carry X-Cursor exactly when more remain.
template <typename Item, typename Parse>
std::vector<Item> pageThrough(Client& c, const std::string& route, const std::string& prefix,
                              size_t limit, Parse parse) {
  std::vector<Item> all;
  std::string cursor;
  for (int page = 0; page < 10000; ++page) {
    std::string path = route + "?prefix=" + enc(prefix) + "&limit=" + std::to_string(limit);
    if (!cursor.empty()) path += "&cursor=" + enc(cursor);
    Response r = c.get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << describe(r);
    EXPECT_TRUE(r.has("content-length")) << path;
    EXPECT_EQ(r.header("transfer-encoding"), "") << path;
    auto items = parse(r.body);
    EXPECT_TRUE(items) << describe(r);
    if (r.status != 200 || !items) return all;
    EXPECT_LE(items->size(), limit) << path;
    all.insert(all.end(), items->begin(), items->end());
    cursor = r.header("x-cursor");
    if (cursor.empty()) return all;
    EXPECT_FALSE(items->empty()) << "an empty page with a cursor: " << path;
  }
  ADD_FAILURE() << "paging never ended";
  return all;
}

TEST_F(ListRoutes, PagingCollectsEveryKeyOfAPrefixExactlyOnce) {
  const std::string p = key("page:");
  const int n = 57;
  std::map<std::string, std::string> want;
  for (int i = 0; i < n; ++i) {
    std::string k = p + std::to_string(i);
    want[k] = "value-" + std::to_string(i) + "-é😀";
    put(c_, k, want[k]);
  }
  for (int i = 0; i < 7; ++i) put(c_, key("pagf:" + std::to_string(i)), "other");  // not ours
  Response last;
  ASSERT_TRUE(eventually([&] {
    last = c_.get("/getKeys?prefix=" + enc(p));
    auto l = stringArray(last.body);
    return l && l->size() == static_cast<size_t>(n);
  })) << describe(last);

  for (size_t limit : {1, 10, 56, 57, 10000}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    auto keys = pageThrough<std::string>(c_, "/getKeys", p, limit, stringArray);
    std::map<std::string, int> seen;
    for (const auto& k : keys) ++seen[k];
    EXPECT_EQ(keys.size(), want.size());
    for (const auto& [k, v] : want) EXPECT_EQ(seen[k], 1) << k;

    auto values = pageThrough<std::string>(c_, "/getValues", p, limit, stringArray);
    std::vector<std::string> wantValues;
    for (const auto& [k, v] : want) wantValues.push_back(v);
    std::sort(values.begin(), values.end());
    std::sort(wantValues.begin(), wantValues.end());
    EXPECT_EQ(values, wantValues);

    auto pairs =
        pageThrough<std::pair<std::string, std::string>>(c_, "/getAll", p, limit, pairArray);
    std::map<std::string, std::string> got;
    for (const auto& [k, v] : pairs) EXPECT_TRUE(got.emplace(k, v).second) << "twice: " << k;
    EXPECT_EQ(got, want);
  }
}

TEST_F(ListRoutes, ACursorAlsoResumesAWholeList) {
  const std::string p = key("resume:");
  for (int i = 0; i < 5; ++i) put(c_, p + std::to_string(i), "x");
  eventually([&] {
    auto l = stringArray(c_.get("/getKeys?prefix=" + enc(p)).body);
    return l && l->size() == 5;
  });
  Response first = c_.get("/getKeys?prefix=" + enc(p) + "&limit=2");
  ASSERT_EQ(first.status, 200) << describe(first);
  std::string cursor = first.header("x-cursor");
  ASSERT_FALSE(cursor.empty()) << "no X-Cursor with 3 more records";
  Response rest = c_.get("/getKeys?prefix=" + enc(p) + "&cursor=" + enc(cursor));
  auto a = stringArray(first.body), b = stringArray(rest.body);
  ASSERT_TRUE(a && b) << describe(first) << describe(rest);
  std::vector<std::string> all = *a;
  all.insert(all.end(), b->begin(), b->end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.push_back(p + std::to_string(i));
  EXPECT_EQ(all, want);
}

TEST_F(ListRoutes, BadLimitsAreInvalidLimit) {
  for (const char* l : {"0", "-1", "abc", "1.5", "", "10x", "+5", "99999999999999999999999"}) {
    SCOPED_TRACE(l);
    for (const char* route : {"/getKeys", "/getValues", "/getAll"}) {
      expectError(c_.get(std::string(route) + "?limit=" + l), 400, "INVALID_LIMIT");
    }
  }
  EXPECT_EQ(c_.get("/getKeys?limit=1").status, 200);
  EXPECT_EQ(c_.get("/getKeys?limit=10000").status, 200);
}

TEST_F(ListRoutes, BadCursorsAreInvalidCursor) {
  for (const char* cur :
       {"garbage", "0", "000000000000000000000000", "ffffffffffffffffffffffff", "%FF%FF"}) {
    SCOPED_TRACE(cur);
    if (std::string(cur) == "%FF%FF") {
      expectError(c_.get(std::string("/getKeys?limit=5&cursor=") + cur), 400, "INVALID_ENCODING");
      continue;
    }
    expectError(c_.get(std::string("/getKeys?limit=5&cursor=") + cur), 400, "INVALID_CURSOR");
    expectError(c_.get(std::string("/getAll?cursor=") + cur), 400, "INVALID_CURSOR");
  }
}

}  // namespace
}  // namespace suite

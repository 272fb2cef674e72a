// Expiring keys (README.md, "Expiring keys") as a client sees them: /set ttl=, /ttl, /persist,
// REST ?ttl=, and BAD_TTL for bad input with nothing stored. An expired key is gone from every
// read (get, is, ttl, lists) at once. Run alone and through the balancer (scripts/
// integration.sh): the fixture's one connection stays on one node, and every wait polls.
#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "tests/suite/testing.h"

namespace suite {
namespace {

using Ttl = ApiTest;
using std::chrono::milliseconds;

std::string ttlBody(const std::string& k, int seconds) {
  return "{\"key\":\"" + k + "\",\"ttl\":" + std::to_string(seconds) + "}";
}

TEST_F(Ttl, ASetWithATtlAnswersItsSecondsLeftThenExpiresFromEveryRead) {
  std::string k = key("ttl:expires"), plain = key("ttl:plain");
  expectSuccess(c_.get("/set?k=" + enc(k) + "&v=1&ttl=1"));
  put(c_, plain, "p");
  Response t = c_.get("/ttl?k=" + enc(k));
  // Rounded up: a live key never answers 0.
  if (t.status == 200) {
    EXPECT_EQ(t.body, ttlBody(k, 1)) << describe(t);
  }
  EXPECT_EQ(c_.get("/ttl?k=" + enc(plain)).body, ttlBody(plain, -1));
  Response gone = eventuallyGet(c_, "/get?k=" + enc(k), 404);
  expectError(gone, 404, "MISSING_RECORD");
  expectError(c_.get("/is?k=" + enc(k)), 404, "MISSING_RECORD");
  expectError(c_.get("/ttl?k=" + enc(k)), 404, "MISSING_RECORD");
  expectError(c_.get("/persist?k=" + enc(k)), 404, "MISSING_RECORD");
  Response keys = c_.get("/getKeys?prefix=" + enc(key("ttl:")));
  auto list = stringArray(keys.body);
  ASSERT_TRUE(list) << describe(keys);
  EXPECT_EQ(std::count(list->begin(), list->end(), k), 0) << describe(keys);
  EXPECT_EQ(std::count(list->begin(), list->end(), plain), 1) << describe(keys);
}

// /collections' counts of one collection: {records, expiring}, or nullopt while it is not listed.
std::optional<std::pair<uint64_t, uint64_t>> counts(Client& c, const std::string& name) {
  Response r = c.get("/collections");
  auto d = parseJson(r.body);
  if (r.status != 200 || !d || !d->IsObject() || !d->HasMember("collections")) return std::nullopt;
  for (const auto& e : (*d)["collections"].GetArray()) {
    if (e["name"].GetString() != name || !e.HasMember("expiring")) continue;
    return std::make_pair(e["records"].GetUint64(), e["expiring"].GetUint64());
  }
  return std::nullopt;
}

TEST_F(Ttl, CollectionsCountTheExpiringRecordsAndNeverTheExpiredOnes) {
  std::string coll = key("ttlcount"), k = key("ttl:count");
  std::string in = "c=" + enc(coll) + "&";
  expectSuccess(c_.get("/set?" + in + "k=" + enc(k + "long") + "&v=1&ttl=600"));
  expectSuccess(c_.get("/set?" + in + "k=" + enc(k + "short") + "&v=1&ttl=1"));
  expectSuccess(c_.get("/set?" + in + "k=" + enc(k + "plain") + "&v=1"));
  using Counts = std::optional<std::pair<uint64_t, uint64_t>>;
  Counts three{{3, 2}}, two{{2, 1}};
  // Seen with all three (unless the short one already expired), then without the short one.
  EXPECT_TRUE(eventually([&] {
    Counts now = counts(c_, coll);
    return now == three || now == two;
  }));
  EXPECT_TRUE(eventually([&] { return counts(c_, coll) == two; })) << c_.get("/collections").body;
}

TEST_F(Ttl, ASetWithoutATtlClearsTheExpiry) {
  std::string k = key("ttl:cleared");
  expectSuccess(c_.get("/set?k=" + enc(k) + "&v=1&ttl=100"));
  Response t = c_.get("/ttl?k=" + enc(k));
  EXPECT_TRUE(t.body == ttlBody(k, 100) || t.body == ttlBody(k, 99)) << describe(t);
  put(c_, k, "2");
  EXPECT_EQ(c_.get("/ttl?k=" + enc(k)).body, ttlBody(k, -1));
}

TEST_F(Ttl, PersistRemovesAnExpiryOnce) {
  std::string k = key("ttl:persist"), control = key("ttl:persist-control");
  expectSuccess(c_.get("/set?k=" + enc(k) + "&v=kept&ttl=1"));
  expectSuccess(c_.get("/set?k=" + enc(control) + "&v=x&ttl=1"));
  Response p = c_.get("/persist?k=" + enc(k) + "&w=all");
  EXPECT_EQ(p.status, 200) << describe(p);
  EXPECT_EQ(p.body, "{\"key\":\"" + k + "\",\"persisted\":true}");
  EXPECT_EQ(c_.get("/persist?k=" + enc(k)).body, "{\"key\":\"" + k + "\",\"persisted\":false}");
  EXPECT_EQ(c_.get("/ttl?k=" + enc(k)).body, ttlBody(k, -1));
  eventuallyGet(c_, "/get?k=" + enc(control), 404);  // the expiry k had is past
  expectValue(c_, k, "kept");
  expectError(c_.get("/persist?k=" + enc(key("ttl:never-set"))), 404, "MISSING_RECORD");
}

TEST_F(Ttl, RestPutAndPostTakeATtl) {
  std::string c = key("ttl-rest"), k = key("ttl:rest"), k2 = key("ttl:rest-post");
  Response put = c_.send("PUT", "/kv/" + enc(c) + "/" + enc(k) + "?ttl=1", "v");
  EXPECT_EQ(put.status, 201) << describe(put);
  Response post = c_.send("POST", "/kv/" + enc(c) + "/" + enc(k2) + "/v?ttl=60");
  EXPECT_EQ(post.status, 201) << describe(post);
  Response t = c_.get("/ttl?k=" + enc(k2) + "&c=" + enc(c));
  EXPECT_TRUE(t.body == ttlBody(k2, 60) || t.body == ttlBody(k2, 59)) << describe(t);
  expectError(eventuallyGet(c_, "/kv/" + enc(c) + "/" + enc(k), 404), 404, "MISSING_RECORD");
  Response still = c_.get("/kv/" + enc(c) + "/" + enc(k2));
  EXPECT_EQ(still.status, 200) << describe(still);
}

TEST_F(Ttl, BadTtlIsRefusedAndNothingIsStored) {
  std::string k = key("ttl:bad"), c = key("ttl-bad");
  for (const char* bad :
       {"0", "-1", "", "1.5", "abc", "1e3", "315360001", "99999999999999999999"}) {
    SCOPED_TRACE(bad);
    expectError(c_.get("/set?k=" + enc(k) + "&v=1&ttl=" + enc(bad)), 400, "BAD_TTL");
    expectError(c_.send("PUT", "/kv/" + enc(c) + "/" + enc(k) + "?ttl=" + enc(bad), "v"), 400,
                "BAD_TTL");
  }
  expectError(c_.get("/set?k=" + enc(k) + "&v=1&ttl=1&ttl=2"), 400, "DUPLICATE_PARAM");
  expectError(c_.get("/get?k=" + enc(k)), 404, "MISSING_RECORD");
  expectError(c_.get("/kv/" + enc(c) + "/" + enc(k)), 404, "MISSING_RECORD");
}

}  // namespace
}  // namespace suite

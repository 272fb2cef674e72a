// Unit tests of MeshAuth: a signed request verifies; any change of method, path, query, body,
// timestamp or secret is refused; stale timestamps are refused; an open mesh accepts anything.
#include "database/mesh/auth.h"

#include <gtest/gtest.h>

namespace db {
namespace {

TEST(MeshAuth, SignedRequestVerifiesAndAnyChangeIsRefused) {
  MeshAuth a("s3cret", 60000);
  std::string body("\x01\x02 batch", 8);
  std::string h = a.sign("POST", "/_mesh/replicate", "x=1", body, 1'000'000);
  ASSERT_FALSE(h.empty());
  EXPECT_TRUE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  EXPECT_TRUE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'050'000));
  EXPECT_FALSE(a.verify(h, "GET", "/_mesh/replicate", "x=1", body, 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/snapshot", "x=1", body, 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=2", body, 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body + "!", 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'060'001));  // too old
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 939'999));    // from the future
  MeshAuth other("wrong", 60000);
  EXPECT_FALSE(other.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  // A tampered MAC or timestamp.
  std::string t = h;
  t.back() = t.back() == '0' ? '1' : '0';
  EXPECT_FALSE(a.verify(t, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  std::string ts = h;
  ts[0] = ts[0] == '1' ? '2' : '1';
  EXPECT_FALSE(a.verify(ts, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  for (const char* bad : {"", ".", "abc.def", "1000000", "1000000.", "-5.ab"}) {
    EXPECT_FALSE(a.verify(bad, "POST", "/_mesh/replicate", "x=1", body, 1'000'000)) << bad;
  }
}

TEST(MeshAuth, OpenMeshAcceptsEverything) {
  MeshAuth open("", 60000);
  EXPECT_FALSE(open.enabled());
  EXPECT_EQ(open.sign("GET", "/", "", "", 1), "");
  EXPECT_TRUE(open.verify("", "GET", "/", "", "", 1));
}

}  // namespace
}  // namespace db

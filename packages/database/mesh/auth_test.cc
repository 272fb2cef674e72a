// Unit tests of MeshAuth: a signed request verifies; any change of method, path, query, body,
// timestamp, nonce or secret is refused; stale timestamps are refused; an answer verifies only
// for the request it answers (a captured answer replayed to another request fails), and only
// with its own status, responder and body; an open mesh accepts anything.
#include "database/mesh/auth.h"

#include <gtest/gtest.h>

namespace db {
namespace {

TEST(MeshAuth, SignedRequestVerifiesAndAnyChangeIsRefused) {
  MeshAuth a("s3cret", 60000);
  std::string body("\x01\x02 batch", 8);
  std::string h = a.sign("POST", "/_mesh/replicate", "x=1", body, 1'000'000, "a1");
  ASSERT_FALSE(h.empty());
  EXPECT_TRUE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  EXPECT_TRUE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'050'000));
  EXPECT_TRUE(a.plausible(h, 1'000'000));
  EXPECT_FALSE(a.verify(h, "GET", "/_mesh/replicate", "x=1", body, 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/snapshot", "x=1", body, 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=2", body, 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body + "!", 1'000'000));
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'060'001));  // too old
  EXPECT_FALSE(a.verify(h, "POST", "/_mesh/replicate", "x=1", body, 939'999));    // from the future
  EXPECT_FALSE(a.plausible(h, 1'060'001));
  MeshAuth other("wrong", 60000);
  EXPECT_FALSE(other.verify(h, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  // A tampered MAC, timestamp or nonce.
  std::string t = h;
  t.back() = t.back() == '0' ? '1' : '0';
  EXPECT_FALSE(a.verify(t, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  std::string ts = h;
  ts[0] = ts[0] == '1' ? '2' : '1';
  EXPECT_FALSE(a.verify(ts, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  std::string n = h;
  n[8] = 'b';  // "1000000.a1." -> "1000000.b1."
  EXPECT_FALSE(a.verify(n, "POST", "/_mesh/replicate", "x=1", body, 1'000'000));
  for (const char* bad : {"", ".", "abc.def", "1000000", "1000000.", "1000000.a1.", "-5.ab.cd",
                          "1000000..0123", "1000000.XY.0123"}) {
    EXPECT_FALSE(a.verify(bad, "POST", "/_mesh/replicate", "x=1", body, 1'000'000)) << bad;
    EXPECT_FALSE(a.plausible(bad, 1'000'000)) << bad;
  }
  // The same request signed twice with two nonces: two different proofs.
  EXPECT_NE(h, a.sign("POST", "/_mesh/replicate", "x=1", body, 1'000'000, "a2"));
}

TEST(MeshAuth, AnAnswerVerifiesOnlyForTheRequestItAnswers) {
  MeshAuth a("s3cret", 60000);
  std::string q1 = a.sign("POST", "/_mesh/ping", "", "{}", 1'000'000, "1");
  std::string q2 = a.sign("POST", "/_mesh/ping", "", "{}", 1'000'000, "2");
  std::string body = R"({"from":"n1"})";
  std::string r1 = a.signResponse(q1, 200, "n1", body);
  ASSERT_FALSE(r1.empty());
  EXPECT_TRUE(a.verifyResponse(r1, q1, 200, "n1", body));
  EXPECT_FALSE(a.verifyResponse(r1, q2, 200, "n1", body));  // replayed to another request
  EXPECT_FALSE(a.verifyResponse(r1, q1, 409, "n1", body));  // another status
  EXPECT_FALSE(a.verifyResponse(r1, q1, 200, "n2", body));  // another responder
  EXPECT_FALSE(a.verifyResponse(r1, q1, 200, "n1", body + " "));
  EXPECT_FALSE(a.verifyResponse("", q1, 200, "n1", body));  // unsigned
  EXPECT_FALSE(a.verifyResponse(r1, "", 200, "n1", body));
  MeshAuth other("wrong", 60000);
  EXPECT_FALSE(a.verifyResponse(other.signResponse(q1, 200, "n1", body), q1, 200, "n1", body));
}

TEST(MeshAuth, OpenMeshAcceptsEverything) {
  MeshAuth open("", 60000);
  EXPECT_FALSE(open.enabled());
  EXPECT_EQ(open.sign("GET", "/", "", "", 1, "1"), "");
  EXPECT_TRUE(open.verify("", "GET", "/", "", "", 1));
  EXPECT_TRUE(open.plausible("", 1));
  EXPECT_EQ(open.signResponse("", 200, "", ""), "");
  EXPECT_TRUE(open.verifyResponse("", "", 409, "", ""));
}

}  // namespace
}  // namespace db

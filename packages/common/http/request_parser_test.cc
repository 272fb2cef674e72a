// Unit tests for RequestParser without sockets: requests split at every byte boundary,
// pipelined requests, and broken or oversized input answered with the right status.
#include "common/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace common::http {
namespace {

struct Seen {
  std::string method, path, query, body, host;
  bool keepAlive;
};

struct Harness {
  explicit Harness(ParserLimits limits = {})
      : parser(limits, [this](Request& r) {
          seen.push_back({std::string(r.method), std::string(r.path), std::string(r.query),
                          std::string(r.body), std::string(r.header("HOST")), r.keepAlive});
        }) {}
  int feed(std::string_view s) { return parser.feed(s.data(), s.size()); }
  std::vector<Seen> seen;
  RequestParser parser;
};

TEST(RequestParser, SplitAtEveryByteGivesTheSameRequest) {
  const std::string req = "POST /set?k=a&v=b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz";
  for (size_t cut = 1; cut < req.size(); ++cut) {
    Harness h;
    ASSERT_EQ(h.feed(req.substr(0, cut)), 0) << cut;
    EXPECT_TRUE(h.seen.empty() || cut == req.size());
    ASSERT_EQ(h.feed(req.substr(cut)), 0) << cut;
    ASSERT_EQ(h.seen.size(), 1u) << cut;
    EXPECT_EQ(h.seen[0].method, "POST");
    EXPECT_EQ(h.seen[0].path, "/set");
    EXPECT_EQ(h.seen[0].query, "k=a&v=b");
    EXPECT_EQ(h.seen[0].body, "xyz");
    EXPECT_EQ(h.seen[0].host, "x");  // header lookup ignores case
  }
}

TEST(RequestParser, PipelinedRequestsComeOutInOrder) {
  Harness h;
  ASSERT_EQ(h.feed("GET /a HTTP/1.1\r\n\r\nGET /b?x HTTP/1.1\r\n\r\nGET /c HTTP/1.0\r\n\r\n"), 0);
  ASSERT_EQ(h.seen.size(), 3u);
  EXPECT_EQ(h.seen[0].path, "/a");
  EXPECT_EQ(h.seen[1].query, "x");
  EXPECT_TRUE(h.seen[1].keepAlive);
  EXPECT_FALSE(h.seen[2].keepAlive);  // HTTP/1.0 without keep-alive
}

TEST(RequestParser, AbsoluteFormAndFragmentsAreReducedToPathAndQuery) {
  Harness h;
  ASSERT_EQ(h.feed("GET http://host:8080/get?k=1 HTTP/1.1\r\n\r\n"), 0);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].path, "/get");
  EXPECT_EQ(h.seen[0].query, "k=1");
}

TEST(RequestParser, GarbageIs400AndStaysFailed) {
  Harness h;
  EXPECT_EQ(h.feed("NOT HTTP AT ALL\r\n\r\n"), 400);
  EXPECT_EQ(h.feed("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_TRUE(h.seen.empty());
  Harness bad;
  EXPECT_EQ(bad.feed("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
  Harness upgrade;
  EXPECT_EQ(upgrade.feed("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n"), 400);
}

TEST(RequestParser, LimitsGive414431And413) {
  ParserLimits l;
  l.maxUrlBytes = 16;
  l.maxHeaderBytes = 32;
  l.maxBodyBytes = 4;
  Harness url(l);
  EXPECT_EQ(url.feed("GET /" + std::string(20, 'a') + " HTTP/1.1\r\n\r\n"), 414);
  Harness head(l);
  EXPECT_EQ(head.feed("GET / HTTP/1.1\r\nX: " + std::string(40, 'a') + "\r\n\r\n"), 431);
  Harness body(l);
  EXPECT_EQ(body.feed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"), 413);
  Harness chunked(l);
  EXPECT_EQ(chunked.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n"),
            413);
  EXPECT_TRUE(url.seen.empty() && head.seen.empty() && body.seen.empty());
}

TEST(RequestParser, ExpectContinueIsReported) {
  Harness h;
  ASSERT_EQ(h.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"), 0);
  EXPECT_TRUE(h.parser.wantsContinue());
  EXPECT_TRUE(h.parser.inRequest());
  h.parser.continueSent();
  ASSERT_EQ(h.feed("ok"), 0);
  EXPECT_FALSE(h.parser.inRequest());
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].body, "ok");
}

}  // namespace
}  // namespace common::http

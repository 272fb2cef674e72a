// Unit tests for RequestParser without sockets: requests split at every byte boundary,
// pipelined requests, broken or oversized input answered with the right status, and the body
// rules decided at headers-complete (route limits, refusals, the shared body budget).
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
  explicit Harness(ParserLimits limits = {}, RequestParser::OnHead onHead = {},
                   BodyBudget* budget = nullptr)
      : parser(
            limits,
            [this](Request& r) {
              seen.push_back({std::string(r.method), std::string(r.path), std::string(r.query),
                              std::string(r.body), std::string(r.header("HOST")), r.keepAlive});
            },
            std::move(onHead), budget) {}
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

// Found by fuzz/http_request_fuzz.cc: non-strict http-parser let these through.
TEST(RequestParser, WhitespaceInHeaderNamesAndControlBytesInTheTargetAre400) {
  for (std::string_view bad :
       {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\n\r\n", "GET /a\fb HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding:\bchunked\r\n\r\n"}) {
    Harness h;
    EXPECT_EQ(h.feed(bad), 400) << bad;
    EXPECT_TRUE(h.seen.empty()) << bad;
  }
}

// Found by fuzz/http_request_fuzz.cc: http-parser reads len 0 as EOF, which failed a request
// cut mid-head with 400 instead of waiting for the rest.
TEST(RequestParser, AnEmptyFeedIsNotTheEndOfTheStream) {
  Harness h;
  ASSERT_EQ(h.feed("POST /set?k=c "), 0);
  ASSERT_EQ(h.feed(""), 0);
  ASSERT_EQ(h.feed("HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].path, "/set");
}

// Found by fuzz/http_request_fuzz.cc (ASan: heap-use-after-free): trailer fields grew the
// header buffer after the head, so the delivered headers pointed into freed memory.
TEST(RequestParser, TrailersAreDroppedAndTheHeadersStayValid) {
  Harness h;
  std::string trailers;
  for (int i = 0; i < 50; ++i) trailers += "X-Trailer-" + std::to_string(i) + ": value\r\n";
  ASSERT_EQ(h.feed("POST /t HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "2\r\nok\r\n0\r\n" +
                   trailers + "\r\n"),
            0);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].host, "node");
  EXPECT_EQ(h.seen[0].body, "ok");
}

TEST(RequestParser, TrailingWhitespaceIsNotPartOfAHeaderValue) {
  Harness h;
  ASSERT_EQ(h.feed("GET / HTTP/1.1\r\nHost: node \t\r\n\r\n"), 0);
  ASSERT_EQ(h.seen.size(), 1u);
  EXPECT_EQ(h.seen[0].host, "node");
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

TEST(RequestParser, ATargetTooLongBeforeAByteHttpParserRefusesIs414InOneReadOrTwo) {
  // Found by the http_request fuzzer: http-parser refuses a byte of the target (here 0x01)
  // before it hands the target's bytes over, so in one read only its 400 was seen, while in two
  // reads our 414 came first. The first fault in the stream decides, however the reads fall.
  ParserLimits l;
  l.maxUrlBytes = 16;
  std::string req = "GET /" + std::string(20, 'a') + '\x01' + " HTTP/1.1\r\n\r\n";
  Harness whole(l);
  EXPECT_EQ(whole.feed(req), 414);
  Harness split(l);
  EXPECT_EQ(split.feed(req.substr(0, 10)), 0);
  EXPECT_EQ(split.feed(req.substr(10)), 414);
  std::string shortTarget = std::string("GET /aa") + '\x01' + " HTTP/1.1\r\n\r\n";  // 400
  Harness bad(l);
  EXPECT_EQ(bad.feed(shortTarget), 400);
}

TEST(RequestParser, ATargetPastHttpParsersOwnHeadLimitIs414InOneReadOrTwo) {
  // http-parser stops a head at 80 KiB (HPE_HEADER_OVERFLOW) before it hands a target over; a
  // read ending earlier hands it over and our 414 comes first, so one read must say 414 too.
  std::string req = "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\n\r\n";
  Harness whole;
  EXPECT_EQ(whole.feed(req), 414);
  Harness split;
  EXPECT_EQ(split.feed(req.substr(0, 10000)), 414);
}

TEST(RequestParser, HeadersTooLargeBeforeAByteHttpParserRefusesAre431InOneReadOrTwo) {
  // Found by the http_request fuzzer, the header twin of ATargetTooLongBeforeAByte...: http-parser
  // refuses a byte of a header name or value (here 0x01) before it hands that piece's bytes over,
  // so in one read only its 400 was seen, while in two reads cut inside the piece our 431 came
  // first.
  ParserLimits l;
  l.maxHeaderBytes = 16;
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (const std::string& line :
       {"X: " + std::string(20, 'v') + "\x01v\r\n\r\n", std::string(20, 'N') + "\x01: v\r\n\r\n"}) {
    std::string req = head + line;
    Harness whole(l);
    EXPECT_EQ(whole.feed(req), 431) << line;
    for (size_t cut = 1; cut < req.size(); ++cut) {  // two reads, cut anywhere
      Harness split(l);
      int status = split.feed(req.substr(0, cut));
      if (status == 0) status = split.feed(req.substr(cut));
      EXPECT_EQ(status, 431) << line << " cut at " << cut;
    }
  }
  Harness bad(l);  // within the limit, the refused byte decides
  EXPECT_EQ(bad.feed(head + "X: v\x01v\r\n\r\n"), 400);
  EXPECT_TRUE(bad.seen.empty());
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

// An OnHead like the server's: /big takes up to 1 MiB, /locked is refused, the rest the default.
HeadDecision routes(const Request& head) {
  HeadDecision d;
  if (head.path == "/big") d.maxBodyBytes = 1u << 20;
  if (head.path == "/locked") {
    d.refuseStatus = 401;
    d.refuseCode = "MESH_AUTH_FAILED";
  }
  return d;
}

std::string post(std::string_view path, size_t contentLength) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nContent-Length: " + std::to_string(contentLength) + "\r\n\r\n";
}

TEST(RequestParser, ContentLengthOverTheRouteLimitIs413BeforeAnyBodyByte) {
  ParserLimits l;
  l.maxBodyBytes = 8192;
  Harness small(l, routes);
  EXPECT_EQ(small.feed(post("/set", 8193)), 413);  // the head alone decides
  Harness big(l, routes);
  EXPECT_EQ(big.feed(post("/big", (1u << 20) + 1)), 413);
  Harness fits(l, routes);
  const std::string body(600 * 1024, 'b');  // over the default, within /big's limit
  ASSERT_EQ(fits.feed(post("/big", body.size()) + body), 0);
  ASSERT_EQ(fits.seen.size(), 1u);
  EXPECT_EQ(fits.seen[0].body.size(), body.size());
  EXPECT_TRUE(small.seen.empty() && big.seen.empty());
}

TEST(RequestParser, RefusalAtTheHeadReadsNoBodyAndNamesItsCode) {
  Harness h({}, routes);
  EXPECT_EQ(h.feed(post("/locked", 100)), 401);
  EXPECT_EQ(h.parser.errorCode(), "MESH_AUTH_FAILED");
  EXPECT_FALSE(h.parser.wantsContinue());
  EXPECT_EQ(h.feed(std::string(100, 'x')), 401);  // stays failed; the body is never delivered
  EXPECT_TRUE(h.seen.empty());
  Harness other({}, routes);  // a route without refusal still reads its body
  ASSERT_EQ(other.feed(post("/set", 2) + "ok"), 0);
  ASSERT_EQ(other.seen.size(), 1u);
  EXPECT_EQ(other.parser.errorCode(), "");
}

TEST(RequestParser, SharedBodyBudgetRefusesWith503AndGivesEverythingBack) {
  BodyBudget budget(256 * 1024);
  Harness a({}, routes, &budget), b({}, routes, &budget);
  ASSERT_EQ(a.feed(post("/big", 200 * 1024) + std::string(150 * 1024, 'a')), 0);
  EXPECT_GE(budget.used(), 149u * 1024);  // (less the few bytes a string holds inline)
  EXPECT_LE(budget.used(), 200u * 1024);  // capacity, capped at the declared length
  EXPECT_EQ(b.feed(post("/big", 200 * 1024) + std::string(120 * 1024, 'b')), 503);
  EXPECT_LE(budget.used(), 200u * 1024) << "the refused body's bytes were not released";
  ASSERT_EQ(a.feed(std::string(50 * 1024, 'a')), 0);  // a completes: its buffer goes back
  ASSERT_EQ(a.seen.size(), 1u);
  EXPECT_EQ(budget.used(), 0u);
  {
    Harness gone({}, routes, &budget);  // a connection dropped mid-body releases on destruction
    ASSERT_EQ(gone.feed(post("/big", 100 * 1024) + std::string(10 * 1024, 'g')), 0);
    EXPECT_GT(budget.used(), 0u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(RequestParser, ChunkDataRunningPastItsSizeIs400AtEveryCut) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  // http-parser (non-strict) would take "12" as the CRLF and "345" as the next chunk's size.
  const std::string bad = head + "5\r\nhello12345\r\n0\r\n\r\n";
  const std::string good = head + "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
  for (size_t cut = 1; cut < bad.size(); ++cut) {
    Harness h;
    int first = h.feed(bad.substr(0, cut));
    int second = first != 0 ? first : h.feed(bad.substr(cut));
    EXPECT_EQ(second, 400) << cut;
    EXPECT_TRUE(h.seen.empty()) << cut;
  }
  for (size_t cut = 1; cut < good.size(); ++cut) {
    Harness h;
    ASSERT_EQ(h.feed(good.substr(0, cut)), 0) << cut;
    ASSERT_EQ(h.feed(good.substr(cut)), 0) << cut;
    ASSERT_EQ(h.seen.size(), 1u) << cut;
    EXPECT_EQ(h.seen[0].body, "helloabc") << cut;
  }
}

TEST(RequestParser, ChunkSizeOverTheLimitIs413BeforeItsData) {
  ParserLimits l;
  l.maxBodyBytes = 8192;
  Harness h(l, routes);
  // A chunk of 0x100000 bytes announced, none sent: refused on the size line.
  EXPECT_EQ(h.feed("POST /set HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n"), 413);
  Harness sum(l, routes);  // chunks that fit one by one but not together
  EXPECT_EQ(sum.feed("POST /set HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" +
                     std::string(4096, 'x') + "\r\n1001\r\n"),
            413);
}

TEST(RequestParser, OnlyHttp1IsSpoken) {
  Harness nine;
  EXPECT_EQ(nine.feed("GET / HTTP/9.9\r\n\r\n"), 505);
  Harness two;
  EXPECT_EQ(two.feed("GET / HTTP/2.0\r\n\r\n"), 505);
  Harness zero;
  EXPECT_EQ(zero.feed("GET / HTTP/0.9\r\n\r\n"), 505);
  // A later 1.x minor is served as 1.1 (RFC 9110 2.5).
  Harness later;
  ASSERT_EQ(later.feed("GET /a HTTP/1.2\r\n\r\n"), 0);
  ASSERT_EQ(later.seen.size(), 1u);
  EXPECT_TRUE(later.seen[0].keepAlive);
}

}  // namespace
}  // namespace common::http

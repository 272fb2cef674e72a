// Black-box tests of /watch on real nodes: a write on node 1 reaches a watcher on node 2
// through replication, read by a raw-socket Server-Sent Events client (what a browser's
// EventSource does: one GET, then read the chunked stream) and by `curl -N`; a client that
// reconnects with Last-Event-ID gets exactly what it missed; bad input gets a 400 code.
// Every wait polls or reads with a deadline; nothing sleeps.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

// A raw SSE client: GET /watch, then accumulate the stream's bytes. Events are whole inside
// the chunks the node sends, so the tests search the raw bytes.
class SseClient {
 public:
  SseClient(const NodeProcess& node, const std::string& query, const std::string& extraHeaders) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(node.port()));
    a.sin_addr.s_addr = inet_addr(node.id().c_str());
    timeval tv{0, 200 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    std::string req = "GET /watch" + query +
                      " HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n" + extraHeaders +
                      "\r\n";
    ok_ = ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  ~SseClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Reads until `what` arrived (true) or `timeoutMs` passed / the stream closed (false).
  bool waitFor(const std::string& what, int timeoutMs = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (got_.find(what) == std::string::npos) {
      if (!ok_ || std::chrono::steady_clock::now() > deadline) return false;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return got_.find(what) != std::string::npos;
      if (n > 0) got_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  const std::string& got() const { return got_; }
  // The id of the event whose data carries `needle`.
  std::string idOf(const std::string& needle) const {
    size_t at = got_.find(needle);
    size_t id = got_.rfind("id: ", at);
    if (at == std::string::npos || id == std::string::npos) return "";
    return got_.substr(id + 4, got_.find('\n', id) - id - 4);
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string got_;
};

long watchNumber(const NodeProcess& n, const char* field) {
  auto r = n.get("/status");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.HasMember("watch")) return -1;
  return d["watch"][field].GetInt64();
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(c_.addNode(-1), 0);
    ASSERT_EQ(c_.addNode(0), 1);
    ASSERT_TRUE(waitFor([&] { return statusReady(c_.node(1).get("/status")); }, 20000));
  }
  // Sets on node 1 and waits until node 2 has it (replicated).
  void setAndReplicate(const std::string& k, const std::string& v) {
    ASSERT_EQ(c_.node(0).get("/set?k=" + k + "&v=" + v).status, 200);
    ASSERT_TRUE(waitFor([&] { return c_.node(1).get("/get?k=" + k).status == 200; }, 10000));
  }
  Cluster c_{"watch"};
};

TEST_F(WatchTest, AWriteOnNode1ReachesAnSseWatcherOnNode2) {
  SseClient w(c_.node(1), "?prefix=user%3A", "");
  ASSERT_TRUE(w.waitFor("\r\n\r\n"));
  EXPECT_NE(w.got().find("Content-Type: text/event-stream"), std::string::npos);
  ASSERT_EQ(c_.node(0).get("/set?k=other&v=1").status, 200);
  ASSERT_EQ(c_.node(0).get("/set?k=user%3A1&v=ada").status, 200);
  ASSERT_EQ(c_.node(0).get("/rm?k=user%3A1").status, 200);
  ASSERT_TRUE(w.waitFor("\"kind\":\"rm\""));
  EXPECT_NE(w.got().find("event: set\ndata: {\"id\":"), std::string::npos);
  EXPECT_NE(w.got().find("\"key\":\"user:1\",\"value\":\"ada\""), std::string::npos);
  EXPECT_NE(w.got().find("\"origin\":\"" + c_.node(0).id() + "\""), std::string::npos);
  EXPECT_EQ(w.got().find("\"key\":\"other\""), std::string::npos);  // not its prefix
  EXPECT_GE(watchNumber(c_.node(1), "eventsSent"), 2);
  EXPECT_EQ(watchNumber(c_.node(1), "watchers"), 1);
}

TEST_F(WatchTest, CurlNoBufferReadsTheStream) {
  // The shell writes its pid and becomes curl, so the test can end curl when it has read enough.
  std::string pidFile = c_.dir() + "/curl.pid";
  std::string cmd =
      "echo $$ > " + pidFile + "; exec curl -sN -m 15 '" + c_.node(1).url() + "/watch?prefix=c'";
  FILE* curl = ::popen(cmd.c_str(), "r");
  ASSERT_NE(curl, nullptr);
  ASSERT_TRUE(waitFor([&] { return watchNumber(c_.node(1), "watchers") == 1; }, 10000));
  ASSERT_EQ(c_.node(0).get("/set?k=curl1&v=seen").status, 200);
  std::string got;
  char line[4096];
  while (got.find("\"value\":\"seen\"") == std::string::npos &&
         std::fgets(line, sizeof line, curl) != nullptr) {
    got += line;
  }
  if (FILE* f = std::fopen(pidFile.c_str(), "r")) {
    int pid = 0;
    if (std::fscanf(f, "%d", &pid) == 1 && pid > 0) ::kill(pid, SIGTERM);
    std::fclose(f);
  }
  ::pclose(curl);  // curl ends at -m 15 at the latest
  EXPECT_NE(got.find("event: set"), std::string::npos) << got;
  EXPECT_NE(got.find("\"key\":\"curl1\",\"value\":\"seen\""), std::string::npos) << got;
}

TEST_F(WatchTest, ReconnectingWithLastEventIdGetsWhatItMissed) {
  std::string lastId;
  {
    SseClient w(c_.node(1), "?prefix=r", "");
    ASSERT_TRUE(w.waitFor("\r\n\r\n"));
    setAndReplicate("r1", "one");
    ASSERT_TRUE(w.waitFor("\"value\":\"one\""));
    lastId = w.idOf("\"value\":\"one\"");
    ASSERT_FALSE(lastId.empty());
  }
  setAndReplicate("r2", "two");
  setAndReplicate("x", "not-mine");
  setAndReplicate("r3", "three");
  SseClient header(c_.node(1), "?prefix=r", "Last-Event-ID: " + lastId + "\r\n");
  ASSERT_TRUE(header.waitFor("\"value\":\"three\""));
  EXPECT_NE(header.got().find("\"value\":\"two\""), std::string::npos);
  EXPECT_EQ(header.got().find("\"value\":\"one\""), std::string::npos);  // it had that one
  EXPECT_EQ(header.got().find("not-mine"), std::string::npos);

  SseClient query(c_.node(1), "?prefix=r&lastEventId=" + lastId,
                  "");  // EventSource can't set headers
  ASSERT_TRUE(query.waitFor("\"value\":\"three\""));

  // Another life of the node (or a forgotten id): a reset, so the client re-lists.
  SseClient stale(c_.node(1), "?prefix=r", "Last-Event-ID: 0123456789ab-1\r\n");
  ASSERT_TRUE(stale.waitFor("event: reset"));
  EXPECT_NE(stale.got().find("\"reason\":\"too-old\""), std::string::npos);
  setAndReplicate("r4", "four");  // the stream goes on after the reset
  EXPECT_TRUE(stale.waitFor("\"value\":\"four\""));
}

TEST_F(WatchTest, BadInputIsA400WithItsCode) {
  auto badId = c_.node(1).get("/watch?lastEventId=yesterday");
  EXPECT_EQ(badId.status, 400);
  EXPECT_EQ(badId.body, "{\"error\":\"INVALID_LAST_EVENT_ID\"}");
  auto badPrefix = c_.node(1).get("/watch?prefix=%FF");
  EXPECT_EQ(badPrefix.status, 400);
  EXPECT_EQ(badPrefix.body, "{\"error\":\"INVALID_ENCODING\"}");
  auto twice = c_.node(1).get("/watch?prefix=a&prefix=b");
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(twice.body, "{\"error\":\"DUPLICATE_PARAM\"}");
  EXPECT_EQ(watchNumber(c_.node(1), "watchers"), 0);
}

}  // namespace
}  // namespace meshtest

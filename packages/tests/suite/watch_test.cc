// Change streams as a client sees them: GET /watch?c=&prefix= and the REST interface's
// GET /kv/C?watch=1, read by a raw connection the way a browser's EventSource or `curl -N` reads
// them (one GET, then the chunked body as it comes), as Server-Sent Events and as NDJSON
// (Accept: application/x-ndjson); a reconnect with Last-Event-ID gets what it missed from the
// node that sent the id, or a `reset` from any other; bad input is a 400 with its own code.
// Run alone and through the balancer (scripts/integration.sh): there the stream is a long-lived
// response through the TCP proxy, and the watcher and the writer may be on different nodes, so
// every wait reads with a deadline (the write reaches the watcher's node by replication).
#include <rapidjson/document.h>

#include <functional>

#include "tests/suite/testing.h"

namespace suite {
namespace {

using Watch = ApiTest;
using std::chrono::milliseconds;

struct WatchEvent {
  std::string id, kind, collection, key, value, reason;
};

std::string epochOf(const std::string& id) {
  return id.substr(0, id.find('-'));
}

// One watch request on its own connection, its head and its events as they arrive.
class WatchStream {
 public:
  // `headers`: extra header lines, each ending in "\r\n".
  explicit WatchStream(const std::string& pathAndQuery, const std::string& headers = "") {
    sent_ = conn_.ok() && conn_.sendAll("GET " + pathAndQuery + " HTTP/1.1\r\nHost: suite\r\n" +
                                        headers + "\r\n");
  }

  // Reads until the response head arrived (false at the deadline or on close).
  bool readHead(milliseconds deadline = milliseconds(5000)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (sent_ && conn_.received().find("\r\n\r\n") == std::string::npos) {
      auto left =
          std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !conn_.readSome(left)) return false;
    }
    if (!sent_) return false;
    size_t end = conn_.received().find("\r\n\r\n");
    std::string head = conn_.received().substr(0, end);
    status_ = head.size() >= 12 ? std::atoi(head.c_str() + 9) : 0;
    for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        headers_[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = next;
    }
    pos_ = end + 4;
    ndjson_ = header("content-type").rfind("application/x-ndjson", 0) == 0;
    return true;
  }
  int status() const { return status_; }
  std::string header(const std::string& lowerName) const {
    auto it = headers_.find(lowerName);
    return it == headers_.end() ? "" : it->second;
  }

  // Reads until pred(events so far) holds; false at the deadline or when the stream ended first.
  bool waitFor(const std::function<bool(const std::vector<WatchEvent>&)>& pred,
               milliseconds deadline = milliseconds(5000)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (true) {
      decode();
      if (pred(events_)) return true;
      auto left =
          std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !conn_.readSome(left)) {
        decode();
        return pred(events_);
      }
    }
  }
  // The first event of `kind` for `key` (null if none yet).
  const WatchEvent* find(const std::string& kind, const std::string& key) const {
    for (const auto& e : events_) {
      if (e.kind == kind && e.key == key) return &e;
    }
    return nullptr;
  }
  bool has(const std::string& kind, const std::string& key) {
    return waitFor([&](const auto&) { return find(kind, key) != nullptr; });
  }
  const std::vector<WatchEvent>& events() const { return events_; }

 private:
  // Moves the complete chunks past pos_ into body_, then the complete events out of body_.
  void decode() {
    const std::string& in = conn_.received();
    while (true) {
      size_t eol = in.find("\r\n", pos_);
      if (eol == std::string::npos) break;
      size_t size = std::strtoul(in.substr(pos_, eol - pos_).c_str(), nullptr, 16);
      if (in.size() < eol + 2 + size + 2) break;
      body_.append(in, eol + 2, size);
      pos_ = eol + 2 + size + 2;
      if (size == 0) break;
    }
    const char* sep = ndjson_ ? "\n" : "\n\n";
    for (size_t end; (end = body_.find(sep)) != std::string::npos;) {
      std::string frame = body_.substr(0, end);
      body_.erase(0, end + std::strlen(sep));
      std::string data = frame;
      if (!ndjson_) {  // "id: ..\nevent: ..\ndata: {..}", or ":" (a heartbeat)
        size_t at = frame.find("data: ");
        data = at == std::string::npos ? "" : frame.substr(at + 6, frame.find('\n', at) - at - 6);
      }
      if (data.empty()) continue;  // a heartbeat
      auto d = parseJson(data);
      WatchEvent e;
      if (!d || !d->IsObject()) {
        e.kind = "unparsable: " + data;
      } else {
        auto str = [&](const char* name) {
          return d->HasMember(name) && (*d)[name].IsString()
                     ? std::string((*d)[name].GetString(), (*d)[name].GetStringLength())
                     : std::string();
        };
        e = {str("id"), str("kind"), str("collection"), str("key"), str("value"), str("reason")};
        if (!ndjson_) {  // the frame's own id: and event: lines agree with its data
          EXPECT_NE(frame.find("id: " + e.id + "\n"), std::string::npos) << frame;
          EXPECT_NE(frame.find("event: " + e.kind + "\n"), std::string::npos) << frame;
        }
      }
      events_.push_back(std::move(e));
    }
  }

  RawConn conn_;
  bool sent_ = false;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  size_t pos_ = 0;  // the first undecoded byte of conn_.received()
  bool ndjson_ = false;
  std::string body_;
  std::vector<WatchEvent> events_;
};

const std::string kNdjson = "Accept: application/x-ndjson\r\n";

// The c= of a query ("" for the default collection: no c=).
std::string in(const std::string& collection) {
  return collection.empty() ? "" : "c=" + enc(collection) + "&";
}

// Watches `path` (of collection `c`, keys under `p`) and checks that a set and then an rm in c
// under p arrive as they happen, with their collection, key and value, and nothing else.
void expectChangesArrive(Client& writer, const std::string& path, const std::string& headers,
                         const std::string& c, const std::string& p, const char* contentType) {
  WatchStream w(path, headers);
  ASSERT_TRUE(w.readHead());
  ASSERT_EQ(w.status(), 200);
  EXPECT_EQ(w.header("content-type").rfind(contentType, 0), 0u) << w.header("content-type");
  EXPECT_EQ(w.header("cache-control"), "no-cache");
  expectSuccess(writer.get("/set?" + in(key("elsewhere")) + "k=" + enc(p + "1") + "&v=x"));
  expectSuccess(writer.get("/set?" + in(c) + "k=" + enc(key("outside")) + "&v=x"));
  expectSuccess(writer.get("/set?" + in(c) + "k=" + enc(p + "1") + "&v=ada%20%E2%9C%93"));
  ASSERT_TRUE(w.has("set", p + "1"));
  const WatchEvent& set = *w.find("set", p + "1");
  EXPECT_EQ(set.collection, c);
  EXPECT_EQ(set.value, "ada \xE2\x9C\x93");
  EXPECT_FALSE(set.id.empty());
  // The response stays open: a later change arrives on it too.
  expectSuccess(writer.get("/rm?" + in(c) + "k=" + enc(p + "1")));
  ASSERT_TRUE(w.has("rm", p + "1"));
  EXPECT_EQ(w.find("rm", p + "1")->collection, c);
  for (const auto& e : w.events()) {  // another collection's key, a key outside the prefix
    EXPECT_TRUE(e.collection == c && e.key.rfind(p, 0) == 0) << e.kind << " " << e.key;
  }
}

TEST_F(Watch, RestWatchStreamsACollectionsChangesAsServerSentEvents) {
  std::string c = key("watch-rest"), p = key("w:");
  expectChangesArrive(c_, "/kv/" + enc(c) + "?watch=1&prefix=" + enc(p), "", c, p,
                      "text/event-stream");
}

TEST_F(Watch, RestWatchStreamsNdjsonWhenAsked) {
  std::string c = key("watch-rest-nd"), p = key("w:");
  expectChangesArrive(c_, "/kv/" + enc(c) + "?watch=1&prefix=" + enc(p), kNdjson, c, p,
                      "application/x-ndjson");
}

TEST_F(Watch, WatchRouteStreamsTheSameAsServerSentEventsAndNdjson) {
  std::string c = key("watch-get"), p = key("w:");
  expectChangesArrive(c_, "/watch?" + in(c) + "prefix=" + enc(p), "", c, p, "text/event-stream");
  expectChangesArrive(c_, "/watch?" + in(c) + "prefix=" + enc(p), kNdjson, c, p,
                      "application/x-ndjson");
}

TEST_F(Watch, TheDefaultCollectionIsUnderscore) {
  std::string p = key("w:default:");
  expectChangesArrive(c_, "/kv/_?watch=1&prefix=" + enc(p), "", "", p, "text/event-stream");
}

// Reconnects with the id of a first event after a second write: the node that sent the id
// replays what followed it (the second write, not the first again); any other node (through
// the balancer, a new connection may reach one) answers a reset, since its ids are not that
// node's. Reconnects until it reaches the first node again (round robin over the backends).
void expectResume(Client& writer, const std::string& path, const std::string& headers,
                  const std::string& c, const std::string& p) {
  std::string first;
  {
    WatchStream w(path, headers);
    ASSERT_TRUE(w.readHead());
    ASSERT_EQ(w.status(), 200);
    expectSuccess(writer.get("/set?" + in(c) + "k=" + enc(p + "1") + "&v=one"));
    ASSERT_TRUE(w.has("set", p + "1"));
    first = w.find("set", p + "1")->id;
  }
  expectSuccess(writer.get("/set?" + in(c) + "k=" + enc(p + "2") + "&v=two"));
  bool resumed = false;
  for (int attempt = 0; attempt < 12 && !resumed; ++attempt) {
    WatchStream w(path, headers + "Last-Event-ID: " + first + "\r\n");
    ASSERT_TRUE(w.readHead());
    ASSERT_EQ(w.status(), 200);
    ASSERT_TRUE(w.waitFor([](const auto& events) { return !events.empty(); }));
    const WatchEvent e = w.events().front();
    if (epochOf(e.id) != epochOf(first)) {
      EXPECT_EQ(e.kind, "reset") << "another node answered " << e.kind << " " << e.key;
      EXPECT_EQ(e.reason, "too-old");
      continue;
    }
    EXPECT_EQ(e.kind, "set");
    EXPECT_EQ(e.key, p + "2");
    EXPECT_EQ(e.value, "two");
    EXPECT_EQ(w.find("set", p + "1"), nullptr) << "the event of the id itself came again";
    resumed = true;
  }
  EXPECT_TRUE(resumed) << "12 reconnects never reached the node of the first stream";
}

TEST_F(Watch, LastEventIdResumesWithWhatWasMissedSse) {
  std::string c = key("watch-resume");
  expectResume(c_, "/kv/" + enc(c) + "?watch=1&prefix=" + enc(key("r:")), "", c, key("r:"));
}

TEST_F(Watch, LastEventIdResumesWithWhatWasMissedNdjson) {
  std::string c = key("watch-resume-nd");
  expectResume(c_, "/watch?" + in(c) + "prefix=" + enc(key("r:")), kNdjson, c, key("r:"));
}

TEST_F(Watch, AnIdOfAnotherLifeGetsAResetFirst) {
  WatchStream w("/kv/" + enc(key("watch-old")) + "?watch=1", "Last-Event-ID: 0123abcd-7\r\n");
  ASSERT_TRUE(w.readHead());
  ASSERT_EQ(w.status(), 200);
  ASSERT_TRUE(w.waitFor([](const auto& events) { return !events.empty(); }));
  EXPECT_EQ(w.events().front().kind, "reset");
  EXPECT_EQ(w.events().front().reason, "too-old");
}

TEST_F(Watch, BadInputIsA400WithItsOwnCode) {
  std::string c = "/kv/" + enc(key("watch-bad"));
  for (const char* v : {"2", "true", "", "yes"}) {
    expectError(c_.get(c + "?watch=" + v), 400, "INVALID_WATCH");
  }
  expectError(c_.get(c + "?watch=1&watch=1"), 400, "DUPLICATE_PARAM");
  expectError(c_.get(c + "?watch=1&c=" + enc(key("other"))), 400, "DUPLICATE_PARAM");
  expectError(c_.get(c + "?watch=1&lastEventId=nope"), 400, "INVALID_LAST_EVENT_ID");
  expectError(c_.get(c + "?watch=1&prefix=%FF"), 400, "INVALID_ENCODING");
  expectError(c_.get("/watch?c="), 400, "INVALID_COLLECTION");
}

TEST_F(Watch, WatchZeroIsTheCollectionsList) {
  std::string c = key("watch-zero"), k = key("wz");
  expectSuccess(c_.get("/set?" + in(c) + "k=" + enc(k) + "&v=v"));
  Response r = eventuallyGet(c_, "/kv/" + enc(c) + "?watch=0", 200);
  EXPECT_TRUE(eventually([&] {
    r = c_.get("/kv/" + enc(c) + "?watch=0");
    return r.status == 200 && r.body.find(k) != std::string::npos;
  })) << describe(r);
}

}  // namespace
}  // namespace suite

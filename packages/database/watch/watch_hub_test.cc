// The hub as a watcher's client sees it, without sockets: entries appended to the hub, turns
// ended, and what each watcher's connection would pull (produce) checked as text.
#include "database/watch/watch_hub.h"
#include "database/watch/watch_route.h"

#include <gtest/gtest.h>

namespace db::watch {
namespace {

class HubTest : public ::testing::Test {
 protected:
  void make(WatchOptions o = {}) { hub_ = std::make_unique<WatchHub>(nullptr, o, "e1"); }

  std::unique_ptr<Watcher> open(std::string prefix, std::optional<EventId> after = {},
                                int* wakes = nullptr) {
    auto w =
        hub_->open(WatchRequest{std::move(prefix), Format::kNdjson, std::move(after)}, [wakes] {
          if (wakes) ++*wakes;
        });
    EXPECT_TRUE(w.ok());
    return w.ok() ? std::move(*w) : nullptr;
  }

  void set(std::string_view key, std::string_view value = "v") {
    hub_->onAppend(++ticket_, LogEntry{Mutation::Kind::kPut, key, value, ticket_, "n1"},
                   Source::kClient);
  }

  // What the connection would send now, and whether the stream goes on.
  static std::string pull(Watcher& w, bool* more = nullptr) {
    std::string out;
    bool m = w.produce(out, 1 << 20);
    if (more) *more = m;
    return out;
  }
  static int count(const std::string& s, std::string_view what) {
    int n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
  }

  std::unique_ptr<WatchHub> hub_;
  Ticket ticket_ = 0;
};

TEST_F(HubTest, EachWatcherGetsItsPrefixAndIsWokenOncePerTurn) {
  make();
  int wakesA = 0, wakesAll = 0, wakesB = 0;
  auto a = open("a/", {}, &wakesA);
  auto all = open("", {}, &wakesAll);
  auto b = open("b/", {}, &wakesB);
  EXPECT_TRUE(a->paused());
  set("a/1");
  set("a/2");
  set("c/1");
  hub_->onTurnEnd();
  EXPECT_EQ(wakesA, 1);
  EXPECT_EQ(wakesAll, 1);
  EXPECT_EQ(wakesB, 0);
  std::string got = pull(*a);
  EXPECT_EQ(count(got, "\"kind\":\"set\""), 2);
  EXPECT_NE(got.find("\"key\":\"a/2\""), std::string::npos);
  EXPECT_EQ(count(pull(*all), "\n"), 3);
  EXPECT_TRUE(a->paused());
  EXPECT_EQ(hub_->stats().eventsSent, 5u);
  EXPECT_EQ(hub_->stats().open, 3u);
}

TEST_F(HubTest, ClearReachesEveryPrefix) {
  make();
  auto a = open("a/");
  hub_->onAppend(++ticket_, LogEntry{Mutation::Kind::kClear, "", "", 1, "n2"}, Source::kPeer);
  EXPECT_NE(pull(*a).find("\"kind\":\"clear\""), std::string::npos);
}

TEST_F(HubTest, ResumeReplaysWhatWasMissedOrResets) {
  make(WatchOptions{.ringEvents = 4});
  open("").reset();  // a watcher came and went: the ring is kept from then on
  for (int i = 1; i <= 6; ++i) set("k" + std::to_string(i));  // the ring keeps 3..6
  auto resumed = open("k", EventId{"e1", 4});
  std::string got = pull(*resumed);
  EXPECT_EQ(got.find("\"key\":\"k4\""), std::string::npos);
  EXPECT_NE(got.find("{\"id\":\"e1-5\""), std::string::npos);
  EXPECT_NE(got.find("{\"id\":\"e1-6\""), std::string::npos);
  EXPECT_EQ(count(got, "\n"), 2);

  auto tooOld = open("k", EventId{"e1", 1});
  EXPECT_EQ(pull(*tooOld), "{\"id\":\"e1-6\",\"kind\":\"reset\",\"reason\":\"too-old\"}\n");
  auto otherLife = open("k", EventId{"ffff", 6});
  EXPECT_NE(pull(*otherLife).find("\"reason\":\"too-old\""), std::string::npos);
  // After a reset, live events follow on the same stream.
  set("k7");
  EXPECT_NE(pull(*tooOld).find("\"key\":\"k7\""), std::string::npos);
}

TEST_F(HubTest, WithoutAWatcherThisLifeNothingIsKeptAndAResumeResets) {
  make();
  for (int i = 1; i <= 3; ++i) set("k" + std::to_string(i));
  EXPECT_EQ(hub_->ring().size(), 0u);
  EXPECT_EQ(hub_->ring().bytes(), 0u);
  // An id of this life can only come from a client that watched it; none did, so a reset.
  auto w = open("k", EventId{"e1", 1});
  EXPECT_EQ(pull(*w), "{\"id\":\"e1-3\",\"kind\":\"reset\",\"reason\":\"too-old\"}\n");
  set("k4");  // kept from the first watcher on, and delivered
  EXPECT_EQ(hub_->ring().size(), 1u);
  EXPECT_NE(pull(*w).find("{\"id\":\"e1-4\""), std::string::npos);
}

TEST_F(HubTest, TheRingIsDroppedOnceNoWatcherCameForTheBacklogTtl) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  {
    WatchHub hub(&loop, WatchOptions{.backlogTtlMs = 60000}, "e1");
    auto put = [&](Ticket t) {
      hub.onAppend(t, LogEntry{Mutation::Kind::kPut, "k", "v", t, "n1"}, Source::kClient);
    };
    auto w = hub.open(WatchRequest{"", Format::kNdjson, {}}, [] {});
    ASSERT_TRUE(w.ok());
    w->reset();  // the last watcher left at the loop's time T
    put(1);
    put(2);
    EXPECT_EQ(hub.ring().size(), 2u);  // within the ttl: a reconnecting client can resume
    auto again = hub.open(WatchRequest{"", Format::kNdjson, EventId{"e1", 1}}, [] {});
    ASSERT_TRUE(again.ok());
    std::string out;
    (*again)->produce(out, 1 << 20);
    EXPECT_NE(out.find("{\"id\":\"e1-2\""), std::string::npos);
    again->reset();
    // The loop's clock moves on past the ttl (uv_now is the cached loop time).
    loop.time += 60000;
    put(3);
    EXPECT_EQ(hub.ring().size(), 0u);
    EXPECT_EQ(hub.ring().bytes(), 0u);
    auto late = hub.open(WatchRequest{"", Format::kNdjson, EventId{"e1", 2}}, [] {});
    ASSERT_TRUE(late.ok());
    out.clear();
    (*late)->produce(out, 1 << 20);
    EXPECT_NE(out.find("\"reason\":\"too-old\""), std::string::npos);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST_F(HubTest, ASlowWatcherIsResetAndEndedAtItsByteLimit) {
  make(WatchOptions{.watcherBytes = 4096});
  int wakes = 0;
  auto slow = open("", {}, &wakes);
  auto fast = open("");
  for (int i = 0; i < 100; ++i) {
    set("k" + std::to_string(i), std::string(100, 'x'));
    pull(*fast);
  }
  EXPECT_EQ(hub_->stats().dropped, 1u);
  EXPECT_EQ(hub_->stats().open, 1u);  // the fast one
  EXPECT_LE(slow->backlog(), 4096u);
  hub_->onTurnEnd();
  EXPECT_EQ(wakes, 1);
  bool more = true;
  std::string got = pull(*slow, &more);
  EXPECT_NE(got.find("\"kind\":\"reset\",\"reason\":\"slow\""), std::string::npos);
  EXPECT_EQ(count(got, "\n"), 1);  // what it had queued is gone: only the reset
  EXPECT_FALSE(more);              // then the stream ends
  set("late");
  EXPECT_EQ(slow->backlog(), 0u);  // nothing queued after the drop
}

TEST_F(HubTest, RefusesWatchersPastTheMaximumUntilOneLeaves) {
  make(WatchOptions{.maxWatchers = 2});
  auto a = open("");
  auto b = open("");
  auto c = hub_->open(WatchRequest{}, [] {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "TOO_MANY_WATCHERS");
  a.reset();
  EXPECT_EQ(hub_->stats().open, 1u);
  EXPECT_TRUE(hub_->open(WatchRequest{}, [] {}).ok());
}

TEST_F(HubTest, AWatcherMayBeDestroyedInsideItsWake) {
  make();
  std::unique_ptr<Watcher> a, b;
  auto wa = hub_->open(WatchRequest{}, [&] { a.reset(); });
  auto wb = hub_->open(WatchRequest{}, [&] { b.reset(); });
  a = std::move(*wa);
  b = std::move(*wb);
  set("k");
  hub_->onTurnEnd();  // ASan: no use after free
  EXPECT_EQ(a, nullptr);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(hub_->stats().open, 0u);
  set("k2");
  hub_->onTurnEnd();
}

TEST_F(HubTest, AWipeResetsWatchersAndOldIds) {
  make();
  auto w = open("");
  set("a");
  pull(*w);
  hub_->onReset();
  EXPECT_NE(pull(*w).find("\"reason\":\"wiped\""), std::string::npos);
  auto before = open("", EventId{"e1", 0});
  EXPECT_NE(pull(*before).find("\"reason\":\"too-old\""), std::string::npos);
  auto at = open("", EventId{"e1", 1});  // the id of the wipe's reset: resumes
  set("b");
  EXPECT_NE(pull(*at).find("\"key\":\"b\""), std::string::npos);
}

TEST_F(HubTest, CloseEndsEveryStreamAndRefusesNewOnes) {
  make();
  auto w = open("");
  set("a");
  hub_->close();
  bool more = true;
  EXPECT_NE(pull(*w, &more).find("\"key\":\"a\""), std::string::npos);  // what was queued
  EXPECT_FALSE(more);
  auto late = hub_->open(WatchRequest{}, [] {});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "STOPPING");
}

TEST_F(HubTest, AWatcherSeesItsCollectionOnly) {
  make();
  auto inUsers = hub_->open(WatchRequest{"a", Format::kNdjson, {}, "users"}, [] {});
  ASSERT_TRUE(inUsers.ok());
  auto users = std::move(*inUsers);
  auto byDefault = open("a");
  hub_->onAppend(++ticket_, LogEntry{Mutation::Kind::kPut, "a1", "v", 1, "n1", "users"},
                 Source::kClient);
  hub_->onAppend(++ticket_, LogEntry{Mutation::Kind::kPut, "b1", "v", 2, "n1", "users"},
                 Source::kClient);
  set("a2");
  hub_->onAppend(++ticket_, LogEntry{Mutation::Kind::kClear, "", "", 3, "n1", "orders"},
                 Source::kClient);
  hub_->onAppend(++ticket_, LogEntry{Mutation::Kind::kClear, "", "", 4, "n1", "users"},
                 Source::kClient);
  std::string got = pull(*users);
  EXPECT_EQ(count(got, "\n"), 2) << got;  // a1 and the clear of users
  EXPECT_NE(got.find("\"collection\":\"users\",\"key\":\"a1\""), std::string::npos);
  EXPECT_NE(got.find("\"kind\":\"clear\",\"collection\":\"users\""), std::string::npos);
  std::string def = pull(*byDefault);
  EXPECT_EQ(count(def, "\n"), 1) << def;  // a2 only: neither collection's changes
  EXPECT_NE(def.find("\"collection\":\"\",\"key\":\"a2\""), std::string::npos);
  // A resume replays the collection's changes only, too.
  auto again = hub_->open(WatchRequest{"", Format::kNdjson, EventId{"e1", 0}, "users"}, [] {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(count(pull(**again), "\n"), 3);  // a1, b1, the clear of users
}

TEST(WatchRoute, ParsesTheCollection) {
  auto r = parseWatchRequest("c=users&prefix=a", "", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->collection, "users");
  EXPECT_EQ(parseWatchRequest("c=", "", "").error().code, "INVALID_COLLECTION");
  EXPECT_EQ(parseWatchRequest("c=a&c=b", "", "").error().code, "DUPLICATE_PARAM");
  EXPECT_EQ(parseWatchRequest(std::string("c=") + std::string(65, 'c'), "", "").error().code,
            "MAXIMUM_COLLECTION_LENGTH_REACHED");
}

}  // namespace
}  // namespace db::watch

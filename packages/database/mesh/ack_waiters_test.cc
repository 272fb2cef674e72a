// AckWaiters: a w=quorum/all write is answered once, when enough peers acked its batch, when the
// peers it waits for are gone, or at its deadline.
#include "database/mesh/ack_waiters.h"

#include <gtest/gtest.h>

#include <optional>
#include <utility>

namespace db {
namespace {

struct Answer {
  std::optional<std::pair<bool, int>> got;
  int calls = 0;
  AckWaiters::Done done() {
    return [this](bool ok, int acked) {
      got = {ok, acked};
      ++calls;
    };
  }
};

TEST(AckWaiters, AnswersOnceEnoughPeersAckedTheBatch) {
  AckWaiters w;
  Answer a;
  w.add(/*seq=*/5, /*needed=*/3, /*acked=*/1, {"b", "c"}, 1000, a.done());
  w.ack("b", 4);  // an older batch: does not cover seq 5
  EXPECT_EQ(a.calls, 0);
  w.ack("b", 5);
  EXPECT_EQ(a.calls, 0);
  w.ack("b", 6);  // the same peer again counts once
  EXPECT_EQ(a.calls, 0);
  w.ack("c", 9);
  ASSERT_EQ(a.calls, 1);
  EXPECT_EQ(*a.got, std::make_pair(true, 3));
  EXPECT_TRUE(w.empty());
}

TEST(AckWaiters, APeerGoneNoLongerCounts) {
  AckWaiters w;
  Answer a;
  w.add(1, 3, 1, {"b", "c"}, 1000, a.done());
  w.ack("b", 1);
  w.peerGone("c");  // w=all now means every node still alive: this one and b
  ASSERT_EQ(a.calls, 1);
  EXPECT_EQ(*a.got, std::make_pair(true, 2));
}

TEST(AckWaiters, ExpiresAtTheDeadlineOnly) {
  AckWaiters w;
  Answer early;
  Answer late;
  w.add(1, 2, 1, {"b"}, 100, early.done());
  w.add(2, 2, 1, {"b"}, 300, late.done());
  EXPECT_EQ(w.earliestDeadline(), 100u);
  w.expire(99);
  EXPECT_EQ(early.calls, 0);
  w.expire(100);
  ASSERT_EQ(early.calls, 1);
  EXPECT_EQ(*early.got, std::make_pair(false, 1));
  EXPECT_EQ(late.calls, 0);
  EXPECT_EQ(w.earliestDeadline(), 300u);
}

TEST(AckWaiters, FailAllAnswersEveryWaiterNotOk) {
  AckWaiters w;
  Answer a;
  Answer b;
  w.add(1, 2, 1, {"b"}, 100, a.done());
  w.add(2, 3, 1, {"b", "c"}, 100, b.done());
  w.failAll();
  EXPECT_EQ(*a.got, std::make_pair(false, 1));
  EXPECT_EQ(*b.got, std::make_pair(false, 1));
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.earliestDeadline(), UINT64_MAX);
}

TEST(AckWaiters, AnAnswerThatAddsAWaiterDoesNotDisturbTheSweep) {
  AckWaiters w;
  Answer second;
  int firstCalls = 0;
  w.add(1, 2, 1, {"b"}, 1000, [&](bool, int) {
    ++firstCalls;
    w.add(2, 2, 1, {"b"}, 1000, second.done());  // the answer leads to a new write
  });
  w.ack("b", 1);
  EXPECT_EQ(firstCalls, 1);
  EXPECT_EQ(second.calls, 0);  // its batch (2) is not acked yet
  w.ack("b", 2);
  EXPECT_EQ(second.calls, 1);
}

}  // namespace
}  // namespace db

// Unit tests of the SWIM member table: precedence of alive/suspect/dead/left by incarnation,
// refutation, suspicion timeout, forgetting, probe target rotation. Pure logic, exact clocks.
#include "database/mesh/membership.h"

#include <gtest/gtest.h>

#include <set>

namespace db {
namespace {

MeshOptions opts() {
  MeshOptions o;
  o.suspicionTimeoutMs = 5000;
  o.deadRetentionMs = 60000;
  return o;
}

MemberUpdate up(std::string id, MemberState s, uint64_t inc) {
  return MemberUpdate{id, "http://" + id + ":1", s, inc};
}

TEST(Membership, LearnsAliveMembersButNotUnknownDeadOnes) {
  Membership m("a", "http://a:1", 100, opts());
  EXPECT_TRUE(m.apply(up("b", MemberState::kAlive, 5), 0));
  EXPECT_FALSE(m.apply(up("c", MemberState::kDead, 5), 0));
  EXPECT_FALSE(m.apply(up("d", MemberState::kLeft, 5), 0));
  ASSERT_NE(m.find("b"), nullptr);
  EXPECT_EQ(m.find("c"), nullptr);
  EXPECT_EQ(m.liveCount(), 2u);
  EXPECT_EQ(m.find("b")->url, "http://b:1");
}

TEST(Membership, GossipedMembersAreCandidatesUntilAdmittedAndAgainAtANewAddress) {
  Membership m("a", "http://a:1", 100, opts());
  m.requireAdmission(true);
  std::vector<std::pair<std::string, bool>> changes;  // id, admitted
  m.onChange([&](const Member& x, MemberState, bool) { changes.emplace_back(x.id, x.admitted); });
  ASSERT_TRUE(m.apply(up("b", MemberState::kAlive, 5), 0));
  ASSERT_NE(m.find("b"), nullptr);
  EXPECT_FALSE(m.find("b")->admitted);
  // A candidate is probed (that is how it proves itself) but is not a member yet.
  EXPECT_EQ(m.liveCount(), 1u);
  EXPECT_TRUE(m.liveMembers().empty());
  EXPECT_TRUE(m.indirectHelpers("x", 3).empty());
  EXPECT_EQ(m.gossip().size(), 1u);              // only self: candidates are not passed on
  EXPECT_EQ(m.nextProbeTarget(), std::nullopt);  // the owner pings it to admit it
  EXPECT_TRUE(m.forgetCandidate("b"));
  EXPECT_EQ(m.find("b"), nullptr);
  ASSERT_TRUE(m.apply(up("b", MemberState::kAlive, 5), 0));  // learnt again: a candidate again
  EXPECT_TRUE(m.admit("b", 1));
  EXPECT_EQ(m.nextProbeTarget(), std::optional<std::string>("b"));
  EXPECT_FALSE(m.forgetCandidate("b"));
  EXPECT_FALSE(m.admit("b", 2));   // once
  EXPECT_FALSE(m.admit("zz", 2));  // unknown
  EXPECT_EQ(changes.back(), std::make_pair(std::string("b"), true));
  EXPECT_EQ(m.liveCount(), 2u);
  EXPECT_EQ(m.gossip().size(), 2u);
  // The same member announced at another address must prove itself there.
  ASSERT_TRUE(m.apply(MemberUpdate{"b", "http://evil:1", MemberState::kAlive, 6}, 3));
  EXPECT_FALSE(m.find("b")->admitted);
  EXPECT_EQ(changes.back(), std::make_pair(std::string("b"), false));
  EXPECT_EQ(m.liveCount(), 1u);
}

TEST(Membership, PrecedenceFollowsIncarnations) {
  Membership m("a", "http://a:1", 100, opts());
  m.apply(up("b", MemberState::kAlive, 5), 0);
  // suspect(5) beats alive(5); alive(5) does not beat suspect(5); alive(6) does.
  EXPECT_TRUE(m.apply(up("b", MemberState::kSuspect, 5), 1));
  EXPECT_EQ(m.find("b")->state, MemberState::kSuspect);
  EXPECT_FALSE(m.apply(up("b", MemberState::kAlive, 5), 2));
  EXPECT_TRUE(m.apply(up("b", MemberState::kAlive, 6), 3));
  EXPECT_EQ(m.find("b")->state, MemberState::kAlive);
  // An old suspicion is ignored.
  EXPECT_FALSE(m.apply(up("b", MemberState::kSuspect, 5), 4));
  // dead(6) beats alive(6); alive(6) cannot resurrect it; alive(7) can (a refutation).
  EXPECT_TRUE(m.apply(up("b", MemberState::kDead, 6), 5));
  EXPECT_EQ(m.find("b")->state, MemberState::kDead);
  EXPECT_FALSE(m.apply(up("b", MemberState::kAlive, 6), 6));
  EXPECT_FALSE(m.apply(up("b", MemberState::kSuspect, 6), 6));
  EXPECT_TRUE(m.apply(up("b", MemberState::kAlive, 7), 7));
  EXPECT_EQ(m.find("b")->state, MemberState::kAlive);
  // left(7) beats alive(7) and is not taken back by dead(7).
  EXPECT_TRUE(m.apply(up("b", MemberState::kLeft, 7), 8));
  EXPECT_FALSE(m.apply(up("b", MemberState::kDead, 7), 9));
  EXPECT_EQ(m.find("b")->state, MemberState::kLeft);
}

TEST(Membership, RestartedNodeWithBootTimeIncarnationRejoins) {
  Membership m("a", "http://a:1", 100, opts());
  m.apply(up("b", MemberState::kAlive, 1000), 0);
  m.apply(up("b", MemberState::kDead, 1003), 10);  // refuted 3 times, then died
  EXPECT_EQ(m.find("b")->state, MemberState::kDead);
  EXPECT_TRUE(m.apply(MemberUpdate{"b", "http://b:2", MemberState::kAlive, 9000}, 20));
  EXPECT_EQ(m.find("b")->state, MemberState::kAlive);
  EXPECT_EQ(m.find("b")->url, "http://b:2");
}

TEST(Membership, SelfRefutesSuspicionAndDeath) {
  Membership m("a", "http://a:1", 100, opts());
  EXPECT_FALSE(m.apply(up("a", MemberState::kAlive, 500), 0));  // nobody changes our alive
  EXPECT_EQ(m.self().incarnation, 100u);
  EXPECT_TRUE(m.apply(up("a", MemberState::kSuspect, 100), 0));
  EXPECT_EQ(m.self().incarnation, 101u);
  EXPECT_FALSE(m.apply(up("a", MemberState::kSuspect, 100), 0));  // already refuted
  EXPECT_TRUE(m.apply(up("a", MemberState::kDead, 101), 0));
  EXPECT_EQ(m.self().incarnation, 102u);
  EXPECT_EQ(m.self().state, MemberState::kAlive);
  auto g = m.gossip();
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(g[0].id, "a");
  EXPECT_EQ(g[0].incarnation, 102u);
}

TEST(Membership, LeavingNodeAnnouncesLeftAndDoesNotRefute) {
  Membership m("a", "http://a:1", 100, opts());
  m.leave(5);
  EXPECT_EQ(m.self().state, MemberState::kLeft);
  EXPECT_EQ(m.self().incarnation, 101u);
  EXPECT_FALSE(m.apply(up("a", MemberState::kDead, 200), 6));
  EXPECT_EQ(m.gossip()[0].state, MemberState::kLeft);
  EXPECT_EQ(m.liveCount(), 0u);
}

TEST(Membership, SuspectBecomesDeadAfterTimeoutThenIsForgotten) {
  Membership m("a", "http://a:1", 100, opts());
  std::vector<std::pair<std::string, MemberState>> changes;
  m.onChange([&](const Member& mm, MemberState, bool) { changes.emplace_back(mm.id, mm.state); });
  m.apply(up("b", MemberState::kAlive, 1), 0);
  m.probeFailed("b", 1000);
  EXPECT_EQ(m.find("b")->state, MemberState::kSuspect);
  m.tick(5999);
  EXPECT_EQ(m.find("b")->state, MemberState::kSuspect);
  m.tick(6000);
  EXPECT_EQ(m.find("b")->state, MemberState::kDead);
  EXPECT_EQ(m.liveCount(), 1u);
  m.tick(6000 + 59999);
  ASSERT_NE(m.find("b"), nullptr);
  m.tick(6000 + 60000);
  EXPECT_EQ(m.find("b"), nullptr);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[1].second, MemberState::kSuspect);
  EXPECT_EQ(changes[2].second, MemberState::kDead);
}

TEST(Membership, RefutationClearsSuspicionBeforeTimeout) {
  Membership m("a", "http://a:1", 100, opts());
  m.apply(up("b", MemberState::kAlive, 1), 0);
  m.probeFailed("b", 1000);
  m.apply(up("b", MemberState::kAlive, 2), 3000);
  m.tick(10000);
  EXPECT_EQ(m.find("b")->state, MemberState::kAlive);
}

TEST(Membership, ProbesEveryLiveMemberInRoundsAndSometimesTheDead) {
  Membership m("a", "http://a:1", 100, opts(), 42);
  for (const char* id : {"b", "c", "d"}) m.apply(up(id, MemberState::kAlive, 1), 0);
  m.apply(up("e", MemberState::kAlive, 1), 0);
  m.apply(up("e", MemberState::kDead, 1), 0);
  std::multiset<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    auto t = m.nextProbeTarget();
    ASSERT_TRUE(t.has_value());
    seen.insert(*t);
  }
  EXPECT_EQ(seen.count("e"), 10u);  // every 4th pick
  for (const char* id : {"b", "c", "d"}) {
    EXPECT_GE(seen.count(id), 8u) << id;
    EXPECT_LE(seen.count(id), 12u) << id;
  }
  EXPECT_EQ(seen.count("a"), 0u);
}

TEST(Membership, NoProbeTargetWhenAlone) {
  Membership m("a", "http://a:1", 100, opts());
  EXPECT_FALSE(m.nextProbeTarget().has_value());
}

TEST(Membership, IndirectHelpersExcludeTargetAndNonAlive) {
  Membership m("a", "http://a:1", 100, opts());
  for (const char* id : {"b", "c", "d", "e"}) m.apply(up(id, MemberState::kAlive, 1), 0);
  m.probeFailed("e", 1);
  auto h = m.indirectHelpers("b", 3);
  std::set<std::string> hs(h.begin(), h.end());
  EXPECT_EQ(hs, (std::set<std::string>{"c", "d"}));
  EXPECT_EQ(m.indirectHelpers("b", 1).size(), 1u);
  EXPECT_TRUE(m.indirectHelpers("b", 0).empty());
}

MemberUpdate life(std::string id, MemberState s, uint64_t inc, uint64_t epoch) {
  return MemberUpdate{id, "http://" + id + ":1", s, inc, epoch};
}

TEST(Membership, AnEvictedLifeIsRemovedGossipedAndNeverAcceptedAgain) {
  Membership m("a", "http://a:1", 100, opts());
  std::vector<std::pair<std::string, MemberState>> changes;
  m.onChange(
      [&](const Member& mem, MemberState, bool) { changes.emplace_back(mem.id, mem.state); });
  m.apply(life("b", MemberState::kAlive, 50, 50), 0);
  m.apply(life("b", MemberState::kDead, 50, 50), 1);
  EXPECT_TRUE(m.evict("b"));
  EXPECT_EQ(m.find("b"), nullptr);
  EXPECT_EQ(changes.back(), std::make_pair(std::string("b"), MemberState::kEvicted));
  EXPECT_TRUE(m.isEvicted("b", 50));
  EXPECT_TRUE(m.isEvicted("b", 0));  // a request without an epoch is not a new life
  // Its refutations (same life, higher incarnation) are refused...
  EXPECT_FALSE(m.apply(life("b", MemberState::kAlive, 51, 50), 2));
  EXPECT_EQ(m.find("b"), nullptr);
  // ...and the eviction travels in the gossip.
  bool gossiped = false;
  for (const auto& u : m.gossip()) {
    gossiped = gossiped || (u.id == "b" && u.state == MemberState::kEvicted && u.epoch == 50);
  }
  EXPECT_TRUE(gossiped);
  // A new life (restarted, or wiped and renewed) is a member again.
  EXPECT_TRUE(m.apply(life("b", MemberState::kAlive, 900, 900), 3));
  ASSERT_NE(m.find("b"), nullptr);
  EXPECT_FALSE(m.isEvicted("b", 900));
  EXPECT_EQ(m.find("b")->epoch, 900u);
}

TEST(Membership, EvictionsLearntFromGossipRemoveThatLifeOnly) {
  Membership m("a", "http://a:1", 100, opts());
  m.apply(life("b", MemberState::kAlive, 50, 50), 0);
  m.apply(life("c", MemberState::kAlive, 900, 900), 0);
  EXPECT_TRUE(m.apply(life("b", MemberState::kEvicted, 0, 50), 1));
  EXPECT_EQ(m.find("b"), nullptr);
  EXPECT_FALSE(m.apply(life("b", MemberState::kEvicted, 0, 50), 2));  // known already
  // An eviction of an earlier life of c says nothing about the life we know.
  EXPECT_FALSE(m.apply(life("c", MemberState::kEvicted, 0, 40), 3));
  EXPECT_NE(m.find("c"), nullptr);
  EXPECT_EQ(m.liveCount(), 2u);
}

TEST(Membership, ANodeToldItWasEvictedRenewsItsEpoch) {
  Membership m("a", "http://a:1", 100, opts());
  EXPECT_FALSE(m.apply(life("a", MemberState::kEvicted, 0, 99), 0));  // an earlier life
  EXPECT_FALSE(m.selfEvicted());
  EXPECT_TRUE(m.apply(life("a", MemberState::kEvicted, 0, 100), 1));
  EXPECT_TRUE(m.selfEvicted());
  m.renewEpoch(5000);
  EXPECT_FALSE(m.selfEvicted());
  EXPECT_EQ(m.self().epoch, 5000u);
  EXPECT_EQ(m.self().incarnation, 5000u);
  // Never backwards, even with a wall clock behind the incarnation.
  m.apply(life("a", MemberState::kEvicted, 0, 5000), 2);
  m.renewEpoch(10);
  EXPECT_EQ(m.self().epoch, 5001u);
}

TEST(Membership, DeadMembersKeptByTheRetainRuleAreNotForgotten) {
  Membership m("a", "http://a:1", 100, opts());
  m.setRetainDead([](const Member& mem) { return mem.id == "b"; });
  m.apply(up("b", MemberState::kAlive, 5), 0);
  m.apply(up("c", MemberState::kAlive, 5), 0);
  m.apply(up("b", MemberState::kDead, 5), 0);
  m.apply(up("c", MemberState::kDead, 5), 0);
  m.tick(opts().deadRetentionMs + 1);
  EXPECT_NE(m.find("b"), nullptr);
  EXPECT_EQ(m.find("c"), nullptr);
}

}  // namespace
}  // namespace db

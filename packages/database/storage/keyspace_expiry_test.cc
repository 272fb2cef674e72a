// Keyspace expiry (docs/ttl.md): a record set with a ttl carries its absolute expiry, is absent
// for every read from the moment it expires (with an injected wall clock), is left out of the
// counts exactly, and is dropped by the sweep only below the expiry horizon; replicated expired
// records below the horizon are not taken back; /persist and /ttl semantics.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "database/storage/keyspace.h"
#include "database/storage/memory_adapter.h"
#include "database/storage/testing/fake_wall.h"

namespace db {
namespace {

using Kind = Mutation::Kind;
using fixture::FakeWall;
using fixture::kBaseMs;

std::vector<std::string> listKeys(const Keyspace& ks, std::string_view collection = {}) {
  std::vector<std::string> keys;
  auto page = ks.scan(collection, "", SIZE_MAX, "", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  EXPECT_TRUE(page.ok());
  return keys;
}

// Sweeps until a slice reaches the end of the store; returns the dropped keys.
std::vector<std::string> sweepAll(Keyspace& ks, size_t slice = 1000) {
  std::vector<std::string> dropped;
  for (int i = 0; i < 10000; ++i) {
    ExpirySweep s = ks.sweepExpired(slice, [&](const RecordView& r) {
      dropped.push_back(std::string(r.collection) + "/" + std::string(r.key));
    });
    if (s.done) break;
  }
  return dropped;
}

TEST(KeyspaceExpiry, SetWithTtlCarriesTheAbsoluteExpiryFromTheStamp) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  auto m = ks.set("k", "v", {}, 2000);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->expiresAtMs, Hlc::millis(m->hlc) + 2000);
  EXPECT_EQ(m->expiresAtMs, kBaseMs + 2000);
  auto plain = ks.set("p", "v");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->expiresAtMs, 0u);
}

TEST(KeyspaceExpiry, AnExpiredRecordIsAbsentForEveryReadFromTheMomentItExpires) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  ASSERT_TRUE(ks.set("a", "1", {}, 1000).ok());
  ASSERT_TRUE(ks.set("b", "2").ok());
  ASSERT_TRUE(ks.set("c", "3", "users", 1000).ok());
  wall.ms = kBaseMs + 999;
  EXPECT_EQ(ks.get("a").value_or(""), "1");
  EXPECT_EQ(ks.size(), 3u);
  EXPECT_EQ(listKeys(ks).size(), 2u);
  EXPECT_EQ(ks.ttlMs("a").value(), 1);
  wall.ms = kBaseMs + 1000;  // expiresAtMs <= now: expired
  EXPECT_FALSE(ks.get("a").has_value());
  EXPECT_FALSE(ks.contains("a"));
  EXPECT_FALSE(ks.get("c", "users").has_value());
  EXPECT_EQ(listKeys(ks), std::vector<std::string>{"b"});
  EXPECT_TRUE(listKeys(ks, "users").empty());
  EXPECT_EQ(ks.size(), 1u);
  auto infos = ks.collections();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].records, 1u);
  EXPECT_EQ(infos[0].bytes, 2u);  // "b" + "2"
  EXPECT_EQ(infos[0].expiring, 0u);
  EXPECT_EQ(infos[1].records, 0u);
  EXPECT_EQ(infos[1].bytes, 0u);
  EXPECT_EQ(ks.ttlMs("a").error().code, "MISSING_RECORD");
  EXPECT_EQ(ks.remove("a").error().code, "MISSING_RECORD");
  EXPECT_EQ(ks.persist("a").error().code, "MISSING_RECORD");
  // LWW is unchanged: the expired record still holds its version until it is dropped.
  EXPECT_EQ(ks.engine().size(), 3u);
}

TEST(KeyspaceExpiry, CountsAreExactWhileSomeExpireAndOthersAreRewritten) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(ks.set("k" + std::to_string(i), "v", {}, 1000 + 10 * i).ok());
  }
  EXPECT_EQ(ks.expiring(), 100u);
  // Rewrites: one without a ttl (no longer expiring), one with a later expiry.
  ASSERT_TRUE(ks.set("k0", "v").ok());
  ASSERT_TRUE(ks.set("k1", "v", {}, 100000).ok());
  ASSERT_TRUE(ks.remove("k2").ok());
  EXPECT_EQ(ks.expiring(), 98u);
  wall.ms = kBaseMs + 1000 + 10 * 49;  // k3..k49 expired (47 records)
  EXPECT_EQ(ks.size(), 99u - 47u);
  EXPECT_EQ(ks.expiring(), 98u - 47u);  // k1 and k50..k99 still expiring
  EXPECT_EQ(ks.collections()[0].records, 99u - 47u);
}

TEST(KeyspaceExpiry, TtlAndPersist) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  ASSERT_TRUE(ks.set("k", "v", {}, 5000).ok());
  ASSERT_TRUE(ks.set("plain", "v").ok());
  wall.ms = kBaseMs + 1500;
  EXPECT_EQ(ks.ttlMs("k").value(), 3500);
  EXPECT_EQ(ks.ttlMs("plain").value(), -1);
  EXPECT_EQ(ks.ttlMs("none").error().code, "MISSING_RECORD");
  // Persisting a record without an expiry writes nothing.
  auto none = ks.persist("plain");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto m = ks.persist("k");
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->value, "v");
  EXPECT_EQ((*m)->expiresAtMs, 0u);
  EXPECT_EQ((*m)->kind, Kind::kPut);
  EXPECT_EQ(ks.ttlMs("k").value(), -1);
  wall.ms = kBaseMs + 10000;
  EXPECT_EQ(ks.get("k").value_or(""), "v");
  EXPECT_EQ(ks.expiring(), 0u);
  // A peer applying the persist write loses the expiry too.
  FakeWall wall2;
  Keyspace peer(fixture::keyspaceOptions("n2", &wall2));
  wall2.ms = kBaseMs + 10000;
  Mutation first{Kind::kPut, "k", "v", Hlc::pack(kBaseMs, 0), "n1", {}, kBaseMs + 5000};
  ASSERT_EQ(peer.apply(first), ApplyResult::kApplied);
  EXPECT_FALSE(peer.get("k").has_value());  // expired there too, without a delete
  ASSERT_EQ(peer.apply(**m), ApplyResult::kApplied);
  EXPECT_EQ(peer.get("k").value_or(""), "v");
}

TEST(KeyspaceExpiry, TheSweepDropsOnlyExpiredRecordsBelowTheHorizon) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  ASSERT_TRUE(ks.set("old", "v", {}, 1000).ok());
  ASSERT_TRUE(ks.set("x", "v", "users", 1000).ok());
  ASSERT_TRUE(ks.set("keep", "v").ok());
  wall.ms = kBaseMs + 5;
  ASSERT_TRUE(ks.set("young", "v", {}, 995).ok());  // same expiry, a later hlc
  uint64_t youngHlc = ks.clock().last();
  uint64_t digestBefore = ks.rootHash();
  EXPECT_FALSE(ks.expiryDue());
  wall.ms = kBaseMs + 1000;
  EXPECT_TRUE(ks.expiryDue());
  // No horizon yet: nothing may be dropped (a peer could bring an older version back).
  EXPECT_TRUE(sweepAll(ks).empty());
  EXPECT_EQ(ks.engine().size(), 4u);
  ks.setExpiryHorizon(youngHlc);  // "old" and "x" are below it, "young" is not
  auto dropped = sweepAll(ks);
  std::sort(dropped.begin(), dropped.end());
  EXPECT_EQ(dropped, (std::vector<std::string>{"/old", "users/x"}));
  EXPECT_EQ(ks.engine().size(), 2u);
  EXPECT_EQ(ks.expiredDropped(), 2u);
  EXPECT_NE(ks.rootHash(), digestBefore);
  EXPECT_EQ(ks.size(), 1u);  // "keep"; "young" expired, not dropped yet
  // The emptied collection is forgotten like any other.
  EXPECT_EQ(ks.collections().size(), 1u);
  ks.setExpiryHorizon(youngHlc + 1);
  EXPECT_EQ(sweepAll(ks), std::vector<std::string>{"/young"});
  EXPECT_FALSE(ks.expiryDue());
  EXPECT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks.engine().size(), 1u);
  EXPECT_EQ(static_cast<const MemoryAdapter&>(ks.engine()).checkInvariants(), "");
}

TEST(KeyspaceExpiry, TheSweepWorksInBoundedSlices) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(ks.set("k" + std::to_string(i), "v", {}, i % 2 == 0 ? 100 : 0).ok());
  }
  wall.ms = kBaseMs + 100;
  ks.setExpiryHorizon(ks.clock().last() + 1);
  size_t slices = 0, dropped = 0;
  for (;;) {
    ExpirySweep s = ks.sweepExpired(64, [&](const RecordView&) { ++dropped; });
    ++slices;
    EXPECT_LE(s.examined, 64u);
    if (s.done) break;
  }
  EXPECT_EQ(dropped, 500u);
  EXPECT_GE(slices, 1000u / 64);
  EXPECT_EQ(ks.size(), 500u);
  EXPECT_EQ(ks.engine().size(), 500u);
}

TEST(KeyspaceExpiry, AReplicatedRecordAlreadyExpiredBelowTheHorizonIsNotTakenBack) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n2", &wall));
  wall.ms = kBaseMs + 5000;
  uint64_t hlc = Hlc::pack(kBaseMs, 0);
  Mutation expiredPut{Kind::kPut, "gone", "v", hlc, "n1", {}, kBaseMs + 1000};
  // Above the horizon it is taken (an older version elsewhere must still lose to it).
  ASSERT_EQ(ks.apply(expiredPut), ApplyResult::kApplied);
  EXPECT_FALSE(ks.get("gone").has_value());
  ks.reset();
  ks.setExpiryHorizon(hlc + 1);
  EXPECT_EQ(ks.apply(expiredPut), ApplyResult::kStale);
  EXPECT_EQ(ks.engine().size(), 0u);
  EXPECT_TRUE(ks.collections().size() == 1 && ks.collections()[0].records == 0);
  // But when an older version of the key is held, the expired one replaces it.
  Mutation older{Kind::kPut, "gone", "old", hlc - 1, "n1"};
  ASSERT_EQ(ks.apply(older), ApplyResult::kApplied);
  EXPECT_EQ(ks.apply(expiredPut), ApplyResult::kApplied);
  EXPECT_FALSE(ks.get("gone").has_value());
}

TEST(KeyspaceExpiry, SnapshotRecordsCarryTheExpiry) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  ASSERT_TRUE(ks.set("k", "v", "c1", 3000).ok());
  std::vector<Mutation> seen;
  ASSERT_TRUE(ks.scanAll("", SIZE_MAX, [&](const RecordView& r) {
                  seen.push_back(Keyspace::toMutation(r));
                  return true;
                }).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].expiresAtMs, kBaseMs + 3000);
  EXPECT_EQ(seen[0].collection, "c1");
  FakeWall wall2;
  Keyspace copy(fixture::keyspaceOptions("n2", &wall2));
  ASSERT_EQ(copy.apply(seen[0]), ApplyResult::kApplied);
  EXPECT_EQ(copy.ttlMs("k", "c1").value(), 3000);
  EXPECT_EQ(copy.rootHash(), ks.rootHash());
}

}  // namespace
}  // namespace db

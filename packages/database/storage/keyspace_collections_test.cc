// Keyspace collections (docs/collections.md): named key spaces beside the default one, each
// with its own records, listing, statistics and clear mark; merging, digests and snapshots
// carry the collection, so two nodes agree on it; the table of collections is bounded and an
// emptied collection is forgotten once nothing of it (record, tombstone, clear mark) is left.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "database/storage/keyspace.h"
#include "database/storage/testing/fake_wall.h"

namespace db {
namespace {

using Kind = Mutation::Kind;
using fixture::FakeWall;
using fixture::kBaseMs;

KeyspaceOptions opts(std::string id, FakeWall* wall = nullptr) {
  return fixture::keyspaceOptions(std::move(id), wall);
}

// (collection, key) -> (value, hlc, origin, tombstone), through the paged snapshot scan.
using State = std::map<std::pair<std::string, std::string>,
                       std::tuple<std::string, uint64_t, std::string, bool>>;

State fullState(const Keyspace& ks) {
  State s;
  std::string cursor;
  do {
    auto p = ks.scanAll(cursor, 100, [&](const RecordView& r) {
      bool fresh = s.emplace(std::make_pair(std::string(r.collection), std::string(r.key)),
                             std::make_tuple(std::string(r.value), r.hlc, std::string(r.origin),
                                             r.tombstone))
                       .second;
      EXPECT_TRUE(fresh) << r.collection << "/" << r.key;
      return true;
    });
    EXPECT_TRUE(p.ok());
    cursor = p->next;
  } while (!cursor.empty());
  return s;
}

Keyspace::Segments recomputed(const Keyspace& ks) {
  Keyspace::Segments seg{};
  for (const auto& [ck, rec] : fullState(ks)) {
    const auto& [v, hlc, origin, tomb] = rec;
    seg[Keyspace::segmentOf(ck.second, ck.first)] ^=
        Keyspace::recordHash(ck.second, hlc, origin, tomb, ck.first);
  }
  return seg;
}

std::vector<std::string> keys(const Keyspace& ks, std::string_view c, std::string_view prefix = {},
                              size_t page = SIZE_MAX) {
  std::vector<std::string> out;
  std::string cursor;
  do {
    auto p = ks.scan(c, cursor, page, prefix, [&](std::string_view k, std::string_view) {
      out.emplace_back(k);
      return true;
    });
    EXPECT_TRUE(p.ok());
    EXPECT_LE(p->visited, page);
    cursor = p->next;
  } while (!cursor.empty());
  std::sort(out.begin(), out.end());
  return out;
}

CollectionInfo info(const Keyspace& ks, std::string_view name) {
  for (const auto& c : ks.collections()) {
    if (c.name == name) return c;
  }
  return CollectionInfo{"<absent>", 0, 0, 0};
}

TEST(KeyspaceCollections, TheSameKeyInTwoCollectionsIsTwoRecords) {
  Keyspace ks(opts("n"));
  ASSERT_TRUE(ks.set("1", "default-one").ok());
  auto m = ks.set("1", "user-one", "users");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->collection, "users");
  ASSERT_TRUE(ks.set("2", "user-two", "users").ok());
  ASSERT_TRUE(ks.set("1", "order-one", "orders").ok());
  EXPECT_EQ(ks.get("1"), "default-one");
  EXPECT_EQ(ks.get("1", "users"), "user-one");
  EXPECT_EQ(ks.get("1", "orders"), "order-one");
  EXPECT_FALSE(ks.get("2").has_value());
  EXPECT_FALSE(ks.contains("1", "nowhere"));
  EXPECT_EQ(ks.size(), 4u);

  EXPECT_EQ(keys(ks, ""), std::vector<std::string>({"1"}));
  EXPECT_EQ(keys(ks, "users"), std::vector<std::string>({"1", "2"}));
  EXPECT_EQ(keys(ks, "users", "2"), std::vector<std::string>({"2"}));
  EXPECT_EQ(keys(ks, "users", {}, 1), std::vector<std::string>({"1", "2"}));  // paged by one
  EXPECT_TRUE(keys(ks, "nowhere").empty());
  // The old signature lists the default collection only.
  std::vector<std::string> old;
  ASSERT_TRUE(ks.scan("", 100, "", [&](std::string_view k, std::string_view) {
                  old.emplace_back(k);
                  return true;
                }).ok());
  EXPECT_EQ(old, std::vector<std::string>({"1"}));

  auto rm = ks.remove("1", "users");
  ASSERT_TRUE(rm.ok());
  EXPECT_EQ(rm->collection, "users");
  EXPECT_FALSE(ks.contains("1", "users"));
  EXPECT_EQ(ks.get("1"), "default-one");
  EXPECT_EQ(ks.remove("1", "users").error().code, "MISSING_RECORD");
  EXPECT_EQ(ks.remove("1", "nowhere").error().code, "MISSING_RECORD");

  auto users = info(ks, "users");
  EXPECT_EQ(users.records, 1u);
  EXPECT_EQ(users.tombstones, 1u);
  EXPECT_EQ(users.bytes, 1u + 8u);  // "2" + "user-two"
  EXPECT_EQ(info(ks, "").records, 1u);
  EXPECT_EQ(info(ks, "").bytes, 1u + 11u);
  auto all = ks.collections();
  ASSERT_EQ(all.size(), 3u);  // default first, then by name
  EXPECT_EQ(all[0].name, "");
  EXPECT_EQ(all[1].name, "orders");
  EXPECT_EQ(all[2].name, "users");
}

TEST(KeyspaceCollections, AClearTakesOneCollectionAndLeavesTheOthers) {
  Keyspace ks(opts("n"));
  for (int i = 0; i < 50; ++i) {
    std::string k = std::to_string(i);
    ASSERT_TRUE(ks.set(k, "d").ok());
    ASSERT_TRUE(ks.set(k, "u", "users").ok());
    ASSERT_TRUE(ks.set(k, "o", "orders").ok());
  }
  auto c = ks.clear("users");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, Kind::kClear);
  EXPECT_EQ(c->collection, "users");
  EXPECT_EQ(info(ks, "users").records, 0u);
  EXPECT_EQ(info(ks, "orders").records, 50u);
  EXPECT_EQ(info(ks, "").records, 50u);
  EXPECT_EQ(ks.get("7", "orders"), "o");
  EXPECT_EQ(ks.clearMarkHlc(), 0u);  // the default collection was not cleared

  Mutation d = ks.clear();  // no collection: the default one only
  EXPECT_TRUE(d.collection.empty());
  EXPECT_EQ(info(ks, "").records, 0u);
  EXPECT_EQ(info(ks, "orders").records, 50u);
  EXPECT_EQ(ks.size(), 50u);

  ASSERT_TRUE(ks.set("after", "x", "users").ok());  // written after the clear: survives it
  EXPECT_EQ(ks.get("after", "users"), "x");
  auto marks = ks.clearMarkMutations();
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[0].collection, "");
  EXPECT_EQ(marks[1].collection, "users");
  EXPECT_EQ(marks[1].hlc, c->hlc);
}

TEST(KeyspaceCollections, ANodeThatWasAwayCatchesUpWithACollectionClear) {
  FakeWall wall;
  Keyspace a(opts("a", &wall)), b(opts("b", &wall));
  std::vector<Mutation> missed;
  for (int i = 0; i < 20; ++i) {
    std::string k = "k" + std::to_string(i);
    for (const char* c : {"", "users", "orders"}) {
      Mutation m = *a.set(k, std::string("v-") + c, c);
      b.apply(m);
    }
  }
  wall.ms += 5;
  // b is away: it misses a clear of "users" and writes made around it.
  missed.push_back(*a.set("late-old", "x", "users"));
  wall.ms += 5;
  missed.push_back(*a.clear("users"));
  wall.ms += 5;
  missed.push_back(*a.set("after", "y", "users"));
  missed.push_back(*a.set("k1", "changed", "orders"));
  // b catches up: a snapshot, i.e. every clear mark then the records, in any order.
  std::vector<Mutation> snapshot = a.clearMarkMutations();
  ASSERT_TRUE(a.scanAll("", SIZE_MAX, [&](const RecordView& r) {
                 snapshot.push_back(Keyspace::toMutation(r));
                 return true;
               }).ok());
  std::mt19937_64 rng(3);
  std::shuffle(snapshot.begin(), snapshot.end(), rng);
  for (const auto& m : snapshot) b.apply(m);
  EXPECT_EQ(a.rootHash(), b.rootHash());
  EXPECT_EQ(fullState(a), fullState(b));
  EXPECT_EQ(keys(b, "users"), std::vector<std::string>({"after"}));
  EXPECT_EQ(info(b, "orders").records, 20u);
  EXPECT_EQ(info(b, "").records, 20u);
  EXPECT_EQ(b.get("k1", "orders"), "changed");
  // The stream it missed, arriving late and out of order, changes nothing more.
  for (auto it = missed.rbegin(); it != missed.rend(); ++it) b.apply(*it);
  EXPECT_EQ(a.rootHash(), b.rootHash());
}

TEST(KeyspaceCollections, DigestCoversCollectionsAndTheirMarks) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  std::mt19937_64 rng(7);
  const char* names[] = {"", "a", "b", "c"};
  for (int i = 0; i < 4000; ++i) {
    std::string k = "key" + std::to_string(rng() % 300);
    const char* c = names[rng() % 4];
    int dice = static_cast<int>(rng() % 100);
    if (dice < 60) {
      ASSERT_TRUE(ks.set(k, std::string(rng() % 20, 'v'), c).ok());
    } else if (dice < 85) {
      (void)ks.remove(k, c);
    } else if (dice < 95) {
      ks.apply(Mutation{Kind::kPut, k, "remote", Hlc::pack(kBaseMs, rng() % 100), "peer", c});
    } else if (dice < 97) {
      ks.collectTombstones(ks.clock().last() - (uint64_t{1} << 16) * (rng() % 3));
    } else if (dice < 98) {
      wall.ms += 1;
      ks.apply(Mutation{Kind::kClear, {}, {}, Hlc::pack(wall.ms - 1, 0), "peer", c});
    }
    if (i % 16 == 0) wall.ms += 1;
    if (i % 500 == 0) {
      ASSERT_EQ(ks.segments(), recomputed(ks)) << i;
    }
  }
  ASSERT_EQ(ks.segments(), recomputed(ks));
  size_t total = 0;
  for (const auto& c : ks.collections()) total += c.records;
  EXPECT_EQ(total, ks.size());

  // The same key in two collections is two different records for the digest.
  EXPECT_NE(Keyspace::recordHash("k", 5, "o", false, "a"),
            Keyspace::recordHash("k", 5, "o", false, "b"));
  EXPECT_EQ(Keyspace::recordHash("k", 5, "o", false, ""), Keyspace::recordHash("k", 5, "o", false));
  // Two stores that differ only by a collection's clear mark have different roots.
  Keyspace x(opts("x", &wall)), y(opts("y", &wall));
  EXPECT_EQ(x.rootHash(), y.rootHash());
  Mutation mark = *x.clear("users");
  EXPECT_NE(x.rootHash(), y.rootHash());
  EXPECT_EQ(x.segments(), y.segments());
  y.apply(mark);
  EXPECT_EQ(x.rootHash(), y.rootHash());
}

TEST(KeyspaceCollections, TheTableIsBoundedAndAnEmptiedCollectionIsForgotten) {
  FakeWall wall;
  Keyspace ks(opts("n", &wall));
  for (size_t i = 0; i < Keyspace::kMaxCollections; ++i) {
    ASSERT_TRUE(ks.set("k", "v", "c" + std::to_string(i)).ok()) << i;
  }
  EXPECT_EQ(ks.set("k", "v", "one-more").error().code, "TOO_MANY_COLLECTIONS");
  EXPECT_EQ(ks.clear("one-more").error().code, "TOO_MANY_COLLECTIONS");
  EXPECT_TRUE(ks.set("k2", "v", "c5").ok());  // existing collections still take writes
  EXPECT_TRUE(ks.set("k2", "v").ok());        // and so does the default one
  EXPECT_EQ(ks.collections().size(), Keyspace::kMaxCollections + 1);
  // A peer's records may go past the client's bound (two nodes created collections at once)...
  uint64_t h = ks.clock().now();
  EXPECT_EQ(ks.apply(Mutation{Kind::kPut, "k", "v", h, "peer", "from-peer"}),
            ApplyResult::kApplied);
  // ...up to the slack.
  for (size_t i = Keyspace::kMaxCollections + 1;
       i < Keyspace::kMaxCollections * Keyspace::kPeerCollectionSlack; ++i) {
    ASSERT_EQ(ks.apply(Mutation{Kind::kPut, "k", "v", h, "peer", "p" + std::to_string(i)}),
              ApplyResult::kApplied);
  }
  EXPECT_EQ(ks.apply(Mutation{Kind::kPut, "k", "v", h, "peer", "too-far"}),
            ApplyResult::kRefusedInvalid);
  EXPECT_FALSE(ks.contains("k", "too-far"));

  // Emptied: removed (a tombstone remains), then the tombstone collected: the collection goes.
  Keyspace small(opts("s", &wall));
  ASSERT_TRUE(small.set("k", "v", "temp").ok());
  ASSERT_TRUE(small.remove("k", "temp").ok());
  EXPECT_EQ(small.collections().size(), 2u);
  wall.ms += 10;
  small.collectTombstones(small.clock().now());
  EXPECT_EQ(small.collections().size(), 1u);
  // Cleared: the mark stays (late records of it must still be cleared) until it is below the
  // collection horizon too.
  ASSERT_TRUE(small.set("k", "v", "temp").ok());
  wall.ms += 10;
  auto c = small.clear("temp");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(small.collections().size(), 2u);
  EXPECT_EQ(small.apply(Mutation{Kind::kPut, "old", "v", c->hlc - 1, "peer", "temp"}),
            ApplyResult::kStale);
  small.collectTombstones(c->hlc);  // not below the horizon yet
  EXPECT_EQ(small.collections().size(), 2u);
  wall.ms += 10;
  small.collectTombstones(small.clock().now());
  EXPECT_EQ(small.collections().size(), 1u);
  EXPECT_TRUE(small.clearMarkMutations().empty());

  // Several emptied at once (the last ids among them): all forgotten, and the ids serve again.
  for (const char* c : {"x", "y", "z"}) ASSERT_TRUE(small.set("k", "v", c).ok());
  ASSERT_TRUE(small.set("k", "v", "keep").ok());
  for (const char* c : {"z", "x", "y"}) ASSERT_TRUE(small.remove("k", c).ok());
  wall.ms += 10;
  small.collectTombstones(small.clock().now());
  ASSERT_EQ(small.collections().size(), 2u);
  EXPECT_EQ(small.collections()[1].name, "keep");
  ASSERT_TRUE(small.set("k", "again", "y").ok());
  EXPECT_EQ(small.get("k", "y"), "again");
  EXPECT_EQ(small.get("k", "keep"), "v");
}

TEST(KeyspaceCollections, InvalidCollectionsAndMarkerKeysAreRefused) {
  Keyspace ks(opts("n"));
  uint64_t h = ks.clock().now();
  EXPECT_EQ(ks.apply(Mutation{Kind::kPut, "k", "v", h, "peer", std::string(65, 'c')}),
            ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.apply(Mutation{Kind::kPut, "k", "v", h, "peer", "\xC3\x28"}),
            ApplyResult::kRefusedInvalid);
  // A default-collection key that starts like a collection's engine key cannot be stored.
  EXPECT_EQ(ks.apply(Mutation{Kind::kPut, "\xFF\x01k", "v", h, "peer"}),
            ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.collections().size(), 1u);
  EXPECT_EQ(ks.size(), 0u);
}

TEST(KeyspaceCollections, ResetForgetsEveryCollection) {
  Keyspace ks(opts("n"));
  ASSERT_TRUE(ks.set("k", "v", "users").ok());
  ASSERT_TRUE(ks.clear("orders").ok());
  ks.reset();
  EXPECT_EQ(ks.collections().size(), 1u);
  EXPECT_TRUE(ks.clearMarkMutations().empty());
  EXPECT_FALSE(ks.contains("k", "users"));
  ASSERT_TRUE(ks.set("k", "again", "users").ok());
  EXPECT_EQ(ks.get("k", "users"), "again");
}

}  // namespace
}  // namespace db

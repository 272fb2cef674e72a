// Keyspace: client operations, the LWW merge (tombstones, clear mark, clock refusal), the
// convergence property (any order, any duplication, any grouping gives the same state), the
// digest (incremental == recomputed; anti-entropy repair converges; equal nodes send little),
// snapshots, tombstone collection and list cursors. (Memory per record is measured by
// `make bench`, bench/run.sh memory, against a real node and Redis.)
#include "database/storage/keyspace.h"
#include "database/storage/memory_adapter.h"
#include "database/storage/testing/fake_wall.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace db {
namespace {

using Kind = Mutation::Kind;
using fixture::FakeWall;
using fixture::kBaseMs;

KeyspaceOptions opts(std::string id, FakeWall* wall = nullptr) {
  return fixture::keyspaceOptions(std::move(id), wall);
}

uint64_t ts(uint64_t msOffset, uint64_t counter = 0) {
  return Hlc::pack(kBaseMs + msOffset, counter);
}

Mutation put(std::string k, std::string v, uint64_t hlc, std::string origin) {
  return Mutation{Kind::kPut, std::move(k), std::move(v), hlc, std::move(origin)};
}
Mutation del(std::string k, uint64_t hlc, std::string origin) {
  return Mutation{Kind::kDelete, std::move(k), {}, hlc, std::move(origin)};
}
Mutation clr(uint64_t hlc, std::string origin) {
  return Mutation{Kind::kClear, {}, {}, hlc, std::move(origin)};
}

using State = std::map<std::string, std::tuple<std::string, uint64_t, std::string, bool>>;

// Every record including tombstones, through the paged snapshot scan.
State fullState(const Keyspace& ks, size_t page = 1000) {
  State s;
  std::string cursor;
  do {
    auto p = ks.scanAll(cursor, page, [&](const RecordView& r) {
      bool fresh =
          s.emplace(std::string(r.key), std::make_tuple(std::string(r.value), r.hlc,
                                                        std::string(r.origin), r.tombstone))
              .second;
      EXPECT_TRUE(fresh) << r.key;
      return true;
    });
    EXPECT_TRUE(p.ok());
    cursor = p->next;
  } while (!cursor.empty());
  return s;
}

// The digest recomputed from scratch.
Keyspace::Segments recomputed(const Keyspace& ks) {
  Keyspace::Segments seg{};
  for (const auto& [k, rec] : fullState(ks)) {
    const auto& [v, hlc, origin, tomb] = rec;
    seg[Keyspace::segmentOf(k)] ^= Keyspace::recordHash(k, hlc, origin, tomb);
  }
  return seg;
}

TEST(Keyspace, SetGetRemoveClear) {
  Keyspace ks(opts("node-1"));
  EXPECT_FALSE(ks.get("a").has_value());
  Mutation m1 = *ks.set("a", "1");
  EXPECT_EQ(m1.kind, Kind::kPut);
  EXPECT_EQ(m1.key, "a");
  EXPECT_EQ(m1.value, "1");
  EXPECT_EQ(m1.origin, "node-1");
  EXPECT_EQ(ks.get("a"), "1");
  EXPECT_TRUE(ks.contains("a"));
  Mutation m2 = *ks.set("a", "22");
  EXPECT_GT(m2.hlc, m1.hlc);
  EXPECT_EQ(ks.get("a"), "22");
  EXPECT_TRUE(ks.set("b", "").ok());
  EXPECT_EQ(ks.get("b"), "");  // empty value is a value
  EXPECT_EQ(ks.size(), 2u);

  auto rm = ks.remove("a");
  ASSERT_TRUE(rm.ok());
  EXPECT_EQ(rm->kind, Kind::kDelete);
  EXPECT_GT(rm->hlc, m2.hlc);
  EXPECT_FALSE(ks.get("a").has_value());
  EXPECT_FALSE(ks.contains("a"));
  EXPECT_EQ(ks.remove("a").error().code, "MISSING_RECORD");      // already deleted: 404
  EXPECT_EQ(ks.remove("never").error().code, "MISSING_RECORD");  // never existed: 404
  EXPECT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks.tombstoneCount(), 1u);

  Mutation c = ks.clear();
  EXPECT_EQ(c.kind, Kind::kClear);
  EXPECT_GT(c.hlc, rm->hlc);
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.tombstoneCount(), 0u);
  EXPECT_EQ(ks.clearMarkHlc(), c.hlc);
  EXPECT_TRUE(ks.set("a", "after").ok());  // writes after a clear survive it
  EXPECT_EQ(ks.get("a"), "after");
}

TEST(Keyspace, PrototypeLikeAndBinaryKeysAreOrdinary) {
  Keyspace ks(opts("n"));
  for (std::string k : {"__proto__", "constructor", "toString", "hasOwnProperty"}) {
    EXPECT_FALSE(ks.contains(k));
    EXPECT_TRUE(ks.set(k, "v-" + k).ok());
  }
  EXPECT_TRUE(ks.set(std::string("\0", 1), "nul").ok());
  EXPECT_EQ(ks.get("__proto__"), "v-__proto__");
  EXPECT_EQ(ks.get(std::string("\0", 1)), "nul");
  EXPECT_EQ(ks.size(), 5u);
}

TEST(Keyspace, LastWriteWinsOnHlcThenOrigin) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  EXPECT_EQ(ks.apply(put("k", "old", ts(0), "b")), ApplyResult::kApplied);
  EXPECT_EQ(ks.apply(put("k", "new", ts(1), "a")), ApplyResult::kApplied);
  EXPECT_EQ(ks.get("k"), "new");
  EXPECT_EQ(ks.apply(put("k", "older", ts(0, 5), "z")), ApplyResult::kStale);
  EXPECT_EQ(ks.get("k"), "new");
  // Same hlc: the origin compared as bytes decides.
  EXPECT_EQ(ks.apply(put("k", "from-b", ts(1), "b")), ApplyResult::kApplied);
  EXPECT_EQ(ks.apply(put("k", "from-a", ts(1), "a")), ApplyResult::kStale);
  EXPECT_EQ(ks.apply(put("k", "from-high", ts(1), "\xC3\xA9")), ApplyResult::kApplied);
  EXPECT_EQ(ks.get("k"), "from-high");
  // Exactly the same mutation again: no-op.
  EXPECT_EQ(ks.apply(put("k", "from-high", ts(1), "\xC3\xA9")), ApplyResult::kStale);
}

TEST(Keyspace, DeleteIsATombstoneThatBeatsOlderPuts) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  EXPECT_EQ(ks.apply(del("k", ts(10), "a")), ApplyResult::kApplied);  // delete arrives first
  EXPECT_EQ(ks.tombstoneCount(), 1u);
  EXPECT_EQ(ks.apply(put("k", "late", ts(5), "b")), ApplyResult::kStale);
  EXPECT_FALSE(ks.contains("k"));
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.apply(put("k", "newer", ts(11), "b")), ApplyResult::kApplied);
  EXPECT_EQ(ks.get("k"), "newer");
  EXPECT_EQ(ks.tombstoneCount(), 0u);
  // The tombstone keeps its version (visible to snapshots).
  EXPECT_EQ(ks.apply(del("k", ts(12), "c")), ApplyResult::kApplied);
  auto st = fullState(ks);
  ASSERT_EQ(st.count("k"), 1u);
  EXPECT_EQ(st["k"], std::make_tuple(std::string(), ts(12), std::string("c"), true));
}

// An engine that refuses every write once `full` is set (an arena that cannot grow).
class FullEngine final : public StorageAdapter {
 public:
  bool full = false;
  size_t maxKeyBytes() const override { return inner_.maxKeyBytes(); }
  size_t maxValueBytes() const override { return inner_.maxValueBytes(); }
  std::optional<RecordView> get(std::string_view key) const override { return inner_.get(key); }
  common::Result<UpsertResult> upsert(const RecordView& rec, ReplacePredicate replace) override {
    if (full) return common::Error{"STORE_FULL", "test"};
    return inner_.upsert(rec, replace);
  }
  bool erase(std::string_view key) override { return inner_.erase(key); }
  ScanResult removeIf(uint64_t cursor, size_t maxExamined,
                      absl::FunctionRef<bool(const RecordView&)> pred) override {
    return inner_.removeIf(cursor, maxExamined, pred);
  }
  void clear() override { inner_.clear(); }
  ScanResult scan(uint64_t cursor, const ScanOptions& opts,
                  absl::FunctionRef<bool(const RecordView&)> visit) const override {
    return inner_.scan(cursor, opts, visit);
  }
  size_t size() const override { return inner_.size(); }
  size_t tombstoneCount() const override { return inner_.tombstoneCount(); }
  size_t memoryUsed() const override { return inner_.memoryUsed(); }

 private:
  MemoryAdapter inner_;
};

TEST(Keyspace, AWriteTheEngineRefusesIsReportedAndLeavesNoTrace) {
  // The route answers the refusal (507) instead of 200, and nothing is replicated: the local
  // state, digest included, must be exactly as before.
  auto engine = std::make_unique<FullEngine>();
  FullEngine* e = engine.get();
  Keyspace ks(opts("me"), std::move(engine));
  ASSERT_TRUE(ks.set("a", "1").ok());
  uint64_t root = ks.rootHash();
  e->full = true;
  auto s = ks.set("b", "2");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "STORE_FULL");
  auto r = ks.remove("a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "STORE_FULL");
  EXPECT_EQ(ks.get("a"), "1");
  EXPECT_FALSE(ks.contains("b"));
  EXPECT_EQ(ks.rootHash(), root);
  e->full = false;
  EXPECT_TRUE(ks.set("b", "2").ok());
}

TEST(Keyspace, ResetForgetsEverythingButTheClock) {
  // An evicted node wipes itself: afterwards it must equal a fresh keyspace (same digest, no
  // records, no tombstones, no clear mark), accept old data again, and stamp later than before.
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  ks.apply(put("a", "1", ts(5), "x"));
  ks.apply(del("b", ts(6), "x"));
  ks.apply(clr(ts(4), "y"));
  uint64_t before = ks.set("c", "3")->hlc;
  ks.reset();
  Keyspace fresh(opts("me", &wall));
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.tombstoneCount(), 0u);
  EXPECT_FALSE(ks.clearMarkMutation().has_value());
  EXPECT_EQ(ks.rootHash(), fresh.rootHash());
  EXPECT_EQ(fullState(ks), State{});
  // Older than the forgotten clear mark: accepted now.
  EXPECT_EQ(ks.apply(put("old", "v", ts(1), "x")), ApplyResult::kApplied);
  EXPECT_GT(ks.set("d", "4")->hlc, before);
}

TEST(Keyspace, ClearMarkDropsOlderAndKeepsNewer) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  ks.apply(put("old", "x", ts(5), "a"));
  ks.apply(put("new", "y", ts(15), "a"));
  ks.apply(del("oldtomb", ts(6), "a"));
  ks.apply(del("newtomb", ts(16), "a"));
  EXPECT_EQ(ks.apply(clr(ts(10), "b")), ApplyResult::kApplied);
  EXPECT_FALSE(ks.contains("old"));
  EXPECT_EQ(ks.get("new"), "y");
  EXPECT_EQ(ks.tombstoneCount(), 1u);
  EXPECT_EQ(ks.size(), 1u);
  // Writes older than the mark arriving late are ignored.
  EXPECT_EQ(ks.apply(put("late", "z", ts(9), "c")), ApplyResult::kStale);
  EXPECT_FALSE(ks.contains("late"));
  // An older clear is a no-op; a newer one moves the mark.
  EXPECT_EQ(ks.apply(clr(ts(8), "c")), ApplyResult::kStale);
  EXPECT_EQ(ks.apply(clr(ts(10), "b")), ApplyResult::kStale);
  EXPECT_EQ(ks.clearMarkHlc(), ts(10));
  auto cm = ks.clearMarkMutation();
  ASSERT_TRUE(cm.has_value());
  EXPECT_EQ(cm->kind, Kind::kClear);
  EXPECT_EQ(cm->hlc, ts(10));
  EXPECT_EQ(cm->origin, "b");
  EXPECT_EQ(ks.apply(clr(ts(20), "c")), ApplyResult::kApplied);
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_EQ(ks.tombstoneCount(), 0u);
  Keyspace fresh(opts("x"));
  EXPECT_FALSE(fresh.clearMarkMutation().has_value());
}

TEST(Keyspace, LocalWritesAreOrderedAfterObservedRemoteOnes) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  uint64_t remote = ts(300, 7);  // a peer's clock 300 ms ahead (within the 500 ms drift)
  EXPECT_EQ(ks.apply(put("k", "remote", remote, "peer")), ApplyResult::kApplied);
  Mutation m = *ks.set("k", "local");  // our wall clock is behind, yet ours is later
  EXPECT_GT(m.hlc, remote);
  EXPECT_EQ(ks.get("k"), "local");
  Mutation c = ks.clear();
  EXPECT_GT(c.hlc, m.hlc);
}

TEST(Keyspace, RefusesClockDriftAndInvalidMutations) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  EXPECT_EQ(ks.apply(put("k", "v", ts(501), "fast")), ApplyResult::kRefusedClock);
  EXPECT_EQ(ks.apply(clr(ts(10000), "fast")), ApplyResult::kRefusedClock);
  EXPECT_FALSE(ks.contains("k"));
  EXPECT_EQ(ks.clearMarkHlc(), 0u);
  EXPECT_LT(ks.set("x", "y")->hlc, ts(1));  // our clock was not dragged forward
  wall.ms += 1000;                          // once clocks agree, the same mutation is accepted
  EXPECT_EQ(ks.apply(put("k", "v", ts(501), "fast")), ApplyResult::kApplied);

  EXPECT_EQ(ks.apply(put("k", "v", ts(0), "")), ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.apply(put("", "v", ts(0), "a")), ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.apply(put("k", "v", ts(0), std::string(256, 'o'))), ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.apply(put(std::string(ks.maxKeyBytes() + 1, 'k'), "v", ts(0), "a")),
            ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.apply(put("k2", std::string(ks.maxValueBytes() + 1, 'v'), ts(0), "a")),
            ApplyResult::kRefusedInvalid);
  EXPECT_EQ(ks.apply(Mutation{static_cast<Kind>(9), "k", "v", ts(0), "a"}),
            ApplyResult::kRefusedInvalid);
  EXPECT_FALSE(ks.contains("k2"));
  EXPECT_GE(ks.maxKeyBytes(), 256u);
  EXPECT_GE(ks.maxValueBytes(), 1024u);
}

// ---- convergence ----

std::vector<Mutation> randomMutations(std::mt19937_64& rng, size_t n) {
  const std::vector<std::string> origins = {"a", "b", "node-c", "\xFF"};
  std::vector<Mutation> ms;
  for (size_t i = 0; i < n; ++i) {
    uint64_t hlc = ts(rng() % 12, rng() % 3);  // few distinct times: many collisions
    std::string origin = origins[rng() % origins.size()];
    std::string key = "k" + std::to_string(rng() % 6);
    int dice = static_cast<int>(rng() % 100);
    if (dice < 60) {
      ms.push_back(
          put(key, std::string(rng() % 40, static_cast<char>('a' + rng() % 3)), hlc, origin));
    } else if (dice < 88) {
      ms.push_back(del(key, hlc, origin));
    } else {
      ms.push_back(clr(hlc, origin));
    }
  }
  return ms;
}

void expectSameState(const Keyspace& a, const Keyspace& b, const std::string& what) {
  EXPECT_EQ(fullState(a), fullState(b)) << what;
  EXPECT_EQ(a.clearMarkHlc(), b.clearMarkHlc()) << what;
  EXPECT_EQ(a.clearMarkOrigin(), b.clearMarkOrigin()) << what;
  EXPECT_EQ(a.segments(), b.segments()) << what;
  EXPECT_EQ(a.rootHash(), b.rootHash()) << what;
  EXPECT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(a.tombstoneCount(), b.tombstoneCount()) << what;
}

// Copies everything of `from` into `to` the way a snapshot does: clear mark, then pages.
void snapshotInto(const Keyspace& from, Keyspace& to, size_t page) {
  if (auto cm = from.clearMarkMutation()) to.apply(*cm);
  std::string cursor;
  do {
    auto p = from.scanAll(cursor, page, [&](const RecordView& r) {
      ApplyResult res = to.apply(Keyspace::toMutation(r));
      EXPECT_NE(res, ApplyResult::kRefusedInvalid);
      EXPECT_NE(res, ApplyResult::kRefusedClock);
      return true;
    });
    ASSERT_TRUE(p.ok());
    cursor = p->next;
  } while (!cursor.empty());
}

TEST(Keyspace, MergeIsCommutativeAssociativeAndIdempotent) {
  FakeWall wall;
  wall.ms = kBaseMs + 1000;  // every generated hlc is in the past: no drift refusal
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng(seed);
    auto ms = randomMutations(rng, 5 + rng() % 40);
    // Reference: in order, once each.
    Keyspace ref(opts("ref", &wall));
    for (const auto& m : ms) ref.apply(m);
    for (int replica = 0; replica < 4; ++replica) {
      std::vector<const Mutation*> order;
      for (const auto& m : ms) {
        int copies = 1 + static_cast<int>(rng() % 3);  // duplicates
        for (int c = 0; c < copies; ++c) order.push_back(&m);
      }
      std::shuffle(order.begin(), order.end(), rng);
      Keyspace ks(opts("r" + std::to_string(replica), &wall));
      for (const Mutation* m : order) ks.apply(*m);
      expectSameState(ref, ks,
                      "seed " + std::to_string(seed) + " replica " + std::to_string(replica));
      ASSERT_FALSE(::testing::Test::HasFailure()) << "seed " << seed;
    }
    // Grouping: two partial replicas merged through snapshots equal the whole.
    size_t cut = rng() % (ms.size() + 1);
    Keyspace left(opts("l", &wall)), right(opts("r", &wall)), merged(opts("m", &wall));
    for (size_t i = 0; i < ms.size(); ++i) (i < cut ? left : right).apply(ms[i]);
    snapshotInto(right, merged, 3);
    snapshotInto(left, merged, 2);
    snapshotInto(left, merged, 5);  // again: idempotent
    expectSameState(ref, merged, "grouped, seed " + std::to_string(seed));
    ASSERT_FALSE(::testing::Test::HasFailure()) << "seed " << seed;
  }
}

// ---- digest ----

TEST(Keyspace, DigestIsMaintainedIncrementally) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  std::mt19937_64 rng(99);
  EXPECT_EQ(ks.segments(), Keyspace::Segments{});
  uint64_t root0 = ks.rootHash();
  for (int i = 0; i < 5000; ++i) {
    std::string k = "key" + std::to_string(rng() % 1500);
    int dice = static_cast<int>(rng() % 100);
    if (dice < 60) {
      EXPECT_TRUE(ks.set(k, std::string(rng() % 50, 'v')).ok());
    } else if (dice < 85) {
      (void)ks.remove(k);
    } else if (dice < 95) {
      ks.apply(put(k, "remote", ts(0, rng() % 100), "peer"));  // mostly stale, sometimes not
    } else if (dice < 97) {
      ks.collectTombstones(ks.clock().last() - (uint64_t{1} << 16) * (rng() % 3));
    } else if (dice < 98) {
      // A clear in the middle of the records' versions: the slow path.
      wall.ms += 1;
      ks.apply(clr(Hlc::pack(wall.ms - 1, 0), "peer"));
    }
    if (i % 16 == 0) wall.ms += 1;
    if (i % 500 == 0) {
      ASSERT_EQ(ks.segments(), recomputed(ks)) << i;
    }
  }
  ASSERT_EQ(ks.segments(), recomputed(ks));
  EXPECT_NE(ks.rootHash(), root0);
  uint64_t before = ks.rootHash();
  EXPECT_TRUE(ks.set("one-more", "x").ok());
  EXPECT_NE(ks.rootHash(), before);
  ks.clear();
  EXPECT_EQ(ks.segments(), Keyspace::Segments{});
  EXPECT_NE(ks.rootHash(), root0);  // the clear mark is part of the root
}

TEST(Keyspace, DigestEncodingRoundTripsAndRejectsGarbage) {
  Keyspace ks(opts("me"));
  for (int i = 0; i < 50000; ++i) EXPECT_TRUE(ks.set("key:" + std::to_string(i), "v").ok());
  ks.clear();
  for (int i = 0; i < 50000; ++i) EXPECT_TRUE(ks.set("key:" + std::to_string(i), "v").ok());
  std::string enc = ks.encodeDigest();
  // All 4096 segments are in use: the whole digest is about 33 KB, far below 100 KB.
  EXPECT_LE(enc.size(), 34000u);
  auto d = Keyspace::decodeDigest(enc);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->segments, ks.segments());
  EXPECT_EQ(d->root, ks.rootHash());
  EXPECT_EQ(d->clearHlc, ks.clearMarkHlc());
  EXPECT_EQ(d->clearOrigin, "me");
  EXPECT_TRUE(Keyspace::diffSegments(d->segments, ks.segments()).none());

  Keyspace empty(opts("x"));
  EXPECT_LT(empty.encodeDigest().size(), 600u);
  ASSERT_TRUE(Keyspace::decodeDigest(empty.encodeDigest()).ok());

  for (size_t cut : {size_t{0}, size_t{3}, size_t{20}, enc.size() / 2, enc.size() - 1}) {
    auto bad = Keyspace::decodeDigest(std::string_view(enc).substr(0, cut));
    ASSERT_FALSE(bad.ok()) << cut;
    EXPECT_EQ(bad.error().code, "BAD_DIGEST");
  }
  EXPECT_FALSE(Keyspace::decodeDigest(enc + "x").ok());
  std::string wrongMagic = enc;
  wrongMagic[0] = 'X';
  EXPECT_FALSE(Keyspace::decodeDigest(wrongMagic).ok());
  // A segment announced in the bitmap but zero: another spelling of "absent", refused.
  Keyspace::Digest one;
  one.segments[0] = 7;
  std::string zero = Keyspace::encodeDigest(one);
  ASSERT_TRUE(Keyspace::decodeDigest(zero).ok());
  zero.replace(zero.size() - 8, 8, 8, '\0');
  EXPECT_FALSE(Keyspace::decodeDigest(zero).ok());
}

TEST(Keyspace, DecodingRandomBytesNeverCrashes) {
  std::mt19937_64 rng(5);
  Keyspace ks(opts("me"));
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(ks.set("k" + std::to_string(i), "v").ok());
  std::string good = ks.encodeDigest();
  for (int trial = 0; trial < 2000; ++trial) {
    std::string b = good;
    if (trial % 2 == 0) {
      b.resize(rng() % (good.size() + 20), static_cast<char>(rng()));
    }
    for (int flips = 0; flips < 1 + trial % 5; ++flips) {
      if (!b.empty()) b[rng() % b.size()] = static_cast<char>(rng());
    }
    auto d = Keyspace::decodeDigest(b);
    // Under ASan this is the point: no read outside the buffer, whatever the bytes.
    if (d.ok()) {
      EXPECT_LE(d->clearOrigin.size(), 255u);
    }
  }
}

TEST(Keyspace, AntiEntropyRepairConverges) {
  FakeWall wall;
  wall.ms = kBaseMs + 100000;
  Keyspace a(opts("a", &wall)), b(opts("b", &wall));
  // A shared history, then each side misses some of the other's writes.
  for (int i = 0; i < 3000; ++i) {
    Mutation m = *a.set("key" + std::to_string(i), "v" + std::to_string(i));
    b.apply(m);
  }
  EXPECT_EQ(a.rootHash(), b.rootHash());
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(a.set("key" + std::to_string(i * 7), "a-only").ok());
  for (int i = 0; i < 30; ++i) (void)b.remove("key" + std::to_string(i * 11));
  EXPECT_TRUE(b.set("b-new", "x").ok());
  ASSERT_NE(a.rootHash(), b.rootHash());

  // One round: exchange digests, then the records of the differing segments, both ways.
  auto da = Keyspace::decodeDigest(a.encodeDigest());
  auto db_ = Keyspace::decodeDigest(b.encodeDigest());
  ASSERT_TRUE(da.ok() && db_.ok());
  auto diff = Keyspace::diffSegments(da->segments, db_->segments);
  EXPECT_GT(diff.count(), 0u);
  EXPECT_LT(diff.count(), 200u);
  auto sendAll = [&](const Keyspace& from, Keyspace& to) {
    std::vector<Mutation> batch;
    std::string cursor;
    size_t pages = 0;
    do {
      auto p = from.scanSegments(diff, cursor, 16, [&](const RecordView& r) {
        EXPECT_TRUE(diff.test(Keyspace::segmentOf(r.key)));
        batch.push_back(Keyspace::toMutation(r));
        return true;
      });
      ASSERT_TRUE(p.ok());
      EXPECT_LE(p->visited, 16u);
      cursor = p->next;
      ++pages;
    } while (!cursor.empty());
    EXPECT_GT(pages, 1u);
    for (const auto& m : batch) to.apply(m);
  };
  sendAll(a, b);
  sendAll(b, a);
  EXPECT_EQ(a.rootHash(), b.rootHash());
  EXPECT_EQ(fullState(a), fullState(b));
  EXPECT_EQ(a.get("key7"), "a-only");
  EXPECT_FALSE(a.contains("key11"));
  EXPECT_EQ(a.get("b-new"), "x");
}

TEST(Keyspace, SnapshotWhileTheSourceKeepsWriting) {
  FakeWall wall;
  wall.ms = kBaseMs + 100000;
  Keyspace src(opts("src", &wall)), dst(opts("dst", &wall));
  src.apply(clr(ts(1), "someone"));
  for (int i = 0; i < 2000; ++i)
    EXPECT_TRUE(src.set("k" + std::to_string(i), std::string(i % 300, 'v')).ok());
  for (int i = 0; i < 100; ++i) (void)src.remove("k" + std::to_string(i * 3));
  // The new node is subscribed to the live stream first, then pulls pages.
  std::vector<Mutation> live;
  if (auto cm = src.clearMarkMutation()) dst.apply(*cm);
  std::string cursor;
  int n = 0;
  do {
    auto p = src.scanAll(cursor, 50, [&](const RecordView& r) {
      dst.apply(Keyspace::toMutation(r));
      return true;
    });
    ASSERT_TRUE(p.ok());
    cursor = p->next;
    // Writes between pages, delivered live (some before, some after the page that has them).
    for (int j = 0; j < 5; ++j, ++n) {
      std::string k = "k" + std::to_string((n * 37) % 2500);
      live.push_back(n % 4 == 0 && src.contains(k) ? *src.remove(k)
                                                   : *src.set(k, std::string(n % 500, 'w')));
    }
    if (n % 20 == 0) {
      for (const auto& m : live) dst.apply(m);
      live.clear();
    }
  } while (!cursor.empty());
  for (const auto& m : live) dst.apply(m);
  EXPECT_EQ(fullState(src), fullState(dst));
  EXPECT_EQ(src.rootHash(), dst.rootHash());
}

TEST(Keyspace, CollectTombstonesBelowTheHorizon) {
  FakeWall wall;
  Keyspace ks(opts("me", &wall));
  EXPECT_EQ(ks.collectTombstones(UINT64_MAX), 0u);
  ks.apply(del("old", ts(1), "a"));
  ks.apply(del("recent", ts(50), "a"));
  ks.apply(put("live", "v", ts(0), "a"));
  EXPECT_EQ(ks.tombstoneCount(), 2u);
  EXPECT_EQ(ks.collectTombstones(ts(50)), 1u);  // strictly older than the horizon
  EXPECT_EQ(ks.tombstoneCount(), 1u);
  EXPECT_EQ(ks.get("live"), "v");
  auto st = fullState(ks);
  EXPECT_EQ(st.count("old"), 0u);
  EXPECT_EQ(st.count("recent"), 1u);
  EXPECT_EQ(ks.segments(), recomputed(ks));
  EXPECT_EQ(ks.tombstoneGraceMs(), 10u * 60 * 1000);
}

TEST(Keyspace, CollectTombstonesInSlicesAndAfterLateOldDeletes) {
  FakeWall wall;
  wall.ms = kBaseMs + 100000;
  Keyspace ks(opts("me", &wall));
  for (int i = 0; i < 3000; ++i) {
    std::string k = "k" + std::to_string(i);
    ks.apply(put(k, "v", ts(0), "a"));
    if (i % 2 == 0) ks.apply(del(k, ts(1 + i % 1000), "a"));
  }
  EXPECT_EQ(ks.tombstoneCount(), 1500u);
  size_t dropped = 0;
  for (int call = 0; call < 1000 && ks.tombstoneCount() > 750; ++call) {
    dropped += ks.collectTombstones(ts(501), 200);
    if (call == 3) ks.apply(del("late-old", ts(2), "b"));  // written mid-sweep, behind or ahead
  }
  // Tombstones with hlc ts(1..500): i % 1000 in [0, 499] for even i: 750 of them (+ late-old).
  EXPECT_EQ(ks.tombstoneCount(), 750u);
  EXPECT_EQ(dropped + ks.tombstoneCount(), 1501u);
  EXPECT_EQ(ks.segments(), recomputed(ks));
  // Nothing old enough left: collecting again is free and drops nothing.
  EXPECT_EQ(ks.collectTombstones(ts(501)), 0u);
  // A late delete older than the last horizon must still be collectable.
  ks.apply(del("late", ts(3), "c"));
  EXPECT_EQ(ks.collectTombstones(ts(501)), 1u);
  EXPECT_EQ(ks.size(), 1500u);
}

// ---- list scans ----

TEST(Keyspace, ListScanIsLiveOnlyPagedAndPrefixed) {
  Keyspace ks(opts("me"));
  for (int i = 0; i < 500; ++i)
    EXPECT_TRUE(ks.set((i % 2 ? "odd:" : "even:") + std::to_string(i), "v").ok());
  for (int i = 0; i < 500; i += 10) (void)ks.remove((i % 2 ? "odd:" : "even:") + std::to_string(i));
  std::set<std::string> got;
  std::string cursor;
  int pages = 0;
  do {
    auto p = ks.scan(cursor, 20, "even:", [&](std::string_view k, std::string_view v) {
      EXPECT_EQ(k.substr(0, 5), "even:");
      EXPECT_EQ(v, "v");
      EXPECT_TRUE(got.insert(std::string(k)).second);
      return true;
    });
    ASSERT_TRUE(p.ok());
    EXPECT_LE(p->visited, 20u);
    cursor = p->next;
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(got.size(), 200u);  // 250 even keys, 50 deleted
  EXPECT_GE(pages, 10);

  // Whole list, no prefix.
  size_t all = 0;
  auto p = ks.scan("", SIZE_MAX, "", [&](std::string_view, std::string_view) {
    ++all;
    return true;
  });
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->next.empty());
  EXPECT_EQ(all, 450u);
  EXPECT_EQ(ks.size(), 450u);
}

TEST(Keyspace, ZeroLimitVisitsNothingAndKeepsTheCursor) {
  Keyspace ks(opts("a"));
  EXPECT_TRUE(ks.set("k", "v").ok());
  auto never = [](std::string_view, std::string_view) {
    ADD_FAILURE() << "visited";
    return true;
  };
  auto p = ks.scan("", 0, "", never);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->visited, 0u);
  EXPECT_TRUE(p->next.empty());  // "" again: the caller still has everything ahead
  auto all = ks.scanAll("", 0, [](const RecordView&) {
    ADD_FAILURE() << "visited";
    return true;
  });
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->visited, 0u);
}

TEST(Keyspace, ForeignOrForgedCursorsAreRefused) {
  Keyspace a(opts("a")), b(opts("b"));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(a.set("k" + std::to_string(i), "v").ok());
  auto p = a.scan("", 10, "", [](std::string_view, std::string_view) { return true; });
  ASSERT_TRUE(p.ok());
  ASSERT_FALSE(p->next.empty());
  for (std::string bad : {std::string("zz"), std::string(24, 'g'), std::string(24, '0'),
                          p->next.substr(0, 23) + (p->next[23] == '0' ? "1" : "0")}) {
    auto r = a.scan(bad, 10, "", [](std::string_view, std::string_view) { return true; });
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "INVALID_CURSOR");
  }
  auto foreign = b.scan(p->next, 10, "", [](std::string_view, std::string_view) { return true; });
  EXPECT_FALSE(foreign.ok());
  EXPECT_FALSE(a.scanAll("nope", 10, [](const RecordView&) { return true; }).ok());
}

// After a recovery the mesh asks how old the data is (a node away longer than the tombstone
// grace period must not merge it back). Replay pulls the clock up to the wall clock, so only
// newestHlc() can tell: a day-old log must read as a day old, not as now.
TEST(Keyspace, NewestHlcIsTheNewestReplayedRecordNotTheClock) {
  FakeWall wall;
  Keyspace ks(opts("n1", &wall));
  EXPECT_EQ(ks.newestHlc(), 0u);
  constexpr uint64_t kDayMs = 24 * 3600 * 1000;
  wall.ms = kBaseMs + kDayMs;  // restarted a day after the last write
  ASSERT_EQ(ks.replay(Kind::kPut, "a", "1", ts(10), "n2"), ApplyResult::kApplied);
  ASSERT_EQ(ks.replay(Kind::kDelete, "a", "", ts(20), "n2"), ApplyResult::kApplied);
  ASSERT_EQ(ks.replay(Kind::kPut, "b", "1", ts(5), "n2"), ApplyResult::kApplied);
  EXPECT_EQ(ks.newestHlc(), ts(20));
  EXPECT_GE(Hlc::millis(ks.clock().last()), wall.ms) << "the clock went on to the wall clock";
  ks.apply(clr(ts(30), "n3"));
  EXPECT_EQ(ks.newestHlc(), ts(30)) << "a clear mark is data too";
  ks.reset();
  EXPECT_EQ(ks.newestHlc(), 0u);
}

}  // namespace
}  // namespace db

// MemoryAdapter: the conformance suite, plus what is specific to the arena engine: exact block
// sizes (the memory budget), in-place overwrites, chunks handed back when emptied, and cursors
// that survive a chunk being reset, and an index reserved once for a known count.
#include "database/storage/memory_adapter.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>

#include "database/storage/testing/adapter_conformance.h"

namespace db::testing {
INSTANTIATE_TEST_SUITE_P(Memory, AdapterConformance,
                         ::testing::Values(AdapterFactory{
                             "MemoryAdapter", [] { return std::make_unique<MemoryAdapter>(); }}),
                         adapterFactoryName);
}  // namespace db::testing

namespace db {
namespace {

common::Result<UpsertResult> put(MemoryAdapter& a, std::string_view k, std::string_view v,
                                 uint64_t hlc = 1, bool tomb = false) {
  return a.put(RecordView{k, v, hlc, "node", tomb});
}

std::string key64(int i) {
  std::string k = "key:" + std::to_string(i);
  k.resize(64, '.');
  return k;
}

TEST(MemoryAdapter, RecordOf64And256BytesTakesExactly336Bytes) {
  MemoryAdapter a;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(put(a, key64(i), std::string(256, 'v')).ok());
  EXPECT_EQ(a.liveBytes(), 10000u * 336);
  // Index + arena: well under 50 bytes of overhead a record at this size (chunk tails aside).
  EXPECT_LT(a.memoryUsed(), 10000u * (336 + 50) + (4u << 20));
}

TEST(MemoryAdapter, SameSizeOverwriteStaysInPlace) {
  MemoryAdapter a;
  ASSERT_TRUE(put(a, "k", std::string(256, 'a')).ok());
  const char* before = a.get("k")->value.data();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(put(a, "k", std::string(256, static_cast<char>('a' + i % 26)), i + 2).ok());
  }
  EXPECT_EQ(a.get("k")->value.data(), before);
  // A slightly smaller value too (the block keeps the difference as slack).
  ASSERT_TRUE(put(a, "k", std::string(200, 'z'), 500).ok());
  EXPECT_EQ(a.get("k")->value.data(), before);
  EXPECT_EQ(a.get("k")->value, std::string(200, 'z'));
  EXPECT_EQ(a.liveBytes(), 280u);  // 16 + 1 + 256, rounded up to 8
  // Growing back into the slack is in place as well.
  ASSERT_TRUE(put(a, "k", std::string(256, 'y'), 501).ok());
  EXPECT_EQ(a.get("k")->value.data(), before);
}

TEST(MemoryAdapter, EmptiedChunksAreReturned) {
  MemoryAdapter a;
  for (int i = 0; i < 60000; ++i) ASSERT_TRUE(put(a, key64(i), std::string(256, 'v')).ok());
  size_t chunks = a.chunkCount();
  EXPECT_GE(chunks, 4u);
  for (int i = 0; i < 60000; ++i) ASSERT_TRUE(a.erase(key64(i)));
  EXPECT_LE(a.chunkCount(), 2u);  // the current chunk and one spare stay mapped
  EXPECT_EQ(a.liveBytes(), 0u);
  // Refill: the freed space is reused, nothing leaks in the free lists.
  for (int i = 0; i < 60000; ++i) ASSERT_TRUE(put(a, key64(i), std::string(256, 'v')).ok());
  EXPECT_EQ(a.chunkCount(), chunks);
  EXPECT_EQ(a.checkInvariants(), "");
}

size_t residentKb() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

TEST(MemoryAdapter, AnEmptiedStoreGivesItsPagesBackEvenFromTheChunksItKeeps) {
  std::vector<std::string> keys;  // made before measuring: the loops allocate nothing
  for (int i = 0; i < 60000; ++i) keys.push_back(key64(i));
  const std::string value(256, 'v');
  MemoryAdapter a;
  for (const auto& k : keys) ASSERT_TRUE(put(a, k, value).ok());
  size_t full = residentKb();  // ~20 MiB of records in 5 chunks
  for (const auto& k : keys) ASSERT_TRUE(a.erase(k));
  size_t emptied = residentKb();
  // Three chunks are unmapped; the current one and the spare stay mapped but hold no pages.
  EXPECT_GT(full - std::min(full, emptied), 17u * 1024) << full << " kB -> " << emptied << " kB";
  for (const auto& k : keys) ASSERT_TRUE(put(a, k, value).ok());  // and they are used again
  EXPECT_EQ(a.checkInvariants(), "");
  EXPECT_EQ(a.get(keys.back())->value, value);
}

TEST(MemoryAdapter, FreedBlocksOfOtherSizesAreSplitAndReused) {
  MemoryAdapter a;
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(put(a, key64(i), std::string(900, 'v')).ok());
  for (int i = 0; i < 20000; i += 2) ASSERT_TRUE(a.erase(key64(i)));
  size_t chunks = a.chunkCount();
  // Smaller records fit in the holes: no new chunk needed.
  for (int i = 0; i < 20000; i += 2) {
    ASSERT_TRUE(put(a, key64(i) + "s", std::string(300, 's')).ok());
  }
  EXPECT_EQ(a.chunkCount(), chunks);
  for (int i = 1; i < 20000; i += 2) EXPECT_EQ(a.get(key64(i))->value.size(), 900u);
  EXPECT_EQ(a.checkInvariants(), "");
}

TEST(MemoryAdapter, CursorIntoAResetChunkRestartsThatChunk) {
  MemoryAdapter a;
  for (int i = 0; i < 30000; ++i) ASSERT_TRUE(put(a, key64(i), std::string(256, 'v')).ok());
  ScanOptions o;
  o.limit = 10;
  std::set<std::string> seen;
  ScanResult r = a.scan(0, o, [&](const RecordView& v) {
    seen.insert(std::string(v.key));
    return true;
  });
  ASSERT_FALSE(r.done);
  // Everything goes, then new records arrive: the old cursor must not read garbage.
  a.removeIf([](const RecordView&) { return true; });
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(a, "n" + std::to_string(i), "x").ok());
  std::set<std::string> after;
  uint64_t cursor = r.next;
  for (;;) {
    r = a.scan(cursor, o, [&](const RecordView& v) {
      EXPECT_EQ(v.value, "x");
      EXPECT_TRUE(after.insert(std::string(v.key)).second);
      return true;
    });
    if (r.done) break;
    cursor = r.next;
  }
  EXPECT_LE(after.size(), 100u);
}

// The index grows incrementally past 8k entries (two tables while the old one drains): every
// record must stay reachable through get/overwrite/erase at every step.
TEST(MemoryAdapter, IndexGrowthKeepsEveryRecordReachable) {
  MemoryAdapter a;
  std::set<int> live;
  constexpr int kN = 70000;
  int growingSeen = 0;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(put(a, key64(i), "v" + std::to_string(i), 1).ok());
    growingSeen += a.indexGrowing();
    live.insert(i);
    int j = i / 2;
    if (i % 3 == 0) {  // overwrite or re-create an older one (may sit in the draining table)
      ASSERT_TRUE(put(a, key64(j), std::string(300, 'w'), 2).ok());
      live.insert(j);
    }
    if (i % 7 == 0 && j % 5 == 0) {
      EXPECT_EQ(a.erase(key64(j)), live.erase(j) == 1) << j;
    }
    if (i % 997 == 0) {
      for (int k = std::max(0, i - 50); k <= i; ++k) {
        ASSERT_EQ(a.get(key64(k)).has_value(), live.count(k) == 1) << k;
      }
    }
  }
  for (int i = 0; i < kN; ++i) ASSERT_EQ(a.get(key64(i)).has_value(), live.count(i) == 1) << i;
  EXPECT_EQ(a.size(), live.size());
  EXPECT_GT(growingSeen, 1000);
  EXPECT_EQ(a.checkInvariants(), "");  // the two-table path really ran (8k -> 16k -> 32k -> 64k)
}

// Recovery reserves the index from the files' size: filling it to that many records must
// never start a growth (the rehash that cost a quarter of a restart), and a reserve that comes
// while a growth drains the old table must keep every record reachable.
TEST(MemoryAdapter, ReserveSizesTheIndexOnceForThatManyRecords) {
  MemoryAdapter a;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(a, key64(i), "v").ok());
  constexpr int kN = 50000;
  a.reserve(kN, size_t{8} << 20);  // and the first two chunks mapped populated
  size_t capacity = a.indexCapacity();
  for (int i = 100; i < kN; ++i) {
    ASSERT_TRUE(put(a, key64(i), "v").ok());
    ASSERT_FALSE(a.indexGrowing()) << i;
  }
  EXPECT_EQ(a.indexCapacity(), capacity);
  EXPECT_LE(capacity, size_t{4 * kN});  // sized for kN, not for anything larger
  a.reserve(10, 0);                     // fewer than it holds: nothing changes
  EXPECT_EQ(a.indexCapacity(), capacity);
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(a.get(key64(i)).has_value()) << i;
  EXPECT_EQ(a.checkInvariants(), "");

  MemoryAdapter b;  // mid-growth: some entries still in the table being drained
  int n = 0;
  while (!b.indexGrowing()) ASSERT_TRUE(put(b, key64(n++), "v").ok());
  ASSERT_TRUE(b.erase(key64(0)));
  b.reserve(0, 0);  // recovery's closing call: no rehash, the growth goes on
  EXPECT_TRUE(b.indexGrowing());
  b.reserve(4 * n, 0);
  EXPECT_FALSE(b.indexGrowing());
  for (int i = n; i < 4 * n; ++i) {
    ASSERT_TRUE(put(b, key64(i), "v").ok());
    ASSERT_FALSE(b.indexGrowing()) << i;
  }
  for (int i = 1; i < 4 * n; ++i) ASSERT_TRUE(b.get(key64(i)).has_value()) << i;
  EXPECT_FALSE(b.get(key64(0)).has_value());
  EXPECT_EQ(b.size(), size_t(4 * n - 1));
  EXPECT_EQ(b.checkInvariants(), "");
}

TEST(MemoryAdapter, ChurnDoesNotGrowTheIndex) {
  MemoryAdapter a;
  constexpr int kLive = 10000;
  for (int i = 0; i < kLive; ++i) ASSERT_TRUE(put(a, key64(i), "v").ok());
  size_t settled = 0;
  for (int i = kLive; i < kLive * 12; ++i) {
    ASSERT_TRUE(a.erase(key64(i - kLive)));
    ASSERT_TRUE(put(a, key64(i), "v").ok());
    if (i == kLive * 2) settled = a.memoryUsed();
  }
  EXPECT_EQ(a.size(), size_t{kLive});
  for (int i = kLive * 11; i < kLive * 12; ++i) ASSERT_TRUE(a.get(key64(i)).has_value());
  EXPECT_LE(a.memoryUsed(), settled + settled / 4);
}

TEST(MemoryAdapter, CursorFromBeforeAClearNeverReadsGarbage) {
  MemoryAdapter a;
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(put(a, key64(i), std::string(i % 97, 'o')).ok());
  ScanOptions o;
  o.limit = 1234;
  ScanResult first = a.scan(0, o, [](const RecordView&) { return true; });
  ASSERT_FALSE(first.done);
  a.clear();
  // New records with other sizes: old block boundaries mean nothing now.
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(put(a, "fresh" + std::to_string(i), "x").ok());
  std::set<std::string> seen;
  uint64_t cursor = first.next;
  for (;;) {
    ScanResult r = a.scan(cursor, o, [&](const RecordView& v) {
      EXPECT_EQ(v.key.substr(0, 5), "fresh");
      EXPECT_EQ(v.value, "x");
      EXPECT_TRUE(seen.insert(std::string(v.key)).second);
      return true;
    });
    if (r.done) break;
    cursor = r.next;
  }
  EXPECT_EQ(seen.size(), 3000u);  // the chunk the cursor named restarted from its beginning
}

// The allocator under random sizes (small, medium, > 8 KiB), overwrites, tombstones, erases,
// sliced removals and clears, with the arena's invariants checked along the way.
TEST(MemoryAdapter, RandomSizesKeepTheArenaConsistent) {
  MemoryAdapter a;
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(4242);
  auto size = [&]() -> size_t {
    switch (rng() % 6) {
      case 0:
        return 0;
      case 1:
        return rng() % 64;
      case 2:
        return 256;
      case 3:
        return rng() % 2000;
      case 4:
        return 8000 + rng() % 400;  // around the small/large class boundary
      default:
        return rng() % 60000;
    }
  };
  for (int op = 0; op < 30000; ++op) {
    std::string k = "k" + std::to_string(rng() % 800);
    int dice = static_cast<int>(rng() % 100);
    if (dice < 60) {
      std::string v(size(), static_cast<char>('a' + rng() % 26));
      ASSERT_TRUE(put(a, k, v, op).ok());
      model[k] = v;
    } else if (dice < 90) {
      EXPECT_EQ(a.erase(k), model.erase(k) == 1);
    } else if (dice < 99) {
      auto g = a.get(k);
      auto it = model.find(k);
      ASSERT_EQ(g.has_value(), it != model.end());
      if (g) {
        ASSERT_EQ(g->value, it->second);
      }
    } else if (rng() % 10 == 0) {
      a.clear();
      model.clear();
    } else {
      size_t mod = 3 + rng() % 4;
      a.removeIf([&](const RecordView& v) { return v.value.size() % mod == 1; });
      std::erase_if(model, [&](const auto& kv) { return kv.second.size() % mod == 1; });
    }
    if (op % 1000 == 0) {
      ASSERT_EQ(a.checkInvariants(), "") << "op " << op;
    }
  }
  ASSERT_EQ(a.checkInvariants(), "");
  for (const auto& [k, v] : model) ASSERT_EQ(a.get(k)->value, v);
  EXPECT_EQ(a.size(), model.size());
  // Everything erased: at most the current chunk and one spare stay mapped.
  for (const auto& [k, v] : model) a.erase(k);
  EXPECT_EQ(a.checkInvariants(), "");
  EXPECT_LE(a.chunkCount(), 2u);
}

TEST(MemoryAdapter, LargeValuesUpToTheLimit) {
  MemoryAdapter a;
  std::string big(MemoryAdapter::kMaxValueBytes, 'b');
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(put(a, "big" + std::to_string(i), big).ok());
  ASSERT_TRUE(a.erase("big2"));
  ASSERT_TRUE(put(a, "medium", std::string(100000, 'm')).ok());
  ASSERT_TRUE(put(a, "big2", big, 2).ok());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.get("big" + std::to_string(i))->value.size(), big.size());
  EXPECT_EQ(a.get("medium")->value.size(), 100000u);
}

}  // namespace
}  // namespace db

namespace db {
namespace {

RecordView expiring(std::string_view k, std::string_view v, uint64_t hlc, uint64_t expiresAtMs) {
  RecordView r{k, v, hlc, "node", false};
  r.expiresAtMs = expiresAtMs;
  return r;
}

TEST(MemoryAdapterExpiry, OnlyRecordsWithAnExpiryPayForIt) {
  MemoryAdapter plain, timed;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(plain.put(RecordView{key64(i), std::string(256, 'v'), 1, "node"}).ok());
    ASSERT_TRUE(
        timed.put(expiring(key64(i), std::string(256, 'v'), 1, 1'700'000'000'000 + i)).ok());
  }
  // Without an expiry a record takes what it took before TTLs: 16 + 64 + 256 bytes.
  EXPECT_EQ(plain.liveBytes(), 10000u * 336);
  // With one: exactly 8 bytes more (the expiry after the header; a flag bit says it is there).
  EXPECT_EQ(timed.liveBytes(), 10000u * 344);
  EXPECT_LE(plain.memoryUsed(), timed.memoryUsed());
  for (int i = 0; i < 10000; i += 997) {
    auto r = timed.get(key64(i));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->expiresAtMs, 1'700'000'000'000u + i);
    EXPECT_EQ(r->key, key64(i));
    EXPECT_EQ(r->value, std::string(256, 'v'));
    EXPECT_EQ(plain.get(key64(i))->expiresAtMs, 0u);
  }
  EXPECT_EQ(plain.checkInvariants(), "");
  EXPECT_EQ(timed.checkInvariants(), "");
}

TEST(MemoryAdapterExpiry, AddingOrRemovingAnExpiryMovesTheKeyAndKeepsEverythingConsistent) {
  MemoryAdapter a;
  ASSERT_TRUE(a.put(RecordView{"k", "value", 1, "node"}).ok());
  ASSERT_TRUE(a.put(expiring("k", "value", 2, 5000)).ok());
  EXPECT_EQ(a.get("k")->expiresAtMs, 5000u);
  EXPECT_EQ(a.get("k")->value, "value");
  ASSERT_TRUE(a.put(expiring("k", "v2", 3, 6000)).ok());  // smaller value, in place
  EXPECT_EQ(a.get("k")->expiresAtMs, 6000u);
  EXPECT_EQ(a.get("k")->value, "v2");
  auto prev = a.put(RecordView{"k", "v3", 4, "node"});
  ASSERT_TRUE(prev.ok());
  EXPECT_EQ(prev->previous.expiresAtMs, 6000u);
  EXPECT_EQ(a.get("k")->expiresAtMs, 0u);
  EXPECT_EQ(a.get("k")->value, "v3");
  EXPECT_EQ(a.liveBytes(), 24u);  // 16 + 1 + 2 rounded up: the expiry's bytes are gone
  EXPECT_EQ(a.checkInvariants(), "");
  size_t seen = 0;
  a.scan(0, ScanOptions{}, [&](const RecordView& r) {
    EXPECT_EQ(r.key, "k");
    ++seen;
    return true;
  });
  EXPECT_EQ(seen, 1u);
}

TEST(MemoryAdapterExpiry, TheIndexShrinksWhenMostRecordsAreGone) {
  MemoryAdapter a;
  for (int i = 0; i < 200000; ++i) {
    ASSERT_TRUE(a.put(expiring(key64(i), "v", 1, i < 190000 ? 1000 : 9000)).ok());
  }
  while (a.indexGrowing()) ASSERT_TRUE(a.put(expiring(key64(0), "v", 2, 1000)).ok());
  size_t full = a.indexCapacity();
  size_t usedFull = a.memoryUsed();
  // Removed in slices, as the expiry sweep does.
  uint64_t cursor = 0;
  for (;;) {
    ScanResult r =
        a.removeIf(cursor, 4096, [](const RecordView& rec) { return rec.expiresAtMs == 1000; });
    if (r.done) break;
    cursor = r.next;
  }
  EXPECT_EQ(a.size(), 10000u);
  // Rebuilt at twice the live count each time it fell below 1/8 full: never 8x what it holds.
  EXPECT_LT(a.indexCapacity(), full / 2);
  EXPECT_LE(a.indexCapacity(), 8 * a.size());
  EXPECT_LT(a.memoryUsed(), usedFull);
  EXPECT_EQ(a.checkInvariants(), "");
  for (int i = 190000; i < 200000; i += 999) EXPECT_TRUE(a.get(key64(i)).has_value());
}

}  // namespace
}  // namespace db

// The StorageAdapter conformance tests (see adapter_conformance.h). Each test states the
// behaviour of adapter.h it checks; the last one runs 100k random operations against a
// std::map model and compares full state regularly.
#include "database/storage/testing/adapter_conformance.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace db::testing {
namespace {

struct Rec {
  std::string value;
  uint64_t hlc = 0;
  std::string origin;
  bool tombstone = false;
  bool operator==(const Rec&) const = default;
};

common::Result<UpsertResult> put(StorageAdapter& a, std::string_view k, std::string_view v,
                                 uint64_t hlc = 1, std::string_view origin = "n1",
                                 bool tomb = false) {
  return a.put(RecordView{k, v, hlc, origin, tomb});
}

std::map<std::string, Rec> dump(const StorageAdapter& a, bool tombstones = true) {
  std::map<std::string, Rec> out;
  ScanOptions o;
  o.includeTombstones = tombstones;
  ScanResult r = a.scan(0, o, [&](const RecordView& v) {
    bool fresh = out.emplace(std::string(v.key),
                             Rec{std::string(v.value), v.hlc, std::string(v.origin), v.tombstone})
                     .second;
    EXPECT_TRUE(fresh) << "key visited twice: " << v.key;
    return true;
  });
  EXPECT_TRUE(r.done);
  return out;
}

TEST_P(AdapterConformance, PutGetErase) {
  EXPECT_FALSE(a().get("a").has_value());
  auto r = put(a(), "a", "1", 42, "node-x");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->written);
  EXPECT_FALSE(r->existed);
  auto g = a().get("a");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->key, "a");
  EXPECT_EQ(g->value, "1");
  EXPECT_EQ(g->hlc, 42u);
  EXPECT_EQ(g->origin, "node-x");
  EXPECT_FALSE(g->tombstone);
  EXPECT_EQ(a().size(), 1u);
  EXPECT_TRUE(a().erase("a"));
  EXPECT_FALSE(a().erase("a"));
  EXPECT_FALSE(a().get("a").has_value());
  EXPECT_EQ(a().size(), 0u);
}

TEST_P(AdapterConformance, OverwriteBiggerSmallerSameSize) {
  ASSERT_TRUE(put(a(), "k", std::string(100, 'a'), 1).ok());
  ASSERT_TRUE(put(a(), "other", "x", 1).ok());
  const std::vector<size_t> sizes = {100, 300, 5, 0, 5, 1000, 64, 64, 2000, 1};
  uint64_t hlc = 2;
  for (size_t n : sizes) {
    std::string v(n, static_cast<char>('a' + n % 26));
    auto r = put(a(), "k", v, hlc++, "n2");
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->existed);
    EXPECT_TRUE(r->written);
    auto g = a().get("k");
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->value, v) << "after writing " << n << " bytes";
    EXPECT_EQ(g->hlc, hlc - 1);
    EXPECT_EQ(a().get("other")->value, "x");
  }
  EXPECT_EQ(a().size(), 2u);
}

TEST_P(AdapterConformance, UpsertReportsPreviousAndHonoursPredicate) {
  ASSERT_TRUE(put(a(), "k", "first", 10, "a").ok());
  int calls = 0;
  auto r = a().upsert(RecordView{"k", "second", 5, "b", false}, [&](const RecordView& ex) {
    ++calls;
    EXPECT_EQ(ex.value, "first");
    EXPECT_EQ(ex.hlc, 10u);
    EXPECT_EQ(ex.origin, "a");
    return false;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(r->existed);
  EXPECT_FALSE(r->written);
  EXPECT_EQ(a().get("k")->value, "first");

  r = a().upsert(RecordView{"k", "", 11, "b", true}, [](const RecordView&) { return true; });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->written);
  EXPECT_EQ(r->previous.hlc, 10u);
  EXPECT_EQ(r->previous.origin, "a");
  EXPECT_FALSE(r->previous.tombstone);
  EXPECT_EQ(r->previous.valueSize, 5u);

  // The predicate is not consulted for a new key.
  r = a().upsert(RecordView{"new", "v", 1, "c", false}, [&](const RecordView&) {
    ADD_FAILURE() << "predicate called for an absent key";
    return false;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->written);
  EXPECT_FALSE(r->existed);
}

TEST_P(AdapterConformance, WritesMayUseViewsReadFromTheAdapter) {
  ASSERT_TRUE(put(a(), "a", std::string(300, 'a'), 1).ok());
  ASSERT_TRUE(put(a(), "b", "short", 1).ok());
  auto va = a().get("a");
  ASSERT_TRUE(put(a(), "b", va->value, 2).ok());  // copy a's value into b (b grows)
  EXPECT_EQ(a().get("b")->value, std::string(300, 'a'));
  auto vb = a().get("b");
  ASSERT_TRUE(put(a(), vb->key, vb->value, 3).ok());  // rewrite b with its own views
  EXPECT_EQ(a().get("b")->value, std::string(300, 'a'));
  EXPECT_EQ(a().get("b")->hlc, 3u);
  auto va2 = a().get("a");
  ASSERT_TRUE(put(a(), "a", va2->value.substr(0, 10), 4).ok());  // shrink from own bytes
  EXPECT_EQ(a().get("a")->value, std::string(10, 'a'));
}

TEST_P(AdapterConformance, BinaryAndPrototypeLikeKeys) {
  const std::vector<std::string> keys = {std::string("\0", 1),
                                         std::string("a\0b", 3),
                                         "__proto__",
                                         "constructor",
                                         "toString",
                                         "hasOwnProperty",
                                         "valueOf",
                                         "test:set:utf:\xE2\x9C\x93",
                                         "\xFF\xFE\x80",
                                         " ",
                                         "k"};
  uint64_t hlc = 1;
  for (const auto& k : keys) ASSERT_TRUE(put(a(), k, "v:" + k, hlc++).ok());
  EXPECT_EQ(a().size(), keys.size());
  for (const auto& k : keys) {
    auto g = a().get(k);
    ASSERT_TRUE(g.has_value()) << k;
    EXPECT_EQ(g->key, k);
    EXPECT_EQ(g->value, "v:" + k);
  }
  EXPECT_FALSE(a().get("").has_value());
  EXPECT_FALSE(a().get(std::string("\0\0", 2)).has_value());
  EXPECT_EQ(dump(a()).size(), keys.size());
  EXPECT_TRUE(a().erase("__proto__"));
  EXPECT_TRUE(a().get("constructor").has_value());
  EXPECT_EQ(a().size(), keys.size() - 1);
}

TEST_P(AdapterConformance, EmptyValueIsAValue) {
  ASSERT_TRUE(put(a(), "empty", "").ok());
  auto g = a().get("empty");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->value.empty());
  EXPECT_FALSE(g->tombstone);
  EXPECT_EQ(dump(a(), false).size(), 1u);
}

TEST_P(AdapterConformance, MaximumSizesAndRefusals) {
  size_t maxKey = a().maxKeyBytes();
  size_t maxValue = std::min<size_t>(a().maxValueBytes(), 1u << 20);
  ASSERT_GE(maxKey, 256u);     // 64 code points of 4-byte UTF-8
  ASSERT_GE(maxValue, 1024u);  // 256 code points
  std::string bigKey(maxKey, 'k');
  std::string bigValue(maxValue, 'v');
  ASSERT_TRUE(put(a(), bigKey, bigValue).ok());
  EXPECT_EQ(a().get(bigKey)->value.size(), maxValue);
  ASSERT_TRUE(put(a(), "small", "x").ok());

  auto r = put(a(), std::string(maxKey + 1, 'k'), "v");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "KEY_TOO_LARGE");
  if (a().maxValueBytes() < (size_t{64} << 20)) {
    r = put(a(), "small", std::string(a().maxValueBytes() + 1, 'v'));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "VALUE_TOO_LARGE");
  }
  // A refused write changes nothing.
  EXPECT_EQ(a().get("small")->value, "x");
  EXPECT_EQ(a().size(), 2u);
}

TEST_P(AdapterConformance, TombstonesAreHiddenFromLiveScans) {
  ASSERT_TRUE(put(a(), "live", "1").ok());
  ASSERT_TRUE(put(a(), "dead", "", 5, "n1", true).ok());
  EXPECT_EQ(a().size(), 2u);
  EXPECT_EQ(a().tombstoneCount(), 1u);
  auto g = a().get("dead");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->tombstone);
  EXPECT_EQ(g->hlc, 5u);
  auto live = dump(a(), false);
  EXPECT_EQ(live.size(), 1u);
  EXPECT_TRUE(live.count("live"));
  auto all = dump(a(), true);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_TRUE(all["dead"].tombstone);
  // A tombstone overwritten by a value is live again, and the count follows.
  ASSERT_TRUE(put(a(), "dead", "back", 6).ok());
  EXPECT_EQ(a().tombstoneCount(), 0u);
  ASSERT_TRUE(put(a(), "live", "", 7, "n1", true).ok());
  EXPECT_EQ(a().tombstoneCount(), 1u);
  EXPECT_TRUE(a().erase("live"));
  EXPECT_EQ(a().tombstoneCount(), 0u);
}

TEST_P(AdapterConformance, ScanPagesVisitEachStableRecordExactlyOnce) {
  std::mt19937_64 rng(7);
  std::set<std::string> stable, deleted;
  for (int i = 0; i < 4000; ++i) {
    std::string k = "key:" + std::to_string(i);
    ASSERT_TRUE(put(a(), k, std::string(1 + i % 300, 'v')).ok());
    (i % 4 == 0 ? deleted : stable).insert(k);
  }
  std::vector<std::string> toDelete(deleted.begin(), deleted.end());
  std::shuffle(toDelete.begin(), toDelete.end(), rng);
  std::map<std::string, int> seen;
  ScanOptions o;
  o.limit = 37;
  uint64_t cursor = 0;
  int pages = 0, inserted = 0;
  for (;;) {
    ScanResult r = a().scan(cursor, o, [&](const RecordView& v) {
      ++seen[std::string(v.key)];
      return true;
    });
    ++pages;
    ASSERT_LE(r.visited, 37u);
    if (r.done) break;
    cursor = r.next;
    // Between pages: insert new keys (various sizes) and delete some of the doomed ones.
    for (int j = 0; j < 20; ++j) {
      std::string k = "new:" + std::to_string(inserted++);
      ASSERT_TRUE(put(a(), k, std::string(rng() % 700, 'n')).ok());
    }
    for (int j = 0; j < 10 && !toDelete.empty(); ++j) {
      ASSERT_TRUE(a().erase(toDelete.back()));
      toDelete.pop_back();
    }
    ASSERT_LT(pages, 100000);
  }
  EXPECT_GT(pages, 50);
  for (const auto& k : stable) EXPECT_EQ(seen[k], 1) << k;
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k;
}

TEST_P(AdapterConformance, ScanPrefixLimitAndEarlyStop) {
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(put(a(), (i % 3 == 0 ? "user:" : "item:") + std::to_string(i), "v").ok());
  }
  ScanOptions o;
  o.prefix = "user:";
  o.limit = 7;
  std::set<std::string> got;
  uint64_t cursor = 0;
  for (;;) {
    ScanResult r = a().scan(cursor, o, [&](const RecordView& v) {
      EXPECT_EQ(v.key.substr(0, 5), "user:");
      EXPECT_TRUE(got.insert(std::string(v.key)).second);
      return true;
    });
    EXPECT_LE(r.visited, 7u);
    if (r.done) break;
    cursor = r.next;
  }
  EXPECT_EQ(got.size(), 100u);

  // maxExamined bounds the work of one call; the walk still completes across calls.
  ScanOptions slice;
  slice.prefix = "nothing-matches";
  slice.maxExamined = 50;
  cursor = 0;
  int calls = 0;
  for (;;) {
    ScanResult r = a().scan(cursor, slice, [](const RecordView&) { return true; });
    ++calls;
    EXPECT_LE(r.examined, 50u);
    EXPECT_EQ(r.visited, 0u);
    if (r.done) break;
    cursor = r.next;
  }
  EXPECT_GE(calls, 6);

  // A visitor returning false stops after that record; the next call resumes after it.
  std::set<std::string> all;
  cursor = 0;
  for (;;) {
    int inThisCall = 0;
    ScanResult r = a().scan(cursor, ScanOptions{}, [&](const RecordView& v) {
      EXPECT_TRUE(all.insert(std::string(v.key)).second);
      return ++inThisCall < 11;
    });
    if (r.done) break;
    EXPECT_EQ(inThisCall, 11);
    cursor = r.next;
  }
  EXPECT_EQ(all.size(), 300u);
}

TEST_P(AdapterConformance, ScanOfEmptyStoreIsDone) {
  ScanResult r = a().scan(0, ScanOptions{}, [](const RecordView&) {
    ADD_FAILURE();
    return true;
  });
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.visited, 0u);
}

TEST_P(AdapterConformance, RemoveIfAndClear) {
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(
        put(a(), "k" + std::to_string(i), std::string(i % 50, 'x'), i, "n", i % 5 == 0).ok());
  }
  EXPECT_EQ(a().tombstoneCount(), 400u);
  size_t removed = a().removeIf([](const RecordView& v) { return v.hlc % 2 == 0; });
  EXPECT_EQ(removed, 1000u);
  EXPECT_EQ(a().size(), 1000u);
  EXPECT_EQ(a().tombstoneCount(), 200u);  // i % 5 == 0 and odd: 5, 15, 25...
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(a().get("k" + std::to_string(i)).has_value(), i % 2 == 1) << i;
  }
  a().clear();
  EXPECT_EQ(a().size(), 0u);
  EXPECT_EQ(a().tombstoneCount(), 0u);
  EXPECT_FALSE(a().get("k1").has_value());
  EXPECT_TRUE(dump(a()).empty());
  ASSERT_TRUE(put(a(), "after", "clear").ok());
  EXPECT_EQ(a().get("after")->value, "clear");
}

TEST_P(AdapterConformance, RemoveIfInSlices) {
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(put(a(), "k" + std::to_string(i), std::string(i % 700, 'x'), i).ok());
  }
  uint64_t cursor = 0;
  size_t removed = 0, calls = 0;
  for (;;) {
    ScanResult r = a().removeIf(cursor, 128, [](const RecordView& v) { return v.hlc % 3 == 0; });
    EXPECT_LE(r.examined, 128u);
    removed += r.visited;
    ++calls;
    if (r.done) break;
    cursor = r.next;
    // Writes between slices do not disturb the sweep.
    ASSERT_TRUE(put(a(), "new" + std::to_string(calls), "n", 1).ok());
  }
  EXPECT_EQ(removed, 1000u);
  EXPECT_GE(calls, 20u);
  for (int i = 0; i < 3000; ++i) {
    EXPECT_EQ(a().get("k" + std::to_string(i)).has_value(), i % 3 != 0) << i;
  }
}

TEST_P(AdapterConformance, MemoryAccountingGoesUpAndDown) {
  constexpr size_t kRecords = 100000;
  size_t empty = a().memoryUsed();
  for (size_t i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(put(a(), "key:" + std::to_string(i), std::string(256, 'v')).ok());
  }
  size_t full = a().memoryUsed();
  EXPECT_GT(full, empty + kRecords * 256);
  EXPECT_LT(full, empty + kRecords * 256 * 3);
  for (size_t i = 0; i < kRecords; ++i) ASSERT_TRUE(a().erase("key:" + std::to_string(i)));
  size_t drained = a().memoryUsed();
  EXPECT_LT(drained, full / 2);
  for (size_t i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(put(a(), "key:" + std::to_string(i), std::string(256, 'v')).ok());
  }
  EXPECT_LE(a().memoryUsed(), full + full / 10);  // freed space is reused
  a().clear();
  EXPECT_LT(a().memoryUsed(), full / 10);
}

TEST_P(AdapterConformance, ManyOrigins) {
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(put(a(), "k" + std::to_string(i), "v", i, "origin-" + std::to_string(i)).ok());
  }
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(a().get("k" + std::to_string(i))->origin, "origin-" + std::to_string(i));
  }
}

TEST_P(AdapterConformance, RandomOperationsMatchAMapModel) {
  std::mt19937_64 rng(20261123);
  std::map<std::string, Rec> model;
  const int kOps = 100000;
  auto randomKey = [&] {
    int n = static_cast<int>(rng() % 3000);
    std::string k = "k" + std::to_string(n);
    if (n % 7 == 0) k.push_back('\0');
    return k;
  };
  auto randomValue = [&] {
    size_t len;
    switch (rng() % 4) {
      case 0:
        len = 0;
        break;
      case 1:
        len = rng() % 16;
        break;
      case 2:
        len = 256;
        break;
      default:
        len = rng() % 1100;
        break;
    }
    return std::string(len, static_cast<char>('a' + rng() % 26));
  };
  uint64_t hlc = 1;
  for (int op = 0; op < kOps; ++op) {
    int dice = static_cast<int>(rng() % 100);
    std::string k = randomKey();
    if (dice < 55) {  // put, unconditional
      Rec r{randomValue(), hlc++, "o" + std::to_string(rng() % 4), false};
      if (rng() % 10 == 0) {
        r.tombstone = true;
        r.value.clear();
      }
      ASSERT_TRUE(put(a(), k, r.value, r.hlc, r.origin, r.tombstone).ok());
      model[k] = r;
    } else if (dice < 70) {  // conditional: write only over older records
      uint64_t h = rng() % (hlc + 1);
      std::string v = randomValue();
      auto res = a().upsert(RecordView{k, v, h, "c", false},
                            [&](const RecordView& ex) { return h > ex.hlc; });
      ASSERT_TRUE(res.ok());
      auto it = model.find(k);
      bool expectWrite = it == model.end() || h > it->second.hlc;
      EXPECT_EQ(res->written, expectWrite);
      EXPECT_EQ(res->existed, it != model.end());
      if (expectWrite) model[k] = Rec{v, h, "c", false};
    } else if (dice < 90) {  // erase
      EXPECT_EQ(a().erase(k), model.erase(k) == 1);
    } else if (dice < 99) {  // get
      auto g = a().get(k);
      auto it = model.find(k);
      ASSERT_EQ(g.has_value(), it != model.end());
      if (g) {
        EXPECT_EQ(g->value, it->second.value);
        EXPECT_EQ(g->hlc, it->second.hlc);
        EXPECT_EQ(g->origin, it->second.origin);
        EXPECT_EQ(g->tombstone, it->second.tombstone);
      }
    } else if (rng() % 20 == 0) {  // rare: removeIf on a hash of the value size
      size_t mod = 2 + rng() % 3;
      a().removeIf([&](const RecordView& v) { return v.value.size() % mod == 0; });
      std::erase_if(model, [&](const auto& kv) { return kv.second.value.size() % mod == 0; });
    }
    if (op % 10000 == 9999) {
      ASSERT_EQ(dump(a()), model) << "after op " << op;
      size_t tombs = 0;
      for (const auto& [key, rec] : model) tombs += rec.tombstone;
      ASSERT_EQ(a().tombstoneCount(), tombs);
      ASSERT_EQ(a().size(), model.size());
    }
  }
}

}  // namespace
}  // namespace db::testing

// recover(): a torn last record is cut off, counted and the start goes on; damage with records
// after it refuses the start with the file and the offset; --repair cuts there and starts; a
// damaged snapshot is never "torn"; leftovers of an interrupted compaction are deleted; a
// reset record wipes what came before it; thousands of records recover to the state they
// describe on one thread or two.
#include "database/persistence/recovery.h"

#include <gtest/gtest.h>

#include <sched.h>

#include <filesystem>

#include "database/persistence/record.h"
#include "database/persistence/testing/temp_dir.h"

namespace db::persistence {
namespace {

using testing::TempDir;

struct Env {
  TempDir t;
  std::unique_ptr<DataDir> dir;
  Keyspace ks{makeDefaultKeyspaceOptions("me")};
  Env() { dir = std::move(*DataDir::open(t.path())); }
  std::string name(const std::string& path) { return path.substr(path.rfind('/') + 1); }
  void write(const std::string& path, const std::string& bytes) { t.write(name(path), bytes); }
  uint64_t size(const std::string& path) { return std::filesystem::file_size(path); }
};

uint64_t now() {
  static Hlc clock;
  return clock.now();
}

std::string records(int n, std::vector<size_t>* offsets = nullptr, int first = 0) {
  std::string b;
  for (int i = first; i < first + n; ++i) {
    if (offsets) offsets->push_back(b.size());
    encodeRecord(b, RecordKind::kPut, "k" + std::to_string(i), "v" + std::to_string(i), now(),
                 "other");
  }
  return b;
}

TEST(Recovery, AnEmptyDirectoryIsAnEmptyKeyspace) {
  Env e;
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records, 0u);
  EXPECT_EQ(r->nextGen, 1u);
  EXPECT_EQ(e.ks.size(), 0u);
}

TEST(Recovery, ATornLastRecordIsCutCountedAndTheStartGoesOn) {
  Env e;
  std::vector<size_t> off;
  std::string b = records(4, &off);
  e.write(e.dir->logPath(1), b.substr(0, b.size() - 3));
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tornTails, 1u);
  EXPECT_EQ(r->records, 3u);
  EXPECT_EQ(e.ks.size(), 3u);
  EXPECT_FALSE(e.ks.contains("k3"));
  EXPECT_EQ(e.size(e.dir->logPath(1)), off[3]);  // cut: the next log starts clean
  EXPECT_EQ(r->nextGen, 2u);
}

TEST(Recovery, DamageInTheMiddleRefusesTheStartNamingFileAndOffset) {
  Env e;
  std::vector<size_t> off;
  std::string b = records(3, &off);
  b[off[1] + kRecordHeaderBytes + 3] ^= 0x40;
  e.write(e.dir->logPath(1), b);
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "DATA_DAMAGED");
  EXPECT_NE(r.error().message.find("log.0000000001"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("offset " + std::to_string(off[1])), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("--repair"), std::string::npos);
  EXPECT_EQ(e.size(e.dir->logPath(1)), b.size());  // nothing was cut
}

TEST(Recovery, RepairTruncatesAtTheFirstBadRecordAndStarts) {
  Env e;
  std::vector<size_t> off;
  std::string b = records(3, &off);
  b[off[1] + kRecordHeaderBytes + 3] ^= 0x40;
  e.write(e.dir->logPath(1), b);
  e.write(e.dir->logPath(2), records(1, nullptr, 10));  // a later log still counts
  auto r = recover(*e.dir, e.ks, true);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->repairedBytes, b.size() - off[1]);
  EXPECT_TRUE(e.ks.contains("k0"));
  EXPECT_FALSE(e.ks.contains("k2"));
  EXPECT_TRUE(e.ks.contains("k10"));
  EXPECT_EQ(e.size(e.dir->logPath(1)), off[1]);
  Keyspace again{makeDefaultKeyspaceOptions("me")};
  auto r2 = recover(*e.dir, again, false);  // the repaired directory starts without --repair
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(again.rootHash(), e.ks.rootHash());
}

TEST(Recovery, ADamagedSnapshotTailIsDamageNotATear) {
  Env e;
  std::string b = records(3);
  e.write(e.dir->snapshotPath(1), b.substr(0, b.size() - 2));
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "DATA_DAMAGED");
  EXPECT_NE(r.error().message.find("snapshot.0000000001"), std::string::npos);
}

TEST(Recovery, SnapshotThenLogsAndLeftoversDeleted) {
  Env e;
  e.write(e.dir->logPath(1), records(2));  // replaced by snapshot 2
  e.write(e.dir->snapshotPath(2), records(2, nullptr, 100));
  e.write(e.dir->logPath(2), records(1, nullptr, 200));
  e.write(e.dir->snapshotTmpPath(3), records(1, nullptr, 300));  // an unfinished compaction
  e.write(e.dir->logPath(3), records(1, nullptr, 400));
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(e.ks.contains("k0"));
  EXPECT_TRUE(e.ks.contains("k100"));
  EXPECT_TRUE(e.ks.contains("k101"));
  EXPECT_TRUE(e.ks.contains("k200"));
  EXPECT_FALSE(e.ks.contains("k300"));
  EXPECT_TRUE(e.ks.contains("k400"));
  EXPECT_FALSE(std::filesystem::exists(e.dir->logPath(1)));
  EXPECT_FALSE(std::filesystem::exists(e.dir->snapshotTmpPath(3)));
  EXPECT_EQ(r->nextGen, 4u);
  EXPECT_EQ(r->liveFiles.size(), 3u);
}

// Many records, in the batches recovery applies with prefetches: the recovered keyspace equals
// one that applied the same mutations directly (records, tombstones, digest), whether recovery
// runs on two threads or, pinned to one CPU, on one.
TEST(Recovery, ManyRecordsRecoverToTheStateTheyDescribeOnOneThreadOrTwo) {
  std::string snap, log;
  Keyspace direct{makeDefaultKeyspaceOptions("me")};
  constexpr int kN = 5000;  // > the batches of both paths (64 on one thread, 1024 on two)
  for (int i = 0; i < kN; ++i) {
    std::string k = "k" + std::to_string(i), v(100 + i % 50, 'v');
    uint64_t t = now();
    encodeRecord(snap, RecordKind::kPut, k, v, t, "other");
    direct.replay(Mutation::Kind::kPut, k, v, t, "other");
  }
  for (int i = 0; i < kN; i += 3) {  // the log rewrites a third and deletes a seventh
    std::string k = "k" + std::to_string(i);
    uint64_t t = now();
    bool del = i % 7 == 0;
    encodeRecord(log, del ? RecordKind::kDelete : RecordKind::kPut, k, del ? "" : "new", t, "me");
    direct.replay(del ? Mutation::Kind::kDelete : Mutation::Kind::kPut, k, del ? "" : "new", t,
                  "me");
  }
  cpu_set_t all, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  }
  for (bool pinned : {false, true}) {
    Env e;
    e.write(e.dir->snapshotPath(1), snap);
    e.write(e.dir->logPath(1), log);
    ASSERT_EQ(sched_setaffinity(0, sizeof(pinned ? one : all), pinned ? &one : &all), 0);
    auto r = recover(*e.dir, e.ks, false);
    ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
    ASSERT_TRUE(r.ok()) << r.error().message;
    SCOPED_TRACE(pinned ? "one CPU" : "all CPUs");
    EXPECT_EQ(r->records, size_t{kN + (kN + 2) / 3});
    EXPECT_EQ(e.ks.size(), direct.size());
    EXPECT_EQ(e.ks.tombstoneCount(), direct.tombstoneCount());
    EXPECT_EQ(e.ks.rootHash(), direct.rootHash());
    for (int i = 0; i < kN; ++i) {
      std::string k = "k" + std::to_string(i);
      ASSERT_EQ(e.ks.get(k), direct.get(k)) << k;
    }
  }
}

TEST(Recovery, RecordsFromAheadOfAWallClockThatWentBackAreKept) {
  Env e;
  std::string b;
  uint64_t future = Hlc::pack(Hlc().wallMs() + 3600 * 1000, 0);  // an hour ahead of us now
  encodeRecord(b, RecordKind::kPut, "k", "v", future, "me");
  e.write(e.dir->logPath(1), b);
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->refused, 0u);
  EXPECT_EQ(e.ks.get("k"), "v");
  EXPECT_GT(e.ks.clock().now(), future);  // our next writes still win over the old ones
}

TEST(Recovery, AResetRecordWipesWhatCameBefore) {
  Env e;
  std::string b = records(2);
  encodeRecord(b, RecordKind::kReset, {}, {}, 0, {});
  b += records(1, nullptr, 5);
  e.write(e.dir->logPath(1), b);
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(e.ks.size(), 1u);
  EXPECT_TRUE(e.ks.contains("k5"));
}

TEST(Recovery, RecordsKeepTheirExpiryAndOnesExpiredSinceAreNeverServed) {
  Env e;
  std::string b;
  uint64_t wall = Hlc().wallMs();
  encodeRecord(b, RecordKind::kPut, "gone", "v", now(), "other", {}, wall - 1000);
  encodeRecord(b, RecordKind::kPut, "later", "v", now(), "other", "users", wall + 3600 * 1000);
  encodeRecord(b, RecordKind::kPut, "plain", "v", now(), "other");
  e.write(e.dir->logPath(1), b);
  auto r = recover(*e.dir, e.ks, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records, 3u);
  EXPECT_FALSE(e.ks.get("gone").has_value());
  EXPECT_EQ(e.ks.size(), 2u);
  auto left = e.ks.ttlMs("later", "users");
  ASSERT_TRUE(left.ok());
  EXPECT_GT(*left, 3500 * 1000);
  EXPECT_EQ(e.ks.ttlMs("plain").value(), -1);
}

}  // namespace
}  // namespace db::persistence

// Persister on a real loop and a real directory: what was written (client writes, replicated
// mutations, deletes, clears, a reset) is back after a restart with the same digest; under
// always the wait ends only after the fsync; a compaction racing writes on every turn ends with
// one snapshot + one log that replay to the same state; ENOSPC refuses writes and fails the
// waiters, and healing resumes by itself with nothing lost; recovery is not logged again.
#include "database/persistence/persister.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "common/testing/run_until.h"
#include "database/persistence/testing/faulty_file_ops.h"
#include "database/persistence/testing/temp_dir.h"

namespace db::persistence {
namespace {

using testing::FaultyFileOps;
using testing::TempDir;

class PersisterTest : public ::testing::Test {
 protected:
  PersisterTest() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
    // Bounds how long one iteration blocks, so runUntil re-checks its condition.
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 5, 5);
  }
  ~PersisterTest() override {
    if (persister_) closePersister();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  void open(PersisterOptions o = {}) {
    ks_ = std::make_unique<Keyspace>(makeDefaultKeyspaceOptions("me"));
    auto d = DataDir::open(t_.path());
    ASSERT_TRUE(d.ok()) << d.error().message;
    dir_ = std::move(*d);
    auto r = recover(*dir_, *ks_, false);
    ASSERT_TRUE(r.ok()) << r.error().message;
    recovered_ = *r;
    o.retryMs = 10;
    persister_ = std::make_unique<Persister>(&loop_, *ks_, *dir_, o, recovered_, ops_);
    persister_->start();
    log_ = std::make_unique<WriteLog>(&loop_);
    log_->subscribe(*persister_);
    log_->setDurability(*persister_);
    log_->start();
  }
  void closePersister() {
    bool logClosed = false, done = false;
    log_->close([&] { logClosed = true; });
    ASSERT_TRUE(runUntil([&] { return logClosed; }));
    persister_->close([&] { done = true; });
    ASSERT_TRUE(runUntil([&] { return done; }));
    log_.reset();
    persister_.reset();
    dir_.reset();
  }
  void restart(PersisterOptions o = {}) {
    closePersister();
    open(o);
  }
  bool runUntil(const std::function<bool()>& cond, int timeoutMs = 20000) {
    return common::testing::runUntil(&loop_, cond, timeoutMs);
  }
  // The node's write path: the keyspace applies, the log appends (the persister subscribes).
  common::Result<Mutation> set(std::string_view k, std::string_view v) {
    auto m = ks_->set(k, v);
    if (m.ok()) log_->append(*m, Source::kClient);
    return m;
  }
  common::Result<Mutation> remove(std::string_view k) {
    auto m = ks_->remove(k);
    if (m.ok()) log_->append(*m, Source::kClient);
    return m;
  }
  ApplyResult apply(const Mutation& m) {
    ApplyResult r = ks_->apply(m);
    if (r == ApplyResult::kApplied) log_->append(m, Source::kPeer);
    return r;
  }
  Mutation clear() {
    Mutation m = ks_->clear();
    log_->append(m, Source::kClient);
    return m;
  }
  void reset() {
    ks_->reset();
    log_->reset();
  }
  // Waits for the last write's ticket; returns the status it got.
  common::Status sync() {
    std::optional<common::Status> got;
    persister_->awaitSynced(log_->last(), [&](common::Status s) { got = s; });
    EXPECT_TRUE(runUntil([&] { return got.has_value(); }));
    return got ? *got : common::Error{"TIMEOUT", ""};
  }
  std::vector<std::string> files() {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(t_.path())) {
      v.push_back(e.path().filename().string());
    }
    std::sort(v.begin(), v.end());
    return v;
  }

  uv_loop_t loop_;
  uv_timer_t tick_;
  TempDir t_;
  FaultyFileOps ops_;
  std::unique_ptr<Keyspace> ks_;
  std::unique_ptr<DataDir> dir_;
  RecoveryReport recovered_;
  std::unique_ptr<Persister> persister_;
  std::unique_ptr<WriteLog> log_;
};

TEST_F(PersisterTest, EveryKindOfChangeSurvivesARestart) {
  open();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(set("k" + std::to_string(i), "v").ok());
  uv_run(&loop_, UV_RUN_NOWAIT);  // a second turn, a second batch
  ASSERT_TRUE(remove("k1").ok());
  Hlc peer;
  ASSERT_EQ(apply(Mutation{Mutation::Kind::kPut, "remote", "r", peer.now(), "peer"}),
            ApplyResult::kApplied);
  ASSERT_TRUE(set("k2", "changed").ok());
  ASSERT_TRUE(sync().ok());
  uint64_t root = ks_->rootHash();
  size_t size = ks_->size();
  restart();
  EXPECT_EQ(ks_->rootHash(), root);
  EXPECT_EQ(ks_->size(), size);
  EXPECT_EQ(ks_->get("k2"), "changed");
  EXPECT_FALSE(ks_->contains("k1"));
  EXPECT_EQ(ks_->get("remote"), "r");
  EXPECT_EQ(recovered_.records, 103u);
  // Replaying did not append to the log: nothing new to write.
  EXPECT_EQ(log_->last(), 0u);

  clear();
  ASSERT_TRUE(set("after", "clear").ok());
  ASSERT_TRUE(sync().ok());
  restart();
  EXPECT_EQ(ks_->size(), 1u);
  EXPECT_EQ(ks_->get("after"), "clear");

  reset();  // an evicted node forgets everything
  ASSERT_TRUE(set("fresh", "1").ok());
  ASSERT_TRUE(sync().ok());
  restart();
  EXPECT_EQ(ks_->size(), 1u);
  EXPECT_TRUE(ks_->contains("fresh"));
}

TEST_F(PersisterTest, CollectionsAndTheirClearsSurviveARestartAndACompaction) {
  open();
  auto write = [&](common::Result<Mutation> m) {
    ASSERT_TRUE(m.ok());
    log_->append(*m, Source::kClient);
  };
  for (int i = 0; i < 50; ++i) {
    std::string k = "k" + std::to_string(i);
    ASSERT_TRUE(set(k, "default").ok());
    write(ks_->set(k, "user", "users"));
    write(ks_->set(k, "order", "orders"));
  }
  write(ks_->clear("orders"));
  write(ks_->set("after", "x", "orders"));
  write(ks_->remove("k3", "users"));
  ASSERT_TRUE(sync().ok());
  uint64_t root = ks_->rootHash();
  auto check = [&] {
    EXPECT_EQ(ks_->rootHash(), root);
    EXPECT_EQ(ks_->get("k1"), "default");
    EXPECT_EQ(ks_->get("k1", "users"), "user");
    EXPECT_FALSE(ks_->contains("k3", "users"));
    EXPECT_FALSE(ks_->contains("k1", "orders"));
    EXPECT_EQ(ks_->get("after", "orders"), "x");
    auto marks = ks_->clearMarkMutations();
    ASSERT_EQ(marks.size(), 1u);
    EXPECT_EQ(marks[0].collection, "orders");
    EXPECT_EQ(ks_->collections().size(), 3u);
  };
  restart();  // from the log
  check();
  persister_->compactNow();
  ASSERT_TRUE(runUntil([&] { return persister_->stats().compactions == 1; }));
  restart();  // from the snapshot: the collections' marks and records were written into it
  check();
}

TEST_F(PersisterTest, ExpiriesSurviveARestartAndACompactionLeavesOutDroppableExpiredRecords) {
  open();
  auto write = [&](common::Result<Mutation> m) {
    ASSERT_TRUE(m.ok());
    log_->append(*m, Source::kClient);
  };
  write(ks_->set("later", "v", "users", 3600 * 1000));
  ASSERT_TRUE(set("plain", "v").ok());
  Hlc peer;
  uint64_t wall = ks_->wallMs();
  Mutation expired{Mutation::Kind::kPut, "gone", "v", peer.now(), "peer", {}, wall - 1000};
  ASSERT_EQ(apply(expired), ApplyResult::kApplied);  // no horizon yet: taken, hidden
  ASSERT_TRUE(sync().ok());
  restart();  // from the log: the expiry came back with each record
  EXPECT_GT(ks_->ttlMs("later", "users").value(), 3500 * 1000);
  EXPECT_EQ(ks_->ttlMs("plain").value(), -1);
  EXPECT_FALSE(ks_->contains("gone"));
  EXPECT_EQ(ks_->engine().size(), 3u);
  ks_->setExpiryHorizon(ks_->clock().last() + 1);  // every member has them now
  persister_->compactNow();
  ASSERT_TRUE(runUntil([&] { return persister_->stats().compactions == 1; }));
  restart();  // from the snapshot: the expired record was left out
  EXPECT_EQ(ks_->engine().size(), 2u);
  EXPECT_GT(ks_->ttlMs("later", "users").value(), 3500 * 1000);
  EXPECT_EQ(ks_->size(), 2u);
}

TEST_F(PersisterTest, UnderAlwaysTheWaitEndsOnlyAfterTheFsync) {
  PersisterOptions o;
  o.fsync = FsyncPolicy::kAlways;
  open(o);
  int syncs = ops_.syncs();
  ASSERT_TRUE(set("a", "1").ok());
  ASSERT_TRUE(set("b", "2").ok());  // same turn: one batch
  EXPECT_TRUE(persister_->syncEveryWrite());
  ASSERT_TRUE(sync().ok());
  EXPECT_GE(ops_.syncs(), syncs + 1);
  EXPECT_GE(persister_->stats().syncedTicket, 2u);
}

TEST_F(PersisterTest, WDiskForcesAnFsyncUnderNo) {
  PersisterOptions o;
  o.fsync = FsyncPolicy::kNo;
  open(o);
  ASSERT_TRUE(set("a", "1").ok());
  int syncs = ops_.syncs();
  ASSERT_TRUE(sync().ok());
  EXPECT_EQ(ops_.syncs(), syncs + 1);
}

TEST_F(PersisterTest, ACompactionRacingWritesReplaysToTheSameState) {
  PersisterOptions o;
  o.sliceRecords = 7;                     // ~300 turns for the snapshot
  o.compactMinBytes = uint64_t{1} << 40;  // only when asked
  open(o);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(set("k" + std::to_string(i), "v" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(sync().ok());
  persister_->compactNow();
  EXPECT_TRUE(persister_->stats().compacting);
  int n = 0;
  Hlc peer;
  ASSERT_TRUE(runUntil([&] {
    // Every turn while the snapshot is cut: overwrite, delete, add, replicate.
    std::string k = "k" + std::to_string((n * 37) % 2000);
    EXPECT_TRUE(set(k, "new" + std::to_string(n)).ok());
    (void)remove("k" + std::to_string((n * 53 + 11) % 2000));
    EXPECT_TRUE(set("extra" + std::to_string(n), "x").ok());
    apply(Mutation{Mutation::Kind::kPut, "peer" + std::to_string(n % 50), "p", peer.now(), "peer"});
    ++n;
    return persister_->stats().compactions == 1;
  }));
  EXPECT_GT(n, 20);  // writes really raced the snapshot
  ASSERT_TRUE(set("last", "1").ok());
  ASSERT_TRUE(sync().ok());
  uint64_t root = ks_->rootHash();
  EXPECT_EQ(files(), (std::vector<std::string>{"LOCK", "log.0000000002", "snapshot.0000000002"}));
  restart(o);
  EXPECT_EQ(ks_->rootHash(), root);
  EXPECT_EQ(ks_->get("last"), "1");
}

TEST_F(PersisterTest, EachCompactionDeletesThePreviousSnapshot) {
  PersisterOptions o;
  o.compactMinBytes = uint64_t{1} << 40;  // only when asked
  open(o);
  for (int round = 1; round <= 3; ++round) {
    ASSERT_TRUE(ks_->set("k", "v" + std::to_string(round)).ok());
    ASSERT_TRUE(sync().ok());
    persister_->compactNow();
    ASSERT_TRUE(runUntil([&] { return persister_->stats().compactions == uint64_t(round); }));
  }
  // One snapshot and the log after it, not one snapshot per compaction since the start.
  EXPECT_EQ(files(), (std::vector<std::string>{"LOCK", "log.0000000004", "snapshot.0000000004"}));
  restart(o);
  EXPECT_EQ(ks_->get("k"), "v3");
}

TEST_F(PersisterTest, AClearAndAResetDuringACompactionReplayToTheSameState) {
  PersisterOptions o;
  o.sliceRecords = 5;
  o.compactMinBytes = uint64_t{1} << 40;
  open(o);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(set("k" + std::to_string(i), "v").ok());
  persister_->compactNow();
  int turn = 0;
  bool compactingAtTheClear = false;
  ASSERT_TRUE(runUntil([&] {
    // The snapshot has already taken some records when the clear comes, records are written
    // after it and a reset wipes them, all in one turn in the middle of the walk (after a clear
    // the walk may end at once: how far it goes depends on where the engine puts new records,
    // so the test does not count turns); later turns keep writing until the commit.
    if (turn == 2) {
      compactingAtTheClear = persister_->stats().compacting;
      clear();
      for (int i = 0; i < 500; ++i) EXPECT_TRUE(set("mid" + std::to_string(i), "m").ok());
      reset();
    }
    if (turn > 2) {
      EXPECT_TRUE(set("late" + std::to_string(turn), "l").ok());
    }
    ++turn;
    return persister_->stats().compactions == 1;
  }));
  ASSERT_TRUE(compactingAtTheClear);
  ASSERT_TRUE(sync().ok());
  uint64_t root = ks_->rootHash();
  size_t size = ks_->size();
  restart(o);
  EXPECT_EQ(ks_->size(), size);
  EXPECT_EQ(ks_->rootHash(), root);
  EXPECT_FALSE(ks_->contains("k1"));
  EXPECT_FALSE(ks_->contains("mid1"));
}

TEST_F(PersisterTest, CompactionStartsByItselfPastTheThreshold) {
  PersisterOptions o;
  o.compactMinBytes = 4096;
  open(o);
  // One key overwritten again and again: the log grows, the live data does not.
  int rounds = 0;
  while (rounds < 20000 && !persister_->stats().compacting &&
         persister_->stats().compactions == 0) {
    ASSERT_TRUE(set("same", std::string(1000, static_cast<char>('a' + rounds % 26))).ok());
    uv_run(&loop_, UV_RUN_NOWAIT);
    ++rounds;
  }
  ASSERT_TRUE(runUntil([&] { return persister_->stats().compactions >= 1; }))
      << rounds << " rounds, store " << ks_->memoryUsed() << " bytes";
  auto st = persister_->stats();
  EXPECT_LT(st.snapshotBytes, 2000u);  // one record: the overwritten ones are gone
  EXPECT_LT(st.logBytes + st.snapshotBytes,
            static_cast<uint64_t>(Persister::kCompactRatio * ks_->memoryUsed()));
  std::string value(ks_->get("same").value_or(""));
  ASSERT_TRUE(sync().ok());
  restart(o);
  EXPECT_EQ(ks_->get("same"), value);
}

TEST_F(PersisterTest, ENOSPCRefusesWritesAndHealingResumesWithNothingLost) {
  PersisterOptions o;
  o.fsync = FsyncPolicy::kAlways;
  open(o);
  ASSERT_TRUE(set("before", "1").ok());
  ASSERT_TRUE(sync().ok());
  ops_.failWrites(-ENOSPC);
  ASSERT_TRUE(set("during", "2").ok());
  auto st = sync();  // the waiter learns the write is not durable
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "DISK_UNAVAILABLE");
  EXPECT_NE(st.error().message.find("No space left"), std::string::npos) << st.error().message;
  EXPECT_FALSE(persister_->writable().ok());
  EXPECT_TRUE(persister_->stats().failed);
  ops_.heal();
  ASSERT_TRUE(runUntil([&] { return persister_->writable().ok(); }));
  ASSERT_TRUE(set("after", "3").ok());
  ASSERT_TRUE(sync().ok());
  EXPECT_GE(persister_->stats().diskErrors, 1u);
  restart(o);
  EXPECT_TRUE(ks_->contains("before"));
  EXPECT_TRUE(ks_->contains("during"));  // retried and written once the disk healed
  EXPECT_TRUE(ks_->contains("after"));
}

}  // namespace
}  // namespace db::persistence

namespace db::persistence {
namespace {

// Opt-in measurement (MESHKV_PERSIST_BENCH=1): 1M records of 64-byte keys and 256-byte values,
// then a compaction with the default slice size, timing every loop turn while it runs. A /get
// arriving during the compaction waits at most one turn, so the longest turn bounds the stall
// the issue caps at 20 ms (p99 /get). Printed, and asserted under a 20 ms bound in release only.
TEST_F(PersisterTest, BenchCompactionOf1MRecordsTurnLength) {
  if (std::getenv("MESHKV_PERSIST_BENCH") == nullptr) GTEST_SKIP() << "MESHKV_PERSIST_BENCH=1";
  PersisterOptions o;
  o.compactMinBytes = uint64_t{1} << 40;
  open(o);
  std::string value(256, 'v');
  char key[65];
  for (int i = 0; i < 1000000; ++i) {
    std::snprintf(key, sizeof key, "%064d", i);
    ASSERT_TRUE(set(key, value).ok());
    if (i % 10000 == 0) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  ASSERT_TRUE(sync().ok());
  persister_->compactNow();
  double longestMs = 0;
  int turns = 0;
  auto start = std::chrono::steady_clock::now();
  while (persister_->stats().compactions == 0) {
    auto t0 = std::chrono::steady_clock::now();
    uv_run(&loop_, UV_RUN_NOWAIT);
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    longestMs = std::max(longestMs, ms);
    ++turns;
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::minutes(5));
  }
  double totalS = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto st = persister_->stats();
  std::printf(
      "compaction of %zu records: %.1f s, %d turns, longest turn %.2f ms, snapshot %llu "
      "bytes, store %zu bytes\n",
      ks_->size(), totalS, turns, longestMs, static_cast<unsigned long long>(st.snapshotBytes),
      ks_->memoryUsed());
#if !defined(MESHKV_SANITIZED)
  EXPECT_LT(longestMs, 20.0);
#endif
}

}  // namespace
}  // namespace db::persistence

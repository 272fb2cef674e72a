// DiskWriter: batches land in order and are fsynced per policy (always: every batch, and the
// batches queued while an fsync ran share the next write and fsync; everysec:
// within about a second even when idle; no: only when a batch asks); ENOSPC on write and EIO on
// fsync are reported, retried, and once the disk heals the file holds every record exactly once
// (the half-written batch was truncated away and rewritten); snapshots are renamed only when
// complete and their failure leaves the log alone.
#include "database/persistence/disk_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "database/persistence/record.h"
#include "database/persistence/testing/faulty_file_ops.h"
#include "database/persistence/testing/temp_dir.h"

namespace db::persistence {
namespace {

using testing::FaultyFileOps;
using testing::TempDir;

// Polls cond until it holds or 20 s passed.
template <typename F>
bool waitFor(F cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

std::string batch(int from, int n) {
  std::string b;
  for (int i = from; i < from + n; ++i) {
    encodeRecord(b, RecordKind::kPut, "key" + std::to_string(i), "value", i + 1, "n");
  }
  return b;
}

// Every record's hlc in file order; the file must be clean.
std::vector<uint64_t> hlcs(const std::string& bytes) {
  std::vector<uint64_t> v;
  auto out = scanRecords(bytes, [&](const LogRecord& r) {
    v.push_back(r.hlc);
    return true;
  });
  EXPECT_EQ(out.state, ScanOutcome::State::kClean);
  return v;
}

std::vector<uint64_t> seq(uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

TEST(DiskWriter, AlwaysFsyncsEveryBatch) {
  TempDir t;
  FaultyFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kAlways, nullptr, 10);
  w.openLog(t.file("log.1"));
  w.append(batch(0, 3), 3, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 3; }));
  int first = ops.syncs();
  EXPECT_GE(first, 1);
  w.append(batch(3, 2), 5, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 5; }));
  EXPECT_GE(ops.syncs(), first + 1);
  w.stop();
  EXPECT_EQ(hlcs(t.read("log.1")), seq(5));
}

// A disk whose fsync waits until the test opens the gate.
class GatedFileOps : public FaultyFileOps {
 public:
  std::atomic<bool> open{false};
  std::atomic<int> waiting{0};
  int fsync(int fd) override {
    ++waiting;
    while (!open) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return FaultyFileOps::fsync(fd);
  }
};

TEST(DiskWriter, BatchesQueuedDuringAnFsyncShareTheNextWriteAndFsync) {
  TempDir t;
  GatedFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kAlways, nullptr, 10);
  w.openLog(t.file("log.1"));
  w.append(batch(0, 1), 1, false);
  ASSERT_TRUE(waitFor([&] { return ops.waiting == 1; }));  // the first fsync is held
  int writes = ops.writes();
  w.append(batch(1, 2), 3, false);
  w.append(batch(3, 2), 5, false);
  w.append(batch(5, 1), 6, false);
  ops.open = true;
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 6; }));
  EXPECT_EQ(ops.writes(), writes + 1) << "the three queued batches in one write";
  EXPECT_EQ(ops.syncs(), 2) << "and one fsync";
  w.stop();
  EXPECT_EQ(hlcs(t.read("log.1")), seq(6));
}

TEST(DiskWriter, EverySecSyncsWithinAboutASecondWhenIdle) {
  TempDir t;
  FaultyFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kEverySec, nullptr, 10);
  w.openLog(t.file("log.1"));
  w.append(batch(0, 1), 1, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().written == 1; }));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(DiskWriter, NoNeverSyncsUnlessABatchAsks) {
  TempDir t;
  FaultyFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kNo, nullptr, 10);
  w.openLog(t.file("log.1"));
  w.append(batch(0, 1), 1, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().written == 1; }));
  int syncs = ops.syncs();
  w.append("", 1, true);  // w=disk
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 1; }));
  EXPECT_EQ(ops.syncs(), syncs + 1);
}

TEST(DiskWriter, ENOSPCIsReportedRetriedAndHealedWithoutLosingOrDoublingRecords) {
  TempDir t;
  FaultyFileOps ops;
  std::atomic<int> notified{0};
  DiskWriter w(
      ops, FsyncPolicy::kAlways, [&] { ++notified; }, 5);
  w.openLog(t.file("log.1"));
  w.append(batch(0, 10), 10, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 10; }));
  ops.failWrites(-ENOSPC);
  w.append(batch(10, 10), 20, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().error == -ENOSPC; }));
  EXPECT_EQ(w.progress().synced, 10u);
  EXPECT_NE(w.progress().errorWhere.find("write log.1"), std::string::npos);
  w.append(batch(20, 5), 25, false);                          // queued behind the failing batch
  ASSERT_TRUE(waitFor([&] { return ops.failures() >= 3; }));  // it keeps retrying
  EXPECT_EQ(w.progress().synced, 10u);
  ops.heal();
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 25; }));
  EXPECT_EQ(w.progress().error, 0);
  EXPECT_GE(w.progress().diskErrors, 3u);
  EXPECT_GT(notified.load(), 0);
  w.stop();
  EXPECT_EQ(hlcs(t.read("log.1")), seq(25));
}

TEST(DiskWriter, EIOOnFsyncRewritesEverythingSinceTheLastGoodFsync) {
  TempDir t;
  FaultyFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kAlways, nullptr, 5);
  w.openLog(t.file("log.1"));
  w.append(batch(0, 4), 4, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 4; }));
  ops.failSyncs(-EIO);
  w.append(batch(4, 4), 8, false);
  ASSERT_TRUE(waitFor([&] { return w.progress().error == -EIO; }));
  EXPECT_EQ(w.progress().synced, 4u);
  ops.heal();
  ASSERT_TRUE(waitFor([&] { return w.progress().synced == 8 && w.progress().error == 0; }));
  w.stop();
  EXPECT_EQ(hlcs(t.read("log.1")), seq(8));
}

TEST(DiskWriter, ASnapshotIsNamedOnlyWhenCompleteAndObsoleteFilesGo) {
  TempDir t;
  FaultyFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kEverySec, nullptr, 5);
  t.write("log.1", batch(0, 2));
  w.openLog(t.file("log.2"));
  w.beginSnapshot(t.file("snapshot.2.tmp"));
  w.snapshotSlice(batch(0, 1));
  w.snapshotSlice(batch(1, 1));
  ASSERT_TRUE(waitFor([&] { return w.progress().slicesWritten == 2; }));
  EXPECT_FALSE(std::filesystem::exists(t.file("snapshot.2")));
  w.commitSnapshot(t.file("snapshot.2"), 2, {t.file("log.1")});
  ASSERT_TRUE(waitFor([&] { return w.progress().snapshotCommitted == 2; }));
  EXPECT_EQ(hlcs(t.read("snapshot.2")), seq(2));
  EXPECT_FALSE(std::filesystem::exists(t.file("snapshot.2.tmp")));
  EXPECT_FALSE(std::filesystem::exists(t.file("log.1")));
}

TEST(DiskWriter, AFailedSnapshotIsAbandonedAndTheOldFilesStay) {
  TempDir t;
  FaultyFileOps ops;
  DiskWriter w(ops, FsyncPolicy::kNo, nullptr, 5);
  t.write("log.1", batch(0, 2));
  w.openLog(t.file("log.2"));
  w.beginSnapshot(t.file("snapshot.2.tmp"));
  ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(t.file("snapshot.2.tmp")); }));
  ops.failWrites(-ENOSPC);
  w.snapshotSlice(batch(0, 2));
  ASSERT_TRUE(waitFor([&] { return w.progress().slicesWritten == 1; }));
  ops.heal();
  w.commitSnapshot(t.file("snapshot.2"), 2, {t.file("log.1")});
  ASSERT_TRUE(waitFor([&] { return w.progress().snapshotFailed == 2; }));
  EXPECT_EQ(w.progress().snapshotCommitted, 0u);
  EXPECT_TRUE(std::filesystem::exists(t.file("log.1")));
  EXPECT_FALSE(std::filesystem::exists(t.file("snapshot.2")));
  EXPECT_FALSE(std::filesystem::exists(t.file("snapshot.2.tmp")));
  EXPECT_EQ(w.progress().error, 0);  // the log is fine
}

}  // namespace
}  // namespace db::persistence

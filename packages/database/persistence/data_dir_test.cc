// DataDir: the lock refuses a second opener with a line naming the holder's pid and is free
// again once the first closes; the layout rule picks the highest complete snapshot and the logs
// from its generation on, and names every other file a leftover, at each step of a compaction.
#include "database/persistence/data_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "database/persistence/testing/temp_dir.h"

namespace db::persistence {
namespace {

using testing::TempDir;

TEST(DataDir, CreatesTheDirectoryAndRefusesASecondOpener) {
  TempDir t;
  std::string path = t.path() + "/a/b";
  auto first = DataDir::open(path);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = DataDir::open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "DATA_DIR_LOCKED");
  EXPECT_NE(second.error().message.find(std::to_string(getpid())), std::string::npos)
      << second.error().message;
  EXPECT_NE(second.error().message.find(path), std::string::npos);
  first->reset();
  auto third = DataDir::open(path);
  EXPECT_TRUE(third.ok());
}

TEST(DataDir, AnUnusablePathIsAnError) {
  TempDir t;
  t.write("file", "x");
  auto d = DataDir::open(t.file("file") + "/sub");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "DATA_DIR_UNUSABLE");
}

std::vector<std::string> names(const std::vector<std::string>& paths) {
  std::vector<std::string> v;
  for (const auto& p : paths) v.push_back(p.substr(p.rfind('/') + 1));
  std::sort(v.begin(), v.end());
  return v;
}

TEST(DataDir, TheLayoutIsUnambiguousAtEveryStepOfACompaction) {
  TempDir t;
  auto d = DataDir::open(t.path());
  ASSERT_TRUE(d.ok());
  DataDir& dir = **d;
  auto touch = [&](const std::string& path) { std::ofstream(path) << "x"; };

  auto l = dir.scan();  // empty directory
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->snapshot);
  EXPECT_TRUE(l->logs.empty());
  EXPECT_EQ(l->nextGen(), 1u);

  touch(dir.logPath(1));  // first start
  touch(dir.logPath(2));  // second start
  l = dir.scan();
  EXPECT_FALSE(l->snapshot);
  EXPECT_EQ(l->logs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(l->nextGen(), 3u);

  touch(dir.logPath(3));  // compaction: new log, snapshot being written
  touch(dir.snapshotTmpPath(3));
  l = dir.scan();
  EXPECT_FALSE(l->snapshot);
  EXPECT_EQ(l->logs, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(names(l->stale), std::vector<std::string>{"snapshot.0000000003.tmp"});

  std::filesystem::rename(dir.snapshotTmpPath(3), dir.snapshotPath(3));  // committed
  l = dir.scan();
  EXPECT_EQ(l->snapshot, 3u);
  EXPECT_EQ(l->logs, (std::vector<uint64_t>{3}));
  EXPECT_EQ(names(l->stale), (std::vector<std::string>{"log.0000000001", "log.0000000002"}));
  EXPECT_EQ(l->nextGen(), 4u);

  touch(dir.snapshotPath(1));  // an old snapshot left behind
  l = dir.scan();
  EXPECT_EQ(l->snapshot, 3u);
  EXPECT_EQ(names(l->stale),
            (std::vector<std::string>{"log.0000000001", "log.0000000002", "snapshot.0000000001"}));
}

}  // namespace
}  // namespace db::persistence

// ExpirySweeper: Redis's repeat rule (at once while a slice finds more than a quarter expired,
// else after the period), a slice runs only while something is due, and every dropped record
// reaches the log as Source::kExpiry, which only subscribers that ask for it get (the watch
// hub), not the disk or the peers.
#include "database/core/expiry_sweeper.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "database/storage/testing/fake_wall.h"

namespace db {
namespace {

using fixture::FakeWall;
using fixture::kBaseMs;

struct Recorder : LogSubscriber {
  explicit Recorder(bool expiry) : expiry(expiry) {}
  void onAppend(Ticket, const LogEntry& e, Source s) override {
    entries.push_back(std::string(e.collection) + "/" + std::string(e.key));
    sources.push_back(s);
  }
  bool wantsExpiry() const override { return expiry; }
  void onTurnEnd() override {}
  bool expiry;
  std::vector<std::string> entries;
  std::vector<Source> sources;
};

TEST(ExpirySweeper, RepeatsAtOnceOnlyWhileManyWereExpired) {
  EXPECT_EQ(ExpirySweeper::nextDelayMs({4096, 2000, false}), 0u);
  EXPECT_EQ(ExpirySweeper::nextDelayMs({4096, 1025, false}), 0u);
  EXPECT_EQ(ExpirySweeper::nextDelayMs({4096, 1024, false}), ExpirySweeper::kPeriodMs);
  EXPECT_EQ(ExpirySweeper::nextDelayMs({4096, 4096, true}), ExpirySweeper::kPeriodMs);  // end
  EXPECT_EQ(ExpirySweeper::nextDelayMs({0, 0, true}), ExpirySweeper::kPeriodMs);
}

TEST(ExpirySweeper, DropsDueRecordsThroughTheLogForThoseWhoAskOnly) {
  FakeWall wall;
  Keyspace ks(fixture::keyspaceOptions("n1", &wall));
  WriteLog log(nullptr);
  Recorder disk(false), watch(true);
  log.subscribe(disk);
  log.subscribe(watch);
  ExpirySweeper sweeper(uv_default_loop(), ks, log);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ks.set("k" + std::to_string(i), "v", "c", 1000).ok());
  ASSERT_TRUE(ks.set("stay", "v").ok());
  ks.setExpiryHorizon(ks.clock().last() + 1);
  EXPECT_EQ(sweeper.runSlice(), ExpirySweeper::kPeriodMs);  // nothing due: no slice
  EXPECT_EQ(sweeper.cycles(), 0u);
  wall.ms = kBaseMs + 1000;
  sweeper.runSlice();
  EXPECT_EQ(sweeper.cycles(), 1u);
  EXPECT_EQ(ks.engine().size(), 1u);
  EXPECT_TRUE(disk.entries.empty());
  ASSERT_EQ(watch.entries.size(), 10u);
  for (Source s : watch.sources) EXPECT_EQ(s, Source::kExpiry);
  EXPECT_EQ(watch.entries[0].substr(0, 3), "c/k");
  std::string status;
  sweeper.appendStatus(status);
  EXPECT_EQ(status, ",\"expiry\":{\"expiring\":0,\"expired\":10,\"sweepCycles\":1}");
  sweeper.close([] {});
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

}  // namespace
}  // namespace db

// WriteLog: tickets follow the order of appends, every subscriber sees every entry with its
// source, a turn ends with the disk, then the peers, then the held answers; await() joins the
// disk and the peers and answers once, with the first failure.
#include "database/core/write_log.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace db {
namespace {

struct Recorder : LogSubscriber {
  Recorder(std::string n, std::vector<std::string>& t) : name(std::move(n)), trace(t) {}
  void onAppend(Ticket ticket, const LogEntry& e, Source source) override {
    trace.push_back(name + ":" + std::to_string(ticket) + ":" + std::string(e.key) + ":" +
                    std::to_string(static_cast<int>(source)));
  }
  void onReset() override { trace.push_back(name + ":reset"); }
  void onTurnEnd() override { trace.push_back(name + ":turn"); }
  std::string name;
  std::vector<std::string>& trace;
};

// A disk whose fsyncs the test completes by hand.
struct FakeDisk : Durability {
  bool persistent() const override { return true; }
  common::Status writable() const override {
    if (broken) return common::Error{"DISK_UNAVAILABLE", "test"};
    return common::okStatus();
  }
  bool syncEveryWrite() const override { return always; }
  void awaitSynced(uint64_t ticket, std::function<void(common::Status)> done) override {
    waits.emplace_back(ticket, std::move(done));
  }
  void appendStatus(std::string&) const override {}
  bool always = false;
  bool broken = false;
  std::vector<std::pair<uint64_t, std::function<void(common::Status)>>> waits;
};

struct FakePeers : Replication {
  void awaitTicket(Ticket ticket, WriteLevel level, std::function<void(bool, int)> done) override {
    waits.push_back({ticket, level, std::move(done)});
  }
  struct Wait {
    Ticket ticket;
    WriteLevel level;
    std::function<void(bool, int)> done;
  };
  std::vector<Wait> waits;
};

Mutation put(std::string key) {
  return Mutation{Mutation::Kind::kPut, std::move(key), "v", 1, "n"};
}

TEST(WriteLog, TicketsFollowTheAppendsAndEverySubscriberSeesEachEntryInOrder) {
  std::vector<std::string> trace;
  Recorder disk("disk", trace), peers("peers", trace);
  WriteLog log(nullptr);
  log.subscribe(disk);
  log.subscribe(peers);
  log.afterTurn([&] { trace.push_back("answers"); });
  EXPECT_EQ(log.append(put("a"), Source::kClient), 1u);
  EXPECT_EQ(log.append(put("b"), Source::kPeer), 2u);
  log.reset();
  EXPECT_EQ(log.last(), 2u);
  bool closed = false;
  log.close([&] { closed = true; });  // never started: ends the turn and is done at once
  EXPECT_TRUE(closed);
  EXPECT_EQ(trace, (std::vector<std::string>{"disk:1:a:0", "peers:1:a:0", "disk:2:b:1",
                                             "peers:2:b:1", "disk:reset", "peers:reset",
                                             "disk:turn", "peers:turn", "answers"}));
}

TEST(WriteLog, ATurnEndsOnTheLoopWithTheDiskThenThePeersThenTheAnswers) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  std::vector<std::string> trace;
  Recorder disk("disk", trace), peers("peers", trace);
  WriteLog log(&loop);
  log.subscribe(disk);
  log.subscribe(peers);
  log.afterTurn([&] { trace.push_back("answers"); });
  log.start();
  // One turn: a timer fires (the "request"), the write is appended, then the check ends it.
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = &log;
  uv_timer_start(
      &t, [](uv_timer_t* h) { static_cast<WriteLog*>(h->data)->append(put("k"), Source::kClient); },
      0, 0);
  uv_run(&loop, UV_RUN_ONCE);
  ASSERT_GE(trace.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(trace.begin(), trace.begin() + 5),
            (std::vector<std::string>{"disk:1:k:0", "peers:1:k:0", "disk:turn", "peers:turn",
                                      "answers"}));
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  bool closed = false;
  log.close([&] { closed = true; });
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(closed);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(WriteLog, LocalIsAnsweredAtOnceAndDiskNeedsAPersistentLog) {
  WriteLog log(nullptr);
  EXPECT_TRUE(log.admit(WriteLevel::kLocal).ok());
  auto refused = log.admit(WriteLevel::kDisk);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "PERSISTENCE_DISABLED");
  std::optional<WriteOutcome> got;
  log.await(log.append(put("a"), Source::kClient), WriteLevel::kLocal,
            [&](const WriteOutcome& o) { got = o; });
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->status.ok());
  EXPECT_EQ(got->acked, 1);
}

TEST(WriteLog, ABrokenDiskRefusesEveryWriteBeforeItIsApplied) {
  FakeDisk disk;
  disk.broken = true;
  WriteLog log(nullptr);
  log.setDurability(disk);
  auto st = log.admit(WriteLevel::kLocal);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "DISK_UNAVAILABLE");
}

TEST(WriteLog, UnderFsyncAlwaysQuorumWaitsForTheDiskAndThePeers) {
  FakeDisk disk;
  disk.always = true;
  FakePeers peers;
  WriteLog log(nullptr);
  log.setDurability(disk);
  log.setReplication(peers);
  Ticket t = log.append(put("a"), Source::kClient);
  int calls = 0;
  WriteOutcome got;
  log.await(t, WriteLevel::kQuorum, [&](const WriteOutcome& o) {
    ++calls;
    got = o;
  });
  ASSERT_EQ(disk.waits.size(), 1u);
  ASSERT_EQ(peers.waits.size(), 1u);
  EXPECT_EQ(disk.waits[0].first, t);
  EXPECT_EQ(peers.waits[0].ticket, t);
  EXPECT_EQ(peers.waits[0].level, WriteLevel::kQuorum);
  peers.waits[0].done(true, 2);
  EXPECT_EQ(calls, 0) << "answered before the fsync";
  disk.waits[0].second(common::okStatus());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(got.status.ok());
  EXPECT_EQ(got.acked, 2);
}

TEST(WriteLog, TheFirstFailureAnswersAndLaterCompletionsAreIgnored) {
  FakeDisk disk;
  FakePeers peers;
  WriteLog log(nullptr);
  log.setDurability(disk);
  log.setReplication(peers);
  Ticket t = log.append(put("a"), Source::kClient);
  int calls = 0;
  WriteOutcome got;
  log.await(t, WriteLevel::kAll, [&](const WriteOutcome& o) {
    ++calls;
    got = o;
  });
  EXPECT_TRUE(disk.waits.empty()) << "everysec: w=all does not wait for an fsync";
  ASSERT_EQ(peers.waits.size(), 1u);
  peers.waits[0].done(false, 2);
  EXPECT_EQ(calls, 1);
  ASSERT_FALSE(got.status.ok());
  EXPECT_EQ(got.status.error().code, "REPLICATION_TIMEOUT");
  EXPECT_EQ(got.acked, 2);

  Ticket d = log.append(put("b"), Source::kClient);
  calls = 0;
  log.await(d, WriteLevel::kDisk, [&](const WriteOutcome& o) {
    ++calls;
    got = o;
  });
  ASSERT_EQ(disk.waits.size(), 1u);
  disk.waits[0].second(common::Error{"DISK_UNAVAILABLE", "ENOSPC"});
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got.status.error().code, "DISK_UNAVAILABLE");
}

}  // namespace
}  // namespace db

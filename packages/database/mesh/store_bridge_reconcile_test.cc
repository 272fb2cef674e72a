// Unit tests for anti-entropy's second level as two nodes run it (StoreBridge: repairPlan,
// summary, answerSummary, wantedRecords): equal states send no record; one changed record
// moves that record alone, in one direction; a record only one side has reaches the other;
// 1 % of 20,000 records changed moves about the changed records plus 8 bytes a record; and a
// malformed summary from a peer is refused.
#include <gtest/gtest.h>

#include <string>

#include "database/mesh/store_bridge.h"
#include "database/mesh/wire.h"
#include "database/storage/keyspace_reconcile.h"

namespace db {
namespace {

// One node: a keyspace and its bridge (the log has no subscriber: appends go nowhere).
struct Side {
  explicit Side(const char* id) : keyspace(makeDefaultKeyspaceOptions(id)) {}
  Keyspace keyspace;
  WriteLog log{nullptr};
  StoreBridge bridge{keyspace, log};

  // Applies a kRecords frame as a round does; returns how many records changed our store.
  size_t apply(std::string_view frame) {
    auto f = bridge.admit(frame, wire::FrameType::kRecords);
    EXPECT_TRUE(f.ok()) << f.error().code << " " << f.error().message;
    if (!f.ok()) return 0;
    size_t applied = 0;
    wire::forEachRecord(*f, [&](const wire::RecordRef& m) {
      applied += bridge.applyRepair(m) == ApplyResult::kApplied ? 1 : 0;
    });
    return applied;
  }
};

size_t recordsIn(std::string_view frame) {
  auto f = wire::validateFrame(frame, wire::FrameType::kRecords);
  EXPECT_TRUE(f.ok());
  return f.ok() ? f->count : 0;
}

// What one round between `a` (the starter) and `b` moves, and what it found.
struct Round {
  bool equal = false;
  size_t differing = 0;
  size_t fromPeer = 0;  // records in b's answer
  size_t wanted = 0;    // hashes b asked for
  size_t fromUs = 0;    // records a sent back
  size_t bytes = 0;     // summary + answer + push
};

Round runRound(Side& a, Side& b) {
  Round r;
  auto answer = b.bridge.answerDigest(a.bridge.digestSummary());
  EXPECT_TRUE(answer.ok());
  auto plan = a.bridge.repairPlan(*answer);
  EXPECT_TRUE(plan.ok());
  r.equal = plan->equal;
  r.differing = plan->differing;
  if (plan->equal) return r;
  std::string summary = a.bridge.summary(plan->segments);
  auto reply = b.bridge.answerSummary(summary);
  EXPECT_TRUE(reply.ok());
  auto ans = reconcile::decodeAnswer(*reply);
  EXPECT_TRUE(ans.ok());
  r.fromPeer = recordsIn(ans->frame);
  r.wanted = ans->wanted.size();
  a.apply(ans->frame);
  auto ours = a.bridge.wantedRecords(plan->segments, ans->wanted);
  r.fromUs = ours.records;
  b.apply(ours.frame);
  r.bytes = summary.size() + reply->size() + ours.frame.size();
  return r;
}

void fill(Side& a, Side& b, int n) {
  for (int i = 0; i < n; ++i) {
    auto m = a.keyspace.set("key:" + std::to_string(i), std::string(100, 'v'));
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(b.keyspace.apply(*m), ApplyResult::kApplied);
  }
}

TEST(StoreBridgeReconcile, EqualStatesSendNothing) {
  Side a("a"), b("b");
  fill(a, b, 500);
  Round r = runRound(a, b);
  EXPECT_TRUE(r.equal);
  EXPECT_EQ(r.bytes, 0u);
  // Even asked about every segment, an equal peer answers no record and wants none.
  Keyspace::SegmentSet all;
  all.set();
  auto reply = b.bridge.answerSummary(a.bridge.summary(all));
  ASSERT_TRUE(reply.ok());
  auto ans = reconcile::decodeAnswer(*reply);
  ASSERT_TRUE(ans.ok());
  EXPECT_EQ(recordsIn(ans->frame), 0u);
  EXPECT_TRUE(ans->wanted.empty());
  EXPECT_EQ(a.bridge.wantedRecords(all, ans->wanted).records, 0u);
}

TEST(StoreBridgeReconcile, OneChangedRecordMovesThatRecordOnly) {
  Side a("a"), b("b");
  fill(a, b, 2000);
  ASSERT_TRUE(b.keyspace.set("key:7", "new").ok());
  Round r = runRound(a, b);
  EXPECT_FALSE(r.equal);
  EXPECT_EQ(r.differing, 1u) << "one record: one segment";
  EXPECT_EQ(r.fromPeer, 1u) << "the peer's new version, nothing else of the segment";
  EXPECT_EQ(r.wanted, 1u) << "our old version, unknown to the peer";
  EXPECT_EQ(r.fromUs, 0u) << "replaced by the new version before we answered: not sent";
  EXPECT_EQ(a.keyspace.get("key:7"), "new");
  EXPECT_EQ(a.keyspace.rootHash(), b.keyspace.rootHash()) << "one round converges";
  EXPECT_TRUE(runRound(a, b).equal);
}

TEST(StoreBridgeReconcile, RecordsOnlyOneSideHasReachTheOther) {
  Side a("a"), b("b");
  fill(a, b, 300);
  ASSERT_TRUE(a.keyspace.set("only-a", "1").ok());
  ASSERT_TRUE(b.keyspace.set("only-b", "2").ok());
  ASSERT_TRUE(a.keyspace.remove("key:1").ok());  // a tombstone travels like a record
  Round r = runRound(a, b);
  // The peer cannot tell which side is newer from a hash: it sends only-b and its older copy of
  // key:1 (which our tombstone beats); we send only-a and the tombstone.
  EXPECT_EQ(r.fromPeer, 2u);
  EXPECT_EQ(r.fromUs, 2u);
  EXPECT_EQ(a.keyspace.get("only-b"), "2");
  EXPECT_EQ(b.keyspace.get("only-a"), "1");
  EXPECT_FALSE(b.keyspace.contains("key:1"));
  EXPECT_EQ(a.keyspace.rootHash(), b.keyspace.rootHash());
}

TEST(StoreBridgeReconcile, OnlyTheClearMarkDiffersAndTravels) {
  Side a("a"), b("b");
  fill(a, b, 10);
  a.keyspace.clear();
  Round r = runRound(a, b);
  EXPECT_EQ(r.fromUs, 0u);
  EXPECT_EQ(b.keyspace.size(), 0u) << "our clear mark went with the (empty) push";
  EXPECT_EQ(a.keyspace.rootHash(), b.keyspace.rootHash());
}

TEST(StoreBridgeReconcile, BytesGrowWithTheDifferenceNotTheData) {
  Side a("a"), b("b");
  const int n = 20000, changed = 200;
  fill(a, b, n);
  for (int i = 0; i < changed; ++i) {
    ASSERT_TRUE(b.keyspace.set("key:" + std::to_string(i * 97), std::string(100, 'w')).ok());
  }
  Round r = runRound(a, b);
  EXPECT_EQ(r.fromPeer, static_cast<size_t>(changed));
  EXPECT_EQ(r.fromUs, 0u);
  EXPECT_EQ(a.keyspace.rootHash(), b.keyspace.rootHash());
  // Whole segments would be ~2 x 20,000 records of ~120 bytes; this is a summary of the
  // compared segments (8 bytes a record) plus the 200 changed records.
  size_t records = static_cast<size_t>(changed) * 130;
  EXPECT_LT(r.bytes, 8 * static_cast<size_t>(n) + records + 32 * 1024) << r.bytes;
}

TEST(StoreBridgeReconcile, AMalformedSummaryIsRefused) {
  Side b("b");
  auto reply = b.bridge.answerSummary("MKS1 not a summary");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, "BAD_SUMMARY");
}

}  // namespace
}  // namespace db

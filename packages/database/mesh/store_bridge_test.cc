// Unit tests for StoreBridge::admit, the one gate a peer's frame passes before any of its
// records is applied: valid batches, snapshot pages and repair frames pass; one record breaking
// the record rules among good ones refuses the whole frame (with the rule's code and the
// record's place), counted; the limits are the bridge's (this node's); and what an evicted node
// keeps across its wipe (recordsSince) leaves out what it could not admit again.
#include "database/mesh/store_bridge.h"

#include <gtest/gtest.h>

#include "database/mesh/wire.h"

namespace db {
namespace {

using K = Mutation::Kind;
constexpr uint64_t kHlc = uint64_t{1} << 16;

std::string frameOf(wire::FrameType type, const std::vector<Mutation>& records) {
  wire::FrameWriter w(type);
  if (type == wire::FrameType::kRecords) w.setExtra(std::string(Keyspace::kSegments / 8, '\0'));
  for (const auto& m : records) w.add(m);
  return w.finish();
}

class StoreBridgeAdmitTest : public ::testing::Test {
 protected:
  Keyspace keyspace_{makeDefaultKeyspaceOptions("self")};
  WriteLog log_{nullptr};  // never started: admit() appends nothing
  StoreBridge bridge_{keyspace_, log_};
};

TEST_F(StoreBridgeAdmitTest, ValidFramesOfEveryKindPass) {
  std::vector<Mutation> good = {
      {K::kPut, "k", "v", kHlc, "peer"},
      {K::kPut, std::string(64, 'k'), std::string(256, 'v'), kHlc, "peer"},
      {K::kDelete, "gone", "", kHlc, "peer"},
      {K::kClear, "", "", kHlc, "peer"},
  };
  for (auto type :
       {wire::FrameType::kBatch, wire::FrameType::kSnapshot, wire::FrameType::kRecords}) {
    auto f = bridge_.admit(frameOf(type, good), type);
    ASSERT_TRUE(f.ok()) << f.error().code << " " << f.error().message;
    EXPECT_EQ(f->count, good.size());
  }
  // What a node cuts from its own store passes too.
  ASSERT_TRUE(keyspace_.set("mine", "\xE2\x82\xAC").ok());
  auto page = bridge_.snapshotPage("", 1 << 20);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(bridge_.admit(*page, wire::FrameType::kSnapshot).ok());
  Keyspace::SegmentSet all;
  all.set();
  EXPECT_TRUE(bridge_.admit(bridge_.segmentRecords(all), wire::FrameType::kRecords).ok());
  EXPECT_EQ(bridge_.framesRefused(), 0u);
  EXPECT_EQ(bridge_.recordsRefused(), 0u);
}

TEST_F(StoreBridgeAdmitTest, OneBadRecordAmongGoodOnesRefusesTheWholeFrame) {
  struct Case {
    Mutation bad;
    const char* rule;
  };
  std::vector<Case> cases = {
      {{K::kPut, std::string(500, 'k'), "v", kHlc, "peer"}, "MAXIMUM_KEY_LENGTH_REACHED"},
      {{K::kPut, "\xFF\xFE", "v", kHlc, "peer"}, "INVALID_ENCODING"},
      {{K::kPut, "k", std::string(257, 'v'), kHlc, "peer"}, "MAXIMUM_VALUE_LENGTH_REACHED"},
      {{K::kPut, "k", "\xED\xA0\x80", kHlc, "peer"}, "INVALID_ENCODING"},
      {{K::kDelete, "\xC0\xAF", "", kHlc, "peer"}, "INVALID_ENCODING"},
      {{K::kPut, "k", "v", kHlc, ""}, "INVALID_ORIGIN"},
      {{K::kClear, "", "", kHlc, "bad\x01origin"}, "INVALID_ORIGIN"},
      {{K::kPut, "k", "v", 0, "peer"}, "INVALID_RECORD: hlc 0"},
  };
  uint64_t frames = 0;
  for (const auto& c : cases) {
    for (auto type :
         {wire::FrameType::kBatch, wire::FrameType::kSnapshot, wire::FrameType::kRecords}) {
      SCOPED_TRACE(std::string(c.rule) + " in frame type " + std::to_string(int(type)));
      std::string frame = frameOf(
          type, {{K::kPut, "a", "1", kHlc, "peer"}, c.bad, {K::kPut, "b", "2", kHlc, "peer"}});
      ASSERT_TRUE(wire::validateFrame(frame, type).ok()) << "well-formed on the wire";
      auto f = bridge_.admit(frame, type);
      ASSERT_FALSE(f.ok());
      EXPECT_EQ(f.error().code, "INVALID_RECORD");
      EXPECT_EQ(f.error().message, std::string(c.rule) + " (record 1 of 3)");
      ++frames;
      EXPECT_EQ(bridge_.framesRefused(), frames);
      EXPECT_EQ(bridge_.recordsRefused(), frames);
    }
  }
  // Every bad record of a frame is counted; the frame once.
  std::string twoBad =
      frameOf(wire::FrameType::kBatch, {{K::kPut, "\xFF", "v", kHlc, "peer"},
                                        {K::kPut, "ok", "v", kHlc, "peer"},
                                        {K::kPut, std::string(65, 'k'), "v", kHlc, "peer"}});
  auto f = bridge_.admit(twoBad, wire::FrameType::kBatch);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "INVALID_ENCODING (record 0 of 3)");
  EXPECT_EQ(bridge_.framesRefused(), frames + 1);
  EXPECT_EQ(bridge_.recordsRefused(), frames + 2);
  // A corrupt frame is refused and counted as a frame, with the wire's code.
  std::string corrupt = frameOf(wire::FrameType::kBatch, {{K::kPut, "a", "1", kHlc, "peer"}});
  corrupt[30] ^= 1;
  f = bridge_.admit(corrupt, wire::FrameType::kBatch);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, "BAD_CHECKSUM");
  EXPECT_EQ(bridge_.framesRefused(), frames + 2);
  EXPECT_EQ(bridge_.recordsRefused(), frames + 2);
  EXPECT_EQ(keyspace_.size(), 0u) << "admit applies nothing";
}

TEST_F(StoreBridgeAdmitTest, TheLimitsAreThisNodesNotTheSenders) {
  StoreBridge strict(keyspace_, log_, Limits{16, 8});
  std::string frame =
      frameOf(wire::FrameType::kBatch, {{K::kPut, std::string(20, 'k'), "v", kHlc, "peer"}});
  EXPECT_TRUE(bridge_.admit(frame, wire::FrameType::kBatch).ok()) << "within 64";
  auto f = strict.admit(frame, wire::FrameType::kBatch);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "MAXIMUM_KEY_LENGTH_REACHED (record 0 of 1)");
  frame = frameOf(wire::FrameType::kBatch, {{K::kPut, "k", "nine char", kHlc, "peer"}});
  f = strict.admit(frame, wire::FrameType::kBatch);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "MAXIMUM_VALUE_LENGTH_REACHED (record 0 of 1)");
}

TEST_F(StoreBridgeAdmitTest, CollectionsAreCheckedAndCarriedByEveryFrame) {
  // A peer's collection name obeys the API's rule.
  auto f = bridge_.admit(
      frameOf(wire::FrameType::kBatch, {{K::kPut, "k", "v", kHlc, "peer", "users"},
                                        {K::kPut, "k", "v", kHlc, "peer", std::string(65, 'c')}}),
      wire::FrameType::kBatch);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "MAXIMUM_COLLECTION_LENGTH_REACHED (record 1 of 2)");
  f = bridge_.admit(frameOf(wire::FrameType::kBatch, {{K::kPut, "k", "v", kHlc, "peer", "\xC0"}}),
                    wire::FrameType::kBatch);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "INVALID_COLLECTION: not UTF-8 (record 0 of 1)");

  // Snapshot pages and repair frames carry the collections' records and clear marks: a copy
  // made from them ends with the same root.
  ASSERT_TRUE(keyspace_.set("k", "default").ok());
  ASSERT_TRUE(keyspace_.set("k", "user", "users").ok());
  ASSERT_TRUE(keyspace_.clear("orders").ok());
  Keyspace copy(makeDefaultKeyspaceOptions("copy"));
  StoreBridge other(copy, log_);
  auto page = bridge_.snapshotPage("", 1 << 20);
  ASSERT_TRUE(page.ok());
  auto admitted = other.admit(*page, wire::FrameType::kSnapshot);
  ASSERT_TRUE(admitted.ok()) << admitted.error().message;
  wire::forEachRecord(*admitted, [&](const wire::RecordRef& r) { other.applyRemote(r); });
  EXPECT_EQ(copy.rootHash(), keyspace_.rootHash());
  EXPECT_EQ(copy.get("k", "users"), "user");
  EXPECT_EQ(copy.get("k"), "default");
  EXPECT_EQ(copy.clearMarkMutations().size(), 1u);

  // Two stores that differ only by a collection's clear mark: the repair frame settles it.
  ASSERT_TRUE(keyspace_.clear("users").ok());
  ASSERT_NE(copy.rootHash(), keyspace_.rootHash());
  auto plan = other.repairPlan(keyspace_.encodeDigest());
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->equal);
  std::string frame = bridge_.segmentRecords(plan->segments);  // the views below point into it
  auto repair = other.admit(frame, wire::FrameType::kRecords);
  ASSERT_TRUE(repair.ok());
  wire::forEachRecord(*repair, [&](const wire::RecordRef& r) { other.applyRepair(r); });
  EXPECT_EQ(copy.rootHash(), keyspace_.rootHash());
  EXPECT_FALSE(copy.contains("k", "users"));
  EXPECT_EQ(copy.get("k"), "default");
}

TEST_F(StoreBridgeAdmitTest, RecordsKeptAcrossAWipeLeaveOutWhatCouldNotBeAdmittedAgain) {
  // Keyspace::apply checks no record rule: a record that got in some other way (an older
  // version, a larger limit at the time) is not carried across the wipe.
  ASSERT_TRUE(keyspace_.set("fine", "v").ok());
  ASSERT_EQ(keyspace_.apply(K::kPut, "\xC0\xAF", "v", keyspace_.clock().last() + 1, "peer"),
            ApplyResult::kApplied);
  size_t skipped = 0;
  std::string kept = bridge_.recordsSince(0, &skipped);
  EXPECT_EQ(skipped, 1u);
  auto f = bridge_.admit(kept, wire::FrameType::kRecords);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->count, 1u);
}

}  // namespace
}  // namespace db

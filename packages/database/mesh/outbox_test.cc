// Unit tests of the per-peer replication window: in-order sending, cumulative acks, re-sending
// everything un-acked after a reconnect, overflow (drop and require repair) and the delivered
// HLC horizon used for tombstone collection.
#include "database/mesh/outbox.h"

#include <gtest/gtest.h>

namespace db {
namespace {

std::shared_ptr<const std::string> frame(size_t n) {
  return std::make_shared<std::string>(n, 'x');
}

TEST(Outbox, SendsInOrderAndReleasesOnCumulativeAck) {
  Outbox o(1000);
  ASSERT_TRUE(o.push(1, frame(10), 100));
  ASSERT_TRUE(o.push(2, frame(10), 200));
  ASSERT_TRUE(o.push(3, frame(10), 300));
  ASSERT_NE(o.nextToSend(), nullptr);
  EXPECT_EQ(o.nextToSend()->seq, 1u);
  o.markSent();
  EXPECT_EQ(o.nextToSend()->seq, 2u);
  o.markSent();
  EXPECT_EQ(o.nextToSend()->seq, 3u);
  EXPECT_EQ(o.inFlight(), 2u);
  EXPECT_EQ(o.ack(2), 2u);
  EXPECT_EQ(o.pending(), 1u);
  EXPECT_EQ(o.inFlight(), 0u);
  EXPECT_EQ(o.nextToSend()->seq, 3u);
  EXPECT_EQ(o.bytes(), 10u);
  EXPECT_EQ(o.ackedSeq(), 2u);
}

TEST(Outbox, ReconnectResendsEverythingUnacked) {
  Outbox o(1000);
  for (uint64_t s = 1; s <= 3; ++s) {
    ASSERT_TRUE(o.push(s, frame(10), s * 100));
    o.markSent();
  }
  EXPECT_EQ(o.nextToSend(), nullptr);
  o.ack(1);
  o.rewind();
  ASSERT_NE(o.nextToSend(), nullptr);
  EXPECT_EQ(o.nextToSend()->seq, 2u);
  // An ack for something already released is harmless.
  EXPECT_EQ(o.ack(1), 0u);
}

TEST(Outbox, OverflowDropsAndWaitsForRepair) {
  Outbox o(25);
  ASSERT_TRUE(o.push(1, frame(10), 100));
  ASSERT_TRUE(o.push(2, frame(10), 200));
  o.ack(1);
  EXPECT_FALSE(o.push(3, frame(10), 300) && o.push(4, frame(10), 400));
  EXPECT_TRUE(o.overflowed());
  EXPECT_TRUE(o.idle());
  EXPECT_FALSE(o.push(5, frame(1), 500));
  EXPECT_EQ(o.deliveredHlc(999), 100u);  // stuck until repaired
  // A repair round starts: batches queue again, the horizon stays until it succeeds.
  o.reopen();
  EXPECT_FALSE(o.overflowed());
  EXPECT_TRUE(o.needsRepair());
  EXPECT_TRUE(o.push(5, frame(1), 500));
  EXPECT_EQ(o.deliveredHlc(999), 100u);
  o.ack(5);
  EXPECT_EQ(o.deliveredHlc(999), 100u);
  o.repaired(450);
  EXPECT_FALSE(o.needsRepair());
  EXPECT_FALSE(o.overflowed());
  EXPECT_EQ(o.deliveredHlc(999), 999u);
  EXPECT_TRUE(o.push(6, frame(10), 600));
  EXPECT_EQ(o.deliveredHlc(999), 500u);
}

TEST(Outbox, OneBatchLargerThanTheWindowStillGoesWhenAlone) {
  Outbox o(5);
  EXPECT_TRUE(o.push(1, frame(50), 10));
  EXPECT_FALSE(o.overflowed());
}

TEST(Outbox, DeliveredHlcIsBelowTheOldestUnacked) {
  Outbox o(1000);
  EXPECT_EQ(o.deliveredHlc(50), 50u);
  o.push(1, frame(1), 100);
  o.push(2, frame(1), 200);
  EXPECT_EQ(o.deliveredHlc(250), 0u);
  o.ack(1);
  EXPECT_EQ(o.deliveredHlc(250), 100u);
  o.ack(2);
  EXPECT_EQ(o.deliveredHlc(250), 250u);
}

}  // namespace
}  // namespace db

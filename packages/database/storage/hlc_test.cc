// Hlc: local timestamps are strictly increasing whatever the wall clock does, a received
// timestamp is always exceeded by the next local one (causality), the 16-bit counter never
// wraps, and a remote clock too far ahead is refused without moving ours.
#include "database/storage/hlc.h"

#include <gtest/gtest.h>

#include <chrono>

#include "database/storage/testing/fake_wall.h"

namespace db {
namespace {

using fixture::FakeWall;

TEST(Hlc, PacksMillisAndCounter) {
  uint64_t t = Hlc::pack(123456789, 42);
  EXPECT_EQ(Hlc::millis(t), 123456789u);
  EXPECT_EQ(Hlc::counter(t), 42u);
  EXPECT_LT(Hlc::pack(5, 65535), Hlc::pack(6, 0));  // integer order is time order
}

TEST(Hlc, NowFollowsTheWallClockAndCountsWithinAMillisecond) {
  FakeWall wall;
  Hlc clock(500, wall.fn());
  uint64_t a = clock.now();
  EXPECT_EQ(Hlc::millis(a), wall.ms);
  EXPECT_EQ(Hlc::counter(a), 0u);
  uint64_t b = clock.now();
  EXPECT_EQ(Hlc::millis(b), wall.ms);
  EXPECT_EQ(Hlc::counter(b), 1u);
  wall.ms += 3;
  uint64_t c = clock.now();
  EXPECT_EQ(Hlc::millis(c), wall.ms);
  EXPECT_EQ(Hlc::counter(c), 0u);
}

TEST(Hlc, MonotonicEvenWhenTheWallClockGoesBack) {
  FakeWall wall;
  Hlc clock(500, wall.fn());
  uint64_t prev = clock.now();
  for (int i = 0; i < 10000; ++i) {
    if (i % 100 == 0) wall.ms -= 7;  // NTP step backwards
    if (i % 33 == 0) wall.ms += 2;
    uint64_t t = clock.now();
    ASSERT_GT(t, prev);
    prev = t;
  }
}

TEST(Hlc, CounterOverflowAdvancesTheMillisecond) {
  FakeWall wall;
  Hlc clock(500, wall.fn());
  uint64_t prev = clock.now();
  for (int i = 0; i < 70000; ++i) {
    uint64_t t = clock.now();
    ASSERT_GT(t, prev);
    prev = t;
  }
  EXPECT_EQ(Hlc::millis(prev), wall.ms + 1);  // 70001 events: 65536 in ms, the rest in ms+1
  EXPECT_EQ(Hlc::counter(prev), 70000u - 65536u);
  // Once the wall clock passes the borrowed millisecond, it takes over again.
  wall.ms += 5;
  EXPECT_EQ(clock.now(), Hlc::pack(wall.ms, 0));
}

TEST(Hlc, ObserveKeepsCausality) {
  FakeWall wallA, wallB;
  wallB.ms = wallA.ms - 300;  // B's clock is behind
  Hlc a(500, wallA.fn()), b(500, wallB.fn());
  uint64_t sent = a.now();
  auto got = b.observe(sent);
  ASSERT_TRUE(got.ok());
  EXPECT_GT(*got, sent);
  uint64_t reply = b.now();
  EXPECT_GT(reply, sent);  // B's next write is ordered after what it saw, despite its slow clock
  EXPECT_EQ(Hlc::millis(reply), wallA.ms);  // and stays close to physical time
  ASSERT_TRUE(a.observe(reply).ok());
  EXPECT_GT(a.now(), reply);
}

TEST(Hlc, ObserveCases) {
  FakeWall wall;
  Hlc clock(500, wall.fn());
  uint64_t t0 = clock.now();  // (w, 0)
  // Remote equal millis, bigger counter: counter = max + 1.
  auto r = clock.observe(Hlc::pack(wall.ms, 9));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Hlc::pack(wall.ms, 10));
  // Remote older: our millis stay, counter bumps.
  r = clock.observe(t0 - (uint64_t{100} << 16));
  EXPECT_EQ(*r, Hlc::pack(wall.ms, 11));
  // Remote ahead (within drift): adopt its millis, counter + 1.
  r = clock.observe(Hlc::pack(wall.ms + 200, 4));
  EXPECT_EQ(*r, Hlc::pack(wall.ms + 200, 5));
  // Wall clock passes everything: counter resets.
  wall.ms += 1000;
  r = clock.observe(Hlc::pack(wall.ms - 10, 0));
  EXPECT_EQ(*r, Hlc::pack(wall.ms, 0));
}

TEST(Hlc, RefusesARemoteTooFarAhead) {
  FakeWall wall;
  Hlc clock(500, wall.fn());
  uint64_t before = clock.now();
  auto r = clock.observe(Hlc::pack(wall.ms + 501, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "CLOCK_DRIFT");
  EXPECT_EQ(clock.last(), before);                               // unchanged
  EXPECT_TRUE(clock.observe(Hlc::pack(wall.ms + 500, 0)).ok());  // the limit itself is fine
  // Once the wall clock catches up the same timestamp is accepted.
  wall.ms += 100;
  EXPECT_TRUE(clock.observe(Hlc::pack(wall.ms + 401, 0)).ok());
}

TEST(Hlc, DefaultWallClockIsRealTime) {
  Hlc clock;
  uint64_t t = clock.now();
  uint64_t sys = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  EXPECT_LE(Hlc::millis(t), sys);
  EXPECT_GT(Hlc::millis(t) + 5000, sys);
}

}  // namespace
}  // namespace db

// The ring answers a resume with exactly the missed events, or refuses it: never a gap.
#include "database/watch/event_ring.h"

#include <gtest/gtest.h>

#include <memory>

namespace db::watch {
namespace {

EventPtr ev(Ticket t, size_t valueBytes = 0) {
  std::string value(valueBytes, 'v');
  return std::make_shared<const Event>("e", t, LogEntry{Mutation::Kind::kPut, "k", value, t, "n"});
}

std::vector<Ticket> tickets(const std::deque<EventPtr>& events) {
  std::vector<Ticket> out;
  for (const auto& e : events) out.push_back(e->ticket());
  return out;
}

TEST(EventRing, ResumesWithWhatFollowsTheId) {
  EventRing ring(10, 1 << 20);
  ASSERT_TRUE(ring.since(0).has_value());  // nothing happened yet: nothing missed
  for (Ticket t = 1; t <= 5; ++t) ring.push(ev(t));
  EXPECT_EQ(tickets(*ring.since(0)), (std::vector<Ticket>{1, 2, 3, 4, 5}));
  EXPECT_EQ(tickets(*ring.since(3)), (std::vector<Ticket>{4, 5}));
  EXPECT_TRUE(ring.since(5)->empty());
  EXPECT_FALSE(ring.since(6).has_value());  // from the future: not this node's history
}

TEST(EventRing, ForgetsTheOldestByCountAndBytes) {
  EventRing byCount(3, 1 << 20);
  for (Ticket t = 1; t <= 5; ++t) byCount.push(ev(t));
  EXPECT_EQ(byCount.size(), 3u);
  EXPECT_FALSE(byCount.since(1).has_value());  // ticket 2 is gone
  EXPECT_EQ(tickets(*byCount.since(2)), (std::vector<Ticket>{3, 4, 5}));

  EventRing byBytes(100, 3000);
  for (Ticket t = 1; t <= 5; ++t) byBytes.push(ev(t, 1000));
  EXPECT_LE(byBytes.bytes(), 3000u);
  EXPECT_EQ(byBytes.size(), 2u);
  EXPECT_FALSE(byBytes.since(2).has_value());
  EXPECT_TRUE(byBytes.since(3).has_value());
}

TEST(EventRing, NothingFromBeforeAWipeResumes) {
  EventRing ring(10, 1 << 20);
  for (Ticket t = 1; t <= 3; ++t) ring.push(ev(t));
  ring.clear(3);
  EXPECT_FALSE(ring.since(2).has_value());
  EXPECT_TRUE(ring.since(3)->empty());
  ring.push(ev(4));
  EXPECT_EQ(tickets(*ring.since(3)), (std::vector<Ticket>{4}));
}

}  // namespace
}  // namespace db::watch

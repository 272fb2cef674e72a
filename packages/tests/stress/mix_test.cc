// Unit tests for the --mix parser and the weighted pick.
#include "tests/stress/mix.h"

#include <gtest/gtest.h>

namespace stress {
namespace {

TEST(Mix, ParsesWeightsAndDescribesThemCanonically) {
  auto m = parseMix(" get=20 , set=80 ");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->weights[static_cast<size_t>(Op::kSet)], 80u);
  EXPECT_EQ(m->weights[static_cast<size_t>(Op::kGet)], 20u);
  EXPECT_EQ(m->total(), 100u);
  EXPECT_EQ(m->describe(), "set=80,get=20");
}

TEST(Mix, RejectsWhatAUserMightMistype) {
  for (const char* bad : {"", "set", "set=", "set=x", "set=-1", "set=1.5", "put=10", "set=1,set=2",
                          "set=0,get=0", "set=80,,get=20", "set=99999999999"}) {
    auto m = parseMix(bad);
    ASSERT_FALSE(m.ok()) << "'" << bad << "' was accepted";
    EXPECT_EQ(m.error().code, "INVALID_MIX");
    EXPECT_FALSE(m.error().message.empty());
  }
}

TEST(Mix, PickFollowsTheWeights) {
  auto m = parseMix("set=1,get=3,rm=0,is=1");
  ASSERT_TRUE(m.ok());
  std::array<int, kOpCount> seen{};
  for (uint64_t r = 0; r < 5000; ++r) ++seen[static_cast<size_t>(m->pick(r * 2654435761u))];
  EXPECT_EQ(seen[static_cast<size_t>(Op::kRm)], 0);
  EXPECT_NEAR(seen[static_cast<size_t>(Op::kSet)], 1000, 60);
  EXPECT_NEAR(seen[static_cast<size_t>(Op::kGet)], 3000, 60);
  EXPECT_NEAR(seen[static_cast<size_t>(Op::kIs)], 1000, 60);
}

}  // namespace
}  // namespace stress

// Unit tests for stress::KeyPicker: both distributions stay in the key space, uniform spreads
// evenly, zipfian concentrates on the lowest keys the way theta 0.99 predicts.
#include "tests/stress/keys.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace stress {
namespace {

std::vector<uint64_t> histogramOf(const KeyPicker& p, uint64_t n, int draws) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> seen(n, 0);
  for (int i = 0; i < draws; ++i) {
    uint64_t k = p.pick(rng());
    EXPECT_LT(k, n);
    if (k < n) ++seen[k];
  }
  return seen;
}

TEST(KeyPicker, ParsesTheTwoNames) {
  KeyDist d{};
  EXPECT_TRUE(parseKeyDist("zipfian", &d));
  EXPECT_EQ(d, KeyDist::kZipfian);
  EXPECT_TRUE(parseKeyDist("uniform", &d));
  EXPECT_EQ(d, KeyDist::kUniform);
  EXPECT_FALSE(parseKeyDist("zipf", &d));
}

TEST(KeyPicker, UniformSpreadsEvenly) {
  auto seen = histogramOf(KeyPicker(10, KeyDist::kUniform), 10, 100000);
  for (uint64_t c : seen) EXPECT_NEAR(static_cast<double>(c), 10000.0, 600.0);
}

TEST(KeyPicker, ZipfianFavoursTheFirstKeysAsTheLawSays) {
  constexpr uint64_t kN = 1000;
  auto seen = histogramOf(KeyPicker(kN, KeyDist::kZipfian), kN, 200000);
  // P(k) = (k+1)^-0.99 / zeta(1000): key 0 takes ~12.9 %, key 1 about half of that.
  double p0 = static_cast<double>(seen[0]) / 200000;
  EXPECT_NEAR(p0, 0.129, 0.02);
  EXPECT_NEAR(static_cast<double>(seen[1]) / static_cast<double>(seen[0]), 0.503, 0.05);
  uint64_t top10 = 0;
  for (int i = 0; i < 10; ++i) top10 += seen[i];
  EXPECT_GT(top10, 200000u * 33 / 100) << "the 1 % hottest keys take a large share";
  EXPECT_GT(seen[kN - 1] + seen[kN - 2] + seen[kN - 3], 0u) << "the tail is still reached";
}

TEST(KeyPicker, AHugeKeySpaceStaysInRange) {
  KeyPicker p(uint64_t{1} << 40, KeyDist::kZipfian);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10000; ++i) EXPECT_LT(p.pick(rng()), uint64_t{1} << 40);
  EXPECT_EQ(KeyPicker(1, KeyDist::kZipfian).pick(rng()), 0u);
}

}  // namespace
}  // namespace stress

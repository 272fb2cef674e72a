// Unit tests for stress::Histogram: exact small values, bounded relative error above them,
// percentiles on known distributions, merging, and the sparse round trip used by the chart.
#include "tests/stress/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace stress {
namespace {

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0.5), 49u);  // rank 50 of 0..99
  EXPECT_EQ(h.percentile(0.9), 89u);
  EXPECT_EQ(h.percentile(1.0), 99u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_DOUBLE_EQ(h.mean(), 49.5);
}

TEST(Histogram, BucketsCoverEveryValueOnceWithBoundedError) {
  // Every bucket's range touches the next one, and a value lands in the bucket whose range
  // holds it, with width at most 1/128 of its low edge (under 1 %).
  for (size_t i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::bucketHigh(i) + 1, Histogram::bucketLow(i + 1)) << i;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    size_t b = Histogram::bucketOf(v);
    ASSERT_LT(b, Histogram::kBuckets);
    ASSERT_LE(Histogram::bucketLow(b), v);
    ASSERT_GE(Histogram::bucketHigh(b), v);
    if (v >= Histogram::kExact) {
      ASSERT_LE(Histogram::bucketHigh(b) - Histogram::bucketLow(b) + 1,
                Histogram::bucketLow(b) / 128);
    }
  }
  EXPECT_LT(Histogram::bucketOf(UINT64_MAX), Histogram::kBuckets);
}

TEST(Histogram, PercentilesOfAUniformSpreadAreWithinOnePercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000000; ++v) h.record(v);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double expected = q * 1000000;
    double got = static_cast<double>(h.percentile(q));
    EXPECT_NEAR(got, expected, expected * 0.01) << q;
    EXPECT_GE(got, expected) << "reports the bucket's upper edge";
  }
  EXPECT_EQ(h.percentile(1.0), 1000000u);
  EXPECT_EQ(h.max(), 1000000u);
}

TEST(Histogram, OneOutlierShowsOnlyInTheTail) {
  Histogram h;
  h.record(1000, 999);
  h.record(250000);
  EXPECT_LE(h.percentile(0.99), 1010u);
  EXPECT_GE(h.percentile(0.999), 1000u);  // rank 999 is still in the 1000 bucket
  EXPECT_LE(h.percentile(0.999), 1010u);
  EXPECT_EQ(h.percentile(1.0), 250000u);
}

TEST(Histogram, EveryReportedPercentileIsWithinOnePercentOfTheTrueValue) {
  // Log-spread values from 1 us to ~100 s, as latencies are: every percentile the report shows
  // (and a fine sweep) is within 1 % of the exact order statistic, and never below it.
  std::mt19937_64 rng(11);
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    double e = std::uniform_real_distribution<double>(0.0, 8.0)(rng);
    auto v = static_cast<uint64_t>(std::pow(10.0, e));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  std::vector<double> qs = {0.5, 0.9, 0.99, 0.999, 0.9999};
  for (int i = 1; i < 1000; ++i) qs.push_back(i / 1000.0);
  for (double q : qs) {
    auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    double exact = static_cast<double>(values[rank - 1]);
    double got = static_cast<double>(h.percentile(q));
    ASSERT_GE(got, exact) << q;
    ASSERT_LE(got, exact * 1.01) << q;
  }
  EXPECT_EQ(h.percentile(1.0), values.back());
}

TEST(Histogram, MergeAndSparseRoundTripMatchTheOriginal) {
  Histogram a, b;
  for (uint64_t v = 0; v < 5000; v += 3) a.record(v * 7);
  for (uint64_t v = 0; v < 5000; v += 5) b.record(v * 11 + 1);
  Histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged.count(), a.count() + b.count());
  EXPECT_EQ(merged.max(), std::max(a.max(), b.max()));

  Histogram rebuilt;
  rebuilt.addSparse(a.sparse(), a.min(), a.max(), a.sum());
  rebuilt.addSparse(b.sparse(), b.min(), b.max(), b.sum());
  for (double q : {0.1, 0.5, 0.9, 0.99, 1.0})
    EXPECT_EQ(rebuilt.percentile(q), merged.percentile(q));
  EXPECT_DOUBLE_EQ(rebuilt.mean(), merged.mean());
  merged.reset();
  EXPECT_EQ(merged.count(), 0u);
  EXPECT_EQ(merged.percentile(0.5), 0u);
}

}  // namespace
}  // namespace stress

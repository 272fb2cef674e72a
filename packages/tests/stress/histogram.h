// Histogram: latency recording for meshkv-stress with log-linear buckets (HDR-like): values below
// 256 are exact, above that each power of two is split into 128 buckets, so any reported value is
// within 1/128 (0.8 %, under the 1 % the report promises) of the true one while memory stays
// fixed (~60 KB) whatever the run length.
// Owned by the stress Runner (one per run, one per time slice); single-threaded, no locking.
// A newcomer's trap: percentile() answers the *upper* edge of the bucket holding that rank
// (clamped to the exact max), never an interpolation; min/max/mean are exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace stress {

class Histogram {
 public:
  static constexpr int kSubBits = 8;                   // 256 exact values, then 128 per octave
  static constexpr uint64_t kExact = 1u << kSubBits;   // 256
  static constexpr uint64_t kHalf = kExact / 2;        // 128 buckets per octave
  static constexpr int kMaxShift = 64 - kSubBits + 1;  // enough for any uint64_t
  static constexpr size_t kBuckets = kExact + kMaxShift * kHalf;

  Histogram();

  void record(uint64_t value, uint64_t count = 1);
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  // q in [0, 1]; 0 on an empty histogram. percentile(1.0) == max().
  uint64_t percentile(double q) const;

  // Compact form (non-zero buckets only) for keeping one histogram per time slice.
  std::vector<std::pair<uint32_t, uint64_t>> sparse() const;
  void addSparse(const std::vector<std::pair<uint32_t, uint64_t>>& sparse, uint64_t minValue,
                 uint64_t maxValue, long double sum);
  long double sum() const { return sum_; }

  static size_t bucketOf(uint64_t value);
  static uint64_t bucketLow(size_t index);
  static uint64_t bucketHigh(size_t index);  // inclusive

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace stress

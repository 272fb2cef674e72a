// See histogram.h. Bucket layout: index v for v < 256; above, with msb = the highest set bit and
// shift = msb - 7, the value's top 8 bits (128..255) pick one of 128 buckets in octave `shift`.
#include "tests/stress/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace stress {

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::bucketOf(uint64_t value) {
  if (value < kExact) return static_cast<size_t>(value);
  int msb = 63 - std::countl_zero(value);
  int shift = msb - (kSubBits - 1);  // >= 1
  uint64_t top = value >> shift;     // 128..255
  return kExact + static_cast<size_t>(shift - 1) * kHalf + static_cast<size_t>(top - kHalf);
}

uint64_t Histogram::bucketLow(size_t index) {
  if (index < kExact) return index;
  size_t rel = index - kExact;
  int shift = static_cast<int>(rel / kHalf) + 1;
  uint64_t top = kHalf + rel % kHalf;
  return top << shift;
}

uint64_t Histogram::bucketHigh(size_t index) {
  if (index < kExact) return index;
  int shift = static_cast<int>((index - kExact) / kHalf) + 1;
  return bucketLow(index) + ((uint64_t{1} << shift) - 1);
}

void Histogram::record(uint64_t value, uint64_t count) {
  if (count == 0) return;
  counts_[bucketOf(value)] += count;
  count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value) * count;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const {
  return count_ ? static_cast<double>(sum_ / count_) : 0.0;
}

uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank-th smallest value (1-based), rank >= 1.
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucketHigh(i), min_, max_);
  }
  return max_;
}

std::vector<std::pair<uint32_t, uint64_t>> Histogram::sparse() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i]) out.emplace_back(static_cast<uint32_t>(i), counts_[i]);
  }
  return out;
}

void Histogram::addSparse(const std::vector<std::pair<uint32_t, uint64_t>>& sparse,
                          uint64_t minValue, uint64_t maxValue, long double sum) {
  uint64_t added = 0;
  for (auto [index, n] : sparse) {
    if (index >= kBuckets) continue;
    counts_[index] += n;
    added += n;
  }
  if (added == 0) return;
  count_ += added;
  min_ = std::min(min_, minValue);
  max_ = std::max(max_, maxValue);
  sum_ += sum;
}

}  // namespace stress

// See keys.h. The zipfian draw is Gray et al.'s "Quickly generating billion-record synthetic
// databases" method as YCSB's ZipfianGenerator uses it: one pow() per draw.
#include "tests/stress/keys.h"

#include <algorithm>
#include <cmath>

namespace stress {

namespace {
constexpr uint64_t kExactTerms = 1000000;

double zeta(uint64_t n, double theta) {
  double sum = 0;
  uint64_t exact = std::min(n, kExactTerms);
  for (uint64_t i = 1; i <= exact; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  if (n > exact) {  // the rest of the sum by its integral (error far below one draw in a million)
    double a = static_cast<double>(exact) + 0.5, b = static_cast<double>(n) + 0.5;
    sum += (std::pow(b, 1 - theta) - std::pow(a, 1 - theta)) / (1 - theta);
  }
  return sum;
}
}  // namespace

bool parseKeyDist(std::string_view text, KeyDist* out) {
  if (text == "uniform") {
    *out = KeyDist::kUniform;
    return true;
  }
  if (text == "zipfian") {
    *out = KeyDist::kZipfian;
    return true;
  }
  return false;
}

std::string_view keyDistName(KeyDist d) {
  return d == KeyDist::kZipfian ? "zipfian" : "uniform";
}

KeyPicker::KeyPicker(uint64_t keySpace, KeyDist dist)
    : n_(std::max<uint64_t>(keySpace, 1)), dist_(dist) {
  if (dist_ != KeyDist::kZipfian || n_ < 2) return;
  double n = static_cast<double>(n_);
  zetan_ = zeta(n_, kTheta);
  double zeta2 = zeta(2, kTheta);
  alpha_ = 1.0 / (1.0 - kTheta);
  eta_ = (1 - std::pow(2.0 / n, 1 - kTheta)) / (1 - zeta2 / zetan_);
  half_ = 1 + std::pow(0.5, kTheta);
}

uint64_t KeyPicker::pick(uint64_t random) const {
  if (dist_ == KeyDist::kUniform || n_ < 2) return random % n_;
  double u = static_cast<double>(random >> 11) * 0x1.0p-53;  // [0, 1)
  double uz = u * zetan_;
  if (uz < 1.0) return 0;
  if (uz < half_) return 1;
  auto k = static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1, alpha_));
  return std::min(k, n_ - 1);
}

}  // namespace stress

// KeyPicker: which key of the key space [0, n) the next request uses, uniformly or by a zipfian
// law (YCSB's generator, theta 0.99: key 0 is the hottest, then 1, ...), from a caller-supplied
// uniformly random 64-bit number. Built once by the stress Runner from RunOptions; pure and
// single-threaded. A newcomer's trap: the zipfian constant zeta(n) is summed exactly up to a
// million keys and extended by its integral beyond, so a huge key space costs no start-up time.
#pragma once

#include <cstdint>
#include <string_view>

namespace stress {

enum class KeyDist : uint8_t { kUniform, kZipfian };
// "uniform" or "zipfian"; false on anything else.
bool parseKeyDist(std::string_view text, KeyDist* out);
std::string_view keyDistName(KeyDist d);

class KeyPicker {
 public:
  static constexpr double kTheta = 0.99;

  KeyPicker(uint64_t keySpace, KeyDist dist);
  uint64_t pick(uint64_t random) const;  // in [0, keySpace)

 private:
  uint64_t n_;
  KeyDist dist_;
  double zetan_ = 0, alpha_ = 0, eta_ = 0, half_ = 0;
};

}  // namespace stress

// Operation mix for meshkv-stress: parses "set=80,get=20" into weights over the node's
// operations and picks one per request from a caller-supplied random number. Pure and
// single-threaded; used by main (parsing, at start-up) and the Runner (picking, per request).
// A newcomer's trap: weights are relative, not percentages: "set=1,get=3" is 25% / 75%.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/result.h"

namespace stress {

enum class Op : uint8_t { kSet, kGet, kRm, kIs };
inline constexpr size_t kOpCount = 4;
std::string_view opName(Op op);  // "set", "get", "rm", "is" (the node's routes without '/')

struct Mix {
  std::array<uint32_t, kOpCount> weights{};  // indexed by Op
  uint64_t total() const;
  // r is any uniformly random 64-bit number; returns the operation its position picks.
  Op pick(uint64_t r) const;
  std::string describe() const;  // canonical "set=80,get=20" (zero weights left out)
};

// Errors (code INVALID_MIX): empty text, unknown operation, missing '=', a weight that is not
// a whole number in 0..1000000, an operation named twice, or all weights zero.
common::Result<Mix> parseMix(std::string_view text);

}  // namespace stress

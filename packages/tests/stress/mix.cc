// See mix.h.
#include "tests/stress/mix.h"

#include <charconv>

namespace stress {

namespace {
constexpr std::array<std::string_view, kOpCount> kNames = {"set", "get", "rm", "is"};
constexpr uint32_t kMaxWeight = 1000000;

common::Error mixError(std::string message) {
  return common::Error{"INVALID_MIX", std::move(message)};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string_view opName(Op op) {
  return kNames[static_cast<size_t>(op)];
}

uint64_t Mix::total() const {
  uint64_t t = 0;
  for (uint32_t w : weights) t += w;
  return t;
}

Op Mix::pick(uint64_t r) const {
  uint64_t t = total();
  if (t == 0) return Op::kSet;
  uint64_t x = r % t;
  for (size_t i = 0; i < kOpCount; ++i) {
    if (x < weights[i]) return static_cast<Op>(i);
    x -= weights[i];
  }
  return Op::kSet;  // unreachable: x < total
}

std::string Mix::describe() const {
  std::string out;
  for (size_t i = 0; i < kOpCount; ++i) {
    if (weights[i] == 0) continue;
    if (!out.empty()) out += ',';
    out += kNames[i];
    out += '=';
    out += std::to_string(weights[i]);
  }
  return out;
}

common::Result<Mix> parseMix(std::string_view text) {
  Mix mix;
  std::array<bool, kOpCount> seen{};
  text = trim(text);
  if (text.empty()) return mixError("empty mix (expected e.g. set=80,get=20)");
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) return mixError("empty item in mix");
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return mixError("'" + std::string(item) + "' has no '=weight'");
    }
    std::string_view name = trim(item.substr(0, eq));
    std::string_view weightText = trim(item.substr(eq + 1));
    size_t index = kOpCount;
    for (size_t i = 0; i < kOpCount; ++i) {
      if (kNames[i] == name) index = i;
    }
    if (index == kOpCount) {
      return mixError("unknown operation '" + std::string(name) + "' (known: set, get, rm, is)");
    }
    if (seen[index]) return mixError("operation '" + std::string(name) + "' named twice");
    seen[index] = true;
    uint32_t weight = 0;
    auto [ptr, ec] =
        std::from_chars(weightText.data(), weightText.data() + weightText.size(), weight);
    if (weightText.empty() || ec != std::errc{} || ptr != weightText.data() + weightText.size() ||
        weight > kMaxWeight) {
      return mixError("weight of '" + std::string(name) + "' is not a whole number in 0.." +
                      std::to_string(kMaxWeight) + ": '" + std::string(weightText) + "'");
    }
    mix.weights[index] = weight;
  }
  if (mix.total() == 0) return mixError("every weight is zero");
  return mix;
}

}  // namespace stress

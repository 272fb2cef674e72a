// Test fixtures for clock-dependent storage code: a wall clock the test sets by hand, and
// Keyspace options that use it. The one thing to get right: the FakeWall must outlive every
// Hlc or Keyspace built from it (they keep the lambda, which points at it).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "database/storage/hlc.h"
#include "database/storage/keyspace.h"

namespace db::fixture {

inline constexpr uint64_t kBaseMs = 1'700'000'000'000;

struct FakeWall {
  uint64_t ms = kBaseMs;
  Hlc::WallClock fn() {
    return [this] { return ms; };
  }
};

inline KeyspaceOptions keyspaceOptions(std::string id, FakeWall* wall = nullptr) {
  KeyspaceOptions o = makeDefaultKeyspaceOptions(std::move(id));
  if (wall != nullptr) o.wallClock = wall->fn();
  return o;
}

}  // namespace db::fixture

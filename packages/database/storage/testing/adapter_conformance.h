// The conformance suite every db::StorageAdapter must pass (tests in adapter_conformance.cc).
// An engine's test file instantiates it with a factory:
//   INSTANTIATE_TEST_SUITE_P(Memory, AdapterConformance,
//       ::testing::Values(AdapterFactory{"memory", [] { return std::make_unique<MemoryAdapter>();
//       }}), adapterFactoryName);
// Each test gets a fresh adapter from the factory. Test binary only; single-threaded.
// The one thing to get right: the suite asserts only what adapter.h promises, so a persistent
// engine can pass it unchanged (no assumptions about memory layout or cursor values).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "database/storage/adapter.h"

namespace db::testing {

struct AdapterFactory {
  std::string name;
  std::function<std::unique_ptr<StorageAdapter>()> make;
};

inline void PrintTo(const AdapterFactory& f, std::ostream* os) {
  *os << f.name;
}

inline std::string adapterFactoryName(const ::testing::TestParamInfo<AdapterFactory>& info) {
  return info.param.name;
}

class AdapterConformance : public ::testing::TestWithParam<AdapterFactory> {
 protected:
  void SetUp() override { adapter_ = GetParam().make(); }
  StorageAdapter& a() { return *adapter_; }
  std::unique_ptr<StorageAdapter> adapter_;
};

}  // namespace db::testing

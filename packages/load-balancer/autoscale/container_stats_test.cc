// cpuCores on answers shaped like the Docker Engine's stats (two cores busy at 50 %, the first
// read without a previous sample, a broken answer).
#include "load-balancer/autoscale/container_stats.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

rapidjson::Document parse(const char* json) {
  rapidjson::Document d;
  d.Parse(json);
  return d;
}

TEST(ContainerStats, CoresFromTheTwoSamplesOfOneAnswer) {
  // 1 s of a 4-CPU host: system advanced 4e9 ns; the container used 1e9 ns = one core.
  auto d = parse(R"({"cpu_stats":{"cpu_usage":{"total_usage":3000000000},
    "system_cpu_usage":104000000000,"online_cpus":4},
    "precpu_stats":{"cpu_usage":{"total_usage":2000000000},"system_cpu_usage":100000000000}})");
  ASSERT_TRUE(cpuCores(d).has_value());
  EXPECT_DOUBLE_EQ(*cpuCores(d), 1.0);
}

TEST(ContainerStats, NoPreviousSampleIsNoFigure) {
  auto d = parse(R"({"cpu_stats":{"cpu_usage":{"total_usage":5},"system_cpu_usage":9,
    "online_cpus":2},"precpu_stats":{"cpu_usage":{"total_usage":0},"system_cpu_usage":0}})");
  EXPECT_FALSE(cpuCores(d).has_value());
  EXPECT_FALSE(cpuCores(parse(R"({"message":"no such container"})")).has_value());
  EXPECT_FALSE(cpuCores(parse("[]")).has_value());
}

TEST(ContainerStats, LabelsAreStringsOrEmpty) {
  auto d = parse(R"({"com.docker.compose.container-number":"3","n":4})");
  EXPECT_EQ(label(d, kComposeNumber), "3");
  EXPECT_EQ(label(d, "n"), "");
  EXPECT_EQ(label(d, "absent"), "");
}

}  // namespace
}  // namespace lb

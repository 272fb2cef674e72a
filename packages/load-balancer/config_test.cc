// Configuration: every setting as a flag (and env var), the cross-field rules, and the
// one-line exit-2 errors a user sees for an invalid setting.
#include "load-balancer/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "load-balancer/docker/watcher.h"

namespace lb {
namespace {

ParsedConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "meshkv-lb");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigTest, StaticModeResolvesBackends) {
  auto p = parse({"--backends", "127.0.0.1:80, localhost:8081,[::1]:9000", "--service-port", "0",
                  "--balance", "leastconn", "--admin-port", "0"});
  ASSERT_FALSE(p.exitCode.has_value());
  ASSERT_EQ(3u, p.config.backends.size());
  EXPECT_EQ("127.0.0.1:80", p.config.backends[0].spec);
  EXPECT_EQ("localhost:8081", p.config.backends[1].spec);
  EXPECT_EQ("[::1]:9000", formatAddress(p.config.backends[2].addr));
  EXPECT_EQ("leastconn", p.config.balance);
  EXPECT_EQ(0, p.config.adminPort);
  EXPECT_FALSE(p.config.dockerMode());
}

TEST(ConfigTest, SwarmModeNamesTheStacksService) {
  auto p = parse({"--group-name", "database", "--group-port", "80", "--swarm-mode", "auto",
                  "--group-project", "meshkv"});
  ASSERT_FALSE(p.exitCode.has_value());
  EXPECT_TRUE(p.config.swarm());
  EXPECT_EQ("meshkv_database", p.config.swarmService());
  EXPECT_EQ(1000u, p.config.swarmPollMs);
  auto plain = parse({"--group-name", "database", "--group-port", "80"});
  EXPECT_FALSE(plain.config.swarm()) << "compose stays the default";
  EXPECT_EQ(2, parse({"--group-name", "d", "--group-port", "80", "--swarm-mode", "on"}).exitCode);
  EXPECT_EQ(2, parse({"--group-name", "d", "--group-port", "80", "--swarm-poll-ms", "1"}).exitCode);
}

TEST(ConfigTest, DockerModeDefaults) {
  auto p = parse({"--group-name", "database", "--group-port", "8080"});
  ASSERT_FALSE(p.exitCode.has_value());
  EXPECT_TRUE(p.config.dockerMode());
  EXPECT_EQ("/var/run/docker.sock", p.config.dockerApi);
  EXPECT_TRUE(p.config.includeOneOff);
  EXPECT_EQ(-1, p.config.adminPort) << "admin is off unless asked for";
  EXPECT_EQ(1000u, p.config.connectTimeoutMs);
  EXPECT_EQ("roundrobin", p.config.balance);
}

TEST(ConfigTest, InvalidSettingsExit2) {
  for (auto args : std::vector<std::vector<std::string>>{
           {},                                                               // no mode
           {"--backends", "a:1", "--group-name", "x", "--group-port", "1"},  // both modes
           {"--group-name", "x"},                                            // no GROUP_PORT
           {"--backends", "nocolon"},
           {"--backends", "127.0.0.1:99999"},
           {"--backends", ","},
           {"--backends", "127.0.0.1:1", "--balance", "random"},
           {"--backends", "127.0.0.1:1", "--service-port", "70000"},
           {"--backends", "127.0.0.1:1", "--log-level", "loud"},
           {"--backends", "127.0.0.1:1", "--connect-timeout-ms", "0"},
           {"--group-name", "x", "--group-port", "1", "--docker-api-location", "tcp://h:1"},
       }) {
    auto p = parse(args);
    ASSERT_TRUE(p.exitCode.has_value());
    EXPECT_EQ(2, *p.exitCode);
  }
  auto help = parse({"--help"});
  ASSERT_TRUE(help.exitCode.has_value());
  EXPECT_EQ(0, *help.exitCode);
}

TEST(ConfigTest, EmptySettingsAndEmptyBackendEntriesExit2) {
  // An empty value is a mistake to report, not a request for the default.
  for (auto args : std::vector<std::vector<std::string>>{
           {"--backends", "127.0.0.1:1,,127.0.0.1:2"},
           {"--backends", "127.0.0.1:1,"},
           {"--backends", ",127.0.0.1:1"},
           {"--backends", "127.0.0.1:1, ,127.0.0.1:2"},
           {"--backends", ""},
           {"--backends", "127.0.0.1:1", "--service-port", ""},
       }) {
    auto p = parse(args);
    ASSERT_TRUE(p.exitCode.has_value()) << args[1];
    EXPECT_EQ(2, *p.exitCode) << args[1];
  }
  for (const char* name : {"SERVICE_PORT", "BALANCE", "ADMIN_PORT", "CONNECT_TIMEOUT_MS"}) {
    ASSERT_EQ(0, setenv(name, "", 1));
    auto p = parse({"--backends", "127.0.0.1:1"});
    unsetenv(name);
    ASSERT_TRUE(p.exitCode.has_value()) << name << "= was taken as the default";
    EXPECT_EQ(2, *p.exitCode) << name;
  }
  // The same settings unset still give their defaults.
  auto p = parse({"--backends", "127.0.0.1:1"});
  ASSERT_FALSE(p.exitCode.has_value());
  EXPECT_EQ(8080, p.config.servicePort);
}

TEST(ConfigTest, OwnContainerIdComesFromTheMountTable) {
  std::string path = ::testing::TempDir() + "mountinfo";
  const std::string id(64, 'a');
  {
    std::ofstream f(path);
    f << "1 0 0:1 / / rw - overlay overlay rw\n";
    f << "2 1 8:1 /var/lib/docker/containers/" << id << "/hostname /etc/hostname rw - ext4 x rw\n";
  }
  EXPECT_EQ(id, ownContainerId(path));
  {
    std::ofstream f(path);
    f << "1 0 0:1 / / rw - ext4 /dev/sda1 rw\n";
  }
  EXPECT_EQ("", ownContainerId(path));
  std::remove(path.c_str());
}

TEST(ConfigTest, AutoscaleIsOffByDefaultAndTakesItsSettings) {
  auto off = parse({"--group-name", "database", "--group-port", "80"});
  ASSERT_FALSE(off.exitCode.has_value());
  EXPECT_FALSE(off.config.autoscale.enabled());
  auto on = parse({"--group-name", "database", "--group-port", "80", "--autoscale-max", "6",
                   "--autoscale-up-cpu", "80", "--autoscale-window-ms", "60000"});
  ASSERT_FALSE(on.exitCode.has_value());
  ASSERT_TRUE(on.config.autoscale.enabled());
  ScalingOptions o = on.config.autoscale.policy();
  EXPECT_EQ(2, o.min);
  EXPECT_EQ(6, o.max);
  EXPECT_DOUBLE_EQ(0.8, o.upCpu);
  EXPECT_DOUBLE_EQ(0.25, o.downCpu);
  EXPECT_EQ(60000u, o.windowMs);
  EXPECT_EQ(180000u, o.upCooldownMs);
}

TEST(ConfigTest, AutoscaleRefusesWhatCannotWork) {
  EXPECT_EQ(2, parse({"--backends", "127.0.0.1:80", "--autoscale-max", "4"}).exitCode);
  EXPECT_EQ(2, parse({"--group-name", "d", "--group-port", "80", "--autoscale-min", "5",
                      "--autoscale-max", "4"})
                   .exitCode);
  EXPECT_EQ(2, parse({"--group-name", "d", "--group-port", "80", "--autoscale-max", "4",
                      "--autoscale-up-cpu", "20", "--autoscale-down-cpu", "30"})
                   .exitCode);
  // Swarm scales through a manager's API; DNS discovery has none to update the service with.
  EXPECT_EQ(2, parse({"--group-name", "d", "--group-port", "80", "--swarm-mode", "dns",
                      "--autoscale-max", "4"})
                   .exitCode);
  EXPECT_FALSE(parse({"--group-name", "d", "--group-port", "80", "--swarm-mode", "auto",
                      "--autoscale-max", "4"})
                   .exitCode.has_value());
}

}  // namespace
}  // namespace lb

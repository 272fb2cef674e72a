// parseNodeConfig: flags and environment variables, and the one-line exit-2 refusals a user
// sees, in particular for a variable that is set but empty (an invalid value, never the
// default). Tests set and unset variables of this process; each restores what it changed.
#include "database/config/node_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace db {
namespace {

ParsedConfig parse(std::vector<std::string> args) {
  args.insert(args.begin(), "meshkv-node");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parseNodeConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(NodeConfig, DefaultsAndTheBodyMemoryCap) {
  auto p = parse({"--hostname", "n1"});
  ASSERT_FALSE(p.exitCode.has_value());
  EXPECT_EQ(8080, p.config.port);
  EXPECT_EQ(64u << 20, p.config.maxPendingBodyBytes);
  p = parse({"--hostname", "n1", "--max-pending-body-bytes", "1048576"});
  ASSERT_FALSE(p.exitCode.has_value());
  EXPECT_EQ(1u << 20, p.config.maxPendingBodyBytes);
  p = parse({"--hostname", "n1", "--max-pending-body-bytes", "100"});  // below 64 KiB
  ASSERT_TRUE(p.exitCode.has_value());
  EXPECT_EQ(2, *p.exitCode);
}

TEST(NodeConfig, AnEmptyVariableIsAnInvalidValue) {
  for (const char* name : {"PORT", "MESH_SECRET", "MESH_NETWORK_URL", "HOSTNAME", "LOG_LEVEL",
                           "MAX_PENDING_BODY_BYTES"}) {
    const char* old = std::getenv(name);
    std::string saved = old != nullptr ? old : "";
    ASSERT_EQ(0, setenv(name, "", 1));
    auto p = parse({});
    if (old != nullptr) {
      setenv(name, saved.c_str(), 1);
    } else {
      unsetenv(name);
    }
    ASSERT_TRUE(p.exitCode.has_value()) << name << "= was taken as the default";
    EXPECT_EQ(2, *p.exitCode) << name;
  }
  auto p = parse({"--mesh-secret", ""});
  ASSERT_TRUE(p.exitCode.has_value());
  EXPECT_EQ(2, *p.exitCode);
}

}  // namespace
}  // namespace db

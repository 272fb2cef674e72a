// composeCreateBody on an inspect shaped like Docker's for a Compose service's container: what
// is copied (image, env, labels with the next number, HostConfig, network alias) and what is
// not (hostname, anonymous volume mounts); composeName for Compose v2 and v1 names.
#include "load-balancer/autoscale/compose_spec.h"

#include <gtest/gtest.h>

#include "load-balancer/autoscale/container_stats.h"

namespace lb {
namespace {

constexpr const char* kInspect = R"({
  "Id": "abc", "Name": "/proj-database-2",
  "Config": {"Hostname": "abc123456789", "Image": "meshkv/node:local",
             "Env": ["PORT=80", "MESH_NETWORK_URL=http://proxy"],
             "Labels": {"com.docker.compose.project": "proj",
                        "com.docker.compose.service": "database",
                        "com.docker.compose.container-number": "2",
                        "com.docker.compose.oneoff": "False"},
             "StopTimeout": 15},
  "HostConfig": {"ReadonlyRootfs": true, "CapDrop": ["ALL"],
                 "Mounts": [{"Type": "volume", "Source": "0f3e", "Target": "/data"},
                            {"Type": "bind", "Source": "/etc/x", "Target": "/x"}]},
  "NetworkSettings": {"Networks": {"proj_default": {"IPAddress": "172.20.0.3"}}}
})";

rapidjson::Document body(int number) {
  rapidjson::Document inspect;
  inspect.Parse(kInspect);
  std::string error;
  std::string json = composeCreateBody(inspect, "database", number, error);
  EXPECT_EQ(error, "");
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_TRUE(d.IsObject()) << json;
  return d;
}

TEST(ComposeSpec, CopiesTheTemplateWithTheNextNumber) {
  auto d = body(5);
  EXPECT_STREQ(d["Image"].GetString(), "meshkv/node:local");
  EXPECT_EQ(d["Env"].Size(), 2u);
  EXPECT_EQ(label(d["Labels"], kComposeNumber), "5");
  EXPECT_EQ(label(d["Labels"], kComposeProject), "proj");
  EXPECT_EQ(label(d["Labels"], kComposeService), "database");
  EXPECT_EQ(d["StopTimeout"].GetInt(), 15);
  EXPECT_TRUE(d["HostConfig"]["ReadonlyRootfs"].GetBool());
  const auto& alias = d["NetworkingConfig"]["EndpointsConfig"]["proj_default"]["Aliases"];
  ASSERT_EQ(alias.Size(), 1u);
  EXPECT_STREQ(alias[0].GetString(), "database");
}

TEST(ComposeSpec, NeverCopiesTheHostnameOrTheData) {
  auto d = body(3);
  EXPECT_FALSE(d.HasMember("Hostname"));  // the node's id in the mesh
  const auto& mounts = d["HostConfig"]["Mounts"];
  ASSERT_EQ(mounts.Size(), 1u);  // the bind stays, the anonymous volume does not
  EXPECT_STREQ(mounts[0]["Type"].GetString(), "bind");
}

TEST(ComposeSpec, RefusesAnInspectWithoutConfig) {
  rapidjson::Document inspect;
  inspect.Parse(R"({"Id":"abc"})");
  std::string error;
  EXPECT_EQ(composeCreateBody(inspect, "database", 3, error), "");
  EXPECT_NE(error, "");
}

TEST(ComposeSpec, NamesFollowTheTemplate) {
  EXPECT_EQ(composeName("/proj-database-2", 7), "proj-database-7");
  EXPECT_EQ(composeName("/proj_database_1", 3), "proj_database_3");
}

}  // namespace
}  // namespace lb

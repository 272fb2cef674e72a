// parseTasks: the phases of swarmkit's task states, the address on the named network (a
// stack's prefix allowed, ingress never), and listings of unexpected shape.
#include "load-balancer/docker/swarm_tasks.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

std::string task(const std::string& id, const std::string& state, const std::string& desired,
                 const std::string& nets) {
  return "{\"ID\":\"" + id + "\",\"Slot\":2,\"DesiredState\":\"" + desired +
         "\",\"Status\":{\"State\":\"" + state +
         "\",\"ContainerStatus\":{\"ContainerID\":\"c1\"}},\"NetworksAttachments\":[" + nets + "]}";
}

std::string net(const std::string& name, const std::string& cidr, bool ingress = false) {
  return "{\"Network\":{\"Spec\":{\"Name\":\"" + name + "\"" +
         (ingress ? ",\"Ingress\":true" : "") + "}},\"Addresses\":[\"" + cidr + "\"]}";
}

TEST(SwarmTasksTest, PhasesFollowStateAndDesiredState) {
  std::string json =
      "[" + task("a", "running", "running", "") + "," + task("b", "starting", "running", "") + "," +
      task("c", "running", "shutdown", "") + "," + task("d", "shutdown", "shutdown", "") + "," +
      task("e", "failed", "running", "") + "," + task("f", "pending", "remove", "") + "]";
  auto r = parseTasks(json, "s_db", "");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(6u, r->size());
  EXPECT_EQ(TaskPhase::kRunning, (*r)[0].phase);
  EXPECT_EQ(TaskPhase::kStarting, (*r)[1].phase);
  EXPECT_EQ(TaskPhase::kStopping, (*r)[2].phase);
  EXPECT_EQ(TaskPhase::kGone, (*r)[3].phase);
  EXPECT_EQ(TaskPhase::kGone, (*r)[4].phase);
  EXPECT_EQ(TaskPhase::kGone, (*r)[5].phase);
  EXPECT_EQ("s_db.2.a", (*r)[0].name);
  EXPECT_EQ("c1", (*r)[0].containerId);
}

TEST(SwarmTasksTest, TheAddressIsOnTheNamedNetworkNeverIngress) {
  std::string nets = net("ingress", "10.0.0.5/24", true) + "," + net("other_net", "10.0.7.5/24") +
                     "," + net("meshkv_mesh", "10.0.9.5/24");
  std::string json = "[" + task("a", "running", "running", nets) + "]";
  EXPECT_EQ("10.0.9.5", parseTasks(json, "s", "mesh")->at(0).ip) << "a stack's <stack>_mesh";
  EXPECT_EQ("10.0.9.5", parseTasks(json, "s", "meshkv_mesh")->at(0).ip);
  EXPECT_EQ("10.0.7.5", parseTasks(json, "s", "")->at(0).ip) << "first non-ingress";
  EXPECT_EQ("", parseTasks(json, "s", "nomesh")->at(0).ip);
  EXPECT_FALSE(networkMatches("xmesh", "mesh"));
  EXPECT_FALSE(networkMatches("mesh_x", "mesh"));
}

TEST(SwarmTasksTest, UnexpectedShapesSkipATaskNotTheListing) {
  EXPECT_FALSE(parseTasks("{\"message\":\"x\"}", "s", "").ok());
  EXPECT_FALSE(parseTasks("[{", "s", "").ok());
  auto r = parseTasks("[1,{\"ID\":\"x\"},{\"ID\":\"y\",\"Status\":{\"State\":5}}," +
                          task("a", "running", "running", "{\"Network\":7}") + "]",
                      "s", "");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(2u, r->size());
  EXPECT_EQ(TaskPhase::kGone, (*r)[0].phase);
  EXPECT_EQ(TaskPhase::kRunning, (*r)[1].phase);
  EXPECT_EQ("", (*r)[1].ip);
}

}  // namespace
}  // namespace lb

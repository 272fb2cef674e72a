// ComposeActuator against FakeDocker on a unix socket, through the real EngineClient: the
// listing is the group's containers (one-off ones left out, stopped ones kept for numbering);
// a scale-up creates a container from the newest running one the way Compose would (config,
// labels with the next number, the service's network alias, <project>_<service>_<n>, no
// hostname, no anonymous volume) and starts it; a scale-down drains the highest-numbered node
// at the balancer, stops it only once its connections are done, with its own grace period
// (no t=), and removes it with its volumes; a refused stop puts the node back in rotation.
#include "load-balancer/autoscale/compose_actuator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <memory>
#include <optional>

#include "load-balancer/testing/fake_docker.h"
#include "load-balancer/testing/loop_runner.h"

namespace lb {
namespace {

using testing::FakeDocker;
using testing::FakeRequest;
using testing::runUntil;

class ComposeActuatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    socket_ = "/tmp/meshkv-fake-compose-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sock";
    docker_ = std::make_unique<FakeDocker>(&loop_, socket_);
    docker_->listen();
    engine_ = std::make_unique<EngineClient>(&loop_, socket_);
    actuator_ = std::make_unique<ComposeActuator>(
        &loop_, *engine_, pool_, 5000, [] { return std::string("proj"); }, "db");
    bool pinged = false;
    engine_->ping([&](std::string, std::string) { pinged = true; });
    ASSERT_TRUE(runUntil(&loop_, [&] { return pinged; }));
  }

  void TearDown() override {
    int closing = 2;
    actuator_->close([&] { --closing; });
    engine_->close([&] { --closing; });
    EXPECT_TRUE(runUntil(&loop_, [&] { return closing == 0; }));
    docker_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    actuator_.reset();
    engine_.reset();
    docker_.reset();
    EXPECT_EQ(0, uv_loop_close(&loop_));
  }

  testing::FakeContainer& node(const std::string& id, int number, bool running = true) {
    auto& c = docker_->add(id, "db", "172.18.0." + std::to_string(10 + number));
    c.labels["com.docker.compose.container-number"] = std::to_string(number);
    c.name = "proj_db_" + std::to_string(number);
    c.running = running;
    return c;
  }

  GroupView list() {
    std::optional<GroupListing> got;
    actuator_->list([&](GroupListing l) { got = std::move(l); });
    EXPECT_TRUE(runUntil(&loop_, [&] { return got.has_value(); }));
    EXPECT_EQ(ListOutcome::kListed, got->outcome) << got->error;
    return got->group;
  }

  std::vector<FakeRequest> writes() const {
    std::vector<FakeRequest> out;
    for (const auto& r : docker_->requests)
      if (r.method != "GET") out.push_back(r);
    return out;
  }

  uv_loop_t loop_;
  std::string socket_;
  BackendPool pool_;
  std::unique_ptr<FakeDocker> docker_;
  std::unique_ptr<EngineClient> engine_;
  std::unique_ptr<ComposeActuator> actuator_;
};

TEST_F(ComposeActuatorTest, ListsTheGroupWithStoppedContainersForNumbering) {
  node("a", 1);
  node("b", 2);
  node("c", 5, false);
  docker_->add("run1", "db", "").labels["com.docker.compose.oneoff"] = "True";
  GroupView g = list();
  ASSERT_EQ(3u, g.members.size()) << "the `compose run` container is not a member";
  EXPECT_EQ(2, g.running());
  EXPECT_EQ(6, g.nextNumber()) << "a stopped container keeps its number";
  for (const auto& m : g.members) EXPECT_EQ(m.running ? m.id : "", m.statsId) << m.id;
}

TEST_F(ComposeActuatorTest, ScaleUpCreatesTheNextContainerTheWayComposeWould) {
  node("a", 1);
  auto& newest = node("b", 2);
  newest.env = {"PORT=80", "MESH_NETWORK_URL=http://proxy"};
  newest.hostConfig =
      R"({"NetworkMode":"proj_default","Mounts":[{"Type":"volume","Target":"/data"},)"
      R"({"Type":"bind","Source":"/etc/meshkv","Target":"/etc/meshkv"}]})";
  node("c", 3, false);
  std::optional<ScalingResult> res;
  actuator_->scaleUp(list(), [&](ScalingResult r) { res = std::move(r); });
  ASSERT_TRUE(runUntil(&loop_, [&] { return res.has_value(); }));
  ASSERT_TRUE(res->ok) << res->error;
  EXPECT_EQ("proj_db_4", res->container) << "named after every container's number";

  auto w = writes();
  ASSERT_EQ(2u, w.size());
  EXPECT_EQ("/containers/create", w[0].path);
  EXPECT_EQ("name=proj_db_4", w[0].query);
  rapidjson::Document body;
  body.Parse(w[0].body.c_str());
  ASSERT_TRUE(body.IsObject()) << w[0].body;
  EXPECT_STREQ("img", body["Image"].GetString());
  ASSERT_EQ(2u, body["Env"].Size());
  EXPECT_STREQ("MESH_NETWORK_URL=http://proxy", body["Env"][1].GetString());
  EXPECT_FALSE(body.HasMember("Hostname")) << "the hostname is the node's id in the mesh";
  const auto& labels = body["Labels"];
  EXPECT_STREQ("4", labels["com.docker.compose.container-number"].GetString());
  EXPECT_STREQ("proj", labels["com.docker.compose.project"].GetString());
  EXPECT_STREQ("db", labels["com.docker.compose.service"].GetString());
  const auto& mounts = body["HostConfig"]["Mounts"];
  ASSERT_EQ(1u, mounts.Size()) << "the template's anonymous volume (its data) is not shared";
  EXPECT_STREQ("bind", mounts[0]["Type"].GetString());
  const auto& endpoint = body["NetworkingConfig"]["EndpointsConfig"]["proj_default"];
  ASSERT_TRUE(endpoint.IsObject());
  EXPECT_STREQ("db", endpoint["Aliases"][0].GetString()) << "reachable by the service's name";

  EXPECT_EQ("POST", w[1].method);
  EXPECT_EQ("/containers/created1/start", w[1].path);
  ASSERT_NE(nullptr, docker_->find("created1"));
  EXPECT_TRUE(docker_->find("created1")->running);
  EXPECT_EQ("proj_db_4", docker_->find("created1")->name);
  EXPECT_EQ(3, list().running());
}

TEST_F(ComposeActuatorTest, ScaleDownDrainsFirstThenStopsWithTheNodesGracePeriod) {
  node("a", 1);
  node("b", 2);
  sockaddr_storage addr;
  ASSERT_TRUE(makeAddress("172.18.0.12", 80, addr));
  pool_.upsert("b", "proj_db_2", addr, BackendState::kReady).openConnections = 1;
  std::optional<ScalingResult> res;
  actuator_->scaleDown(list(), [&](ScalingResult r) { res = std::move(r); });
  ASSERT_TRUE(runUntil(&loop_, [&] { return pool_.find("b")->state == BackendState::kDraining; }))
      << "the highest-numbered node takes no new connection";
  EXPECT_TRUE(writes().empty()) << "not stopped while a connection is open";
  EXPECT_FALSE(res.has_value());
  pool_.find("b")->openConnections = 0;
  ASSERT_TRUE(runUntil(&loop_, [&] { return res.has_value(); }));
  ASSERT_TRUE(res->ok) << res->error;
  EXPECT_EQ("proj_db_2", res->container);
  auto w = writes();
  ASSERT_EQ(2u, w.size());
  EXPECT_EQ("/containers/b/stop", w[0].path);
  EXPECT_EQ("", w[0].query) << "no t=: Docker applies the container's stop_grace_period";
  EXPECT_EQ("DELETE", w[1].method);
  EXPECT_EQ("/containers/b", w[1].path);
  EXPECT_EQ("v=true", w[1].query) << "its anonymous volume goes with it";
  EXPECT_EQ(nullptr, docker_->find("b"));
  EXPECT_TRUE(docker_->find("a")->running);
}

TEST_F(ComposeActuatorTest, ARefusedStopPutsTheNodeBackInRotation) {
  node("a", 1);
  node("b", 2);
  sockaddr_storage addr;
  ASSERT_TRUE(makeAddress("172.18.0.12", 80, addr));
  pool_.upsert("b", "proj_db_2", addr, BackendState::kReady);
  docker_->failStops = 1;
  std::optional<ScalingResult> res;
  actuator_->scaleDown(list(), [&](ScalingResult r) { res = std::move(r); });
  ASSERT_TRUE(runUntil(&loop_, [&] { return res.has_value(); }));
  EXPECT_FALSE(res->ok);
  EXPECT_NE(std::string::npos, res->error.find("permission denied")) << res->error;
  EXPECT_EQ(BackendState::kReady, pool_.find("b")->state);
  EXPECT_TRUE(docker_->find("b")->running);
}

}  // namespace
}  // namespace lb

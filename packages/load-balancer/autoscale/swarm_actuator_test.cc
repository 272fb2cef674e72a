// SwarmActuator against FakeDocker + FakeSwarm on a unix socket, through the real EngineClient:
// the group is the tasks Swarm wants running, measured only on this engine's node; a scale
// step reads the service and updates it with the version read and the spec as read except
// Replicas; "update out of sequence" is read again and retried after a growing wait, at most
// maxAttempts times; any other refusal fails at once. And the Autoscaler over it: a failed
// update is retried only after the policy's back-off, then the service grows; with every task
// on another host no stats are read and the connections decide.
#include "load-balancer/autoscale/swarm_actuator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <memory>
#include <optional>

#include "load-balancer/autoscale/autoscaler.h"
#include "load-balancer/testing/fake_docker.h"
#include "load-balancer/testing/fake_swarm.h"
#include "load-balancer/testing/loop_runner.h"

namespace lb {
namespace {

using testing::FakeDocker;
using testing::FakeRequest;
using testing::FakeSwarm;
using testing::runUntil;

class SwarmActuatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    socket_ = "/tmp/meshkv-fake-swarmscale-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sock";
    docker_ = std::make_unique<FakeDocker>(&loop_, socket_);
    swarm_ = std::make_unique<FakeSwarm>(*docker_, "stack_db");
    docker_->listen();
  }

  void start(int maxAttempts = 5) {
    engine_ = std::make_unique<EngineClient>(&loop_, socket_);
    SwarmActuatorOptions o;
    o.service = "stack_db";
    o.maxAttempts = maxAttempts;
    o.retryMs = 20;
    o.maxRetryMs = 1000;
    actuator_ = std::make_unique<SwarmActuator>(&loop_, *engine_, o);
    bool pinged = false;
    engine_->ping([&](std::string, std::string) { pinged = true; });
    ASSERT_TRUE(runUntil(&loop_, [&] { return pinged; }));
  }

  void TearDown() override {
    if (actuator_) {
      int closing = 2;
      actuator_->close([&] { --closing; });
      engine_->close([&] { --closing; });
      EXPECT_TRUE(runUntil(&loop_, [&] { return closing == 0; }));
    }
    docker_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    actuator_.reset();
    engine_.reset();
    swarm_.reset();
    docker_.reset();
    EXPECT_EQ(0, uv_loop_close(&loop_));
  }

  GroupListing list() {
    std::optional<GroupListing> got;
    actuator_->list([&](GroupListing l) { got = std::move(l); });
    EXPECT_TRUE(runUntil(&loop_, [&] { return got.has_value(); }));
    return got.value_or(GroupListing{});
  }

  ScalingResult step(bool up) {
    GroupListing l = list();
    EXPECT_EQ(ListOutcome::kListed, l.outcome) << l.error;
    std::optional<ScalingResult> res;
    auto done = [&](ScalingResult r) { res = std::move(r); };
    up ? actuator_->scaleUp(l.group, done) : actuator_->scaleDown(l.group, done);
    EXPECT_TRUE(runUntil(
        &loop_, [&] { return res.has_value(); }, 10000));
    return res.value_or(ScalingResult{});
  }

  std::vector<FakeRequest> calls(const std::string& method, const std::string& prefix) const {
    std::vector<FakeRequest> out;
    for (const auto& r : docker_->requests)
      if (r.method == method && r.path.rfind(prefix, 0) == 0) out.push_back(r);
    return out;
  }

  void threeTasks() {
    swarm_->add("t1", "10.0.1.5");
    swarm_->add("t2", "10.0.1.6");
    swarm_->add("t3", "10.0.1.7");
  }

  uv_loop_t loop_;
  std::string socket_;
  std::unique_ptr<FakeDocker> docker_;
  std::unique_ptr<FakeSwarm> swarm_;
  std::unique_ptr<EngineClient> engine_;
  std::unique_ptr<SwarmActuator> actuator_;
};

TEST_F(SwarmActuatorTest, TheGroupIsTheTasksSwarmWantsRunningMeasuredOnThisNodeOnly) {
  start();
  swarm_->add("local", "10.0.1.5");
  swarm_->add("remote", "10.0.1.6").node = "node2";
  swarm_->add("starting", "10.0.1.7", "starting");
  swarm_->add("leaving", "10.0.1.8").desired = "shutdown";
  swarm_->add("failed", "10.0.1.9", "failed").desired = "shutdown";
  GroupListing l = list();
  ASSERT_EQ(ListOutcome::kListed, l.outcome) << l.error;
  EXPECT_EQ(3, l.group.running()) << "a starting task counts: a scale-up is not taken twice";
  for (const auto& m : l.group.members) {
    EXPECT_EQ(m.id == "local" ? "c-local" : "", m.statsId)
        << m.id << ": only a running task on this engine's node has stats here";
  }
  EXPECT_NE(std::string::npos, swarm_->lastTaskQuery.find("desired-state"));
}

TEST_F(SwarmActuatorTest, NoServiceOrNoManagerIsNothingToScaleYet) {
  start();
  swarm_->serviceExists = false;
  EXPECT_EQ(ListOutcome::kNoGroup, list().outcome);
  swarm_->serviceExists = true;
  threeTasks();
  EXPECT_EQ(ListOutcome::kListed, list().outcome);
}

TEST_F(SwarmActuatorTest, AWorkerCannotScale) {
  swarm_->manager = false;
  start();
  GroupListing l = list();
  EXPECT_EQ(ListOutcome::kNoGroup, l.outcome);
  EXPECT_NE(std::string::npos, l.error.find("no Swarm manager")) << l.error;
}

TEST_F(SwarmActuatorTest, UpdatesReplicasWithTheVersionReadAndEverythingElseAsRead) {
  start();
  threeTasks();
  rapidjson::Document before;
  before.Parse(swarm_->spec.c_str());
  ScalingResult r = step(true);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ("stack_db replicas 3 -> 4", r.container);
  auto updates = calls("POST", "/services/");
  ASSERT_EQ(1u, updates.size());
  EXPECT_EQ("/services/svc1/update", updates[0].path) << "by the id the inspect gave";
  EXPECT_EQ("version=10", updates[0].query);
  EXPECT_EQ(4, swarm_->replicas());
  rapidjson::Document after;
  after.Parse(swarm_->spec.c_str());
  before["Mode"]["Replicated"]["Replicas"].SetInt(4);
  EXPECT_TRUE(before == after) << "sent: " << swarm_->spec;
  EXPECT_EQ(11u, swarm_->version);

  r = step(false);  // still 3 tasks listed: 3 -> 2, whatever the spec says
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ("stack_db replicas 4 -> 2", r.container);
  EXPECT_EQ("version=11", calls("POST", "/services/").back().query);
  EXPECT_EQ(2, swarm_->replicas());
}

TEST_F(SwarmActuatorTest, AnUpdateOutOfSequenceIsReadAgainAndRetriedWithAGrowingWait) {
  start();
  threeTasks();
  swarm_->conflicts = 2;
  ScalingResult r = step(true);
  ASSERT_TRUE(r.ok) << r.error;
  auto reads = calls("GET", "/services/");
  auto updates = calls("POST", "/services/");
  ASSERT_EQ(3u, reads.size());
  ASSERT_EQ(3u, updates.size());
  EXPECT_EQ("version=10", updates[0].query);
  EXPECT_EQ("version=11", updates[1].query) << "each retry carries the version read again";
  EXPECT_EQ("version=12", updates[2].query);
  EXPECT_GE(reads[1].atMs - updates[0].atMs, 20u);
  EXPECT_GE(reads[2].atMs - updates[1].atMs, 40u) << "the wait doubles";
  EXPECT_EQ(4, swarm_->replicas());
}

TEST_F(SwarmActuatorTest, AServiceThatKeepsChangingFailsAfterMaxAttempts) {
  start(3);
  threeTasks();
  swarm_->conflicts = 100;
  ScalingResult r = step(true);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string::npos, r.error.find("out of sequence")) << r.error;
  EXPECT_EQ(3u, calls("POST", "/services/").size());
  EXPECT_EQ(3, swarm_->replicas());
}

TEST_F(SwarmActuatorTest, OtherRefusalsFailAtOnceAndGlobalServicesDoNotScale) {
  start();
  threeTasks();
  swarm_->failUpdates = 1;
  ScalingResult r = step(true);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string::npos, r.error.find("no leader")) << r.error;
  EXPECT_EQ(1u, calls("POST", "/services/").size()) << "not retried here: the policy backs off";

  swarm_->spec = R"({"Name":"stack_db","Mode":{"Global":{}}})";
  r = step(true);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string::npos, r.error.find("not replicated")) << r.error;
  EXPECT_EQ(1u, calls("POST", "/services/").size());
}

// The Autoscaler over the SwarmActuator: one running task, minimum 2, so the first tick decides
// to scale up (outside the bounds, no window needed). The first update fails; the next one
// comes only after the policy's back-off (5 s) and grows the service.
TEST_F(SwarmActuatorTest, TheAutoscalerRetriesAFailedUpdateAfterItsBackoff) {
  swarm_->add("t1", "10.0.1.5");
  swarm_->spec = R"({"Name":"stack_db","Mode":{"Replicated":{"Replicas":1}}})";
  swarm_->failUpdates = 1;
  BackendPool pool;
  AutoscaleConfig c;
  c.min = 2;
  c.max = 3;
  c.intervalMs = 500;
  SwarmActuatorOptions o;
  o.service = "stack_db";
  auto scaler = std::make_unique<Autoscaler>(
      &loop_, pool, socket_, "stack_db", c,
      [&](EngineClient& e) { return std::make_unique<SwarmActuator>(&loop_, e, o); });
  scaler->start();
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return swarm_->replicas() == 2; }, 15000));
  auto updates = calls("POST", "/services/");
  ASSERT_EQ(2u, updates.size()) << "one failed, one retried";
  EXPECT_GE(updates[1].atMs - updates[0].atMs, 5000u) << "retried after the back-off only";
  std::string status;
  scaler->appendStatus(status);
  EXPECT_NE(std::string::npos, status.find("\"failures\":1")) << status;
  EXPECT_NE(std::string::npos, status.find("\"scaleUps\":1")) << status;
  EXPECT_NE(std::string::npos, status.find("stack_db replicas 1 -> 2")) << status;
  bool closed = false;
  scaler->close([&] { closed = true; });
  EXPECT_TRUE(runUntil(&loop_, [&] { return closed; }));
}

// A multi-node swarm seen from the balancer's engine: every task on another host, so no stats
// are read and the balancer's own view decides; with no connection open over the window the
// service shrinks by one, without a single stats request.
TEST_F(SwarmActuatorTest, WithEveryTaskOnAnotherHostTheConnectionsDecide) {
  for (const char* id : {"t1", "t2", "t3"}) swarm_->add(id, "10.0.1.5").node = "node2";
  BackendPool pool;
  AutoscaleConfig c;
  c.min = 2;
  c.max = 3;
  c.intervalMs = 500;
  c.windowMs = 1000;
  SwarmActuatorOptions o;
  o.service = "stack_db";
  auto scaler = std::make_unique<Autoscaler>(
      &loop_, pool, socket_, "stack_db", c,
      [&](EngineClient& e) { return std::make_unique<SwarmActuator>(&loop_, e, o); });
  scaler->start();
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return swarm_->replicas() == 2; }, 15000));
  for (const auto& r : docker_->requests) {
    EXPECT_EQ(std::string::npos, r.path.find("/stats")) << "a remote task's container: " << r.path;
  }
  std::string status;
  scaler->appendStatus(status);
  EXPECT_NE(std::string::npos, status.find("CPU unknown")) << status;
  bool closed = false;
  scaler->close([&] { closed = true; });
  EXPECT_TRUE(runUntil(&loop_, [&] { return closed; }));
}

}  // namespace
}  // namespace lb

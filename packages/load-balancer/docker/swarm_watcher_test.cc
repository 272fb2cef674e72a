// SwarmWatcher against FakeDocker + FakeSwarm on a unix socket: only running tasks of the
// service are routed, on their overlay address (never ingress); a task turning running is
// routed within a burst of listings after the event that announced it; a local container's
// kill drains its task at once, before any listing says so; scale-down (DesiredState shutdown
// after a service event) drains then removes; the baseline poll catches remote changes without
// any event; an unreachable manager keeps the backends; auto mode on a worker falls back to
// DNS; TasksDns turns a name's addresses into backends.
#include "load-balancer/docker/swarm_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "load-balancer/docker/tasks_dns.h"
#include "load-balancer/testing/fake_docker.h"
#include "load-balancer/testing/fake_swarm.h"
#include "load-balancer/testing/loop_runner.h"

namespace lb {
namespace {

using testing::FakeDocker;
using testing::FakeSwarm;
using testing::runUntil;

class SwarmWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    socket_ = "/tmp/meshkv-fake-swarm-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sock";
    docker_ = std::make_unique<FakeDocker>(&loop_, socket_);
    swarm_ = std::make_unique<FakeSwarm>(*docker_, "stack_db");
    docker_->listen();
  }

  void TearDown() override {
    if (watcher_) {
      bool closed = false;
      watcher_->close([&] { closed = true; });
      EXPECT_TRUE(runUntil(&loop_, [&] { return closed; }));
      watcher_.reset();
    }
    docker_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    docker_.reset();
    EXPECT_EQ(0, uv_loop_close(&loop_));
  }

  // pollMs large by default: anything seen sooner came from an event's burst.
  void startWatcher(SwarmMode mode = SwarmMode::kApi, uint64_t pollMs = 60000) {
    SwarmOptions o;
    o.apiLocation = socket_;
    o.service = "stack_db";
    o.port = 80;
    o.network = "mesh";
    o.mode = mode;
    o.pollMs = pollMs;
    o.burstMs = 20;
    o.burstForMs = 500;
    o.minBackoffMs = 20;
    o.maxBackoffMs = 100;
    watcher_ = std::make_unique<SwarmWatcher>(&loop_, pool_, o);
    watcher_->start();
  }

  bool watching() { return watcher_->status().state == SwarmState::kWatching; }
  std::string state(const std::string& id) {
    Backend* b = pool_.find(id);
    return b == nullptr ? "absent" : std::string(toString(b->state));
  }
  bool waitState(const std::string& id, const std::string& s) {
    return runUntil(&loop_, [&] { return state(id) == s; });
  }
  // Lets the burst after the last event run out, so later changes need a new event.
  void quiet() {
    int lists = swarm_->taskLists;
    testing::runFor(&loop_, 700);
    int settled = swarm_->taskLists;
    testing::runFor(&loop_, 100);
    ASSERT_EQ(settled, swarm_->taskLists) << "still listing long after the last event";
    ASSERT_GT(settled, lists);
  }

  uv_loop_t loop_;
  std::string socket_;
  std::unique_ptr<FakeDocker> docker_;
  std::unique_ptr<FakeSwarm> swarm_;
  BackendPool pool_;
  std::unique_ptr<SwarmWatcher> watcher_;
};

TEST_F(SwarmWatcherTest, RoutesRunningTasksOnTheirOverlayAddressOnly) {
  swarm_->add("t1", "10.0.5.2");
  swarm_->add("t2", "10.0.5.3", "starting");  // healthcheck not passed yet
  swarm_->add("t3", "10.0.5.4").desired = "shutdown";
  swarm_->add("t4", "10.0.5.5", "failed");
  swarm_->add("t5", "");  // running but not on the mesh network (only ingress)
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  EXPECT_EQ("ready", state("t1"));
  EXPECT_EQ("10.0.5.2:80", pool_.find("t1")->address) << "the mesh address, not ingress";
  EXPECT_EQ("stack_db.1.t1", pool_.find("t1")->name);
  EXPECT_EQ("absent", state("t2"));
  EXPECT_EQ("absent", state("t3")) << "never routed, already leaving";
  EXPECT_EQ("absent", state("t4"));
  EXPECT_EQ("absent", state("t5"));
  EXPECT_EQ(1u, pool_.all().size());
  EXPECT_NE(std::string::npos, swarm_->lastTaskQuery.find("stack_db")) << swarm_->lastTaskQuery;
  ASSERT_EQ(1u, docker_->eventQueries.size());
  EXPECT_NE(std::string::npos, docker_->eventQueries[0].find("service"));
}

TEST_F(SwarmWatcherTest, ATaskTurningHealthyIsRoutedAfterItsContainerEvent) {
  swarm_->add("t1", "10.0.5.2");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  swarm_->add("t2", "10.0.5.3", "starting");
  docker_->push(swarm_->containerEvent("t2", "start"));
  quiet();
  EXPECT_EQ("absent", state("t2")) << "starting: the healthcheck has not passed";
  // The agent reports the task running a little after the container's health turns healthy:
  // the burst that the health event starts must catch it without a service event.
  docker_->push(swarm_->containerEvent("t2", "health_status: healthy"));
  swarm_->find("t2")->state = "running";
  ASSERT_TRUE(waitState("t2", "ready"));
  EXPECT_EQ("10.0.5.3:80", pool_.find("t2")->address);
}

TEST_F(SwarmWatcherTest, ALocalKillDrainsItsTaskBeforeAnyListingSaysSo) {
  swarm_->add("t1", "10.0.5.2");
  swarm_->add("t2", "10.0.5.3");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching() && state("t2") == "ready"; }));
  docker_->push(swarm_->containerEvent("t2", "kill", "\"signal\":\"15\""));
  ASSERT_TRUE(waitState("t2", "draining"));
  // Listings that still say "running" (the agent has not reported yet) do not bring it back.
  int lists = swarm_->taskLists;
  ASSERT_TRUE(runUntil(&loop_, [&] { return swarm_->taskLists >= lists + 3; }));
  EXPECT_EQ("draining", state("t2"));
  EXPECT_EQ("ready", state("t1"));
  // A signal that stops nothing (SIGHUP) leaves a task routed.
  docker_->push(swarm_->containerEvent("t1", "kill", "\"signal\":\"1\""));
  quiet();
  EXPECT_EQ("ready", state("t1"));
  swarm_->find("t2")->state = "shutdown";
  swarm_->find("t2")->desired = "shutdown";
  docker_->push(swarm_->containerEvent("t2", "die", "\"exitCode\":\"0\""));
  ASSERT_TRUE(waitState("t2", "absent"));
}

TEST_F(SwarmWatcherTest, ScaleDownDrainsThenRemovesAfterTheServiceEvent) {
  swarm_->add("t1", "10.0.5.2");
  swarm_->add("t2", "10.0.5.3");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching() && state("t2") == "ready"; }));
  quiet();
  swarm_->find("t2")->desired = "shutdown";  // the orchestrator's decision, on another host
  docker_->push(swarm_->serviceEvent("update"));
  ASSERT_TRUE(waitState("t2", "draining"));
  EXPECT_EQ("ready", state("t1"));
  swarm_->find("t2")->state = "shutdown";
  ASSERT_TRUE(waitState("t2", "absent"));
  // Another service's events start nothing.
  quiet();
  int lists = swarm_->taskLists;
  docker_->push(
      "{\"Type\":\"service\",\"Action\":\"update\",\"Actor\":{\"ID\":\"x\","
      "\"Attributes\":{\"name\":\"stack_other\"}},\"time\":1,\"timeNano\":1}\n");
  testing::runFor(&loop_, 200);
  EXPECT_EQ(lists, swarm_->taskLists);
}

TEST_F(SwarmWatcherTest, TheBaselinePollCatchesRemoteTasksWithoutEvents) {
  startWatcher(SwarmMode::kApi, 50);
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  swarm_->add("remote", "10.0.5.9");  // on another host: no container event reaches us
  ASSERT_TRUE(waitState("remote", "ready"));
  swarm_->find("remote")->state = "failed";
  ASSERT_TRUE(waitState("remote", "absent"));
}

TEST_F(SwarmWatcherTest, AnUnreachableManagerKeepsTheBackendsAndAMissingServiceHasNone) {
  swarm_->add("t1", "10.0.5.2");
  startWatcher(SwarmMode::kApi, 50);
  ASSERT_TRUE(runUntil(&loop_, [&] { return state("t1") == "ready"; }));
  docker_->stop();
  ASSERT_TRUE(runUntil(&loop_, [&] { return !watcher_->status().lastError.empty(); }));
  testing::runFor(&loop_, 200);
  EXPECT_EQ("ready", state("t1")) << "Docker down is no reason to drop traffic";
  docker_->restart();
  ASSERT_TRUE(runUntil(&loop_, [&] { return docker_->openStreams() == 1 && watching(); }));
  swarm_->serviceExists = false;  // `docker stack rm`
  ASSERT_TRUE(waitState("t1", "absent"));
}

TEST_F(SwarmWatcherTest, AutoModeOnAWorkerFollowsDns) {
  swarm_->manager = false;
  startWatcher(SwarmMode::kAuto);
  ASSERT_TRUE(runUntil(&loop_, [&] { return watcher_->status().state == SwarmState::kDns; }));
  EXPECT_EQ(0, swarm_->taskLists);
}

TEST(TasksDnsTest, EveryAddressOfTheNameIsABackend) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  BackendPool pool;
  TasksDnsOptions o;
  o.name = "localhost";
  o.port = 8080;
  o.intervalMs = 20;
  TasksDns dns(&loop, pool, o);
  dns.start();
  ASSERT_TRUE(runUntil(&loop, [&] { return pool.find("localhost/127.0.0.1:8080") != nullptr; }));
  EXPECT_EQ(BackendState::kReady, pool.find("localhost/127.0.0.1:8080")->state);
  ASSERT_TRUE(runUntil(&loop, [&] { return dns.lookups() >= 3; }));
  EXPECT_NE(nullptr, pool.find("localhost/127.0.0.1:8080")) << "stable across lookups";
  bool closed = false;
  dns.close([&] { closed = true; });
  ASSERT_TRUE(runUntil(&loop, [&] { return closed; }));
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(0, uv_loop_close(&loop));
}

}  // namespace
}  // namespace lb

// DockerWatcher against FakeDocker on a unix socket: the initial sync, every container action,
// events split across chunks, unknown actions and malformed JSON, a stream cut mid-event (the
// reconnect uses since= and replays are de-duplicated), a daemon restart with a lower API
// version (400, renegotiated), Docker unreachable (backends kept), the periodic resync.
#include "load-balancer/docker/watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "load-balancer/testing/fake_docker.h"
#include "load-balancer/testing/loop_runner.h"

namespace lb {
namespace {

using testing::FakeDocker;
using testing::runUntil;

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    socket_ = "/tmp/meshkv-fake-docker-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sock";
    docker_ = std::make_unique<FakeDocker>(&loop_, socket_);
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

  void startWatcher(uint64_t resyncMs = 60000) {
    WatcherOptions o;
    o.apiLocation = socket_;
    o.groupName = "web";
    o.groupPort = 8080;
    o.resyncIntervalMs = resyncMs;
    o.minBackoffMs = 20;
    o.maxBackoffMs = 100;
    o.detectSelf = false;
    watcher_ = std::make_unique<DockerWatcher>(&loop_, pool_, o);
    watcher_->start();
  }

  bool watching() { return watcher_->status().state == "watching"; }
  std::string state(const std::string& id) {
    Backend* b = pool_.find(id);
    return b == nullptr ? "absent" : std::string(toString(b->state));
  }
  bool waitState(const std::string& id, const std::string& s) {
    return runUntil(&loop_, [&] { return state(id) == s; });
  }

  uv_loop_t loop_;
  std::string socket_;
  std::unique_ptr<FakeDocker> docker_;
  BackendPool pool_;
  std::unique_ptr<DockerWatcher> watcher_;
};

TEST_F(WatcherTest, InitialSyncRoutesReadyContainersOnly) {
  docker_->add("c1", "web", "172.18.0.2");
  docker_->add("c2", "web", "172.18.0.3", "starting");
  docker_->add("c3", "db", "172.18.0.4");  // another service (a real daemon filters it out)
  docker_->add("c4", "web", "172.18.0.5").paused = true;
  docker_->add("c5", "web", "");  // no address on any network
  docker_->add("c6", "web", "172.18.0.7", "healthy");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  EXPECT_EQ("ready", state("c1"));
  EXPECT_EQ("172.18.0.2:8080", pool_.find("c1")->address);
  EXPECT_EQ("proj_web_c1", pool_.find("c1")->name);
  EXPECT_EQ("absent", state("c2")) << "health starting";
  EXPECT_EQ("absent", state("c3"));
  EXPECT_EQ("absent", state("c4"));
  EXPECT_EQ("absent", state("c5"));
  EXPECT_EQ("ready", state("c6"));
  EXPECT_EQ(2u, pool_.all().size());
  // Subscribed before listing, filtered by type and the service label.
  ASSERT_EQ(1u, docker_->eventQueries.size());
  const std::string& q = docker_->eventQueries[0];
  EXPECT_NE(std::string::npos, q.find("filters=")) << q;
  EXPECT_NE(std::string::npos, q.find("com.docker.compose.service%3Dweb")) << q;
  EXPECT_NE(std::string::npos, q.find("container")) << q;
  EXPECT_EQ("1.41", watcher_->status().apiVersion);
}

TEST_F(WatcherTest, EventsDriveEveryContainerState) {
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  docker_->add("a", "web", "172.18.0.10");
  docker_->push(docker_->event("a", "create") + docker_->event("a", "start"));
  ASSERT_TRUE(waitState("a", "ready"));
  // SIGHUP: still running. Checked once the event was handled (counted), not after a delay.
  uint64_t events = watcher_->status().events;
  docker_->push(docker_->event("a", "kill", "\"signal\":\"1\""));
  ASSERT_TRUE(runUntil(&loop_, [&] { return watcher_->status().events == events + 1; }));
  EXPECT_EQ("ready", state("a"));
  docker_->push(docker_->event("a", "kill", "\"signal\":\"15\""));
  ASSERT_TRUE(waitState("a", "draining"));
  docker_->find("a")->running = false;
  docker_->push(docker_->event("a", "die", "\"exitCode\":\"0\""));
  ASSERT_TRUE(waitState("a", "absent"));
  docker_->find("a")->running = true;
  docker_->push(docker_->event("a", "start"));
  ASSERT_TRUE(waitState("a", "ready"));
  docker_->find("a")->paused = true;
  docker_->push(docker_->event("a", "pause"));
  ASSERT_TRUE(waitState("a", "absent"));
  docker_->find("a")->paused = false;
  docker_->push(docker_->event("a", "unpause"));
  ASSERT_TRUE(waitState("a", "ready"));
  docker_->push(docker_->event("a", "oom"));
  ASSERT_TRUE(waitState("a", "absent"));
  docker_->push(docker_->event("a", "start"));
  ASSERT_TRUE(waitState("a", "ready"));
  docker_->push(docker_->event("a", "stop"));
  ASSERT_TRUE(waitState("a", "absent"));
  docker_->push(docker_->event("a", "start"));
  ASSERT_TRUE(waitState("a", "ready"));
  docker_->push(docker_->event("a", "destroy"));
  docker_->erase("a");
  ASSERT_TRUE(waitState("a", "absent"));

  // With a healthcheck: routed only once healthy; out when unhealthy; back when healthy.
  // Checked once the inspect that the start triggers was answered and handled.
  docker_->add("h", "web", "172.18.0.11", "starting");
  uint64_t inspects = watcher_->status().inspects;
  docker_->push(docker_->event("h", "start"));
  ASSERT_TRUE(runUntil(&loop_, [&] { return watcher_->status().inspects == inspects + 1; }));
  EXPECT_EQ("absent", state("h"));
  docker_->find("h")->health = "healthy";
  docker_->push(docker_->event("h", "health_status: healthy"));
  ASSERT_TRUE(waitState("h", "ready"));
  docker_->find("h")->health = "unhealthy";
  docker_->push(docker_->event("h", "health_status: unhealthy"));
  ASSERT_TRUE(waitState("h", "absent"));
  docker_->find("h")->health = "healthy";
  docker_->push(docker_->event("h", "health_status: healthy"));
  ASSERT_TRUE(waitState("h", "ready"));
  // One-off containers of the service (docker compose run) are routed too.
  docker_->add("o", "web", "172.18.0.12").labels["com.docker.compose.oneoff"] = "True";
  docker_->push(docker_->event("o", "start"));
  ASSERT_TRUE(waitState("o", "ready"));
}

TEST_F(WatcherTest, SplitChunksUnknownActionsAndMalformedJsonAreSurvived) {
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  docker_->add("a", "web", "172.18.0.10");
  docker_->add("b", "web", "172.18.0.11");
  docker_->add("z", "web", "172.18.0.12");
  std::string ev = docker_->event("a", "start");
  // A whole event, then the first bytes of the next one in the same chunk: once the whole one
  // was handled (counted), the chunk was read, and the partial event must not have been.
  uint64_t events = watcher_->status().events;
  docker_->push(docker_->event("z", "create") + ev.substr(0, 7));
  ASSERT_TRUE(runUntil(&loop_, [&] { return watcher_->status().events == events + 1; }));
  EXPECT_EQ("absent", state("a"));
  EXPECT_EQ(0u, watcher_->status().badEvents);
  docker_->push(ev.substr(7, 50));
  docker_->push(ev.substr(57) + docker_->event("a", "teleport") + "{\"Action\": nope}\n" +
                docker_->event("b", "start").substr(0, 20));
  ASSERT_TRUE(waitState("a", "ready"));
  docker_->push(docker_->event("b", "start").substr(20));  // the rest of another event: junk now
  docker_->push(docker_->event("b", "start"));
  ASSERT_TRUE(waitState("b", "ready"));
  EXPECT_GE(watcher_->status().badEvents, 1u);
  EXPECT_EQ("watching", watcher_->status().state);
}

TEST_F(WatcherTest, CutStreamReconnectsWithSinceAndDropsReplayedEvents) {
  docker_->add("a", "web", "172.18.0.10");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching() && state("a") == "ready"; }));
  std::string kill = docker_->event("a", "kill", "\"signal\":\"15\"");
  docker_->push(kill);
  ASSERT_TRUE(waitState("a", "draining"));
  int64_t killTime = docker_->lastTimeNano;
  docker_->push(docker_->event("a", "die").substr(0, 30));  // cut mid-event
  docker_->cutStreams();
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return docker_->eventQueries.size() == 2 && docker_->openStreams() == 1; }));
  char since[64];
  std::snprintf(since, sizeof since, "since=%lld.%09lld",
                static_cast<long long>(killTime / 1000000000LL),
                static_cast<long long>(killTime % 1000000000LL));
  EXPECT_NE(std::string::npos, docker_->eventQueries[1].find(since)) << docker_->eventQueries[1];
  EXPECT_EQ("draining", state("a")) << "the half event was not applied; the drain survives";
  // The daemon replays the kill (since is inclusive), then the die.
  uint64_t dups = watcher_->status().duplicates;
  docker_->push(kill);
  docker_->find("a")->running = false;
  docker_->push(docker_->event("a", "die"));
  ASSERT_TRUE(waitState("a", "absent"));
  EXPECT_EQ(dups + 1, watcher_->status().duplicates);
}

TEST_F(WatcherTest, DaemonRestartKeepsBackendsThenRenegotiatesAndResyncs) {
  docker_->add("a", "web", "172.18.0.10");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching() && state("a") == "ready"; }));
  docker_->stop();  // daemon down: socket file gone
  ASSERT_TRUE(runUntil(&loop_, [&] { return watcher_->status().reconnects >= 3; }));
  EXPECT_EQ("ready", state("a")) << "the last known backends are kept";
  EXPECT_NE("", watcher_->status().lastError);
  // It comes back older (API 1.40) and with other containers.
  docker_->apiVersion = "1.40";
  docker_->erase("a");
  docker_->add("b", "web", "172.18.0.11");
  docker_->listen();
  ASSERT_TRUE(runUntil(&loop_, [&] { return state("b") == "ready" && state("a") == "absent"; }));
  EXPECT_EQ("1.40", watcher_->status().apiVersion);
  EXPECT_TRUE(docker_->badVersionPaths.empty()) << "renegotiated before asking";
}

TEST_F(WatcherTest, DowngradedDaemonAndA400OnEventsAreSurvived) {
  docker_->add("a", "web", "172.18.0.10");
  startWatcher();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watching(); }));
  // The daemon is downgraded behind our back and rejects our next /events with a 400.
  docker_->apiVersion = "1.30";
  docker_->rejectEvents = 1;
  uint64_t reconnects = watcher_->status().reconnects;
  docker_->cutStreams();
  ASSERT_TRUE(runUntil(&loop_, [&] { return watcher_->status().reconnects >= reconnects + 2; }));
  EXPECT_EQ(1u, docker_->badVersionPaths.size());
  ASSERT_TRUE(
      runUntil(&loop_, [&] { return watching() && watcher_->status().apiVersion == "1.30"; }));
  EXPECT_EQ("ready", state("a"));
}

TEST_F(WatcherTest, PeriodicResyncCatchesMissedEventsAndBadInspectIsSurvived) {
  docker_->add("a", "web", "172.18.0.10");
  docker_->add("b", "web", "172.18.0.11");
  startWatcher(/*resyncMs=*/100);
  ASSERT_TRUE(runUntil(&loop_, [&] { return state("a") == "ready" && state("b") == "ready"; }));
  docker_->erase("a");  // gone without any event reaching us
  docker_->add("c", "web", "172.18.0.12").garbageInspect = true;
  ASSERT_TRUE(waitState("a", "absent"));
  EXPECT_EQ("ready", state("b"));
  EXPECT_EQ("absent", state("c"));
  docker_->find("c")->garbageInspect = false;
  ASSERT_TRUE(waitState("c", "ready"));
}

TEST_F(WatcherTest, GroupNetworkPicksThatNetworksAddress) {
  auto& c = docker_->add("a", "web", "172.18.0.10");
  c.networks["proj_backend"] = "172.19.0.10";
  WatcherOptions o;
  o.apiLocation = socket_;
  o.groupName = "web";
  o.groupPort = 9000;
  o.groupNetwork = "backend";  // the compose name; the engine's is proj_backend
  o.detectSelf = false;
  watcher_ = std::make_unique<DockerWatcher>(&loop_, pool_, o);
  watcher_->start();
  ASSERT_TRUE(waitState("a", "ready"));
  EXPECT_EQ("172.19.0.10:9000", pool_.find("a")->address);
}

TEST_F(WatcherTest, DockerOverTcp) {
  docker_->close();
  docker_ = std::make_unique<FakeDocker>(&loop_, socket_);
  int port = docker_->listenTcp();
  docker_->add("a", "web", "172.18.0.10");
  WatcherOptions o;
  o.apiLocation = "http://127.0.0.1:" + std::to_string(port);
  o.groupName = "web";
  o.groupPort = 80;
  o.detectSelf = false;
  watcher_ = std::make_unique<DockerWatcher>(&loop_, pool_, o);
  watcher_->start();
  ASSERT_TRUE(waitState("a", "ready"));
  docker_->push(docker_->event("a", "kill", "\"signal\":\"9\""));
  ASSERT_TRUE(waitState("a", "draining"));
}

}  // namespace
}  // namespace lb

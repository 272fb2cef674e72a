// The whole balancer in-process (lb::Service): static BACKENDS with active checks and the admin
// endpoint, and Docker mode against FakeDocker with real TCP backends on loopback: a container
// event changes where the next client goes while open connections continue.
#include "load-balancer/service.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "common/http/client.h"
#include "load-balancer/docker/watcher.h"
#include "load-balancer/testing/fake_docker.h"
#include "load-balancer/testing/loop_runner.h"
#include "load-balancer/testing/tcp_peers.h"

namespace lb {
namespace {

using testing::FakeDocker;
using testing::runUntil;
using testing::TestBackend;
using testing::TestClient;

int unusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    http_ = std::make_unique<common::http::Client>(&loop_);
  }
  void TearDown() override {
    clients_.clear();
    bool httpClosed = false;
    http_->close([&] { httpClosed = true; });
    if (service_) {
      bool stopped = false;
      service_->shutdown([&] { stopped = true; });
      EXPECT_TRUE(runUntil(&loop_, [&] { return stopped && httpClosed; }));
    }
    for (auto& b : backends_) b->close();
    if (docker_) docker_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    service_.reset();
    EXPECT_EQ(0, uv_loop_close(&loop_));
  }

  Config baseConfig() {
    Config c;
    c.bind = "127.0.0.1";
    c.servicePort = 0;
    c.adminPort = 0;
    c.adminBind = "127.0.0.1";
    c.shutdownTimeoutMs = 200;
    return c;
  }

  std::string greetingThroughProxy() {
    clients_.push_back(std::make_unique<TestClient>(&loop_));
    TestClient& c = *clients_.back();
    c.connect(service_->port());
    if (!runUntil(&loop_, [&] { return c.eof || c.received.find('\n') != std::string::npos; })) {
      return "timeout";
    }
    return c.eof && c.received.empty() ? "closed" : c.received.substr(0, c.received.find('\n'));
  }

  std::string adminGet(const std::string& path) {
    common::http::ClientRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(service_->adminPort()) + path;
    std::string body = "no answer";
    bool done = false;
    http_->send(r, [&](common::http::ClientResponse&& resp) {
      body = resp.status == 200 ? resp.body : "status " + std::to_string(resp.status) + resp.error;
      done = true;
    });
    runUntil(&loop_, [&] { return done; });
    return body;
  }

  uv_loop_t loop_;
  std::unique_ptr<common::http::Client> http_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<FakeDocker> docker_;
  std::vector<std::unique_ptr<TestBackend>> backends_;
  std::vector<std::unique_ptr<TestClient>> clients_;
};

TEST_F(ServiceTest, StaticBackendsWithActiveChecksAndAdminEndpoints) {
  Config c = baseConfig();
  backends_.push_back(std::make_unique<TestBackend>(&loop_, "live"));
  int port = backends_.back()->listen();
  int dead = unusedPort();
  c.backendsSpec = "127.0.0.1:" + std::to_string(port) + ",127.0.0.1:" + std::to_string(dead);
  c.backends.resize(2);
  c.backends[0].spec = "127.0.0.1:" + std::to_string(port);
  makeAddress("127.0.0.1", port, c.backends[0].addr);
  c.backends[1].spec = "127.0.0.1:" + std::to_string(dead);
  makeAddress("127.0.0.1", dead, c.backends[1].addr);
  c.checkIntervalMs = 20;
  c.checkFall = 2;
  c.checkRise = 2;
  service_ = std::make_unique<Service>(&loop_, c);
  ASSERT_EQ(0, service_->start(false));
  for (int i = 0; i < 4; ++i) EXPECT_EQ("live", greetingThroughProxy());
  Backend* deadBackend = service_->pool().find(c.backends[1].spec);
  ASSERT_NE(nullptr, deadBackend);
  ASSERT_TRUE(runUntil(&loop_, [&] { return !deadBackend->checkUp; }));
  EXPECT_EQ(1u, service_->pool().candidates().size());

  std::string status = adminGet("/status");
  EXPECT_NE(std::string::npos,
            status.find("\"address\":\"127.0.0.1:" + std::to_string(port) + "\""))
      << status;
  EXPECT_NE(std::string::npos, status.find("\"checkUp\":false")) << status;
  EXPECT_NE(std::string::npos, status.find("\"openConnections\":4")) << status;
  EXPECT_NE(std::string::npos, status.find("\"accepted\":4")) << status;
  std::string metrics = adminGet("/metrics");
  EXPECT_NE(std::string::npos, metrics.find("# TYPE meshkv_lb_connections_accepted_total counter"));
  EXPECT_NE(std::string::npos, metrics.find("meshkv_lb_connections_accepted_total 4"));
  EXPECT_NE(std::string::npos, metrics.find("meshkv_lb_backend_up{")) << metrics;
  EXPECT_EQ("status 404", adminGet("/nope").substr(0, 10));
}

TEST_F(ServiceTest, DockerModeRoutesToContainersAndDrainsOnKill) {
  std::string socket = "/tmp/meshkv-fake-docker-svc-" + std::to_string(::getpid()) + ".sock";
  docker_ = std::make_unique<FakeDocker>(&loop_, socket);
  docker_->listen();
  // Two "containers" that are really loopback backends with the same port on different IPs.
  backends_.push_back(std::make_unique<TestBackend>(&loop_, "one"));
  int port = backends_.back()->listen();
  docker_->add("c1", "web", "127.0.0.1");
  Config c = baseConfig();
  c.groupName = "web";
  c.groupPort = port;
  c.dockerApi = socket;
  service_ = std::make_unique<Service>(&loop_, c);
  ASSERT_EQ(0, service_->start(false));
  ASSERT_TRUE(runUntil(&loop_, [&] { return service_->pool().candidates().size() == 1; }));
  EXPECT_EQ("one", greetingThroughProxy());
  TestClient& open = *clients_.back();

  docker_->push(docker_->event("c1", "kill", "\"signal\":\"15\""));
  ASSERT_TRUE(runUntil(&loop_, [&] { return service_->pool().candidates().empty(); }));
  EXPECT_EQ("closed", greetingThroughProxy()) << "draining: no new connections";
  open.send("still");
  ASSERT_TRUE(runUntil(&loop_, [&] { return open.received == "one\nstill"; }));
  std::string status = adminGet("/status");
  EXPECT_NE(std::string::npos, status.find("\"state\":\"draining\"")) << status;
  EXPECT_NE(std::string::npos, status.find("\"action\":\"kill\"")) << status;
  EXPECT_NE(std::string::npos, status.find("\"state\":\"watching\"")) << status;

  docker_->find("c1")->running = false;
  docker_->push(docker_->event("c1", "die"));
  ASSERT_TRUE(runUntil(&loop_, [&] { return service_->pool().all().empty(); }));
}

}  // namespace
}  // namespace lb

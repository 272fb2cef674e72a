// See service.h. Shutdown order: stop discovery and checks, drain the listener (it closes its
// listening socket at once, so new clients are refused while old ones finish), close admin
// last so /status stays readable during the drain. partsOpen_ counts what is still closing.
#include "load-balancer/service.h"

#include <spdlog/spdlog.h>

#include <fstream>

#include "load-balancer/admin/admin_server.h"
#include "load-balancer/autoscale/autoscaler.h"
#include "load-balancer/autoscale/compose_actuator.h"
#include "load-balancer/autoscale/swarm_actuator.h"
#include "load-balancer/docker/swarm_watcher.h"
#include "load-balancer/docker/watcher.h"

namespace lb {

Service::Service(uv_loop_t* loop, Config config)
    : loop_(loop),
      config_(std::move(config)),
      pool_(PassiveHealthOptions{config_.passiveFailures, config_.passiveDownMs}),
      balancer_(makeBalancer(config_.balance)) {
  ListenerOptions lo;
  lo.connectTimeoutMs = config_.connectTimeoutMs;
  lo.idleTimeoutMs = config_.idleTimeoutMs;
  lo.maxConnections = config_.maxConnections;
  lo.bufferSize = config_.bufferSize;
  listener_ = std::make_unique<Listener>(loop_, pool_, *balancer_, lo);
  pool_.onChange([](const Backend& b) {
    spdlog::info("backend {} {} ({})", b.name, toString(b.state), b.address);
  });
}

Service::~Service() = default;

int Service::start(bool handleSignals) {
  ++partsOpen_;  // the listener: drained by shutdown() whatever happens here
  int rc = listener_->listen(config_.bind, config_.servicePort);
  if (rc != 0) {
    spdlog::error("cannot listen on {}:{}: {}", config_.bind, config_.servicePort, uv_strerror(rc));
    shutdown();
    return rc;
  }
  spdlog::info("listening on {}:{} ({} mode, {})", config_.bind, listener_->port(),
               config_.swarm()        ? "swarm"
               : config_.dockerMode() ? "docker"
                                      : "static",
               config_.balance);
  if (!config_.portFile.empty()) std::ofstream(config_.portFile) << listener_->port() << "\n";

  if (config_.swarm()) {
    // AUTOSCALE_MAX on Swarm: the autoscaler updates the service's replicas (SwarmActuator).
    SwarmOptions so;
    so.apiLocation = config_.dockerApi;
    so.service = config_.swarmService();
    so.port = config_.groupPort;
    so.network = config_.groupNetwork;
    so.mode = config_.swarmMode == "api"   ? SwarmMode::kApi
              : config_.swarmMode == "dns" ? SwarmMode::kDns
                                           : SwarmMode::kAuto;
    so.pollMs = config_.swarmPollMs;
    swarm_ = std::make_unique<SwarmWatcher>(loop_, pool_, so);
    swarm_->start();
    ++partsOpen_;
    if (config_.autoscale.enabled()) {
      SwarmActuatorOptions ao;
      ao.service = so.service;
      autoscaler_ = std::make_unique<Autoscaler>(
          loop_, pool_, config_.dockerApi, so.service, config_.autoscale,
          [this, ao](EngineClient& e) { return std::make_unique<SwarmActuator>(loop_, e, ao); });
      autoscaler_->start();
      ++partsOpen_;
    }
  } else if (config_.dockerMode()) {
    WatcherOptions wo;
    wo.apiLocation = config_.dockerApi;
    wo.groupName = config_.groupName;
    wo.groupPort = config_.groupPort;
    wo.groupProject = config_.groupProject;
    wo.groupNetwork = config_.groupNetwork;
    wo.includeOneOff = config_.includeOneOff;
    wo.resyncIntervalMs = config_.resyncIntervalMs;
    watcher_ = std::make_unique<DockerWatcher>(loop_, pool_, wo);
    watcher_->start();
    ++partsOpen_;
    if (config_.autoscale.enabled()) {
      const DockerWatcher* w = watcher_.get();
      autoscaler_ = std::make_unique<Autoscaler>(loop_, pool_, config_.dockerApi, config_.groupName,
                                                 config_.autoscale, [this, w](EngineClient& e) {
                                                   return std::make_unique<ComposeActuator>(
                                                       loop_, e, pool_, config_.autoscale.drainMs,
                                                       [w] { return w->status().project; },
                                                       config_.groupName);
                                                 });
      autoscaler_->start();
      ++partsOpen_;
    }
  } else {
    for (const auto& b : config_.backends)
      pool_.upsert(b.spec, b.spec, b.addr, BackendState::kReady);
    HealthCheckOptions ho;
    ho.intervalMs = config_.checkIntervalMs;
    ho.timeoutMs = config_.connectTimeoutMs;
    ho.rise = config_.checkRise;
    ho.fall = config_.checkFall;
    checker_ = std::make_unique<HealthChecker>(loop_, pool_, ho);
    checker_->start();
    ++partsOpen_;
  }

  if (config_.adminPort >= 0) {
    admin_ = std::make_unique<AdminServer>(loop_, pool_, *listener_, watcher_.get());
    admin_->setAutoscaler(autoscaler_.get());
    rc = admin_->listen(config_.adminBind, config_.adminPort);
    if (rc != 0) {
      spdlog::error("cannot listen on admin port {}: {}", config_.adminPort, uv_strerror(rc));
      ++partsOpen_;
      shutdown();
      return rc;
    }
    ++partsOpen_;
    spdlog::info("admin on {}:{} (/status, /metrics)", config_.adminBind, admin_->port());
  }

  if (handleSignals) {
    uv_signal_init(loop_, &sigterm_);
    uv_signal_init(loop_, &sigint_);
    sigterm_.data = this;
    sigint_.data = this;
    uv_signal_start(&sigterm_, &Service::onSignal, SIGTERM);
    uv_signal_start(&sigint_, &Service::onSignal, SIGINT);
    signals_ = true;
  }
  return 0;
}

int Service::adminPort() const {
  return admin_ ? admin_->port() : -1;
}

void Service::onSignal(uv_signal_t* s, int signum) noexcept {
  auto* self = static_cast<Service*>(s->data);
  spdlog::info("signal {}: shutting down", signum);
  self->shutdown();
}

void Service::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  onStopped_ = std::move(done);
  if (signals_) {
    signals_ = false;
    for (uv_signal_t* s : {&sigterm_, &sigint_}) {
      uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
    }
  }
  ++partsOpen_;  // held until every close below was started
  if (autoscaler_) autoscaler_->close([this] { partClosed(); });
  if (watcher_) watcher_->close([this] { partClosed(); });
  if (swarm_) swarm_->close([this] { partClosed(); });
  if (checker_) checker_->close([this] { partClosed(); });
  listener_->drain(config_.shutdownTimeoutMs, [this] {
    partClosed();
    if (admin_) admin_->close([this] { partClosed(); });
  });
  partClosed();
}

void Service::partClosed() {
  if (--partsOpen_ > 0) return;
  spdlog::info("stopped");
  if (onStopped_) {
    auto done = std::move(onStopped_);
    onStopped_ = nullptr;
    done();
  }
}

}  // namespace lb

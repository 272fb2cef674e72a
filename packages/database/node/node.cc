// See node.h.
#include "database/node/node.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace db {
namespace {

constexpr uint64_t kShutdownGuardMs = 4800;

class AccessLog : public common::http::ServerObserver {
 public:
  void onConnect(std::string_view host, int port) override {
    spdlog::info("listening on {}:{}", host, port);
  }
  void onDisconnect(std::string_view why) override { spdlog::info("server stopped: {}", why); }
  void onRequestStart(const common::http::Request& req) override {
    spdlog::debug("#{} {} {}{}{}", req.id, req.method, req.path, req.query.empty() ? "" : "?",
                  req.query);
  }
  void onRequestComplete(uint64_t id, int status) override {
    spdlog::debug("#{} -> {}", id, status);
  }
};

KeyspaceOptions keyspaceOptions(const NodeConfig& c) {
  KeyspaceOptions ks = makeDefaultKeyspaceOptions(c.mesh.nodeId);  // the records' origin
  ks.maxClockDriftMs = c.mesh.maxClockDriftMs;
  ks.tombstoneGraceMs = c.mesh.tombstoneGraceMs;
  return ks;
}

// What a crash may lose of what this node acknowledged to its peers (the mesh's expiry lag).
uint64_t unsyncedMs(const NodeConfig& c) {
  if (c.memory) return 0;  // a restart starts empty and copies a snapshot: it merges nothing
  persistence::FsyncPolicy p = persistence::FsyncPolicy::kEverySec;
  persistence::parseFsyncPolicy(c.fsync, p);
  switch (p) {
    case persistence::FsyncPolicy::kAlways:
      return 0;
    case persistence::FsyncPolicy::kEverySec:
      return 2000;  // a second, and a second of the writer falling behind
    case persistence::FsyncPolicy::kNo:
      return 35000;  // the kernel's writeback: dirty pages expire after 30 s, flushed every 5 s
  }
  return 35000;
}

}  // namespace

common::Result<Storage> openStorage(const NodeConfig& config) {
  Storage s;
  s.keyspace = std::make_unique<Keyspace>(keyspaceOptions(config));
  if (config.memory) {
    spdlog::info("persistence: off (--memory): nothing survives a restart");
    return s;
  }
  auto dir = persistence::DataDir::open(config.dataDir);
  if (!dir.ok()) return dir.error();
  s.dir = std::move(*dir);
  uint64_t t0 = uv_hrtime();
  auto rep = persistence::recover(*s.dir, *s.keyspace, config.repair);
  if (!rep.ok()) return rep.error();
  s.recovered = std::move(*rep);
  spdlog::info("persistence: recovered {} in {} ms: {} ({} live records)", config.dataDir,
               (uv_hrtime() - t0) / 1000000, s.recovered.summary(), s.keyspace->size());
  return s;
}

Node::Node(uv_loop_t* loop, NodeConfig config, Storage storage)
    : loop_(loop), config_(std::move(config)), storage_(std::move(storage)), log_(loop) {
  common::http::ServerOptions opts;
  opts.maxConnections = static_cast<size_t>(config_.maxConnections);
  opts.headerTimeoutMs = config_.headerTimeoutMs;
  opts.keepAliveTimeoutMs = config_.keepAliveTimeoutMs;
  opts.closeTimeoutMs = 2000;  // leaves ~2.5 s of the 4.8 s shutdown budget to the mesh leave
  opts.drainTimeoutMs = config_.drainTimeoutMs;  // within closeTimeoutMs (capped at 1.5 s)
  // Public routes keep ServerOptions' small body limit; the mesh registers its own per route.
  opts.maxPendingBodyBytes = config_.maxPendingBodyBytes;
  opts.holdAnswers = true;  // written by the log's end of turn, after the disk and the peers
  server_ = std::make_unique<common::http::Server>(loop_, opts);
  // The write path, in the order each turn ends: disk, peers, then the clients' answers.
  if (storage_.dir) {
    persistence::PersisterOptions po;
    persistence::parseFsyncPolicy(config_.fsync, po.fsync);  // validated by the config
    po.compactMinBytes = config_.compactMinBytes;
    persister_ = std::make_unique<persistence::Persister>(loop_, *keyspace_, *storage_.dir, po,
                                                          storage_.recovered);
    log_.subscribe(*persister_);
    log_.setDurability(*persister_);
  }
  Limits limits{static_cast<size_t>(config_.maxKeyLength),
                static_cast<size_t>(config_.maxValueLength)};
  // Every node runs the mesh: without MESH_NETWORK_URL it is a cluster of one that others join.
  MeshOptions mesh = config_.mesh;
  mesh.limits = limits;  // a peer's records pass the same rules as a client's
  mesh.unsyncedMs = unsyncedMs(config_);
  mesh_ = std::make_unique<MeshCluster>(loop_, *keyspace_, log_, std::move(mesh));
  log_.subscribe(*mesh_);
  log_.setReplication(*mesh_);
  // Last: a change reaches the watchers once it left for the disk and the peers.
  watch_ = std::make_unique<watch::WatchHub>(loop_, watch::WatchOptions{});
  watchRoute_ = std::make_unique<watch::WatchRoute>(*watch_);
  log_.subscribe(*watch_);
  log_.afterTurn([this] { server_->flushHeldAnswers(); });
  NodeInfo info;
  info.hostname = config_.hostname;
  info.limits = limits;
  info.startedAtMs = uv_now(loop_);
  expirySweeper_ = std::make_unique<ExpirySweeper>(loop_, *keyspace_, log_);
  info.appendStatus = [this](std::string& s) {
    watch_->appendStatus(s);
    expirySweeper_->appendStatus(s);
  };
  info.watchCollection = [this](const common::http::Request& req, common::http::Responder r,
                                std::string_view collection) {
    watchRoute_->watchCollection(req, r, collection);
  };
  api_ = std::make_unique<Api>(*keyspace_, log_, *mesh_, *server_, info);
  accessLog_ = std::make_unique<AccessLog>();
  metrics_ = std::make_unique<NodeMetrics>(*server_, *keyspace_, *mesh_);
  server_->addObserver(accessLog_.get());
}

Node::~Node() = default;

int Node::start() {
  if (persister_) persister_->start();
  log_.start();
  watch_->start();
  expirySweeper_->start();
  api_->registerRoutes();
  watchRoute_->registerRoutes(*server_);
  mesh_->registerRoutes(*server_);
  metrics_->registerRoute();
  uv_signal_init(loop_, &sigterm_);
  uv_signal_init(loop_, &sigint_);
  sigterm_.data = sigint_.data = this;
  uv_signal_start(&sigterm_, &Node::onSignal, SIGTERM);
  uv_signal_start(&sigint_, &Node::onSignal, SIGINT);
  int rc = server_->listen(config_.bind, config_.port);
  if (rc != 0) {
    spdlog::critical("cannot listen on {}:{}: {}", config_.bind, config_.port, uv_strerror(rc));
    shutdown();
    return rc;
  }
  spdlog::info("node {} ready on port {} ({})", config_.mesh.nodeId, server_->port(),
               config_.meshNetworkUrl.empty() ? "first of its cluster"
                                              : "joining through " + config_.meshNetworkUrl);
  writePortFile();
  mesh_->start();
  return 0;
}

void Node::writePortFile() {
  if (config_.portFile.empty()) return;
  std::string tmp = config_.portFile + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    spdlog::error("cannot write port file {}", config_.portFile);
    return;
  }
  std::fprintf(f, "%d\n", server_->port());
  std::fclose(f);
  std::rename(tmp.c_str(), config_.portFile.c_str());
}

void Node::onSignal(uv_signal_t* s, int signum) noexcept {
  auto* self = static_cast<Node*>(s->data);
  spdlog::info("signal {}: shutting down", signum);
  self->shutdown();
}

void Node::onGuard(uv_timer_t*) noexcept {
  spdlog::error("graceful shutdown did not finish in {} ms; exiting", kShutdownGuardMs);
  std::fflush(nullptr);
  std::_Exit(0);
}

void Node::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  uv_timer_init(loop_, &guard_);
  uv_timer_start(&guard_, &Node::onGuard, kShutdownGuardMs, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&guard_));
  // Watchers' streams end first (else the server's drain would wait on them until its force
  // close); a client reconnects elsewhere with its Last-Event-ID (and gets a reset there).
  watch_->close();
  expirySweeper_->close([] {});
  // Clients first: stop accepting and reading requests and answer what was asked, so no write
  // is acknowledged after the mesh started leaving; then leave, which waits until the peers
  // acknowledged every write this node accepted.
  server_->close([this] {
    mesh_->leave([this] {
      // The last turn's entries to the disk, then the persister's last records and fsync.
      log_.close([this] {
        if (persister_) persister_->close([] {});
      });
      uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
      // Closing the last handle of a signal restores its default action (terminate): a second
      // SIGTERM from an impatient supervisor between here and exit() would turn a clean
      // shutdown into exit 143. Everything is done, so ignore them until we are gone.
      std::signal(SIGTERM, SIG_IGN);
      std::signal(SIGINT, SIG_IGN);
      uv_close(reinterpret_cast<uv_handle_t*>(&guard_), nullptr);
    });
  });
}

}  // namespace db

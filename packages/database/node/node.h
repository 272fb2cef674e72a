// Node: one meshkv database node: the HTTP server, the keyspace, the write log and its
// subscribers (the persister: DATA_DIR, or nothing with --memory; the mesh: MeshCluster, also
// when it is the only node; the watch hub: /watch) and the public API, wired on one libuv loop.
// main() first calls openStorage() (lock + recovery, before any handle exists, so a refusal is one
// line and exit 2), builds the Node from it, calls start(), runs the loop, and the loop ends once a
// SIGTERM/SIGINT shutdown has closed every handle: announce the leave, finish in-flight requests,
// write the log's last bytes, close. Loop thread only. The write path it wires: route -> keyspace
// -> log -> { persister, mesh } -> held answers. The one thing to get right: the node must exit 0
// within 5 s of SIGTERM even if a peer or a client stalls, so a guard timer ends the process if the
// graceful path is stuck.
#pragma once

#include <uv.h>

#include <memory>

#include "common/http/server.h"
#include "database/config/node_config.h"
#include "database/core/expiry_sweeper.h"
#include "database/core/write_log.h"
#include "database/http/api.h"
#include "database/http/metrics.h"
#include "database/mesh/mesh_cluster.h"
#include "database/persistence/data_dir.h"
#include "database/persistence/persister.h"
#include "database/persistence/recovery.h"
#include "database/storage/keyspace.h"
#include "database/watch/watch_hub.h"
#include "database/watch/watch_route.h"

namespace db {

// The keyspace, recovered from DATA_DIR (dir null: --memory).
struct Storage {
  std::unique_ptr<Keyspace> keyspace;
  std::unique_ptr<persistence::DataDir> dir;
  persistence::RecoveryReport recovered;
};
// Locks DATA_DIR and replays it. Errors: DATA_DIR_LOCKED, DATA_DIR_UNUSABLE, DATA_DAMAGED
// (their message is the line to print).
common::Result<Storage> openStorage(const NodeConfig& config);

class Node {
 public:
  Node(uv_loop_t* loop, NodeConfig config, Storage storage);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Listens and starts the cluster. 0, or a negative libuv error (the caller exits 1).
  int start();
  // Graceful stop (also what the signals trigger); the loop ends when it is complete.
  void shutdown();

 private:
  static void onSignal(uv_signal_t* s, int signum) noexcept;
  static void onGuard(uv_timer_t* t) noexcept;
  void writePortFile();

  uv_loop_t* loop_;
  NodeConfig config_;
  Storage storage_;
  std::unique_ptr<Keyspace>& keyspace_ = storage_.keyspace;
  // Before the server: the server's connections own the watchers, which leave the hub when
  // they die, so the hub must be destroyed after the server.
  std::unique_ptr<watch::WatchHub> watch_;
  std::unique_ptr<ExpirySweeper> expirySweeper_;  // drops expired records (docs/ttl.md)
  std::unique_ptr<watch::WatchRoute> watchRoute_;
  std::unique_ptr<common::http::Server> server_;
  WriteLog log_;
  std::unique_ptr<persistence::Persister> persister_;  // null with --memory
  std::unique_ptr<MeshCluster> mesh_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<common::http::ServerObserver> accessLog_;
  std::unique_ptr<NodeMetrics> metrics_;  // GET /metrics
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_timer_t guard_;
  bool stopping_ = false;
};

}  // namespace db

// MeshOptions: every setting of the mesh (membership, replication, catch-up, anti-entropy), with
// the defaults a node uses when nothing is set. main.cc fills it from flags/environment variables
// (names in docs/mesh.md) and hands it to MeshCluster by value; nothing changes it afterwards.
// The one thing to get right: `advertiseUrl` is what PEERS dial (in Docker the container name,
// behind a proxy the proxy's port), not the address this node binds.
#pragma once

#include <cstdint>
#include <string>

#include "database/storage/record_rules.h"

namespace db {

struct MeshOptions {
  std::string nodeId;          // unique per node (HOSTNAME); compared to detect joining ourselves
  std::string advertiseUrl;    // how peers reach this node, e.g. http://node1:8080 (ADVERTISE_URL)
  std::string meshNetworkUrl;  // where to join: any node or the load balancer (MESH_NETWORK_URL)
  std::string secret;          // MESH_SECRET; empty = the mesh is open (a warning is logged)

  // Failure detection (SWIM).
  uint64_t probeIntervalMs = 1000;     // one peer probed per interval
  uint64_t probeTimeoutMs = 500;       // direct probe answer deadline before indirect probes
  int indirectProbes = 3;              // peers asked to probe a silent peer for us
  uint64_t suspicionTimeoutMs = 5000;  // suspect -> dead
  uint64_t deadRetentionMs = 60000;    // dead/left members kept (and re-probed) this long
  uint64_t joinRetryMs = 500;  // join attempts repeat (with backoff up to 8x) until one works

  // Replication.
  uint64_t replicationTimeoutMs = 2000;  // w=quorum/all give up (504) after this
  size_t maxBatchBytes = 1u << 20;       // a loop turn's writes are cut into batches this big
  size_t windowBytes = 64u << 20;        // un-acked bytes per peer before the live stream stops
  uint64_t reconnectMinMs = 50;          // peer link reconnect backoff (doubles up to max)
  uint64_t reconnectMaxMs = 2000;
  uint64_t maxClockDriftMs = 500;  // remote HLC further ahead than this is clamped + logged
  // This node's MAX_KEY_LENGTH / MAX_VALUE_LENGTH (the Node copies its API's): every record a
  // peer sends must pass them, or its whole frame is refused. A cluster shares its limits.
  Limits limits;

  // Catch-up and anti-entropy.
  uint64_t antiEntropyIntervalMs = 5000;       // one digest comparison with one peer per interval
  size_t snapshotPageBytes = 4u << 20;         // a snapshot page (one slice of the peer's loop)
  uint64_t tombstoneGraceMs = 10 * 60 * 1000;  // deletes are kept at least this long
  // How much acknowledged data a crash may lose here (the log's unsynced tail: FSYNC everysec 2 s,
  // no 35 s, always or --memory 0); part of the expiry lag (AntiEntropy::expiryLagMs).
  uint64_t unsyncedMs = 0;

  uint64_t requestTimeoutMs = 5000;  // control-plane requests (join, snapshot pages, digests)
  uint64_t authWindowMs = 60000;     // a signed request older/newer than this is refused
};

}  // namespace db

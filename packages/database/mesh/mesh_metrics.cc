// MeshCluster::appendMetrics: the mesh's part of the node's /metrics, read from the same fields
// as appendStatus (mesh_cluster.cc), so the two never disagree: members by state, replication
// lag and backlog per live peer, batches, catch-up, anti-entropy, tombstones, evictions.
// Loop thread (called by the /metrics route). Names: meshkv_node_<what>[_total|_seconds|_bytes].
// The one thing to get right: the per-peer families are labelled by member id only (never by
// URL or epoch), so a peer that restarts keeps its series.
#include "database/mesh/mesh_cluster.h"

namespace db {

void MeshCluster::appendMetrics(common::metrics::MetricsWriter& w) const {
  using Type = common::metrics::MetricsWriter::Type;
  const uint64_t now = nowMs();
  w.gauge("meshkv_node_ready", "1 once the node serves reads (caught up)").sample(ready() ? 1 : 0);
  w.gauge("meshkv_node_members", "Members this node knows, by state");
  for (MemberState st : {MemberState::kAlive, MemberState::kSuspect, MemberState::kDead,
                         MemberState::kLeft, MemberState::kEvicted}) {
    size_t n = membership_.self().state == st ? 1 : 0;
    for (const auto& [id, m] : membership_.members()) n += m.state == st ? 1 : 0;
    w.sample(static_cast<double>(n), {{"state", std::string(memberStateName(st))}});
  }
  auto perPeer = [&](const char* name, const char* help, auto value) {
    w.family(name, help, Type::kGauge);
    for (const auto& [id, p] : replicator_->peers()) w.sample(value(*p), {{"peer", id}});
  };
  perPeer("meshkv_node_replication_lag_seconds",
          "Age of the oldest write not yet acknowledged by the peer (0 when caught up)",
          [now](const Peer& p) {
            return p.outbox.idle() ? 0.0 : static_cast<double>(now - p.oldestUnackedSinceMs) / 1e3;
          });
  perPeer("meshkv_node_replication_pending_batches", "Batches queued or unacknowledged, by peer",
          [](const Peer& p) { return static_cast<double>(p.outbox.pending()); });
  perPeer("meshkv_node_replication_pending_bytes", "Bytes queued or unacknowledged, by peer",
          [](const Peer& p) { return static_cast<double>(p.outbox.bytes()); });
  perPeer("meshkv_node_peer_connected", "1 while the replication link to the peer is up",
          [](const Peer& p) { return p.link != nullptr && p.link->connected() ? 1.0 : 0.0; });
  auto counter = [&w](const char* name, const char* help, uint64_t v) {
    w.counter(name, help).sample(static_cast<double>(v));
  };
  counter("meshkv_node_batches_sent_total", "Replication batches sent to peers",
          replicator_->counters().batchesSent);
  counter("meshkv_node_batches_applied_total", "Replication batches applied from peers",
          replicator_->counters().batchesApplied);
  counter("meshkv_node_batches_refused_total", "Replication batches refused",
          replicator_->counters().batchesRefused);
  counter("meshkv_node_catchup_bytes_total", "Bytes received while catching up",
          catchUp_->progress().bytes);
  counter("meshkv_node_catchup_rounds_total", "Anti-entropy rounds of a recovered-data catch-up",
          catchUp_->progress().rounds);
  counter("meshkv_node_catchup_records_total", "Records copied by the snapshot catch-up",
          catchUp_->progress().records);
  w.gauge("meshkv_node_catchup_seconds", "How long this life's catch-up took (0 until ready)")
      .sample(static_cast<double>(catchUp_->tookMs(ready())) / 1e3);
  counter("meshkv_node_antientropy_rounds_total", "Anti-entropy rounds run",
          antiEntropy_->counters().rounds);
  w.gauge("meshkv_node_antientropy_last_bytes", "Bytes of the last anti-entropy round")
      .sample(static_cast<double>(antiEntropy_->counters().lastBytes));
  counter("meshkv_node_clock_refusals_total", "Peer records refused for clock drift",
          replicator_->counters().clockRefusals);
  w.gauge("meshkv_node_tombstones", "Deleted keys kept until every node has seen the delete")
      .sample(static_cast<double>(store_->tombstoneCount()));
  counter("meshkv_node_tombstones_dropped_total", "Tombstones collected",
          antiEntropy_->counters().tombstonesDropped);
  counter("meshkv_node_evictions_total", "Members this node evicted",
          eviction_->counters().evictions);
  counter("meshkv_node_wipes_total", "Times this node was evicted and copied the data again",
          eviction_->counters().wipes);
}

}  // namespace db

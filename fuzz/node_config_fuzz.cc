// Fuzz target: the node's configuration (database/config/node_config.h parseNodeConfig: CLI11
// flags and environment variables, the ranges, the HOSTNAME rule). Each input line is one argv
// word, or, when it starts with '$', one NAME=value environment variable (all the node's
// variables are unset before each run). Properties: parsing never crashes, and a configuration
// it accepts satisfies every documented invariant: every number in its range, a known FSYNC and
// log level, a node id that passes the record rules' origin check (peers would refuse its
// records otherwise), the mesh's copy of the join URL equal to the setting.
#include <cstdlib>

#include "command_line_input.h"
#include "database/config/node_config.h"
#include "database/storage/record_rules.h"
#include "fuzz_check.h"

namespace {

const char* const kEnvNames[] = {"PORT",
                                 "BIND_ADDRESS",
                                 "HOSTNAME",
                                 "MESH_NETWORK_URL",
                                 "MAX_KEY_LENGTH",
                                 "MAX_VALUE_LENGTH",
                                 "MAX_CONNECTIONS",
                                 "HEADER_TIMEOUT_MS",
                                 "KEEPALIVE_TIMEOUT_MS",
                                 "DRAIN_TIMEOUT_MS",
                                 "MAX_PENDING_BODY_BYTES",
                                 "LOG_LEVEL",
                                 "ADVERTISE_URL",
                                 "MESH_SECRET",
                                 "PROBE_INTERVAL_MS",
                                 "PROBE_TIMEOUT_MS",
                                 "INDIRECT_PROBES",
                                 "SUSPICION_TIMEOUT_MS",
                                 "DEAD_RETENTION_MS",
                                 "JOIN_RETRY_MS",
                                 "REPLICATION_TIMEOUT_MS",
                                 "MAX_BATCH_BYTES",
                                 "REPLICATION_WINDOW_BYTES",
                                 "MAX_CLOCK_DRIFT_MS",
                                 "ANTI_ENTROPY_INTERVAL_MS",
                                 "SNAPSHOT_PAGE_BYTES",
                                 "TOMBSTONE_GRACE_MS",
                                 "MESH_AUTH_WINDOW_MS",
                                 "DATA_DIR",
                                 "MEMORY",
                                 "FSYNC",
                                 "COMPACT_MIN_BYTES"};

template <typename T>
bool within(T v, T lo, T hi) {
  return v >= lo && v <= hi;
}

bool msSetting(uint64_t v) {
  return within<uint64_t>(v, 1, 86400000);
}

void checkAccepted(const db::NodeConfig& c) {
  const db::MeshOptions& m = c.mesh;
  FUZZ_CHECK(within(c.port, 0, 65535), "PORT in range");
  FUZZ_CHECK(within(c.maxKeyLength, 1, 16383), "MAX_KEY_LENGTH in range");
  FUZZ_CHECK(within(c.maxValueLength, 0, 16383), "MAX_VALUE_LENGTH in range");
  FUZZ_CHECK(within(c.maxConnections, 1, 1000000), "MAX_CONNECTIONS in range");
  FUZZ_CHECK(within<uint64_t>(c.headerTimeoutMs, 1, 3600000), "HEADER_TIMEOUT_MS in range");
  FUZZ_CHECK(msSetting(c.keepAliveTimeoutMs), "KEEPALIVE_TIMEOUT_MS in range");
  FUZZ_CHECK(c.drainTimeoutMs <= 1500, "DRAIN_TIMEOUT_MS in range");
  FUZZ_CHECK(within<size_t>(c.maxPendingBodyBytes, size_t{64} << 10, size_t{4} << 30),
             "MAX_PENDING_BODY_BYTES in range");
  FUZZ_CHECK(c.fsync == "always" || c.fsync == "everysec" || c.fsync == "no", "FSYNC known");
  FUZZ_CHECK(!c.logLevel.empty(), "a log level");
  FUZZ_CHECK(within<uint64_t>(c.compactMinBytes, 4096, uint64_t{1} << 40),
             "COMPACT_MIN_BYTES in range");
  FUZZ_CHECK(msSetting(m.probeIntervalMs) && msSetting(m.probeTimeoutMs) &&
                 msSetting(m.suspicionTimeoutMs) && msSetting(m.deadRetentionMs) &&
                 msSetting(m.joinRetryMs) && msSetting(m.replicationTimeoutMs) &&
                 msSetting(m.maxClockDriftMs) && msSetting(m.antiEntropyIntervalMs) &&
                 msSetting(m.tombstoneGraceMs) && msSetting(m.authWindowMs),
             "every mesh duration in 1 ms .. 1 day");
  FUZZ_CHECK(within(m.indirectProbes, 0, 16), "INDIRECT_PROBES in range");
  FUZZ_CHECK(within<size_t>(m.maxBatchBytes, 4096, size_t{64} << 20), "MAX_BATCH_BYTES in range");
  FUZZ_CHECK(within<size_t>(m.windowBytes, size_t{1} << 20, size_t{4} << 30),
             "REPLICATION_WINDOW_BYTES in range");
  FUZZ_CHECK(within<size_t>(m.snapshotPageBytes, 4096, size_t{256} << 20),
             "SNAPSHOT_PAGE_BYTES in range");
  FUZZ_CHECK(db::checkOrigin(m.nodeId).ok(), "the node id is a valid record origin");
  FUZZ_CHECK(m.meshNetworkUrl == c.meshNetworkUrl, "the mesh joins where the setting says");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::CommandLine cli("meshkv-node", kEnvNames, data, size);
  db::ParsedConfig parsed = db::parseNodeConfig(cli.argc(), cli.argv());
  if (!parsed.exitCode) checkAccepted(parsed.config);
  return 0;
}

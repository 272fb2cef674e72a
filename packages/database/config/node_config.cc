// See node_config.h. Ranges are checked here so nothing downstream sees a nonsense value: a
// key limit must fit the store's 16-bit length fields at 4 bytes per code point.
#include "database/config/node_config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/config/cli.h"
#include "common/log/log.h"
#include "database/storage/record_rules.h"

namespace db {
namespace {

std::string machineHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "meshkv-node";
  return buf;
}

// The address of a local interface inside `cidr` ("10.0.0.0/8"; IPv4), "" when none is. In a
// Swarm task that is its address on the overlay network: how peers on other hosts reach it.
std::string addressInSubnet(const std::string& cidr) {
  auto slash = cidr.find('/');
  in_addr net{};
  int bits = slash == std::string::npos ? 32 : std::atoi(cidr.c_str() + slash + 1);
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &net) != 1 || bits < 0 || bits > 32)
    return "";
  uint32_t mask = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    in_addr a = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr;
    if ((a.s_addr & mask) != (net.s_addr & mask)) continue;
    char text[INET_ADDRSTRLEN] = {};
    found = inet_ntop(AF_INET, &a, text, sizeof text);
  }
  freeifaddrs(list);
  return found;
}

// An http URL, where port 0 stands for the port the node binds (PORT=0 in tests and scripts:
// MeshCluster::start() puts the bound port in).
CLI::Validator advertiseUrlValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::string probe = value;
        while (!probe.empty() && probe.back() == '/') probe.pop_back();
        if (probe.size() > 2 && probe.compare(probe.size() - 2, 2, ":0") == 0) probe.back() = '1';
        return common::httpUrlValidator()(probe);
      },
      "URL");
}

void addMeshOptions(CLI::App& app, MeshOptions& m) {
  const std::string g = "Mesh";
  auto ms = CLI::Range(uint64_t{1}, uint64_t{86400000});
  app.add_option("--advertise-url", m.advertiseUrl,
                 "how peers reach this node (default http://HOSTNAME:PORT; port 0: the bound one)")
      ->envname("ADVERTISE_URL")
      ->check(advertiseUrlValidator())
      ->group(g);
  app.add_option("--mesh-secret", m.secret, "shared secret for internal requests (unset: open)")
      ->envname("MESH_SECRET")
      ->group(g);
  app.add_option("--probe-interval-ms", m.probeIntervalMs,
                 "one failure-detection probe per interval")
      ->envname("PROBE_INTERVAL_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--probe-timeout-ms", m.probeTimeoutMs, "direct probe deadline")
      ->envname("PROBE_TIMEOUT_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--indirect-probes", m.indirectProbes, "peers asked to probe a silent peer")
      ->envname("INDIRECT_PROBES")
      ->check(CLI::Range(0, 16))
      ->capture_default_str()
      ->group(g);
  app.add_option("--suspicion-timeout-ms", m.suspicionTimeoutMs, "suspect -> dead after this")
      ->envname("SUSPICION_TIMEOUT_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--dead-retention-ms", m.deadRetentionMs, "dead/left members kept this long")
      ->envname("DEAD_RETENTION_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--join-retry-ms", m.joinRetryMs, "first join retry delay (doubles, 8x max)")
      ->envname("JOIN_RETRY_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--replication-timeout-ms", m.replicationTimeoutMs, "w=quorum/all deadline")
      ->envname("REPLICATION_TIMEOUT_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-batch-bytes", m.maxBatchBytes, "a replication batch is sealed above this")
      ->envname("MAX_BATCH_BYTES")
      ->check(CLI::Range(size_t{4096}, size_t{64} << 20))
      ->capture_default_str()
      ->group(g);
  app.add_option("--replication-window-bytes", m.windowBytes, "un-acked bytes per peer")
      ->envname("REPLICATION_WINDOW_BYTES")
      ->check(CLI::Range(size_t{1} << 20, size_t{4} << 30))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-clock-drift-ms", m.maxClockDriftMs, "remote clocks ahead of this: logged")
      ->envname("MAX_CLOCK_DRIFT_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--anti-entropy-interval-ms", m.antiEntropyIntervalMs,
                 "one digest round per interval")
      ->envname("ANTI_ENTROPY_INTERVAL_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--snapshot-page-bytes", m.snapshotPageBytes, "catch-up snapshot page size")
      ->envname("SNAPSHOT_PAGE_BYTES")
      ->check(CLI::Range(size_t{4096}, size_t{256} << 20))
      ->capture_default_str()
      ->group(g);
  app.add_option("--tombstone-grace-ms", m.tombstoneGraceMs, "deletes are kept at least this long")
      ->envname("TOMBSTONE_GRACE_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
  app.add_option("--mesh-auth-window-ms", m.authWindowMs, "accepted age of a signed request")
      ->envname("MESH_AUTH_WINDOW_MS")
      ->check(ms)
      ->capture_default_str()
      ->group(g);
}

void addPersistenceOptions(CLI::App& app, NodeConfig& c) {
  const std::string g = "Persistence";
  app.add_option("--data-dir", c.dataDir, "the node's log and snapshot files (one node per dir)")
      ->envname("DATA_DIR")
      ->capture_default_str()
      ->group(g);
  app.add_flag("--memory", c.memory, "keep the data in memory only (nothing survives a restart)")
      ->envname("MEMORY")
      ->group(g);
  app.add_option("--fsync", c.fsync, "when the log is fsynced: always | everysec | no")
      ->envname("FSYNC")
      ->check(CLI::IsMember({"always", "everysec", "no"}))
      ->capture_default_str()
      ->group(g);
  app.add_option("--compact-min-bytes", c.compactMinBytes, "logs below this are never compacted")
      ->envname("COMPACT_MIN_BYTES")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40))
      ->capture_default_str()
      ->group(g);
  app.add_flag("--repair", c.repair,
               "cut a damaged log or snapshot at its first bad record (the records after it are "
               "lost) instead of refusing to start")
      ->group(g);
}

}  // namespace

ParsedConfig parseNodeConfig(int argc, char** argv) {
  ParsedConfig out;
  NodeConfig& c = out.config;
  CLI::App app{"meshkv-node: an HTTP key-value database node (replicated over a full mesh)",
               "meshkv-node"};
  app.set_version_flag("--version", std::string("meshkv-node ") + MESHKV_VERSION);
  app.add_option("-p,--port", c.port, "HTTP port; 0 picks a free one")
      ->envname("PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  common::addBindOption(app, c.bind);
  app.add_option("--hostname", c.hostname,
                 "node id, unique per node (default: the host name, id <host name>-<pid>)")
      ->envname("HOSTNAME");
  app.add_option("--mesh-network-url", c.meshNetworkUrl,
                 "where to join the mesh: a node or the load balancer (unset: this node starts "
                 "a new cluster that others join)")
      ->envname("MESH_NETWORK_URL")
      ->check(common::httpUrlValidator());
  app.add_option("--max-key-length", c.maxKeyLength, "longest key, in code points")
      ->envname("MAX_KEY_LENGTH")
      ->check(CLI::Range(1, 16383))
      ->capture_default_str();
  app.add_option("--max-value-length", c.maxValueLength, "longest value, in code points")
      ->envname("MAX_VALUE_LENGTH")
      ->check(CLI::Range(0, 16383))
      ->capture_default_str();
  app.add_option("--max-connections", c.maxConnections, "open client connections at most")
      ->envname("MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--header-timeout-ms", c.headerTimeoutMs, "a request must arrive within this")
      ->envname("HEADER_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--keepalive-timeout-ms", c.keepAliveTimeoutMs, "idle connections close after")
      ->envname("KEEPALIVE_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{86400000}))
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", c.drainTimeoutMs,
                 "on SIGTERM, answer requests still arriving (Connection: close) this long at most")
      ->envname("DRAIN_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1500}))
      ->capture_default_str();
  app.add_option("--max-pending-body-bytes", c.maxPendingBodyBytes,
                 "request bodies still arriving hold this much memory at most (then 503)")
      ->envname("MAX_PENDING_BODY_BYTES")
      ->check(CLI::Range(size_t{64} << 10, size_t{4} << 30))
      ->capture_default_str();
  common::addLogLevelOption(app, c.logLevel);
  app.add_option("--port-file", c.portFile, "write the bound port to this file once listening");
  app.add_flag("--healthcheck", c.healthcheck,
               "probe the node on PORT at 127.0.0.1 and exit 0 when healthy (for Docker)");
  addMeshOptions(app, c.mesh);
  std::string advertiseSubnet;
  app.add_option("--advertise-subnet", advertiseSubnet,
                 "without ADVERTISE_URL: advertise http://<this node's address in this IPv4 "
                 "subnet>:PORT (Swarm: the overlay network's, e.g. 10.0.0.0/8)")
      ->envname("ADVERTISE_SUBNET")
      ->group("Mesh");
  addPersistenceOptions(app, c);
  out.exitCode = common::parseCli(app, argc, argv);
  if (!out.exitCode && !advertiseSubnet.empty() && c.mesh.advertiseUrl.empty()) {
    std::string ip = addressInSubnet(advertiseSubnet);
    if (ip.empty()) {
      std::fprintf(stderr,
                   "meshkv-node: invalid configuration: no local address in "
                   "ADVERTISE_SUBNET %s\n",
                   advertiseSubnet.c_str());
      out.exitCode = 2;
    } else {
      c.mesh.advertiseUrl = "http://" + ip + ":" + std::to_string(c.port);
    }
  }
  // HOSTNAME is the node id (Docker sets it per container). Unset (a node started by hand:
  // shells do not export it), /status shows the machine's host name, peers dial it, and the id
  // adds the process id, so two nodes started plainly on one machine are two members.
  bool idGiven = !c.hostname.empty() && c.hostname != "undefined";
  if (!idGiven) c.hostname = machineHostname();
  c.mesh.nodeId = idGiven ? c.hostname : c.hostname + "-" + std::to_string(::getpid());
  if (!idGiven && c.mesh.advertiseUrl.empty()) c.mesh.advertiseUrl = "http://" + c.hostname + ":0";
  // The node id is the origin of every record this node writes: peers refuse records whose
  // origin breaks the rules (record_rules.h), so such an id is refused here, at startup.
  if (!out.exitCode && !checkOrigin(c.mesh.nodeId).ok()) {
    std::fprintf(stderr,
                 "meshkv-node: invalid configuration: HOSTNAME must be 1..%zu bytes of UTF-8 "
                 "without control characters\n",
                 kMaxOriginBytes);
    out.exitCode = 2;
  }
  c.mesh.meshNetworkUrl = c.meshNetworkUrl;
  return out;
}

}  // namespace db

// NodeConfig: every setting of meshkv-node, read from flags and environment variables (the
// seeds' names: PORT, HOSTNAME, MESH_NETWORK_URL, MAX_KEY_LENGTH, MAX_VALUE_LENGTH,
// MAX_CONNECTIONS, LOG_LEVEL, plus the mesh's and persistence's: DATA_DIR, MEMORY, FSYNC,
// COMPACT_MIN_BYTES, --repair). Parsed once in main before the loop starts;
// an invalid value ends the program with exit status 2 and one line naming the setting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "database/mesh/mesh_options.h"

namespace db {

struct NodeConfig {
  int port = 8080;
  std::string bind = "0.0.0.0";
  std::string hostname;        // HOSTNAME, the node id; default: the machine's host name (then
                               // the id in mesh.nodeId is "<host name>-<pid>")
  std::string meshNetworkUrl;  // empty: the node starts a cluster of one, others join it
  int maxKeyLength = 64;       // code points, inclusive
  int maxValueLength = 256;    // code points, inclusive
  int maxConnections = 10000;
  uint64_t headerTimeoutMs = 10000;
  uint64_t keepAliveTimeoutMs = 60000;
  uint64_t drainTimeoutMs = 1000;  // shutdown: connections drain this long at most
  // Bytes all unfinished request bodies may hold together (common::http::ServerOptions).
  size_t maxPendingBodyBytes = 64u << 20;
  std::string logLevel = "info";
  std::string portFile;            // write the bound port here once listening (tests, scripts)
  bool healthcheck = false;        // --healthcheck: probe the local node and exit 0 (healthy) or 1
  std::string dataDir = "data";    // DATA_DIR: the node's files (relative: to the working dir)
  bool memory = false;             // --memory / MEMORY=1: keep everything in memory only
  std::string fsync = "everysec";  // FSYNC: always | everysec | no (Redis's appendfsync)
  uint64_t compactMinBytes = uint64_t{64} << 20;  // logs below this are never compacted
  bool repair = false;  // --repair: truncate a damaged file at its first bad record and start
  MeshOptions mesh;     // nodeId and meshNetworkUrl are copied from the fields above
};

// Parses argv and the environment. Returns the config, or the exit code to stop with.
struct ParsedConfig {
  NodeConfig config;
  std::optional<int> exitCode;
};
ParsedConfig parseNodeConfig(int argc, char** argv);

}  // namespace db

// Black-box harness for the mesh tests: starts real meshkv-node processes on loopback (PORT=0 +
// --port-file), talks to them over HTTP (libcurl easy, blocking, on the test thread), and runs
// a small TCP proxy per node (own thread, poll()) so a test can cut and heal the traffic between
// groups of nodes: a connection is forwarded only when its source node (read from the first
// request's X-Mesh-From header) is in the same partition group as the proxy's node.
// Every wait polls a condition with a deadline (waitFor); nothing sleeps to wait.
// Processes are killed (SIGKILL) in the destructor if a test left them running.
#pragma once

#include <arpa/inet.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace meshtest {

struct HttpResult {
  long status = 0;  // 0 on a transport error
  std::string body;
};

HttpResult httpGet(const std::string& url, long timeoutMs = 5000);
HttpResult httpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers, long timeoutMs = 5000);

// Polls `cond` every few ms until it holds or `timeoutMs` passed. Returns the final value.
bool waitFor(const std::function<bool()>& cond, int timeoutMs);

// Path of the meshkv-node binary (MESHKV_NODE_BIN, else the build's bin/ next to the tests).
std::string nodeBinary();
// Scales counts and deadlines down/up under sanitizers (slower builds).
bool sanitized();

class TestProxy;

class NodeProcess {
 public:
  // `host` is a loopback address of its own (127.0.0.X): it is both the node id (HOSTNAME) and
  // the address it binds, so the default ADVERTISE_URL (http://HOSTNAME:PORT) reaches it.
  NodeProcess(std::string host, std::string dir) : id_(std::move(host)), dir_(std::move(dir)) {}
  ~NodeProcess();
  // Starts the node with these extra environment variables (PORT=0, HOSTNAME=id are set).
  // Waits until it listens. Returns false if it died or never wrote its port.
  bool start(const std::map<std::string, std::string>& env, int timeoutMs = 20000);
  void kill9();
  // SIGTERM and wait for the exit; returns the exit status (or -1).
  int terminate(int timeoutMs = 10000);
  bool running();

  const std::string& id() const { return id_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 when not running
  std::string url() const { return "http://" + id_ + ":" + std::to_string(port_); }
  HttpResult get(const std::string& pathAndQuery, long timeoutMs = 5000) const {
    return httpGet(url() + pathAndQuery, timeoutMs);
  }
  std::string logPath() const { return dir_ + "/" + id_ + ".log"; }

 private:
  std::string id_;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int starts_ = 0;
};

// A TCP proxy in front of one node. Listens on an ephemeral port at construction; forwards to
// `target` once set. Groups decide what passes (see the file comment).
class TestProxy {
 public:
  TestProxy(std::string nodeId, std::shared_ptr<std::map<std::string, int>> groups,
            std::shared_ptr<std::mutex> groupsMu);
  ~TestProxy();
  int port() const { return listenPort_; }
  void setTarget(const std::string& host, int port) {
    targetHost_ = inet_addr(host.c_str());
    targetPort_ = port;
  }
  // Closes forwarded connections that the current groups no longer allow.
  void enforce() { enforce_ = true; }

 private:
  struct Pair {
    int client = -1;
    int server = -1;
    std::string head;  // bytes read before the source was known
    std::string source;
    bool known = false;
  };
  void run();
  bool allowed(const std::string& source);

  std::string nodeId_;
  std::shared_ptr<std::map<std::string, int>> groups_;
  std::shared_ptr<std::mutex> groupsMu_;
  int listenFd_ = -1;
  int listenPort_ = 0;
  std::atomic<int> targetPort_{0};
  std::atomic<uint32_t> targetHost_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> enforce_{false};
  std::thread thread_;
};

// N nodes, optionally each behind a TestProxy (peer traffic then goes through proxies, client
// traffic from the test goes straight to the nodes).
class Cluster {
 public:
  explicit Cluster(std::string name);
  ~Cluster();
  // Adds and starts a node joining through `joinVia` (a node index, or -1 for none: no
  // MESH_NETWORK_URL, a cluster of its own). Returns its index, or -1 when it failed to start.
  int addNode(int joinVia, const std::map<std::string, std::string>& extraEnv = {},
              bool withProxy = false);
  bool restart(int i, int joinVia);
  NodeProcess& node(int i) { return *nodes_[i]; }
  int size() const { return static_cast<int>(nodes_.size()); }
  // Partition groups (by node index); nodes in different groups cannot reach each other
  // through their proxies.
  void partition(const std::vector<std::vector<int>>& groups);
  void heal();
  std::string meshUrl(int i) const;  // what peers dial (the proxy when there is one)
  std::string dir() const { return dir_; }
  // A DATA_DIR for node i under dir() (created; the same path on every call).
  std::string dataDir(int i) const;
  std::map<std::string, std::string> commonEnv;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<std::unique_ptr<TestProxy>> proxies_;  // nullptr where none
  std::vector<std::map<std::string, std::string>> envs_;
  std::shared_ptr<std::map<std::string, int>> groups_;
  std::shared_ptr<std::mutex> groupsMu_;
};

// Small JSON helpers (RapidJSON) for /status and /getAll answers.
bool statusReady(const HttpResult& r);
std::string statusDigest(const HttpResult& r);
// A number under "mesh" in a /status answer (e.g. "wipes", "tombstonesDropped"); -1 if absent.
long long meshNumber(const HttpResult& r, const std::string& field);
// Length of an array under "mesh" in a /status answer (e.g. "evicted", "held"); -1 if absent.
int meshArraySize(const HttpResult& r, const std::string& field);
// Number of members in `state` (alive/suspect/dead/left) in a /status answer.
int membersIn(const HttpResult& r, const std::string& state);
// Sorted "k=v" lines of a /getAll answer (streamed or not); empty + ok=false on a bad answer.
std::vector<std::string> allPairs(const HttpResult& r, bool* ok);

}  // namespace meshtest

// See harness.h. Processes are started with fork/execve; their stderr/stdout go to a log file
// per node in the cluster's temporary directory (kept when a test fails, for reading).
#include "tests/mesh/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace meshtest {
namespace {

size_t onData(char* p, size_t size, size_t n, void* userp) {
  static_cast<std::string*>(userp)->append(p, size * n);
  return size * n;
}

HttpResult perform(const std::string& url, const std::string* body,
                   const std::vector<std::string>& headers, long timeoutMs) {
  HttpResult r;
  CURL* c = curl_easy_init();
  if (c == nullptr) return r;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeoutMs);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeoutMs, 2000L));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  struct curl_slist* h = nullptr;
  for (const auto& s : headers) h = curl_slist_append(h, s.c_str());
  if (h != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.status = 0;
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return r;
}

int readPortFile(const std::string& path) {
  std::ifstream f(path);
  int port = 0;
  if (f >> port) return port;
  return 0;
}

}  // namespace

HttpResult httpGet(const std::string& url, long timeoutMs) {
  return perform(url, nullptr, {}, timeoutMs);
}

HttpResult httpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers, long timeoutMs) {
  return perform(url, &body, headers, timeoutMs);
}

bool waitFor(const std::function<bool()>& cond, int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    // Polling interval between checks of an external condition (not a wait for it).
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string nodeBinary() {
  if (const char* p = std::getenv("MESHKV_NODE_BIN")) return p;
  return MESHKV_NODE_BIN_DEFAULT;
}

bool sanitized() {
#ifdef MESHKV_SANITIZED
  return true;
#else
  return false;
#endif
}

// ---------------------------------------------------------------------------------------------

NodeProcess::~NodeProcess() {
  if (pid_ > 0) kill9();
}

bool NodeProcess::start(const std::map<std::string, std::string>& env, int timeoutMs) {
  std::string portFile = dir_ + "/" + id_ + ".port";
  std::remove(portFile.c_str());
  std::map<std::string, std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Settings of the test process must not leak into the node.
  for (const char* k : {"PORT", "MESH_NETWORK_URL", "ADVERTISE_URL", "MESH_SECRET"}) all.erase(k);
  all["PORT"] = "0";
  all["HOSTNAME"] = id_;
  all["BIND_ADDRESS"] = id_;
  if (all.count("LOG_LEVEL") == 0) all["LOG_LEVEL"] = "info";
  for (const auto& [k, v] : env) all[k] = v;
  std::vector<std::string> envStrings;
  for (const auto& [k, v] : all) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = nodeBinary();
  std::string flag = "--port-file";
  std::vector<char*> argv = {bin.data(), flag.data(), portFile.data(), nullptr};
  std::string log = logPath();
  ++starts_;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      ::close(fd);
    }
    execve(bin.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  pid_ = pid;
  port_ = 0;
  bool ok = waitFor(
      [&] {
        if (!running()) return true;
        port_ = readPortFile(portFile);
        return port_ > 0;
      },
      timeoutMs);
  return ok && port_ > 0 && running();
}

bool NodeProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void NodeProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int NodeProcess::terminate(int timeoutMs) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = -1;
  bool exited = waitFor(
      [&] {
        pid_t r = waitpid(pid_, &status, WNOHANG);
        return r == pid_;
      },
      timeoutMs);
  if (!exited) {
    kill9();
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------------------------

TestProxy::TestProxy(std::string nodeId, std::shared_ptr<std::map<std::string, int>> groups,
                     std::shared_ptr<std::mutex> groupsMu)
    : nodeId_(std::move(nodeId)), groups_(std::move(groups)), groupsMu_(std::move(groupsMu)) {
  listenFd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(listenFd_, 128);
  socklen_t len = sizeof a;
  getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  listenPort_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

TestProxy::~TestProxy() {
  stop_ = true;
  thread_.join();
  ::close(listenFd_);
}

bool TestProxy::allowed(const std::string& source) {
  std::lock_guard<std::mutex> lock(*groupsMu_);
  auto a = groups_->find(source);
  auto b = groups_->find(nodeId_);
  int ga = a == groups_->end() ? 0 : a->second;
  int gb = b == groups_->end() ? 0 : b->second;
  return ga == gb;
}

void TestProxy::run() {
  std::vector<std::unique_ptr<Pair>> pairs;
  char buf[64 * 1024];
  auto closePair = [](Pair& p) {
    if (p.client >= 0) ::close(p.client);
    if (p.server >= 0) ::close(p.server);
    p.client = p.server = -1;
  };
  while (!stop_) {
    if (enforce_.exchange(false)) {
      for (auto& p : pairs) {
        if (p->known && !allowed(p->source)) closePair(*p);
      }
    }
    std::erase_if(pairs, [](const std::unique_ptr<Pair>& p) { return p->client < 0; });
    std::vector<pollfd> fds;
    fds.push_back({listenFd_, POLLIN, 0});
    for (auto& p : pairs) {
      fds.push_back({p->client, POLLIN, 0});
      fds.push_back({p->server, POLLIN, 0});
    }
    size_t polled = pairs.size();  // pairs accepted below have no entry in fds yet
    int n = poll(fds.data(), fds.size(), 20);
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int c = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      int target = targetPort_.load();
      if (c >= 0 && target > 0) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = targetHost_.load();
        a.sin_port = htons(static_cast<uint16_t>(target));
        if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          int one = 1;
          setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto p = std::make_unique<Pair>();
          p->client = c;
          p->server = s;
          pairs.push_back(std::move(p));
        } else {
          ::close(s);
          ::close(c);
        }
      } else if (c >= 0) {
        ::close(c);
      }
    }
    for (size_t i = 0; i < polled; ++i) {
      Pair& p = *pairs[i];
      const pollfd& fc = fds[1 + 2 * i];
      const pollfd& fs = fds[2 + 2 * i];
      if (p.client < 0) continue;
      if (fc.revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = ::read(p.client, buf, sizeof buf);
        if (r <= 0) {
          closePair(p);
          continue;
        }
        if (!p.known) {
          p.head.append(buf, r);
          size_t end = p.head.find("\r\n\r\n");
          if (end == std::string::npos && p.head.size() < 16384) continue;
          std::string lower = p.head.substr(0, end);
          std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
          size_t at = lower.find("\r\nx-mesh-from:");
          if (at != std::string::npos) {
            size_t v = at + 14;
            while (v < lower.size() && lower[v] == ' ') ++v;
            size_t e = p.head.find("\r\n", v);
            p.source = p.head.substr(v, e == std::string::npos ? std::string::npos : e - v);
          }
          p.known = true;
          if (!allowed(p.source)) {
            closePair(p);
            continue;
          }
          std::string head = std::move(p.head);
          if (::send(p.server, head.data(), head.size(), MSG_NOSIGNAL) < 0) closePair(p);
          continue;
        }
        if (!allowed(p.source)) {
          closePair(p);
          continue;
        }
        // Blocking sends keep it simple: the peer reads promptly on loopback.
        size_t off = 0;
        while (off < static_cast<size_t>(r)) {
          ssize_t w = ::send(p.server, buf + off, r - off, MSG_NOSIGNAL);
          if (w <= 0) break;
          off += w;
        }
        if (off < static_cast<size_t>(r)) closePair(p);
      }
      if (p.client >= 0 && (fs.revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = ::read(p.server, buf, sizeof buf);
        if (r <= 0) {
          closePair(p);
          continue;
        }
        size_t off = 0;
        while (off < static_cast<size_t>(r)) {
          ssize_t w = ::send(p.client, buf + off, r - off, MSG_NOSIGNAL);
          if (w <= 0) break;
          off += w;
        }
        if (off < static_cast<size_t>(r)) closePair(p);
      }
    }
  }
  for (auto& p : pairs) closePair(*p);
}

// ---------------------------------------------------------------------------------------------

Cluster::Cluster(std::string name)
    : groups_(std::make_shared<std::map<std::string, int>>()),
      groupsMu_(std::make_shared<std::mutex>()) {
  char tmpl[] = "/tmp/meshkv-mesh-XXXXXX";
  char* d = mkdtemp(tmpl);
  dir_ = d != nullptr ? d : "/tmp";
  std::fprintf(stderr, "[mesh] %s: logs in %s\n", name.c_str(), dir_.c_str());
  commonEnv["PROBE_INTERVAL_MS"] = "200";
  commonEnv["PROBE_TIMEOUT_MS"] = "150";
  commonEnv["SUSPICION_TIMEOUT_MS"] = "1000";
  commonEnv["ANTI_ENTROPY_INTERVAL_MS"] = "500";
  commonEnv["JOIN_RETRY_MS"] = "20";
}

Cluster::~Cluster() {
  for (auto& n : nodes_) n->kill9();
  proxies_.clear();
}

std::string Cluster::dataDir(int i) const {
  std::string data = dir_ + "/data" + std::to_string(i);
  ::mkdir(data.c_str(), 0755);
  return data;
}

std::string Cluster::meshUrl(int i) const {
  if (proxies_[i]) return "http://127.0.0.1:" + std::to_string(proxies_[i]->port());
  return nodes_[i]->url();
}

int Cluster::addNode(int joinVia, const std::map<std::string, std::string>& extraEnv,
                     bool withProxy) {
  int i = size();
  std::string id = "127.0.0." + std::to_string(11 + i);
  nodes_.push_back(std::make_unique<NodeProcess>(id, dir_));
  proxies_.push_back(withProxy ? std::make_unique<TestProxy>(id, groups_, groupsMu_) : nullptr);
  std::map<std::string, std::string> env = commonEnv;
  for (const auto& [k, v] : extraEnv) env[k] = v;
  // The mesh tests restart nodes expecting an empty store (catch-up from peers); persistence
  // has its own tests (packages/tests/crash), so these nodes keep memory mode unless a test
  // gives them a DATA_DIR.
  if (env.count("DATA_DIR") == 0) env.emplace("MEMORY", "1");
  envs_.push_back(env);
  if (!restart(i, joinVia)) return -1;
  return i;
}

bool Cluster::restart(int i, int joinVia) {
  std::map<std::string, std::string> env = envs_[i];
  // Without a proxy the default ADVERTISE_URL (http://HOSTNAME:bound port) is right.
  if (proxies_[i]) env["ADVERTISE_URL"] = meshUrl(i);
  // joinVia < 0: no MESH_NETWORK_URL at all, the node starts a cluster of one.
  if (joinVia >= 0) env["MESH_NETWORK_URL"] = meshUrl(joinVia);
  if (!nodes_[i]->start(env)) return false;
  if (proxies_[i]) proxies_[i]->setTarget(nodes_[i]->id(), nodes_[i]->port());
  return true;
}

void Cluster::partition(const std::vector<std::vector<int>>& groups) {
  {
    std::lock_guard<std::mutex> lock(*groupsMu_);
    groups_->clear();
    for (size_t g = 0; g < groups.size(); ++g) {
      for (int i : groups[g]) (*groups_)[nodes_[i]->id()] = static_cast<int>(g);
    }
  }
  for (auto& p : proxies_) {
    if (p) p->enforce();
  }
}

void Cluster::heal() {
  std::lock_guard<std::mutex> lock(*groupsMu_);
  groups_->clear();
}

// ---------------------------------------------------------------------------------------------

bool statusReady(const HttpResult& r) {
  if (r.status != 200) return false;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  return !d.HasParseError() && d.IsObject() && d.HasMember("ready") && d["ready"].IsBool() &&
         d["ready"].GetBool();
}

std::string statusDigest(const HttpResult& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("mesh") || !d["mesh"].IsObject())
    return {};
  const auto& m = d["mesh"];
  if (!m.HasMember("digest") || !m["digest"].IsString()) return {};
  return m["digest"].GetString();
}

long long meshNumber(const HttpResult& r, const std::string& field) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("mesh") || !d["mesh"].IsObject()) {
    return -1;
  }
  const auto& m = d["mesh"];
  auto it = m.FindMember(field.c_str());
  if (it == m.MemberEnd() || !it->value.IsUint64()) return -1;
  return static_cast<long long>(it->value.GetUint64());
}

int meshArraySize(const HttpResult& r, const std::string& field) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("mesh") || !d["mesh"].IsObject()) {
    return -1;
  }
  auto it = d["mesh"].FindMember(field.c_str());
  if (it == d["mesh"].MemberEnd() || !it->value.IsArray()) return -1;
  return static_cast<int>(it->value.Size());
}

int membersIn(const HttpResult& r, const std::string& state) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("members") || !d["members"].IsArray()) {
    return -1;
  }
  int n = 0;
  for (const auto& m : d["members"].GetArray()) {
    if (m.IsObject() && m.HasMember("state") && m["state"].IsString() &&
        state == m["state"].GetString()) {
      ++n;
    }
  }
  return n;
}

std::vector<std::string> allPairs(const HttpResult& r, bool* ok) {
  std::vector<std::string> out;
  *ok = false;
  if (r.status != 200) return out;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsArray()) return out;
  for (const auto& e : d.GetArray()) {
    if (!e.IsObject() || !e.HasMember("k") || !e.HasMember("v") || !e["k"].IsString() ||
        !e["v"].IsString()) {
      return out;
    }
    out.push_back(std::string(e["k"].GetString()) + "=" + e["v"].GetString());
  }
  std::sort(out.begin(), out.end());
  *ok = true;
  return out;
}

}  // namespace meshtest

// See fake_docker.h. JSON is written by hand (the shapes are fixed and small); labels, names and
// addresses in tests are plain ASCII, so no escaping is needed beyond what is done here.
#include "load-balancer/testing/fake_docker.h"

#include <unistd.h>

#include <rapidjson/document.h>

#include <cctype>
#include <cstdio>

namespace lb::testing {

namespace {
void freeStream(uv_handle_t* h) {
  if (h->type == UV_TCP) {
    delete reinterpret_cast<uv_tcp_t*>(h);
  } else {
    delete reinterpret_cast<uv_pipe_t*>(h);
  }
}
std::string jsonMap(const std::map<std::string, std::string>& m) {
  std::string out = "{";
  for (auto& [k, v] : m) {
    if (out.size() > 1) out += ',';
    out += "\"" + k + "\":\"" + v + "\"";
  }
  return out + "}";
}
std::string jsonList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (auto& x : v) {
    if (out.size() > 1) out += ',';
    out += "\"" + x + "\"";
  }
  return out + "]";
}
}  // namespace

struct FakeDocker::Conn {
  FakeDocker* owner;
  uv_stream_t* pipe;  // a uv_pipe_t or a uv_tcp_t
  std::string in;
  bool streaming = false;
  bool closing = false;
};

FakeDocker::FakeDocker(uv_loop_t* loop, std::string socketPath)
    : loop_(loop), path_(std::move(socketPath)) {}

FakeDocker::~FakeDocker() {
  ::unlink(path_.c_str());
}

void FakeDocker::listen() {
  ::unlink(path_.c_str());
  auto* pipe = new uv_pipe_t;
  uv_pipe_init(loop_, pipe, 0);
  pipe->data = this;
  uv_pipe_bind(pipe, path_.c_str());
  server_ = reinterpret_cast<uv_stream_t*>(pipe);
  uv_listen(server_, 128, &FakeDocker::onConnection);
}

int FakeDocker::listenTcp() {
  auto* tcp = new uv_tcp_t;
  uv_tcp_init(loop_, tcp);
  tcp->data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&addr), 0);
  server_ = reinterpret_cast<uv_stream_t*>(tcp);
  uv_listen(server_, 128, &FakeDocker::onConnection);
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void FakeDocker::close() {
  if (server_ != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(server_), freeStream);
  server_ = nullptr;
  for (auto& c : conns_) closeConn(c.get());
}

void FakeDocker::stop() {
  close();
  ::unlink(path_.c_str());
}

void FakeDocker::restart() {
  stop();
  listen();
}

FakeContainer& FakeDocker::add(const std::string& id, const std::string& service,
                               const std::string& ip, const std::string& health) {
  FakeContainer c;
  c.id = id;
  c.name = "proj_" + service + "_" + id;
  c.labels = {{"com.docker.compose.project", "proj"},
              {"com.docker.compose.service", service},
              {"com.docker.compose.oneoff", "False"}};
  c.health = health;
  if (!ip.empty()) c.networks["proj_default"] = ip;
  return containers_[id] = c;
}

FakeContainer* FakeDocker::find(const std::string& id) {
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : &it->second;
}

void FakeDocker::erase(const std::string& id) {
  containers_.erase(id);
}

std::string FakeDocker::event(const std::string& id, const std::string& action,
                              const std::string& extra) {
  std::map<std::string, std::string> attrs;
  if (auto* c = find(id)) {
    attrs = c->labels;
    attrs["name"] = c->name;
  }
  lastTimeNano += 1000;
  char times[96];
  std::snprintf(times, sizeof times, "\"time\":%lld,\"timeNano\":%lld",
                static_cast<long long>(lastTimeNano / 1000000000LL),
                static_cast<long long>(lastTimeNano));
  std::string attributes = jsonMap(attrs);
  if (!extra.empty()) attributes = attributes.substr(0, attributes.size() - 1) + "," + extra + "}";
  return "{\"status\":\"" + action + "\",\"id\":\"" + id +
         "\",\"from\":\"img\",\"Type\":\"container\",\"Action\":\"" + action +
         "\",\"Actor\":{\"ID\":\"" + id + "\",\"Attributes\":" + attributes +
         "},\"scope\":\"local\"," + times + "}\n";
}

void FakeDocker::push(const std::string& bytes) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  for (auto& c : conns_) {
    if (c->streaming && !c->closing) write(c.get(), size + bytes + "\r\n");
  }
}

void FakeDocker::cutStreams() {
  for (auto& c : conns_) {
    if (c->streaming) closeConn(c.get());
  }
}

int FakeDocker::openStreams() const {
  int n = 0;
  for (auto& c : conns_) n += c->streaming && !c->closing;
  return n;
}

void FakeDocker::onConnection(uv_stream_t* s, int status) {
  auto* self = static_cast<FakeDocker*>(s->data);
  if (status < 0) return;
  uv_stream_t* stream;
  if (s->type == UV_TCP) {
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(self->loop_, tcp);
    stream = reinterpret_cast<uv_stream_t*>(tcp);
  } else {
    auto* pipe = new uv_pipe_t;
    uv_pipe_init(self->loop_, pipe, 0);
    stream = reinterpret_cast<uv_stream_t*>(pipe);
  }
  auto conn = std::make_unique<Conn>(Conn{self, stream, {}});
  Conn* c = conn.get();
  self->conns_.push_back(std::move(conn));
  c->pipe->data = c;
  uv_accept(s, c->pipe);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(c->pipe),
      [](uv_handle_t*, size_t, uv_buf_t* b) {
        static char buf[65536];
        *b = uv_buf_init(buf, sizeof buf);
      },
      &FakeDocker::onRead);
}

void FakeDocker::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  auto* c = static_cast<Conn*>(s->data);
  if (n < 0) {
    c->owner->closeConn(c);
    return;
  }
  c->in.append(b->base, static_cast<size_t>(n));
  c->owner->process(c);
}

void FakeDocker::process(Conn* c) {
  for (;;) {
    auto end = c->in.find("\r\n\r\n");
    if (end == std::string::npos || c->closing) return;
    std::string head = c->in.substr(0, end);
    size_t length = 0;  // libcurl always sends Content-Length with a body (no chunked uploads)
    std::string lower = head;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (auto cl = lower.find("\r\ncontent-length:"); cl != std::string::npos) {
      length = std::stoul(head.substr(cl + 17));
    }
    if (c->in.size() < end + 4 + length) return;
    std::string body = c->in.substr(end + 4, length);
    c->in.erase(0, end + 4 + length);
    auto sp1 = head.find(' ');
    auto sp2 = head.find(' ', sp1 + 1);
    handle(c, head.substr(0, sp1), head.substr(sp1 + 1, sp2 - sp1 - 1), body);
  }
}

void FakeDocker::handle(Conn* c, const std::string& method, const std::string& target,
                        const std::string& body) {
  std::string path = target.substr(0, target.find('?'));
  std::string query =
      target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  if (path == "/_ping") {
    ++pings;
    write(c, "HTTP/1.1 200 OK\r\nApi-Version: " + apiVersion +
                 "\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK");
    return;
  }
  if (path.rfind("/v", 0) != 0) return respond(c, 404, "{\"message\":\"page not found\"}");
  auto slash = path.find('/', 1);
  std::string version = path.substr(2, slash - 2);
  path = path.substr(slash);
  auto num = [](const std::string& v) { return std::stod(v); };
  if (path == "/events" && rejectEvents > 0) {
    --rejectEvents;
    badVersionPaths.push_back(path);
    return respond(c, 400, "{\"message\":\"client version " + version + " is too new\"}");
  }
  if (num(version) > num(apiVersion) + 1e-9) {
    badVersionPaths.push_back(path);
    return respond(c, 400,
                   "{\"message\":\"client version " + version +
                       " is too new. Maximum supported API version is " + apiVersion + "\"}");
  }
  FakeRequest req{method, path, query, body, uv_now(loop_)};
  requests.push_back(req);
  if (method != "GET") {
    auto [status, answer] = containerWrite(req);
    if (status != 0) return respond(c, status, answer);
  }
  if (path == "/events") {
    eventQueries.push_back(query);
    c->streaming = true;
    write(
        c,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    return;
  }
  if (path == "/containers/json") {
    ++lists;
    return respond(c, 200, listJson(query.find("all=true") != std::string::npos));
  }
  if (path.rfind("/containers/", 0) == 0 && path.size() > 17 &&
      path.substr(path.size() - 5) == "/json") {
    ++inspects;
    std::string id = path.substr(12, path.size() - 12 - 5);
    auto* fc = find(id);
    if (fc == nullptr) return respond(c, 404, "{\"message\":\"No such container: " + id + "\"}");
    if (fc->garbageInspect) return respond(c, 200, "<html>surprise</html>");
    return respond(c, 200, inspectJson(*fc));
  }
  if (extraRoutes) {
    auto [status, answer] = extraRoutes(req);
    if (status != 0) return respond(c, status, answer);
  }
  respond(c, 404, "{\"message\":\"page not found\"}");
}

std::pair<int, std::string> FakeDocker::containerWrite(const FakeRequest& r) {
  if (r.method == "POST" && r.path == "/containers/create") {
    auto at = r.query.find("name=");
    std::string name = at == std::string::npos ? "" : r.query.substr(at + 5);
    name = name.substr(0, name.find('&'));
    created.push_back(name);
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    if (d.HasParseError() || !d.IsObject()) return {400, "{\"message\":\"bad JSON\"}"};
    FakeContainer fc;
    fc.id = "created" + std::to_string(++createdCount_);
    fc.name = name;
    fc.running = false;
    if (d.HasMember("Labels") && d["Labels"].IsObject()) {
      for (auto& m : d["Labels"].GetObject()) {
        if (m.value.IsString()) fc.labels[m.name.GetString()] = m.value.GetString();
      }
    }
    containers_[fc.id] = fc;
    return {201, "{\"Id\":\"" + fc.id + "\",\"Warnings\":[]}"};
  }
  if (r.path.rfind("/containers/", 0) != 0) return {0, ""};
  std::string rest = r.path.substr(12);
  std::string id = rest.substr(0, rest.find('/'));
  std::string verb = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  FakeContainer* fc = find(id);
  if (fc == nullptr) return {404, "{\"message\":\"No such container: " + id + "\"}"};
  if (r.method == "POST" && verb == "start") {
    fc->running = true;
    return {204, ""};
  }
  if (r.method == "POST" && verb == "stop") {
    if (failStops > 0) {
      --failStops;
      return {500, "{\"message\":\"cannot stop container: permission denied\"}"};
    }
    fc->running = false;
    return {204, ""};
  }
  if (r.method == "DELETE" && verb.empty()) {
    containers_.erase(id);
    return {204, ""};
  }
  return {0, ""};
}

std::string FakeDocker::inspectJson(const FakeContainer& c) const {
  std::string nets = "{";
  for (auto& [name, ip] : c.networks) {
    if (nets.size() > 1) nets += ',';
    nets += "\"" + name + "\":{\"IPAddress\":\"" + ip + "\",\"Gateway\":\"\"}";
  }
  nets += "}";
  std::string health =
      c.health.empty() ? "null" : "{\"Status\":\"" + c.health + "\",\"FailingStreak\":0}";
  return "{\"Id\":\"" + c.id + "\",\"Name\":\"/" + c.name + "\",\"State\":{\"Status\":\"" +
         (c.running ? (c.paused ? "paused" : "running") : "exited") +
         "\",\"Running\":" + (c.running ? "true" : "false") +
         ",\"Paused\":" + (c.paused ? "true" : "false") + ",\"Health\":" + health +
         "},\"Config\":{\"Hostname\":\"" + c.id.substr(0, 12) + "\",\"Image\":\"" + c.image +
         "\",\"Env\":" + jsonList(c.env) + ",\"Labels\":" + jsonMap(c.labels) +
         "},\"HostConfig\":" + c.hostConfig + ",\"NetworkSettings\":{\"Networks\":" + nets + "}}";
}

std::string FakeDocker::listJson(bool all) const {
  std::string out = "[";
  for (auto& [id, c] : containers_) {
    if (!all && (!c.running || c.paused)) continue;
    if (out.size() > 1) out += ',';
    out += "{\"Id\":\"" + id + "\",\"Names\":[\"/" + c.name +
           "\"],\"Labels\":" + jsonMap(c.labels) + ",\"State\":\"" +
           (c.running ? (c.paused ? "paused" : "running") : "exited") + "\"}";
  }
  return out + "]";
}

void FakeDocker::respond(Conn* c, int status, const std::string& body) {
  write(c, "HTTP/1.1 " + std::to_string(status) +
               " X\r\nContent-Type: application/json\r\nApi-Version: " + apiVersion +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

void FakeDocker::write(Conn* c, const std::string& data) {
  if (c->closing) return;
  struct Req {
    uv_write_t w;
    std::string data;
  };
  auto* r = new Req{{}, data};
  uv_buf_t b = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
  if (uv_write(&r->w, reinterpret_cast<uv_stream_t*>(c->pipe), &b, 1,
               [](uv_write_t* w, int) { delete reinterpret_cast<Req*>(w); }) != 0) {
    delete r;
  }
}

void FakeDocker::closeConn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  c->streaming = false;
  uv_close(reinterpret_cast<uv_handle_t*>(c->pipe), freeStream);
}

}  // namespace lb::testing

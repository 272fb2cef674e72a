// See watcher.h. Races between the listing and the event stream are settled with a sequence
// number: each event bumps eventSeq_ and stamps its container; an inspect started before a
// later event of the same container is ignored when it returns, and a reconcile never removes
// a container that an event touched after the listing began.
#include "load-balancer/docker/watcher.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "common/http/json.h"
#include "common/http/url.h"

namespace lb {

namespace {

constexpr const char* kServiceLabel = "com.docker.compose.service";
constexpr const char* kProjectLabel = "com.docker.compose.project";
constexpr const char* kOneOffLabel = "com.docker.compose.oneoff";
constexpr size_t kSeenMax = 4096;

std::string str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::unordered_map<std::string, std::string> labelsOf(const rapidjson::Value* labels) {
  std::unordered_map<std::string, std::string> out;
  if (labels == nullptr || !labels->IsObject()) return out;
  for (auto& m : labels->GetObject()) {
    if (m.value.IsString()) out.emplace(m.name.GetString(), m.value.GetString());
  }
  return out;
}

std::string shortId(const std::string& id) {
  return id.substr(0, 12);
}

// Signals after which a container goes on running: a `kill` with one of them is no stop.
bool nonTerminatingSignal(const std::string& s) {
  static const char* kSignals[] = {"1",       "10",       "12",  "28",   "SIGHUP", "SIGUSR1",
                                   "SIGUSR2", "SIGWINCH", "HUP", "USR1", "USR2",   "WINCH"};
  return std::any_of(std::begin(kSignals), std::end(kSignals),
                     [&](const char* k) { return s == k; });
}

}  // namespace

std::string ownContainerId(const std::string& mountinfoPath) {
  // Docker bind-mounts /etc/hostname, /etc/hosts and /etc/resolv.conf from
  // <data-root>/containers/<64-hex id>/: the id is in our own mount table (docker-gen's way).
  std::ifstream in(mountinfoPath);
  std::string line;
  while (std::getline(in, line)) {
    size_t pos = 0;
    while ((pos = line.find("/containers/", pos)) != std::string::npos) {
      pos += 12;
      if (line.size() < pos + 64) break;
      std::string id = line.substr(pos, 64);
      bool hex = std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      });
      if (hex && (line.size() == pos + 64 || line[pos + 64] == '/')) return id;
    }
  }
  return {};
}

DockerWatcher::DockerWatcher(uv_loop_t* loop, BackendPool& pool, WatcherOptions opts)
    : loop_(loop),
      pool_(pool),
      opts_(std::move(opts)),
      engine_(loop, opts_.apiLocation),
      backoffMs_(opts_.minBackoffMs) {
  uv_timer_init(loop_, &retry_);
  uv_timer_init(loop_, &resyncTimer_);
  retry_.data = this;
  resyncTimer_.data = this;
  project_ = opts_.groupProject;
  status_.project = project_;
}

DockerWatcher::~DockerWatcher() {
  if (timersOpen_ > 0 || !clientClosed_) spdlog::error("docker watcher destroyed before close()");
}

void DockerWatcher::start() {
  spdlog::info("watching compose service '{}' through {}", opts_.groupName, opts_.apiLocation);
  connect();
  uv_timer_start(&resyncTimer_, &DockerWatcher::onResyncTimer, opts_.resyncIntervalMs,
                 opts_.resyncIntervalMs);
}

void DockerWatcher::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  onClosed_ = std::move(done);
  status_.state = "closed";
  ++generation_;
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_), &DockerWatcher::onTimerClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&resyncTimer_), &DockerWatcher::onTimerClosed);
  engine_.close([this] {
    clientClosed_ = true;
    maybeClosed();
  });
}

void DockerWatcher::onTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<DockerWatcher*>(h->data);
  --self->timersOpen_;
  self->maybeClosed();
}

void DockerWatcher::maybeClosed() {
  if (!closing_ || timersOpen_ > 0 || !clientClosed_ || !onClosed_) return;
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();
}

// ---- connection cycle: ping -> (self) -> subscribe -> list ------------------------------------

void DockerWatcher::connect() {
  if (closing_) return;
  status_.state = "connecting";
  engine_.ping([this](std::string version, std::string error) {
    if (!error.empty()) {
      if (status_.lastError != error) spdlog::warn("docker: {} ({})", error, opts_.apiLocation);
      status_.lastError = error;
      scheduleReconnect();
      return;
    }
    if (status_.apiVersion != version) spdlog::info("docker: API version {}", version);
    status_.apiVersion = version;
    detectSelf([this] { subscribe(); });
  });
}

void DockerWatcher::detectSelf(std::function<void()> next) {
  if (selfChecked_ || !opts_.detectSelf || ::access("/.dockerenv", F_OK) != 0) {
    selfChecked_ = true;
    next();
    return;
  }
  std::string self = ownContainerId();
  if (self.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    self = host;  // the default hostname of a container is its short id
  }
  engine_.get("/containers/" + self + "/json",
              [this, next = std::move(next)](common::http::ClientResponse&& r) {
                if (!r.error.empty()) {  // transport: try again on the next cycle
                  status_.lastError = r.error;
                  scheduleReconnect();
                  return;
                }
                selfChecked_ = true;
                rapidjson::Document d;
                if (r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() && d.IsObject()) {
                  const rapidjson::Value* cfg = member(d, "Config");
                  auto labels = labelsOf(cfg ? member(*cfg, "Labels") : nullptr);
                  if (project_.empty()) project_ = labels[kProjectLabel];
                  const rapidjson::Value* ns = member(d, "NetworkSettings");
                  const rapidjson::Value* nets = ns ? member(*ns, "Networks") : nullptr;
                  if (nets != nullptr && nets->IsObject()) {
                    for (auto& m : nets->GetObject()) ownNetworks_.insert(m.name.GetString());
                  }
                  status_.project = project_;
                  spdlog::info("docker: running in container {} (project '{}', {} networks)",
                               str(d, "Name"), project_, ownNetworks_.size());
                }
                next();
              });
}

std::string DockerWatcher::filtersJson(bool forList) const {
  std::string out = "{";
  if (!forList) out += "\"type\":[\"container\"],";
  out += "\"label\":[";
  common::json::appendString(out, std::string(kServiceLabel) + "=" + opts_.groupName);
  if (!project_.empty()) {
    out += ",";
    common::json::appendString(out, std::string(kProjectLabel) + "=" + project_);
  }
  if (!opts_.includeOneOff) {
    out += ",";
    common::json::appendString(out, std::string(kOneOffLabel) + "=False");
  }
  out += "]";
  if (forList) out += ",\"status\":[\"running\"]";
  out += "}";
  return out;
}

void DockerWatcher::subscribe() {
  if (closing_) return;
  const uint64_t gen = ++generation_;
  parser_.reset();
  streamStatus_ = 0;
  streamErrorBody_.clear();
  std::string query = "filters=";
  common::urlEncode(filtersJson(false), query);
  if (lastTimeNano_ > 0) {
    query +=
        fmt::format("&since={}.{:09d}", lastTimeNano_ / 1000000000LL, lastTimeNano_ % 1000000000LL);
  }
  streaming_ = true;
  streamId_ = engine_.events(
      query,
      [this, gen](long status) {
        if (gen == generation_) streamHeaders(status);
      },
      [this, gen](std::string_view data) {
        if (gen == generation_) streamData(data);
      },
      [this, gen](std::string error) {
        if (gen == generation_) streamDone(error);
      });
}

void DockerWatcher::streamHeaders(long status) {
  streamStatus_ = status;
  if (status != 200) return;  // the body says why; reported when the stream ends
  streamStartMs_ = uv_now(loop_);
  status_.lastError.clear();
  resync();  // subscribed first, so nothing between the listing and now is lost
}

void DockerWatcher::streamData(std::string_view data) {
  if (streamStatus_ != 200) {
    if (streamErrorBody_.size() < 512) streamErrorBody_.append(data.substr(0, 512));
    return;
  }
  parser_.feed(data, [this](common::Result<ContainerEvent>&& r) {
    if (!r.ok()) {
      ++status_.badEvents;
      spdlog::warn("docker: skipped an event: {}", r.error().message);
      return;
    }
    handleEvent(std::move(r.value()));
  });
}

void DockerWatcher::streamDone(const std::string& error) {
  streaming_ = false;
  // A stream that lived a while was healthy: reconnect quickly. One cut at once keeps backing off.
  if (streamStatus_ == 200 && uv_now(loop_) - streamStartMs_ >= 1000)
    backoffMs_ = opts_.minBackoffMs;
  std::string why;
  if (!error.empty()) {
    why = "event stream: " + error;
  } else if (streamStatus_ != 200) {
    why = "events answered " + std::to_string(streamStatus_) + ": " + streamErrorBody_;
    while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
  } else {
    why = "event stream ended";
  }
  if (parser_.buffered() > 0) spdlog::debug("docker: stream cut in the middle of an event");
  spdlog::warn("docker: {}; reconnecting", why);
  status_.lastError = why;
  scheduleReconnect();
}

void DockerWatcher::restartStream(const std::string& why) {
  if (streaming_) {
    engine_.cancel(streamId_);
    streaming_ = false;
  }
  ++generation_;
  spdlog::warn("docker: {}; reconnecting", why);
  status_.lastError = why;
  scheduleReconnect();
}

void DockerWatcher::scheduleReconnect() {
  if (closing_) return;
  ++status_.reconnects;
  status_.state = "backoff";
  uv_timer_start(&retry_, &DockerWatcher::onRetryTimer, backoffMs_, 0);
  backoffMs_ = std::min(backoffMs_ * 2, opts_.maxBackoffMs);
}

void DockerWatcher::onRetryTimer(uv_timer_t* t) noexcept {
  static_cast<DockerWatcher*>(t->data)->connect();
}

void DockerWatcher::onResyncTimer(uv_timer_t* t) noexcept {
  auto* self = static_cast<DockerWatcher*>(t->data);
  if (self->streaming_ && self->streamStatus_ == 200) self->resync();
}

// ---- listing and inspecting ---------------------------------------------------------------------

void DockerWatcher::resync() {
  if (closing_) return;
  if (syncing_) {
    syncAgain_ = true;
    return;
  }
  syncing_ = true;
  syncAgain_ = false;
  status_.state = "syncing";
  const uint64_t listSeq = eventSeq_;
  std::string path = "/containers/json?filters=";
  common::urlEncode(filtersJson(true), path);
  engine_.get(path, [this, listSeq](common::http::ClientResponse&& r) {
    if (!r.error.empty() || r.status != 200) {
      syncing_ = false;
      std::string why = !r.error.empty() ? r.error
                                         : "listing answered " + std::to_string(r.status) + ": " +
                                               r.body.substr(0, 200);
      // A failed listing says the stream is probably dead too (no heartbeats on /events).
      restartStream("container listing failed: " + why);
      return;
    }
    rapidjson::Document d;
    if (d.Parse(r.body.c_str()).HasParseError() || !d.IsArray()) {
      syncing_ = false;
      spdlog::warn("docker: container listing is not a JSON array; keeping the last backends");
      return;
    }
    auto listed = std::make_shared<std::unordered_set<std::string>>();
    for (auto& c : d.GetArray()) {
      std::string id = str(c, "Id");
      if (id.empty()) {
        spdlog::warn("docker: a listed container has no Id; skipped");
        continue;
      }
      listed->insert(id);
    }
    auto pending = std::make_shared<size_t>(listed->size() + 1);
    auto finish = [this, listed, listSeq, pending] {
      if (--*pending > 0) return;
      std::vector<std::string> gone;
      for (auto& [id, c] : containers_) {
        if (!listed->count(id) && c.seq <= listSeq) gone.push_back(id);
      }
      for (auto& id : gone) forget(id);
      syncing_ = false;
      ++status_.syncs;
      status_.containers = containers_.size();
      if (status_.state == "syncing") status_.state = "watching";
      if (syncAgain_) resync();
    };
    for (const auto& id : *listed) inspect(id, listSeq, finish);
    finish();
  });
}

void DockerWatcher::inspect(const std::string& id, uint64_t seqAtStart,
                            std::function<void()> after) {
  engine_.get("/containers/" + id + "/json",
              [this, id, seqAtStart, after = std::move(after)](common::http::ClientResponse&& r) {
                ++status_.inspects;
                auto it = containers_.find(id);
                bool newer = it != containers_.end() && it->second.seq > seqAtStart;
                if (!r.error.empty()) {
                  spdlog::warn("docker: inspect {}: {}", shortId(id), r.error);
                } else if (r.status == 404) {
                  if (!newer) forget(id);  // already gone
                } else if (r.status != 200) {
                  spdlog::warn("docker: inspect {} answered {}", shortId(id), r.status);
                } else if (!newer) {
                  rapidjson::Document d;
                  if (d.Parse(r.body.c_str()).HasParseError() || !d.IsObject()) {
                    spdlog::warn("docker: inspect {}: not a JSON object", shortId(id));
                  } else {
                    applyInspect(id, d);
                  }
                }
                if (after) after();
              });
}

void DockerWatcher::applyInspect(const std::string& id, const rapidjson::Value& doc) {
  const rapidjson::Value* cfg = member(doc, "Config");
  auto labels = labelsOf(cfg ? member(*cfg, "Labels") : nullptr);
  if (!matchesGroup(labels)) return;
  Container& c = containers_[id];
  std::string name = str(doc, "Name");
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  c.name = name.empty() ? shortId(id) : name;
  const rapidjson::Value* state = member(doc, "State");
  if (state == nullptr || !state->IsObject()) {
    spdlog::warn("docker: container {} has no State; skipped", c.name);
    return;
  }
  const rapidjson::Value* running = member(*state, "Running");
  const rapidjson::Value* paused = member(*state, "Paused");
  c.running = running != nullptr && running->IsBool() && running->GetBool();
  c.paused = paused != nullptr && paused->IsBool() && paused->GetBool();
  const rapidjson::Value* health = member(*state, "Health");
  c.hasHealth = health != nullptr && health->IsObject();
  c.health = c.hasHealth ? str(*health, "Status") : "";
  const rapidjson::Value* ns = member(doc, "NetworkSettings");
  const rapidjson::Value* nets = ns ? member(*ns, "Networks") : nullptr;
  c.ip =
      nets != nullptr && nets->IsObject() ? chooseAddress(id, c, *nets, labels[kProjectLabel]) : "";
  publish(id);
}

std::string DockerWatcher::chooseAddress(const std::string& id, Container& c,
                                         const rapidjson::Value& networks,
                                         const std::string& project) {
  std::vector<std::pair<std::string, std::string>> found;  // (network, ip), sorted by name
  for (auto& m : networks.GetObject()) {
    std::string ip = str(m.value, "IPAddress");
    if (!ip.empty()) found.emplace_back(m.name.GetString(), ip);
  }
  std::sort(found.begin(), found.end());
  auto pick = [&](auto pred) -> std::string {
    for (auto& [net, ip] : found) {
      if (pred(net)) return ip;
    }
    return {};
  };
  std::string ip;
  if (!opts_.groupNetwork.empty()) {
    ip = pick([&](const std::string& n) {
      return n == opts_.groupNetwork || n == project + "_" + opts_.groupNetwork;
    });
  } else if (!ownNetworks_.empty()) {
    ip = pick([&](const std::string& n) { return ownNetworks_.count(n) > 0; });
  } else {
    ip = pick([](const std::string&) { return true; });
  }
  if (ip.empty() && !c.warnedNoAddress) {
    c.warnedNoAddress = true;
    spdlog::warn("docker: container {} ({}) has no address on {}; not routed", c.name, shortId(id),
                 opts_.groupNetwork.empty() ? std::string("a shared network") : opts_.groupNetwork);
  }
  return ip;
}

bool DockerWatcher::matchesGroup(const std::unordered_map<std::string, std::string>& labels) const {
  auto get = [&](const char* k) {
    auto it = labels.find(k);
    return it == labels.end() ? std::string() : it->second;
  };
  if (get(kServiceLabel) != opts_.groupName) return false;
  if (!project_.empty() && get(kProjectLabel) != project_) return false;
  if (!opts_.includeOneOff && get(kOneOffLabel) == "True") return false;
  return true;
}

// ---- events
// --------------------------------------------------------------------------------------

void DockerWatcher::handleEvent(ContainerEvent&& e) {
  std::string key = e.id + '|' + e.action + '|' + std::to_string(e.timeNano);
  if (!seen_.insert(key).second) {
    ++status_.duplicates;
    return;
  }
  seenOrder_.push_back(std::move(key));
  if (seenOrder_.size() > kSeenMax) {
    seen_.erase(seenOrder_.front());
    seenOrder_.pop_front();
  }
  lastTimeNano_ = std::max(lastTimeNano_, e.timeNano);
  ++status_.events;
  status_.lastEventAction = e.action;
  status_.lastEventId = e.id;
  status_.lastEventName = e.attribute("name");
  status_.lastEventTimeNano = e.timeNano;
  if (e.type != "container") return;
  const std::string& a = e.action;
  const bool known = containers_.count(e.id) > 0;
  // The filter should have done it; be sure (a known container is trusted by id: the labels of
  // some events, e.g. from old daemons, are incomplete).
  if (!known && !matchesGroup(e.attributes)) return;
  spdlog::debug("docker: {} {}", a, e.attribute("name"));

  const bool isStart = a == "start" || a == "unpause" || a == "restart";
  const bool isHealth = a.rfind("health_status", 0) == 0;
  const bool isStop =
      a == "kill" || a == "die" || a == "stop" || a == "oom" || a == "pause" || a == "destroy";
  if (!isStart && !isHealth && !isStop) {
    static const char* kIgnored[] = {"create",       "rename",         "attach", "detach", "resize",
                                     "commit",       "copy",           "export", "top",    "update",
                                     "archive-path", "extract-to-dir", "mount",  "unmount"};
    bool ignored = a.rfind("exec_", 0) == 0 || std::any_of(std::begin(kIgnored), std::end(kIgnored),
                                                           [&](const char* k) { return a == k; });
    if (!ignored && unknownActions_.insert(a).second) {
      spdlog::info("docker: ignoring unknown container action '{}'", a);
    }
    return;
  }
  if (!known && isStop) return;  // nothing routed for it: nothing to take out
  if (a == "kill" && nonTerminatingSignal(e.attribute("signal"))) return;
  const uint64_t seq = ++eventSeq_;
  Container& c = containers_[e.id];
  if (c.name.empty()) c.name = e.attribute("name");
  c.seq = seq;
  if (isStart) {
    if (a == "start" || a == "restart") c.killed = false;
    if (a == "unpause") c.paused = false;
    inspect(e.id, seq, nullptr);  // address and health: only the container named
  } else if (a == "kill") {
    c.killed = true;
    publish(e.id);
  } else if (a == "die" || a == "stop" || a == "oom") {
    c.running = false;
    publish(e.id);
  } else if (a == "pause") {
    c.paused = true;
    publish(e.id);
  } else if (a == "destroy") {
    forget(e.id);
  } else {  // health_status: healthy | unhealthy | starting
    auto colon = a.find(':');
    std::string h = colon == std::string::npos ? "" : a.substr(colon + 1);
    while (!h.empty() && h.front() == ' ') h.erase(0, 1);
    c.hasHealth = true;
    c.health = h;
    if (h == "healthy" && (c.ip.empty() || !c.running)) {
      inspect(e.id, seq, nullptr);
    } else {
      publish(e.id);
    }
  }
}

void DockerWatcher::publish(const std::string& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  Container& c = it->second;
  Backend* b = pool_.find(id);
  bool routable =
      c.running && !c.paused && !c.ip.empty() && (!c.hasHealth || c.health == "healthy");
  if (!routable) {
    if (b != nullptr) pool_.remove(id);
    return;
  }
  if (c.killed) {
    if (b != nullptr && b->state != BackendState::kDraining)
      pool_.setState(id, BackendState::kDraining);
    return;
  }
  sockaddr_storage addr;
  if (!makeAddress(c.ip, opts_.groupPort, addr)) {
    spdlog::warn("docker: container {} has an unusable address '{}'", c.name, c.ip);
    if (b != nullptr) pool_.remove(id);
    return;
  }
  if (b == nullptr || b->state != BackendState::kReady || b->address != formatAddress(addr) ||
      b->name != c.name) {
    pool_.upsert(id, c.name, addr, BackendState::kReady);
  }
  status_.containers = containers_.size();
}

void DockerWatcher::forget(const std::string& id) {
  if (pool_.find(id) != nullptr) pool_.remove(id);
  containers_.erase(id);
  status_.containers = containers_.size();
}

}  // namespace lb

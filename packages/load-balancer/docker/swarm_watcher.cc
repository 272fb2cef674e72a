// See swarm_watcher.h. One timer drives every listing (baseline poll, bursts, reconnects with
// back-off); at most one listing is in flight, a request for another while it runs is
// remembered (listAgain_). killed_ outlives the listing race: a listing that started before a
// container's `kill` may still say "running", but Swarm never restarts a task's container (a
// restart is a new task), so a task once killed stays out.
#include "load-balancer/docker/swarm_watcher.h"

#include <spdlog/spdlog.h>

#include <rapidjson/document.h>
#include <algorithm>

#include "common/http/json.h"
#include "common/http/url.h"
#include "load-balancer/docker/tasks_dns.h"

namespace lb {

namespace {

constexpr const char* kServiceLabel = "com.docker.swarm.service.name";
constexpr const char* kTaskLabel = "com.docker.swarm.task.id";

// A container event after which its task takes no new connections.
bool stopping(const ContainerEvent& e) {
  const std::string& a = e.action;
  if (a == "die" || a == "stop" || a == "oom" || a == "destroy") return true;
  if (a != "kill") return false;
  static const char* kStopSignals[] = {"15",      "9",      "2",       "3",    "SIGTERM",
                                       "SIGKILL", "SIGINT", "SIGQUIT", "TERM", "KILL"};
  std::string s = e.attribute("signal");
  return std::any_of(std::begin(kStopSignals), std::end(kStopSignals),
                     [&](const char* k) { return s == k; });
}

}  // namespace

std::string_view toString(SwarmState s) {
  switch (s) {
    case SwarmState::kConnecting:
      return "connecting";
    case SwarmState::kWatching:
      return "watching";
    case SwarmState::kBackoff:
      return "backoff";
    case SwarmState::kDns:
      return "dns";
    case SwarmState::kClosed:
      return "closed";
  }
  return "?";
}

SwarmWatcher::SwarmWatcher(uv_loop_t* loop, BackendPool& pool, SwarmOptions opts)
    : loop_(loop),
      pool_(pool),
      opts_(std::move(opts)),
      engine_(loop, opts_.apiLocation),
      backoffMs_(opts_.minBackoffMs) {
  uv_timer_init(loop_, &poll_);
  poll_.data = this;
}

SwarmWatcher::~SwarmWatcher() {
  if (timerOpen_ || partsClosing_ > 0) spdlog::error("swarm watcher destroyed before close()");
}

void SwarmWatcher::start() {
  if (opts_.mode == SwarmMode::kDns) return useDns("SWARM_MODE=dns");
  spdlog::info("watching swarm service '{}' through {}", opts_.service, opts_.apiLocation);
  connect();
}

void SwarmWatcher::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  onClosed_ = std::move(done);
  status_.state = SwarmState::kClosed;
  ++generation_;
  partsClosing_ = dns_ ? 3 : 2;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &SwarmWatcher::onTimerClosed);
  engine_.close([this] {
    --partsClosing_;
    maybeClosed();
  });
  if (dns_) {
    dns_->close([this] {
      --partsClosing_;
      maybeClosed();
    });
  }
}

void SwarmWatcher::onTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<SwarmWatcher*>(h->data);
  self->timerOpen_ = false;
  --self->partsClosing_;
  self->maybeClosed();
}

void SwarmWatcher::maybeClosed() {
  if (!closing_ || partsClosing_ > 0 || !onClosed_) return;
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();
}

// ---- connection cycle: ping -> (manager?) -> subscribe -> list ----------------------------------

void SwarmWatcher::connect() {
  if (closing_ || dns_) return;
  status_.state = SwarmState::kConnecting;
  engine_.ping([this](std::string, std::string error) {
    if (closing_) return;
    if (error.empty()) return checkManager();
    if (opts_.mode == SwarmMode::kAuto && status_.lists == 0)
      return useDns("no Docker API (" + error + ")");
    retry(error + " (" + opts_.apiLocation + ")");
  });
}

void SwarmWatcher::checkManager() {
  if (opts_.mode == SwarmMode::kApi) return subscribe();
  engine_.get("/info", [this](common::http::ClientResponse&& r) {
    if (closing_) return;
    rapidjson::Document d;
    bool parsed = r.error.empty() && r.status == 200 && !d.Parse(r.body.c_str()).HasParseError() &&
                  d.IsObject();
    auto sw = parsed ? d.FindMember("Swarm") : rapidjson::Value::MemberIterator();
    if (!parsed || sw == d.MemberEnd() || !sw->value.IsObject()) {
      return retry(r.error.empty() ? "unreadable /info" : r.error);
    }
    auto control = sw->value.FindMember("ControlAvailable");
    bool manager =
        control != sw->value.MemberEnd() && control->value.IsBool() && control->value.GetBool();
    if (!manager) return useDns("this engine is no Swarm manager");
    subscribe();
  });
}

void SwarmWatcher::useDns(const std::string& why) {
  spdlog::info("swarm: following DNS tasks.{} ({})", opts_.service, why);
  status_.state = SwarmState::kDns;
  TasksDnsOptions o;
  o.name = "tasks." + opts_.service;
  o.port = opts_.port;
  o.intervalMs = opts_.burstMs * 5;
  dns_ = std::make_unique<TasksDns>(loop_, pool_, o);
  dns_->start();
}

void SwarmWatcher::subscribe() {
  if (closing_) return;
  const uint64_t gen = ++generation_;
  parser_.reset();
  streamStatus_ = 0;
  std::string query = "filters=";
  common::urlEncode(R"({"type":["service","container"]})", query);
  streaming_ = true;
  streamId_ = engine_.events(
      query,
      [this, gen](long status) {
        if (gen != generation_) return;
        streamStatus_ = status;
        if (status != 200) return;
        status_.lastError.clear();
        status_.state = SwarmState::kConnecting;  // kWatching once the first listing is in
        backoffMs_ = opts_.minBackoffMs;
        burst();  // subscribed first, so nothing between the listing and now is lost
      },
      [this, gen](std::string_view data) {
        if (gen != generation_ || streamStatus_ != 200) return;
        parser_.feed(data, [this](common::Result<ContainerEvent>&& ev) {
          if (ev.ok()) handleEvent(ev.value());
        });
      },
      [this, gen](std::string error) {
        if (gen != generation_) return;
        streaming_ = false;
        retry(!error.empty()         ? error
              : streamStatus_ != 200 ? "events answered " + std::to_string(streamStatus_)
                                     : "event stream ended");
      });
}

void SwarmWatcher::retry(const std::string& why) {
  // Logged once per outage, not once per attempt; the status page has the latest reason.
  if (status_.state != SwarmState::kBackoff) spdlog::warn("swarm: {}; reconnecting", why);
  status_.lastError = why;
  status_.state = SwarmState::kBackoff;
  schedule(backoffMs_);
  backoffMs_ = std::min(backoffMs_ * 2, opts_.maxBackoffMs);
}

void SwarmWatcher::handleEvent(const ContainerEvent& e) {
  if (e.type == "service") {
    if (e.attribute("name") != opts_.service) return;
  } else if (e.type == "container") {
    if (e.attribute(kServiceLabel) != opts_.service) return;
    if (stopping(e)) drain(e.attribute(kTaskLabel));
  } else {
    return;
  }
  ++status_.events;
  spdlog::debug("swarm: {} {} {}", e.type, e.action, e.attribute("name"));
  burst();
}

void SwarmWatcher::drain(const std::string& taskId) {
  if (taskId.empty() || !killed_.insert(taskId).second) return;
  Backend* b = pool_.find(taskId);
  if (b != nullptr && b->state == BackendState::kReady)
    pool_.setState(taskId, BackendState::kDraining);
}

// ---- listing ------------------------------------------------------------------------------------

void SwarmWatcher::burst() {
  burstUntilMs_ = uv_now(loop_) + opts_.burstForMs;
  list();
}

void SwarmWatcher::schedule(uint64_t ms) {
  if (closing_) return;
  uv_timer_start(&poll_, &SwarmWatcher::onPollTimer, ms, 0);
}

void SwarmWatcher::onPollTimer(uv_timer_t* t) noexcept {
  // Backoff: reconnect. Subscribed: list. Connecting: its callbacks go on by themselves.
  auto* self = static_cast<SwarmWatcher*>(t->data);
  if (self->status_.state == SwarmState::kBackoff) {
    self->connect();
  } else if (self->streaming_ && self->streamStatus_ == 200) {
    self->list();
  }
}

void SwarmWatcher::list() {
  if (closing_) return;
  if (listing_) {
    listAgain_ = true;
    return;
  }
  listing_ = true;
  listAgain_ = false;
  std::string filters = R"({"service":[)";
  common::json::appendString(filters, opts_.service);
  filters += "]}";
  std::string path = "/tasks?filters=";
  common::urlEncode(filters, path);
  engine_.get(path, [this](common::http::ClientResponse&& r) { listed(std::move(r)); });
}

void SwarmWatcher::listed(common::http::ClientResponse&& r) {
  listing_ = false;
  if (closing_) return;
  ++status_.lists;
  if (r.error.empty() && r.status == 404) {  // no such service (yet, or any more): no tasks
    if (status_.lastError.rfind("no service", 0) != 0)
      spdlog::warn("swarm: no service '{}' (yet)", opts_.service);
    status_.lastError = "no service " + opts_.service;
    reconcile({});
  } else if (!r.error.empty() || r.status != 200) {
    std::string why = !r.error.empty() ? r.error
                                       : "tasks answered " + std::to_string(r.status) + ": " +
                                             r.body.substr(0, 200);
    while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
    if (status_.lastError != why) spdlog::warn("swarm: {}; keeping the last backends", why);
    status_.lastError = why;
  } else if (auto tasks = parseTasks(r.body, opts_.service, opts_.network); !tasks.ok()) {
    spdlog::warn("swarm: {}; keeping the last backends", tasks.error().message);
  } else {
    if (status_.lastError.rfind("no service", 0) == 0) status_.lastError.clear();
    if (status_.state == SwarmState::kConnecting) {  // not after the stream died meanwhile
      spdlog::info("swarm: watching {}", opts_.service);
      status_.state = SwarmState::kWatching;
    }
    reconcile(tasks.value());
  }
  if (listAgain_) return list();
  uint64_t now = uv_now(loop_);
  schedule(now < burstUntilMs_ ? opts_.burstMs : opts_.pollMs);
}

void SwarmWatcher::reconcile(const std::vector<SwarmTask>& tasks) {
  std::unordered_set<std::string> present;
  std::unordered_map<std::string, TaskPhase> phases;
  for (const SwarmTask& t : tasks) {
    TaskPhase phase = t.phase;
    if (phase == TaskPhase::kRunning && killed_.count(t.id)) phase = TaskPhase::kStopping;
    phases[t.id] = phase;
    auto before = phases_.find(t.id);
    if (before == phases_.end() || before->second != phase)
      spdlog::debug("swarm: task {} {} ({})", t.name, toString(phase), t.ip);
    Backend* b = pool_.find(t.id);
    sockaddr_storage addr;
    if (phase == TaskPhase::kRunning && !t.ip.empty() && makeAddress(t.ip, opts_.port, addr)) {
      present.insert(t.id);
      if (b == nullptr || b->state != BackendState::kReady || b->address != formatAddress(addr))
        pool_.upsert(t.id, t.name, addr, BackendState::kReady);
    } else if (phase == TaskPhase::kStopping && b != nullptr) {
      present.insert(t.id);
      if (b->state == BackendState::kReady) pool_.setState(t.id, BackendState::kDraining);
    } else if (phase == TaskPhase::kRunning && t.ip.empty() && b == nullptr &&
               phases_.count(t.id) == 0) {
      spdlog::warn("swarm: task {} has no address on {}; not routed", t.name,
                   opts_.network.empty() ? std::string("a non-ingress network") : opts_.network);
    }
  }
  std::vector<std::string> gone;
  for (const auto& b : pool_.all()) {
    if (!present.count(b->id)) gone.push_back(b->id);
  }
  for (const auto& id : gone) pool_.remove(id);
  for (auto it = killed_.begin(); it != killed_.end();) {
    it = phases.count(*it) ? std::next(it) : killed_.erase(it);
  }
  phases_ = std::move(phases);
  status_.tasks = present.size();
}

}  // namespace lb

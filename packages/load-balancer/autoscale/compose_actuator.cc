// See compose_actuator.h. Every Engine call answers through finish() exactly once per action;
// once close() started, answers are dropped (the EngineClient is closed by the Autoscaler).
#include "load-balancer/autoscale/compose_actuator.h"

#include <spdlog/spdlog.h>

#include <rapidjson/document.h>

#include <algorithm>

#include "load-balancer/autoscale/compose_spec.h"

namespace lb {

namespace {

constexpr uint64_t kDrainTickMs = 100;
constexpr long kStopTimeoutMs = 120000;  // longer than any stop_grace_period we expect

std::string engineError(const common::http::ClientResponse& r) {
  if (!r.error.empty()) return r.error;
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200);
}

}  // namespace

int GroupView::running() const {
  return static_cast<int>(std::count_if(members.begin(), members.end(),
                                        [](const GroupMember& m) { return m.running; }));
}

const GroupMember* GroupView::highestRunning() const {
  const GroupMember* best = nullptr;
  for (const auto& m : members) {
    if (m.running && (best == nullptr || m.number > best->number)) best = &m;
  }
  return best;
}

int GroupView::nextNumber() const {
  int n = 0;
  for (const auto& m : members) n = std::max(n, m.number);
  return n + 1;
}

ComposeActuator::ComposeActuator(uv_loop_t* loop, EngineClient& engine, BackendPool& pool,
                                 uint64_t drainMs)
    : loop_(loop), engine_(engine), pool_(pool), drainMs_(drainMs) {
  uv_timer_init(loop_, &drainTimer_);
  drainTimer_.data = this;
}

ComposeActuator::~ComposeActuator() = default;

void ComposeActuator::close(std::function<void()> done) {
  closing_ = true;
  done_ = nullptr;
  onClosed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&drainTimer_), [](uv_handle_t* h) {
    auto* self = static_cast<ComposeActuator*>(h->data);
    if (self->onClosed_) self->onClosed_();
  });
}

void ComposeActuator::finish(bool ok, std::string error) {
  if (closing_ || !done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done(ScalingResult{ok, container_, std::move(error)});
}

void ComposeActuator::scaleUp(const GroupView& group, std::function<void(ScalingResult)> done) {
  done_ = std::move(done);
  container_.clear();
  const GroupMember* tmpl = group.highestRunning();
  if (tmpl == nullptr) return finish(false, "no running container of the group to copy");
  const int number = group.nextNumber();
  container_ = composeName(tmpl->name, number);
  engine_.get("/containers/" + tmpl->id + "/json",
              [this, service = group.service, number](common::http::ClientResponse&& r) {
                if (closing_) return;
                if (!r.error.empty() || r.status != 200) return finish(false, engineError(r));
                rapidjson::Document doc;
                doc.Parse(r.body.c_str(), r.body.size());
                if (doc.HasParseError() || !doc.IsObject()) {
                  return finish(false, "the template's inspect is not JSON");
                }
                std::string error;
                std::string body = composeCreateBody(doc, service, number, error);
                if (body.empty()) return finish(false, error);
                create(body, container_);
              });
}

void ComposeActuator::create(const std::string& body, const std::string& name) {
  engine_.send("POST", "/containers/create?name=" + name, body,
               [this](common::http::ClientResponse&& r) {
                 if (closing_) return;
                 if (!r.error.empty() || r.status != 201) return finish(false, engineError(r));
                 rapidjson::Document doc;
                 doc.Parse(r.body.c_str(), r.body.size());
                 if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("Id") ||
                     !doc["Id"].IsString()) {
                   return finish(false, "create answered without an Id");
                 }
                 id_ = doc["Id"].GetString();
                 engine_.send("POST", "/containers/" + id_ + "/start", "",
                              [this](common::http::ClientResponse&& s) {
                                if (closing_) return;
                                bool ok = s.error.empty() && (s.status == 204 || s.status == 304);
                                finish(ok, ok ? "" : engineError(s));
                              });
               });
}

void ComposeActuator::scaleDown(const GroupView& group, std::function<void(ScalingResult)> done) {
  done_ = std::move(done);
  const GroupMember* victim = group.highestRunning();
  if (victim == nullptr) {
    container_.clear();
    return finish(false, "no running container of the group to stop");
  }
  container_ = victim->name.rfind('/', 0) == 0 ? victim->name.substr(1) : victim->name;
  id_ = victim->id;
  pool_.setState(id_, BackendState::kDraining);  // unknown to the pool (not ready yet): no-op
  drainDeadlineMs_ = uv_now(loop_) + drainMs_;
  uv_timer_start(&drainTimer_, &ComposeActuator::onDrainTick, 0, kDrainTickMs);
}

void ComposeActuator::onDrainTick(uv_timer_t* t) noexcept {
  auto* self = static_cast<ComposeActuator*>(t->data);
  const Backend* b = self->pool_.find(self->id_);
  const bool idle = b == nullptr || b->openConnections == 0;
  if (!idle && uv_now(self->loop_) < self->drainDeadlineMs_) return;
  uv_timer_stop(t);
  if (!idle) {
    spdlog::info("autoscale: {} still has {} connections after {} ms of drain; stopping it",
                 self->container_, b->openConnections, self->drainMs_);
  }
  self->stopAndRemove();
}

void ComposeActuator::stopAndRemove() {
  engine_.send(
      "POST", "/containers/" + id_ + "/stop", "",
      [this](common::http::ClientResponse&& r) {
        if (closing_) return;
        if (!r.error.empty() || (r.status != 204 && r.status != 304)) {
          pool_.setState(id_, BackendState::kReady);  // it still runs: route to it again
          return finish(false, engineError(r));
        }
        engine_.send("DELETE", "/containers/" + id_ + "?v=true", "",
                     [this](common::http::ClientResponse&& d) {
                       if (closing_) return;
                       // Stopped is what counts; a failed remove leaves an exited container.
                       if (!d.error.empty() || (d.status != 204 && d.status != 404)) {
                         spdlog::warn("autoscale: {} stopped but not removed: {}", container_,
                                      engineError(d));
                       }
                       finish(true, "");
                     });
      },
      kStopTimeoutMs);
}

}  // namespace lb

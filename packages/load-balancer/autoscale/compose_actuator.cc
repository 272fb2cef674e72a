// See compose_actuator.h. Every Engine call answers through finish() exactly once per action;
// once close() started, answers are dropped (the EngineClient is closed by the Autoscaler).
#include "load-balancer/autoscale/compose_actuator.h"

#include <spdlog/spdlog.h>

#include <rapidjson/document.h>

#include <charconv>

#include "common/http/url.h"
#include "load-balancer/autoscale/compose_spec.h"
#include "load-balancer/autoscale/container_stats.h"

namespace lb {

namespace {

constexpr uint64_t kDrainTickMs = 100;
constexpr long kStopTimeoutMs = 120000;  // longer than any stop_grace_period we expect

int parseNumber(const std::string& s) {
  int n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

}  // namespace

ComposeActuator::ComposeActuator(uv_loop_t* loop, EngineClient& engine, BackendPool& pool,
                                 uint64_t drainMs, std::function<std::string()> project,
                                 std::string service)
    : loop_(loop),
      engine_(engine),
      pool_(pool),
      drainMs_(drainMs),
      project_(std::move(project)),
      service_(std::move(service)) {
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

void ComposeActuator::list(std::function<void(GroupListing)> done) {
  const std::string project = project_();
  if (project.empty()) {
    return done({ListOutcome::kNoGroup,
                 {},
                 "no compose project to scale (set GROUP_PROJECT, or run the balancer in the "
                 "project)"});
  }
  std::string filters = "{\"label\":[\"" + std::string(kComposeProject) + "=" + project + "\",\"" +
                        kComposeService + "=" + service_ + "\"]}";
  std::string path = "/containers/json?all=true&filters=";
  common::urlEncode(filters, path);
  engine_.get(path, [this, project, done = std::move(done)](common::http::ClientResponse&& r) {
    if (closing_) return;
    rapidjson::Document doc;
    doc.Parse(r.body.c_str(), r.body.size());
    if (!r.error.empty() || r.status != 200 || doc.HasParseError() || !doc.IsArray()) {
      return done({ListOutcome::kFailed, {}, "cannot list the group: " + engineError(r)});
    }
    GroupListing out{ListOutcome::kListed, GroupView{project, service_, {}}, ""};
    for (const auto& c : doc.GetArray()) {
      if (!c.IsObject() || !c.HasMember("Labels") || !c.HasMember("Id") || !c["Id"].IsString())
        continue;
      const auto& labels = c["Labels"];
      if (label(labels, kComposeOneOff) == "True") continue;
      GroupMember m;
      m.id = c["Id"].GetString();
      if (c.HasMember("Names") && c["Names"].IsArray() && !c["Names"].Empty() &&
          c["Names"][0].IsString()) {
        m.name = c["Names"][0].GetString();
      }
      m.number = parseNumber(label(labels, kComposeNumber));
      m.running = c.HasMember("State") && c["State"].IsString() &&
                  std::string_view(c["State"].GetString()) == "running";
      if (m.running) m.statsId = m.id;
      out.group.members.push_back(std::move(m));
    }
    done(std::move(out));
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

// See swarm_actuator.h. Every action answers through finish() exactly once; once close()
// started, answers are dropped (the EngineClient is closed by the Autoscaler).
#include "load-balancer/autoscale/swarm_actuator.h"

#include <spdlog/spdlog.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "common/http/json.h"
#include "common/http/url.h"
#include "load-balancer/docker/swarm_tasks.h"

namespace lb {

namespace {

constexpr const char* kOutOfSequence = "update out of sequence";

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

SwarmActuator::SwarmActuator(uv_loop_t* loop, EngineClient& engine, SwarmActuatorOptions opts)
    : loop_(loop), engine_(engine), opts_(std::move(opts)) {
  uv_timer_init(loop_, &retryTimer_);
  retryTimer_.data = this;
}

SwarmActuator::~SwarmActuator() = default;

void SwarmActuator::close(std::function<void()> done) {
  closing_ = true;
  done_ = nullptr;
  onClosed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&retryTimer_), [](uv_handle_t* h) {
    auto* self = static_cast<SwarmActuator*>(h->data);
    if (self->onClosed_) self->onClosed_();
  });
}

// ---- the group: tasks Swarm wants running ------------------------------------------------------

void SwarmActuator::list(std::function<void(GroupListing)> done) {
  if (!nodeId_.empty()) return listTasks(std::move(done));
  engine_.get("/info", [this, done = std::move(done)](common::http::ClientResponse&& r) mutable {
    if (closing_) return;
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    const rapidjson::Value* sw = d.HasParseError() ? nullptr : member(d, "Swarm");
    if (!r.error.empty() || r.status != 200 || sw == nullptr) {
      return done({ListOutcome::kFailed, {}, "cannot read the engine's /info: " + engineError(r)});
    }
    const rapidjson::Value* control = member(*sw, "ControlAvailable");
    const rapidjson::Value* node = member(*sw, "NodeID");
    if (control == nullptr || !control->IsBool() || !control->GetBool() || node == nullptr ||
        !node->IsString() || node->GetStringLength() == 0) {
      return done({ListOutcome::kNoGroup,
                   {},
                   "this engine is no Swarm manager: the replicas of " + opts_.service +
                       " cannot be changed from here"});
    }
    nodeId_ = node->GetString();
    listTasks(std::move(done));
  });
}

void SwarmActuator::listTasks(std::function<void(GroupListing)> done) {
  std::string filters = R"({"service":[)";
  common::json::appendString(filters, opts_.service);
  filters += R"(],"desired-state":["running"]})";
  std::string path = "/tasks?filters=";
  common::urlEncode(filters, path);
  engine_.get(path, [this, done = std::move(done)](common::http::ClientResponse&& r) {
    if (closing_) return;
    if (r.error.empty() && r.status == 404) {
      return done({ListOutcome::kNoGroup, {}, "no swarm service " + opts_.service + " (yet)"});
    }
    if (!r.error.empty() || r.status != 200) {
      return done({ListOutcome::kFailed, {}, "cannot list the tasks: " + engineError(r)});
    }
    auto tasks = parseTasks(r.body, opts_.service, "");
    if (!tasks.ok()) return done({ListOutcome::kFailed, {}, tasks.error().message});
    GroupListing out{ListOutcome::kListed, GroupView{opts_.service, opts_.service, {}}, ""};
    for (const SwarmTask& t : tasks.value()) {
      // Starting tasks count in the size (Swarm is bringing them up), so a scale-up that is
      // still starting is never taken again; only running ones on this host are measured.
      if (t.phase != TaskPhase::kStarting && t.phase != TaskPhase::kRunning) continue;
      GroupMember m;
      m.id = t.id;
      m.name = t.name;
      m.number = t.slot;
      m.running = true;
      if (t.phase == TaskPhase::kRunning && t.nodeId == nodeId_) m.statsId = t.containerId;
      out.group.members.push_back(std::move(m));
    }
    done(std::move(out));
  });
}

// ---- scaling: the service's replicas -----------------------------------------------------------

void SwarmActuator::scaleUp(const GroupView& group, std::function<void(ScalingResult)> done) {
  setReplicas(group.running() + 1, std::move(done));
}

void SwarmActuator::scaleDown(const GroupView& group, std::function<void(ScalingResult)> done) {
  // Swarm picks the task; the SwarmWatcher drains it once its DesiredState is "shutdown".
  setReplicas(std::max(group.running() - 1, 0), std::move(done));
}

void SwarmActuator::setReplicas(int target, std::function<void(ScalingResult)> done) {
  done_ = std::move(done);
  target_ = target;
  attempts_ = 0;
  waitMs_ = opts_.retryMs;
  change_ = opts_.service + " replicas -> " + std::to_string(target);
  readAndUpdate();
}

void SwarmActuator::finish(bool ok, std::string error) {
  if (closing_ || !done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done(ScalingResult{ok, change_, std::move(error)});
}

void SwarmActuator::onRetry(uv_timer_t* t) noexcept {
  static_cast<SwarmActuator*>(t->data)->readAndUpdate();
}

void SwarmActuator::readAndUpdate() {
  ++attempts_;
  engine_.get("/services/" + opts_.service, [this](common::http::ClientResponse&& r) {
    if (closing_) return;
    if (!r.error.empty() || r.status != 200) return finish(false, engineError(r));
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    const rapidjson::Value* id = d.HasParseError() ? nullptr : member(d, "ID");
    const rapidjson::Value* version = member(d, "Version");
    const rapidjson::Value* index = version ? member(*version, "Index") : nullptr;
    const rapidjson::Value* specIn = member(d, "Spec");
    if (id == nullptr || !id->IsString() || index == nullptr || !index->IsUint64() ||
        specIn == nullptr || !specIn->IsObject()) {
      return finish(false, "the service's inspect lacks ID, Version.Index or Spec");
    }
    rapidjson::Value& spec = d["Spec"];
    rapidjson::Value* mode = spec.HasMember("Mode") ? &spec["Mode"] : nullptr;
    const rapidjson::Value* replicated = mode ? member(*mode, "Replicated") : nullptr;
    if (replicated == nullptr || !replicated->IsObject()) {
      return finish(false, "service " + opts_.service +
                               " is not replicated (global?): "
                               "only a replicated service's size can change");
    }
    rapidjson::Value& replicas = (*mode)["Replicated"];
    const rapidjson::Value* before = member(replicas, "Replicas");
    change_ = opts_.service + " replicas " +
              (before != nullptr && before->IsUint64() ? std::to_string(before->GetUint64())
                                                       : std::string("?")) +
              " -> " + std::to_string(target_);
    if (replicas.HasMember("Replicas")) {
      replicas["Replicas"].SetUint64(static_cast<uint64_t>(target_));
    } else {
      replicas.AddMember("Replicas", rapidjson::Value(static_cast<uint64_t>(target_)),
                         d.GetAllocator());
    }
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    spec.Accept(w);
    const std::string path = "/services/" + std::string(id->GetString(), id->GetStringLength()) +
                             "/update?version=" + std::to_string(index->GetUint64());
    engine_.send(
        "POST", path, std::string(out.GetString(), out.GetSize()),
        [this](common::http::ClientResponse&& u) {
          if (closing_) return;
          if (u.error.empty() && u.status == 200) {
            rapidjson::Document a;
            a.Parse(u.body.c_str(), u.body.size());
            const rapidjson::Value* warnings = a.HasParseError() ? nullptr : member(a, "Warnings");
            if (warnings != nullptr && warnings->IsArray()) {
              for (const auto& x : warnings->GetArray()) {
                if (x.IsString()) spdlog::warn("autoscale: {}: {}", change_, x.GetString());
              }
            }
            return finish(true, "");
          }
          const bool conflict = u.error.empty() && u.body.find(kOutOfSequence) != std::string::npos;
          if (!conflict) return finish(false, engineError(u));
          if (attempts_ >= opts_.maxAttempts) {
            return finish(false, "still out of sequence after " + std::to_string(attempts_) +
                                     " attempts (the service keeps changing)");
          }
          spdlog::info("autoscale: {}: the service changed meanwhile; reading it again in {} ms",
                       change_, waitMs_);
          uv_timer_start(&retryTimer_, &SwarmActuator::onRetry, waitMs_, 0);
          waitMs_ = std::min(waitMs_ * 2, opts_.maxRetryMs);
        });
  });
}

}  // namespace lb

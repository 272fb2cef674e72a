// See autoscaler.h.
#include "load-balancer/autoscale/autoscaler.h"

#include <spdlog/spdlog.h>

#include <rapidjson/document.h>

#include <optional>

#include "load-balancer/autoscale/container_stats.h"

namespace lb {

namespace {

constexpr size_t kRecordsKept = 20;
constexpr long kStatsTimeoutMs = 10000;  // stream=false waits for a second sample (~1-2 s)

}  // namespace

const char* toString(AutoscalerState s) {
  switch (s) {
    case AutoscalerState::kStarting:
      return "starting";
    case AutoscalerState::kNoGroup:
      return "no-group";
    case AutoscalerState::kWatching:
      return "watching";
    case AutoscalerState::kScalingUp:
      return "scaling-up";
    case AutoscalerState::kScalingDown:
      return "scaling-down";
    case AutoscalerState::kClosed:
      break;
  }
  return "closed";
}

Autoscaler::Autoscaler(uv_loop_t* loop, BackendPool& pool, const std::string& apiLocation,
                       const std::string& service, AutoscaleConfig config, const MakeActuator& make)
    : loop_(loop),
      pool_(pool),
      service_(service),
      config_(config),
      policy_(config.policy()),
      engine_(loop, apiLocation),
      actuator_(make(engine_)) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

Autoscaler::~Autoscaler() = default;

void Autoscaler::start() {
  spdlog::info(
      "autoscale: {} between {} and {} nodes; up above {} % CPU{}, down below {} %, over {} s; "
      "cool-downs {} s up, {} s down",
      service_, config_.min, config_.max, config_.upCpuPercent,
      config_.upConnections > 0 ? fmt::format(" or {} connections", config_.upConnections) : "",
      config_.downCpuPercent, config_.windowMs / 1000, config_.upCooldownMs / 1000,
      config_.downCooldownMs / 1000);
  uv_timer_start(&timer_, &Autoscaler::onTick, config_.intervalMs, config_.intervalMs);
}

void Autoscaler::onTick(uv_timer_t* t) noexcept {
  static_cast<Autoscaler*>(t->data)->tick();
}

void Autoscaler::tick() {
  if (collecting_ || state_ == AutoscalerState::kClosed) return;
  collecting_ = true;
  const uint64_t gen = ++generation_;
  auto list = [this, gen] {
    actuator_->list([this, gen](GroupListing&& l) {
      if (gen != generation_ || state_ == AutoscalerState::kClosed) return;
      listed(std::move(l));
    });
  };
  if (!engine_.version().empty()) return list();
  engine_.ping([this, gen, list](std::string, std::string error) {
    if (gen != generation_ || state_ == AutoscalerState::kClosed) return;
    if (!error.empty()) {
      spdlog::warn("autoscale: Docker unreachable: {}", error);
      collecting_ = false;
      return;
    }
    list();
  });
}

void Autoscaler::listed(GroupListing&& l) {
  switch (l.outcome) {
    case ListOutcome::kNoGroup:
      if (state_ != AutoscalerState::kNoGroup) spdlog::warn("autoscale: {}; waiting", l.error);
      state_ = AutoscalerState::kNoGroup;
      collecting_ = false;
      return;
    case ListOutcome::kFailed:
      spdlog::warn("autoscale: {}", l.error);
      collecting_ = false;
      return;
    case ListOutcome::kListed:
      break;
  }
  collect(std::move(l.group));
}

void Autoscaler::collect(GroupView group) {
  struct Pending {
    GroupView group;
    int waiting = 0;
    int measured = 0;
    double cores = 0;
  };
  auto p = std::make_shared<Pending>();
  p->group = std::move(group);
  for (const auto& m : p->group.members) p->waiting += m.running && !m.statsId.empty() ? 1 : 0;
  if (p->waiting == 0) return sampled(p->group, 0, 0);
  const uint64_t gen = generation_;
  for (const auto& m : p->group.members) {
    if (!m.running || m.statsId.empty()) continue;
    engine_.get(
        "/containers/" + m.statsId + "/stats?stream=false",
        [this, gen, p](common::http::ClientResponse&& r) {
          if (gen != generation_ || state_ == AutoscalerState::kClosed) return;
          if (r.error.empty() && r.status == 200) {
            rapidjson::Document doc;
            doc.Parse(r.body.c_str(), r.body.size());
            if (auto cores = doc.HasParseError() ? std::nullopt : cpuCores(doc)) {
              p->cores += *cores;
              ++p->measured;
            }
          }
          if (--p->waiting == 0) {
            sampled(p->group, p->measured > 0 ? p->cores / p->measured : 0, p->measured);
          }
        },
        kStatsTimeoutMs);
  }
}

void Autoscaler::sampled(const GroupView& group, double cpu, int measured) {
  collecting_ = false;
  const uint64_t now = uv_now(loop_);
  running_ = group.running();
  size_t routable = pool_.candidates().size();
  uint64_t open = 0;
  for (const Backend* b : pool_.candidates()) open += b->openConnections;
  lastConnections_ = routable > 0 ? static_cast<double>(open) / static_cast<double>(routable) : 0;
  // No CPU reachable for a running group (Swarm tasks on other hosts, or no stats yet): the
  // sample carries the balancer's own view only, and the policy decides on that.
  std::optional<double> sampleCpu;
  if (measured > 0 || running_ == 0) sampleCpu = lastCpu_ = cpu;
  policy_.observe({now, sampleCpu, lastConnections_});
  ++samples_;
  if (state_ == AutoscalerState::kStarting || state_ == AutoscalerState::kNoGroup) {
    state_ = AutoscalerState::kWatching;
  }
  ScalingDecision d = policy_.decide(now, running_);
  if (d.action != ScalingAction::kNone) act(std::move(d), group);
}

void Autoscaler::act(ScalingDecision d, const GroupView& group) {
  const uint64_t now = uv_now(loop_);
  const bool up = d.action == ScalingAction::kUp;
  spdlog::info("autoscale: scale {} from {} running: {}", up ? "up" : "down", running_, d.reason);
  policy_.started(now);
  state_ = up ? AutoscalerState::kScalingUp : AutoscalerState::kScalingDown;
  records_.push_back(ScalingRecord{now, d.action, d.reason, "", "running"});
  if (records_.size() > kRecordsKept) records_.pop_front();
  auto done = [this, action = d.action](ScalingResult res) {
    if (state_ == AutoscalerState::kClosed) return;
    const uint64_t at = uv_now(loop_);
    ScalingRecord& rec = records_.back();
    rec.container = res.container;
    if (res.ok) {
      policy_.succeeded(at, action);
      (action == ScalingAction::kUp ? scaleUps_ : scaleDowns_)++;
      rec.result = "ok";
      spdlog::info("autoscale: scaled {}: {}", toString(action), res.container);
    } else {
      policy_.failed(at);
      ++failures_;
      rec.result = "failed: " + res.error;
      spdlog::error("autoscale: scale {} failed ({}): {}; retry in {} ms", toString(action),
                    res.container, res.error, policy_.backoffUntilMs() - at);
    }
    state_ = AutoscalerState::kWatching;
  };
  if (up) {
    actuator_->scaleUp(group, std::move(done));
  } else {
    actuator_->scaleDown(group, std::move(done));
  }
}

void Autoscaler::close(std::function<void()> done) {
  state_ = AutoscalerState::kClosed;
  ++generation_;
  onClosed_ = std::move(done);
  partsOpen_ = 3;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_),
           [](uv_handle_t* h) { static_cast<Autoscaler*>(h->data)->partClosed(); });
  actuator_->close([this] { partClosed(); });
  engine_.close([this] { partClosed(); });
}

void Autoscaler::partClosed() {
  if (--partsOpen_ > 0 || !onClosed_) return;
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();
}

}  // namespace lb

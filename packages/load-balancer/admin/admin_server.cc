// See admin_server.h.
#include "load-balancer/admin/admin_server.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "common/http/json.h"
#include "load-balancer/docker/watcher.h"

namespace lb {

namespace {

common::http::ServerOptions adminOptions() {
  common::http::ServerOptions o;
  o.maxConnections = 64;
  return o;
}

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, BackendPool& pool, Listener& listener,
                         const DockerWatcher* watcher)
    : loop_(loop),
      pool_(pool),
      listener_(listener),
      watcher_(watcher),
      server_(loop, adminOptions()) {
  server_.route("/status", [this](const common::http::Request&, common::http::Responder r) {
    r.respond(200, statusJson());
  });
  server_.route("/metrics", [this](const common::http::Request&, common::http::Responder r) {
    r.respond(200, metricsText(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

int AdminServer::listen(const std::string& host, int port) {
  return server_.listen(host, port);
}

std::string AdminServer::statusJson() const {
  using common::json::appendString;
  using common::json::appendUint;
  const uint64_t now = uv_now(loop_);
  std::string out = "{\"backends\":[";
  bool first = true;
  for (const auto& b : pool_.all()) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    appendString(out, b->id);
    out += ",\"name\":";
    appendString(out, b->name);
    out += ",\"address\":";
    appendString(out, b->address);
    out += ",\"state\":";
    appendString(out, toString(b->state));
    out += ",\"usable\":";
    out += b->usable(now) ? "true" : "false";
    out += ",\"checkUp\":";
    out += b->checkUp ? "true" : "false";
    out += ",\"passiveDownMs\":";
    appendUint(out, b->downUntilMs > now ? b->downUntilMs - now : 0);
    out += ",\"openConnections\":";
    appendUint(out, b->openConnections);
    out += ",\"totalConnections\":";
    appendUint(out, b->totalConnections);
    out += ",\"failures\":";
    appendUint(out, b->failures);
    out += '}';
  }
  const ListenerStats& s = listener_.stats();
  out += "],\"listener\":{\"port\":";
  appendUint(out, static_cast<uint64_t>(listener_.port()));
  out += ",\"open\":";
  appendUint(out, s.open);
  out += ",\"accepted\":";
  appendUint(out, s.accepted);
  out += ",\"noBackend\":";
  appendUint(out, s.noBackend);
  out += ",\"connectRetries\":";
  appendUint(out, s.connectRetries);
  out += ",\"idleTimeouts\":";
  appendUint(out, s.idleTimeouts);
  out += ",\"bytesIn\":";
  appendUint(out, s.bytesIn);
  out += ",\"bytesOut\":";
  appendUint(out, s.bytesOut);
  out += ",\"acceptPaused\":";
  out += s.acceptPaused ? "true" : "false";
  out += "}";
  if (watcher_ != nullptr) {
    const WatcherStatus& w = watcher_->status();
    out += ",\"docker\":{\"state\":";
    appendString(out, w.state);
    out += ",\"apiVersion\":";
    appendString(out, w.apiVersion);
    out += ",\"project\":";
    appendString(out, w.project);
    out += ",\"lastError\":";
    appendString(out, w.lastError);
    out += ",\"events\":";
    appendUint(out, w.events);
    out += ",\"duplicates\":";
    appendUint(out, w.duplicates);
    out += ",\"badEvents\":";
    appendUint(out, w.badEvents);
    out += ",\"reconnects\":";
    appendUint(out, w.reconnects);
    out += ",\"syncs\":";
    appendUint(out, w.syncs);
    out += ",\"inspects\":";
    appendUint(out, w.inspects);
    out += ",\"containers\":";
    appendUint(out, w.containers);
    out += ",\"lastEvent\":";
    if (w.lastEventAction.empty()) {
      out += "null";
    } else {
      out += "{\"action\":";
      appendString(out, w.lastEventAction);
      out += ",\"id\":";
      appendString(out, w.lastEventId);
      out += ",\"name\":";
      appendString(out, w.lastEventName);
      out += ",\"timeNano\":";
      common::json::appendInt(out, w.lastEventTimeNano);
      out += '}';
    }
    out += '}';
  }
  out += '}';
  return out;
}

std::string AdminServer::metricsText() const {
  using prometheus::ClientMetric;
  using prometheus::MetricFamily;
  using prometheus::MetricType;
  std::vector<MetricFamily> families;
  families.reserve(32);  // family() hands out references: no reallocation allowed
  auto family = [&](const char* name, const char* help, MetricType type) -> MetricFamily& {
    families.push_back(MetricFamily{name, help, type, {}});
    return families.back();
  };
  auto add = [](MetricFamily& f, double v, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    f.metric.push_back(std::move(m));
  };
  const ListenerStats& s = listener_.stats();
  add(family("meshkv_lb_connections_open", "Client connections open", MetricType::Gauge),
      static_cast<double>(s.open));
  add(family("meshkv_lb_connections_accepted_total", "Client connections accepted",
             MetricType::Counter),
      static_cast<double>(s.accepted));
  add(family("meshkv_lb_no_backend_total", "Clients closed because no backend answered",
             MetricType::Counter),
      static_cast<double>(s.noBackend));
  add(family("meshkv_lb_connect_retries_total", "Connects moved to another backend",
             MetricType::Counter),
      static_cast<double>(s.connectRetries));
  add(family("meshkv_lb_idle_timeouts_total", "Connections closed for idleness",
             MetricType::Counter),
      static_cast<double>(s.idleTimeouts));
  MetricFamily& bytes =
      family("meshkv_lb_bytes_total", "Bytes relayed, by direction", MetricType::Counter);
  add(bytes, static_cast<double>(s.bytesIn), {{"direction", "in"}});
  add(bytes, static_cast<double>(s.bytesOut), {{"direction", "out"}});

  const uint64_t now = uv_now(loop_);
  MetricFamily& up =
      family("meshkv_lb_backend_up", "1 when the backend gets new connections", MetricType::Gauge);
  MetricFamily& open = family("meshkv_lb_backend_connections_open",
                              "Connections open to the backend", MetricType::Gauge);
  MetricFamily& total = family("meshkv_lb_backend_connections_total",
                               "Connections made to the backend", MetricType::Counter);
  MetricFamily& fails = family("meshkv_lb_backend_connect_failures_total",
                               "Failed connects to the backend", MetricType::Counter);
  for (const auto& b : pool_.all()) {
    std::vector<ClientMetric::Label> l{
        {"backend", b->name}, {"address", b->address}, {"state", std::string(toString(b->state))}};
    add(up, b->usable(now) ? 1 : 0, l);
    add(open, static_cast<double>(b->openConnections), l);
    add(total, static_cast<double>(b->totalConnections), l);
    add(fails, static_cast<double>(b->failures), l);
  }
  if (watcher_ != nullptr) {
    const WatcherStatus& w = watcher_->status();
    add(family("meshkv_lb_docker_events_total", "Docker events applied", MetricType::Counter),
        static_cast<double>(w.events));
    add(family("meshkv_lb_docker_reconnects_total", "Event stream reconnects", MetricType::Counter),
        static_cast<double>(w.reconnects));
    add(family("meshkv_lb_docker_watching", "1 while the event stream is up", MetricType::Gauge),
        w.state == "watching" ? 1 : 0);
  }
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, families);
  return os.str();
}

}  // namespace lb

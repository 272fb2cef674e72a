// See admin_server.h.
#include "load-balancer/admin/admin_server.h"

#include "common/http/json.h"
#include "common/metrics/metrics_writer.h"
#include "load-balancer/admin/status_page_html.h"
#include "load-balancer/autoscale/autoscaler.h"
#include "load-balancer/docker/watcher.h"

namespace lb {

namespace {

using Type = common::metrics::MetricsWriter::Type;

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
      server_(loop, adminOptions()),
      nodeStatus_(loop, pool),
      history_(loop, pool) {
  server_.route("/", [](const common::http::Request&, common::http::Responder r) {
    r.respond(200,
              std::string_view(reinterpret_cast<const char*>(kStatusPageHtml), kStatusPageHtmlSize),
              "text/html; charset=utf-8", {{"Cache-Control", "no-cache"}});
  });
  server_.route("/node-status",
                [this](const common::http::Request& req, common::http::Responder r) {
                  nodeStatus_.handle(req, std::move(r));
                });
  server_.route("/status", [this](const common::http::Request&, common::http::Responder r) {
    r.respond(200, statusJson());
  });
  server_.route("/metrics", [this](const common::http::Request&, common::http::Responder r) {
    r.respond(200, metricsText(), common::metrics::MetricsWriter::kContentType);
  });
}

void AdminServer::close(std::function<void()> done) {
  server_.close([this, done = std::move(done)]() mutable {
    nodeStatus_.close(
        [this, done = std::move(done)]() mutable { history_.close(std::move(done)); });
  });
}

int AdminServer::listen(const std::string& host, int port) {
  int rc = server_.listen(host, port);
  if (rc == 0) history_.start();
  return rc;
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
    out += ",\"bytesIn\":";
    appendUint(out, b->bytesIn);
    out += ",\"bytesOut\":";
    appendUint(out, b->bytesOut);
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
  if (autoscaler_ != nullptr) autoscaler_->appendStatus(out);
  history_.appendJson(out);
  out += '}';
  return out;
}

std::string AdminServer::metricsText() const {
  common::metrics::MetricsWriter w;
  const ListenerStats& s = listener_.stats();
  w.gauge("meshkv_lb_connections_open", "Client connections open").sample(s.open);
  w.counter("meshkv_lb_connections_accepted_total", "Client connections accepted")
      .sample(s.accepted);
  w.counter("meshkv_lb_no_backend_total", "Clients closed because no backend answered")
      .sample(s.noBackend);
  w.counter("meshkv_lb_connect_retries_total", "Connects moved to another backend")
      .sample(s.connectRetries);
  w.counter("meshkv_lb_idle_timeouts_total", "Connections closed for idleness")
      .sample(s.idleTimeouts);
  w.counter("meshkv_lb_bytes_total", "Bytes relayed, by direction")
      .sample(s.bytesIn, {{"direction", "in"}})
      .sample(s.bytesOut, {{"direction", "out"}});

  const uint64_t now = uv_now(loop_);
  auto perBackend = [&](const char* name, const char* help, bool counter, auto value) {
    w.family(name, help, counter ? Type::kCounter : Type::kGauge);
    for (const auto& b : pool_.all()) {
      w.sample(static_cast<double>(value(*b)), {{"backend", b->name},
                                                {"address", b->address},
                                                {"state", std::string(toString(b->state))}});
    }
  };
  perBackend("meshkv_lb_backend_up", "1 when the backend gets new connections", false,
             [now](const Backend& b) { return b.usable(now) ? 1 : 0; });
  perBackend("meshkv_lb_backend_connections_open", "Connections open to the backend", false,
             [](const Backend& b) { return b.openConnections; });
  perBackend("meshkv_lb_backend_connections_total", "Connections made to the backend", true,
             [](const Backend& b) { return b.totalConnections; });
  perBackend("meshkv_lb_backend_connect_failures_total", "Failed connects to the backend", true,
             [](const Backend& b) { return b.failures; });
  perBackend("meshkv_lb_backend_bytes_in_total", "Bytes relayed from clients to the backend", true,
             [](const Backend& b) { return b.bytesIn; });
  perBackend("meshkv_lb_backend_bytes_out_total", "Bytes relayed from the backend to clients", true,
             [](const Backend& b) { return b.bytesOut; });
  if (watcher_ != nullptr) {
    const WatcherStatus& ws = watcher_->status();
    w.counter("meshkv_lb_docker_events_total", "Docker events applied").sample(ws.events);
    w.counter("meshkv_lb_docker_reconnects_total", "Event stream reconnects").sample(ws.reconnects);
    w.gauge("meshkv_lb_docker_watching", "1 while the event stream is up")
        .sample(ws.state == "watching" ? 1 : 0);
  }
  if (autoscaler_ != nullptr) autoscaler_->appendMetrics(w);
  return w.text();
}

}  // namespace lb

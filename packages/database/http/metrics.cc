// See metrics.h.
#include "database/http/metrics.h"

#include <algorithm>

namespace db {

namespace {

using Type = common::metrics::MetricsWriter::Type;

// Every route a node serves (public, then the mesh's), and "other" for anything else. "/kv" is
// the whole REST interface (/kv and every path under it: keys must not become labels).
constexpr std::array<std::string_view, 28> kRouteNames = {"/set",
                                                          "/get",
                                                          "/rm",
                                                          "/is",
                                                          "/clear",
                                                          "/getKeys",
                                                          "/getValues",
                                                          "/getAll",
                                                          "/healthcheck",
                                                          "/status",
                                                          "/settings",
                                                          "/collections",
                                                          "/watch",
                                                          "/ttl",
                                                          "/persist",
                                                          "/kv",
                                                          "/metrics",
                                                          "/ping",
                                                          "/_mesh/replicate",
                                                          "/_mesh/ping",
                                                          "/_mesh/join",
                                                          "/_mesh/ping-req",
                                                          "/_mesh/leave",
                                                          "/_mesh/snapshot",
                                                          "/_mesh/digest",
                                                          "/_mesh/repair",
                                                          "/_mesh/reconcile",
                                                          "other"};

constexpr std::string_view kRest = "/kv";

size_t routeIndex(std::string_view path) {
  if (path.substr(0, kRest.size()) == kRest &&
      (path.size() == kRest.size() || path[kRest.size()] == '/')) {
    path = kRest;
  }
  auto it = std::find(kRouteNames.begin(), kRouteNames.end() - 1, path);
  return static_cast<size_t>(it - kRouteNames.begin());  // the last ("other") when not found
}

}  // namespace

NodeMetrics::NodeMetrics(common::http::Server& server, const Keyspace& keyspace,
                         const Cluster& cluster)
    : server_(server), keyspace_(keyspace), cluster_(cluster), startedMs_(uv_now(server.loop())) {
  static_assert(kRouteNames.size() == kRoutes);
}

std::string_view NodeMetrics::routeOf(std::string_view path) {
  return kRouteNames[routeIndex(path)];
}

void NodeMetrics::registerRoute() {
  server_.addObserver(this);
  server_.route("/metrics", [this](const common::http::Request&, common::http::Responder r) {
    r.respond(200, text(), common::metrics::MetricsWriter::kContentType);
  });
}

void NodeMetrics::onRequestStart(const common::http::Request& req) {
  if (inFlight_.size() >= kMaxInFlight) inFlight_.erase(inFlight_.begin());
  inFlight_[req.id] = Pending{static_cast<uint8_t>(routeIndex(req.path)), uv_hrtime()};
  requestBytes_ += req.body.size();
}

void NodeMetrics::onRequestComplete(uint64_t requestId, int status) {
  auto it = inFlight_.find(requestId);
  if (it == inFlight_.end()) return;
  RouteStats& r = routes_[it->second.route];
  ++r.byStatus[status];
  r.latency.observe(static_cast<double>(uv_hrtime() - it->second.startNs) / 1e9);
  inFlight_.erase(it);
}

void NodeMetrics::onRequestEnd(uint64_t, int, size_t bytes) {
  responseBytes_ += bytes;
}

std::string NodeMetrics::text() const {
  common::metrics::MetricsWriter w;
  w.counter("meshkv_node_requests_total", "HTTP requests answered, by route and status");
  for (size_t i = 0; i < kRoutes; ++i) {
    for (const auto& [status, n] : routes_[i].byStatus) {
      w.sample(static_cast<double>(n),
               {{"route", std::string(kRouteNames[i])}, {"status", std::to_string(status)}});
    }
  }
  w.family("meshkv_node_request_duration_seconds",
           "Time from a request's head to its answer, by route", Type::kHistogram);
  for (size_t i = 0; i < kRoutes; ++i) {
    if (routes_[i].latency.count() > 0) {
      w.sample(routes_[i].latency, {{"route", std::string(kRouteNames[i])}});
    }
  }
  w.counter("meshkv_node_request_bytes_total", "Request body bytes received")
      .sample(static_cast<double>(requestBytes_));
  w.counter("meshkv_node_response_bytes_total", "Response bytes queued to clients")
      .sample(static_cast<double>(responseBytes_));
  w.gauge("meshkv_node_connections_open", "Client connections open")
      .sample(static_cast<double>(server_.stats().openConnections));
  w.gauge("meshkv_node_records", "Live records in the store")
      .sample(static_cast<double>(keyspace_.size()));
  w.gauge("meshkv_node_store_bytes", "Memory used by the store's keys and values")
      .sample(static_cast<double>(keyspace_.memoryUsed()));
  w.gauge("meshkv_node_uptime_seconds", "Seconds since the node started")
      .sample(static_cast<double>(uv_now(server_.loop()) - startedMs_) / 1e3);
  cluster_.appendMetrics(w);
  return w.text();
}

}  // namespace db

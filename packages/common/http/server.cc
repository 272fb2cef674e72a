// See server.h. Accept pausing relies on a libuv behaviour: when the connection callback does
// not call uv_accept, libuv keeps the accepted fd and stops polling the listener until
// uv_accept is called, so at MAX_CONNECTIONS new clients wait in the kernel's backlog instead
// of being refused, and the next close lets exactly one in. Timeouts are enforced by one sweep
// timer over all connections (no timer per connection: a read costs no timer update).
#include "common/http/server.h"

#include <algorithm>
#include <csignal>

#include <spdlog/spdlog.h>

#include "common/http/connection.h"
#include "common/http/json.h"

namespace common::http {

Server::Server(uv_loop_t* loop, ServerOptions opts)
    : loop_(loop),
      opts_(opts),
      limits_{opts.maxUrlBytes, opts.maxHeaderBytes, opts.maxBodyBytes},
      bodyBudget_(opts.maxPendingBodyBytes) {
  listener_.data = this;
  sweep_.data = this;
  forceClose_.data = this;
  fallback_ = [](const Request&, Responder r) { r.respond(404, json::errorBody("UNKNOWN_ROUTE")); };
}

Server::~Server() {
  if (handlesOpen_ != 0 || !connections_.empty()) {
    spdlog::error("http server destroyed with {} handles and {} connections open", handlesOpen_,
                  connections_.size());
  }
}

void Server::route(std::string path, Handler handler, RouteOptions options) {
  routes_[std::move(path)] = Route{std::move(handler), std::move(options)};
}
void Server::fallback(Handler handler) {
  fallback_ = std::move(handler);
}
void Server::addObserver(ServerObserver* observer) {
  observers_.push_back(observer);
}

void Server::routeTree(std::string prefix, Handler handler, RouteOptions options) {
  trees_.emplace_back(std::move(prefix), Route{std::move(handler), std::move(options)});
}

const Server::Route* Server::findRoute(std::string_view path) const {
  auto it = routes_.find(absl::string_view(path.data(), path.size()));
  if (it != routes_.end()) return &it->second;
  for (const auto& [prefix, route] : trees_) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    if (path.size() == prefix.size() || path[prefix.size()] == '/') return &route;
  }
  return nullptr;
}

const Handler& Server::handlerFor(std::string_view path) const {
  const Route* route = findRoute(path);
  return route == nullptr ? fallback_ : route->handler;
}

HeadDecision Server::admit(const Request& head) const {
  const Route* route = findRoute(head.path);
  if (route == nullptr) return {};  // the fallback: the default limit
  const RouteOptions& o = route->options;
  HeadDecision d;
  d.maxBodyBytes = o.maxBodyBytes;
  if (o.admit) {
    Refusal r = o.admit(head);
    d.refuseStatus = r.status;
    d.refuseCode = r.code;
    d.refuseAllow = r.allow;
  }
  return d;
}

Connection* Server::find(uint64_t id) const {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

int Server::listen(const std::string& host, int port) {
  std::signal(SIGPIPE, SIG_IGN);  // a peer closing mid-write must never kill the process
  int rc = uv_tcp_init(loop_, &listener_);
  if (rc != 0) return rc;
  handlesOpen_++;
  listening_ = true;
  sockaddr_storage addr{};
  if (host.find(':') != std::string::npos) {
    rc = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr));
  } else {
    rc = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  }
  if (rc == 0) rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, &Server::onConnection);
  }
  if (rc != 0) return rc;
  int len = sizeof addr;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  uv_timer_init(loop_, &sweep_);
  uv_timer_init(loop_, &forceClose_);
  handlesOpen_ += 2;
  timersOpen_ = true;
  uint64_t interval = std::min(opts_.headerTimeoutMs, opts_.keepAliveTimeoutMs) / 4;
  interval = std::clamp<uint64_t>(interval, 10, 1000);
  uv_timer_start(&sweep_, &Server::onSweep, interval, interval);
  for (ServerObserver* o : observers_) o->onConnect(host, port_);
  return 0;
}

void Server::onConnection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0) {
    // EMFILE/ENFILE: libuv already used its reserve fd to accept and drop the connection.
    spdlog::warn("accept failed: {}", uv_strerror(status));
    return;
  }
  self->acceptOne();
}

void Server::acceptOne() {
  if (!listening_) return;
  if (connections_.size() >= opts_.maxConnections) {
    if (!acceptPaused_) spdlog::warn("at {} connections: accepting paused", connections_.size());
    acceptPaused_ = true;  // libuv holds the fd and stops polling until uv_accept
    return;
  }
  uint64_t id = nextConnectionId_++;
  auto conn = std::make_unique<Connection>(*this, id);
  Connection* raw = conn.get();
  connections_.emplace(id, std::move(conn));
  stats_.openConnections = connections_.size();
  stats_.totalConnections++;
  int rc = raw->accept(reinterpret_cast<uv_stream_t*>(&listener_));
  if (rc != 0) {
    spdlog::debug("accept: {}", uv_strerror(rc));
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&listener_)) || rc != UV_EINVAL) raw->close();
    return;
  }
  if (closing_) raw->drain();  // accepted while draining: one answer, with Connection: close
}

void Server::connectionClosed(Connection* c) {
  connections_.erase(c->id());
  stats_.openConnections = connections_.size();
  if (closing_) {
    maybeFinishClose();
    return;
  }
  if (acceptPaused_ && connections_.size() < opts_.maxConnections) {
    acceptPaused_ = false;
    spdlog::info("below {} connections: accepting again", opts_.maxConnections);
    acceptOne();
  }
}

void Server::onSweep(uv_timer_t* t) noexcept {
  auto* self = static_cast<Server*>(t->data);
  uint64_t now = uv_now(self->loop_);
  for (auto& [id, conn] : self->connections_) conn->checkTimeouts(now);
  if (self->closing_) self->maybeFinishClose();
}

void Server::close(std::function<void()> done) {
  onClosed_ = std::move(done);
  if (closing_) {
    maybeFinishClose();
    return;
  }
  closing_ = true;
  drainDeadlineMs_ = uv_now(loop_) + opts_.drainTimeoutMs;
  if (timersOpen_) {
    uv_timer_start(&forceClose_, &Server::onForceClose, opts_.closeTimeoutMs, 0);
    // The sweep now also closes connections idle for drainIdleMs, and the listener at the
    // drain deadline: it runs often enough for both.
    uint64_t every = std::clamp<uint64_t>(opts_.drainIdleMs / 4, 5, 100);
    uv_timer_start(&sweep_, &Server::onSweep, every, every);
  }
  for (auto& [id, conn] : connections_) conn->drain();
  maybeFinishClose();
}

void Server::stopListening() {
  if (!listening_) return;
  listening_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), &Server::onHandleClosed);
  for (ServerObserver* o : observers_) o->onDisconnect("closed");
}

void Server::onForceClose(uv_timer_t* t) noexcept {
  auto* self = static_cast<Server*>(t->data);
  self->stopListening();
  spdlog::warn("closing {} connections still open after {} ms", self->connections_.size(),
               self->opts_.closeTimeoutMs);
  for (auto& [id, conn] : self->connections_) conn->close();
}

void Server::maybeFinishClose() {
  if (!closing_) return;
  // The listener stays open while connections drain (a proxy may still be sending us the
  // client it picked a moment ago); with none left, or at the deadline, it closes.
  if (connections_.empty() || !timersOpen_ || uv_now(loop_) >= drainDeadlineMs_) stopListening();
  if (listening_ || !connections_.empty()) return;
  if (timersOpen_) {
    timersOpen_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), &Server::onHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&forceClose_), &Server::onHandleClosed);
  }
  if (handlesOpen_ == 0 && onClosed_) {
    auto done = std::move(onClosed_);
    onClosed_ = nullptr;
    done();
  }
}

void Server::deferFlush(Connection* c) {
  deferred_.push_back(c->id());
}

void Server::flushHeldAnswers() {
  if (deferred_.empty()) return;
  std::vector<uint64_t> ids;
  ids.swap(deferred_);
  for (uint64_t id : ids) {
    if (Connection* c = find(id)) c->flushDeferred();  // a closed one is gone: skipped
  }
}

void Server::onHandleClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<Server*>(h->data);
  self->handlesOpen_--;
  if (self->handlesOpen_ == 0 && self->connections_.empty() && self->onClosed_) {
    auto done = std::move(self->onClosed_);
    self->onClosed_ = nullptr;
    done();
  }
}

void Responder::respond(int status, std::string_view body, std::string_view contentType,
                        std::vector<std::pair<std::string, std::string>> extraHeaders) {
  if (server_ == nullptr) return;
  if (Connection* c = server_->find(connectionId_)) {
    c->respond(slot_, status, body, contentType, std::move(extraHeaders));
  }
}

void Responder::stream(int status, std::unique_ptr<BodyProducer> producer,
                       std::string_view contentType,
                       std::vector<std::pair<std::string, std::string>> extraHeaders) {
  if (server_ == nullptr) return;
  if (Connection* c = server_->find(connectionId_)) {
    c->stream(slot_, status, std::move(producer), contentType, std::move(extraHeaders));
  }
}

void Responder::resume() const {
  if (server_ == nullptr) return;
  if (Connection* c = server_->find(connectionId_)) c->resumeStream(slot_);
}

bool Responder::connected() const {
  if (server_ == nullptr) return false;
  Connection* c = server_->find(connectionId_);
  return c != nullptr && !c->closing();
}

}  // namespace common::http

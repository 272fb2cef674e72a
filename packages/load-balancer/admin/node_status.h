// lb::NodeStatusProxy: GET /node-status on the admin port, for the status page: the /status of
// one backend (?backend=<id>, else the first usable one) fetched by the balancer, so the page
// shows the mesh's members and readiness as one node reports them without ever talking to a
// node itself (the admin port may be the only thing a browser can reach).
// Answers {"backend":{...},"status":<the node's /status>} or a JSON error: 503 NO_BACKEND,
// 404 UNKNOWN_BACKEND, 502 NODE_UNREACHABLE / NODE_STATUS_FAILED.
// Owned by the AdminServer; loop thread only. close(done) before destroying (its HTTP client
// owns uv handles); a fetch still running at close never answers (the server is closing too).
#pragma once

#include <uv.h>

#include <functional>

#include "common/http/client.h"
#include "common/http/request.h"
#include "load-balancer/proxy/backend_pool.h"

namespace lb {

class NodeStatusProxy {
 public:
  NodeStatusProxy(uv_loop_t* loop, const BackendPool& pool)
      : loop_(loop), pool_(pool), client_(loop) {}
  void handle(const common::http::Request& req, common::http::Responder r);
  void close(std::function<void()> done) { client_.close(std::move(done)); }

 private:
  // The backend the request names, or the first usable one; null when there is none.
  const Backend* pick(std::string_view wantedId) const;

  uv_loop_t* loop_;
  const BackendPool& pool_;
  common::http::Client client_;
};

}  // namespace lb

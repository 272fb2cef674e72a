// lb::EngineClient: the Docker Engine API as the watcher needs it, over common::http::Client
// (libcurl on the loop): the unix socket (DOCKER_API_LOCATION a path) or TCP (http://host:port).
// ping() negotiates the API version (min of the daemon's Api-Version and the newest schema we
// parse); every later request is prefixed with /vX.Y. Responses come back raw (status, body,
// error): the watcher decides what a 404 or a 400 means. Owned by the DockerWatcher; close()
// before destroying. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/http/client.h"

namespace lb {

inline constexpr std::string_view kNewestApiVersion = "1.45";

// "1.41" vs "1.45": negative, zero or positive like strcmp; unparsable versions compare low.
int compareApiVersions(std::string_view a, std::string_view b);

// An answer that is not what was hoped for, for logs: the transport error, else
// "HTTP <status>: <start of the body>" (the Engine's {"message":...}).
std::string engineError(const common::http::ClientResponse& r);

class EngineClient {
 public:
  EngineClient(uv_loop_t* loop, const std::string& apiLocation);

  // GET /_ping; on success sets the version prefix. done(version, error).
  void ping(std::function<void(std::string version, std::string error)> done);
  void get(const std::string& pathAndQuery,
           std::function<void(common::http::ClientResponse&&)> done, long timeoutMs = 5000);
  // Any other call (the autoscaler's create, start, stop, remove): POST/DELETE with a JSON body.
  void send(const std::string& method, const std::string& pathAndQuery, std::string body,
            std::function<void(common::http::ClientResponse&&)> done, long timeoutMs = 5000);
  // GET /events?... as a stream (no overall timeout).
  uint64_t events(const std::string& query, std::function<void(long)> onHeaders,
                  std::function<void(std::string_view)> onData,
                  std::function<void(std::string)> onDone);
  void cancel(uint64_t id) { http_.cancel(id); }
  void close(std::function<void()> done) { http_.close(std::move(done)); }

  const std::string& version() const { return version_; }
  const std::string& location() const { return location_; }

 private:
  common::http::ClientRequest request(const std::string& path) const;

  common::http::Client http_;
  std::string location_;
  std::string base_;        // "http://localhost" (unix socket) or the http URL
  std::string unixSocket_;  // empty for TCP
  std::string version_;     // negotiated, e.g. "1.41"
};

}  // namespace lb

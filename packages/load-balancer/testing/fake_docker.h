// FakeDocker: a small Docker Engine API on a unix socket, for the watcher, autoscaler and
// service tests. It serves /_ping (Api-Version), /vX.Y/containers/json (running, unpaused
// containers; all of them with all=true), /vX.Y/containers/{id}/json (inspect, 404 when
// unknown), the writes the ComposeActuator makes (POST containers/create, start, stop; DELETE),
// each request recorded with its method, body and arrival time, and /vX.Y/events (a chunked stream
// held open; the test pushes events or raw bytes, possibly split across chunks, and can cut
// the stream mid-event). A version above maxVersion gets Docker's 400. restart() closes
// everything, removes the socket file and listens again, like a restarted daemon.
// Test-only; runs on the test's loop; close() then run the loop before uv_loop_close().
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lb::testing {

struct FakeContainer {
  std::string id;
  std::string name;
  std::map<std::string, std::string> labels;
  bool running = true;
  bool paused = false;
  std::string health;  // "" = no healthcheck; else starting / healthy / unhealthy
  std::map<std::string, std::string> networks;  // network name -> IP
  bool garbageInspect = false;                  // inspect answers a body that is not JSON
  std::string image = "img";
  std::vector<std::string> env;
  std::string hostConfig = "{}";  // inspect's HostConfig, raw JSON
};

// One request as the fake received it, the /vX.Y prefix taken off the path.
struct FakeRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  uint64_t atMs = 0;  // the loop's clock on arrival
};

class FakeDocker {
 public:
  FakeDocker(uv_loop_t* loop, std::string socketPath);
  ~FakeDocker();
  void listen();
  int listenTcp();  // on 127.0.0.1, port 0: returns the port (DOCKER_API_LOCATION=http://...)
  void close();
  void restart();  // drop all connections, recreate the socket file
  void stop();     // like a dead daemon: no socket file

  // A compose container of `service` in project "proj" on network "proj_default".
  FakeContainer& add(const std::string& id, const std::string& service, const std::string& ip,
                     const std::string& health = "");
  FakeContainer* find(const std::string& id);
  void erase(const std::string& id);

  // The JSON of an event for container `id` (with its labels and name), with a new timeNano.
  std::string event(const std::string& id, const std::string& action,
                    const std::string& extra = "");
  // Writes bytes to every open event stream as one HTTP chunk.
  void push(const std::string& bytes);
  // Closes every event stream connection abruptly.
  void cutStreams();
  int openStreams() const;

  std::string apiVersion = "1.41";  // what /_ping advertises and the highest accepted
  int pings = 0;
  int lists = 0;
  int inspects = 0;
  std::vector<std::string> eventQueries;  // raw query of each /events request
  std::vector<std::string> badVersionPaths;
  std::vector<FakeRequest> requests;  // every versioned request, in order
  std::vector<std::string> created;   // names given to POST /containers/create
  int failStops = 0;                  // answer the next N stops with a 500
  // More routes, e.g. FakeSwarm's; an answer with status 0 falls through to the 404.
  std::function<std::pair<int, std::string>(const FakeRequest&)> extraRoutes;
  int rejectEvents = 0;  // answer the next N /events with Docker's 400 "client version"
  int64_t lastTimeNano = 1700000000000000000LL;

 private:
  struct Conn;
  static void onConnection(uv_stream_t* s, int status);
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b);
  void process(Conn* c);
  void handle(Conn* c, const std::string& method, const std::string& target,
              const std::string& body);
  std::pair<int, std::string> containerWrite(const FakeRequest& r);
  void respond(Conn* c, int status, const std::string& body);
  void write(Conn* c, const std::string& data);
  void closeConn(Conn* c);
  std::string inspectJson(const FakeContainer& c) const;
  std::string listJson(bool all) const;

  uv_loop_t* loop_;
  std::string path_;
  uv_stream_t* server_ = nullptr;
  std::list<std::unique_ptr<Conn>> conns_;
  std::map<std::string, FakeContainer> containers_;
  int createdCount_ = 0;
};

}  // namespace lb::testing

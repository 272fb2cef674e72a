// meshkv-lb entry point: parses the configuration (exit 2 on an invalid setting), sets up
// logging, runs one lb::Service on the default loop until SIGTERM/SIGINT has drained it, and
// exits 0 (1 when it could not start listening).
#include <curl/curl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include "common/log/log.h"
#include "load-balancer/config.h"
#include "load-balancer/service.h"

int main(int argc, char** argv) {
  auto parsed = lb::parseConfig(argc, argv);
  if (parsed.exitCode) return *parsed.exitCode;
  common::initLogging(parsed.config.logLevel, "lb");
  ::signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t* loop = uv_default_loop();
  int rc = 0;
  {
    lb::Service service(loop, parsed.config);
    if (service.start() != 0) rc = 1;
    uv_run(loop, UV_RUN_DEFAULT);
  }
  if (uv_loop_close(loop) != 0) spdlog::warn("loop closed with handles still open");
  curl_global_cleanup();
  return rc;
}

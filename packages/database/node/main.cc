// meshkv-node: parses the configuration, then runs one Node on the default libuv loop until a
// SIGTERM/SIGINT shutdown completes. --healthcheck instead probes a running node (Docker's
// HEALTHCHECK, which has no curl in the image) and exits 0 when it answers 200.
#include <curl/curl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <uv.h>

#include <cstdio>

#include "common/log/log.h"
#include "database/config/node_config.h"
#include "database/node/node.h"

namespace {

int probe(int port) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return 1;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/healthcheck";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  return status == 200 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = db::parseNodeConfig(argc, argv);
  if (parsed.exitCode) return *parsed.exitCode;
  if (parsed.config.healthcheck) return probe(parsed.config.port);
  common::initLogging(parsed.config.logLevel, "node");
  // Fixed malloc thresholds: glibc otherwise raises its mmap threshold to the size of the first
  // large block freed (up to 32 MiB), so the index's big tables come from the heap from then on
  // and a store that shrank (keys expired, a clear) keeps their pages. Blocks of 256 KiB and
  // more are mmap'd and go back to the OS when freed; free heap top beyond 1 MiB is trimmed.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  // Lock and recover DATA_DIR before anything else exists: a refusal is one line and exit 2.
  auto storage = db::openStorage(parsed.config);
  if (!storage.ok()) {
    std::fprintf(stderr, "meshkv-node: %s\n", storage.error().message.c_str());
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t* loop = uv_default_loop();
  int rc = 0;
  {
    db::Node node(loop, parsed.config, std::move(*storage));
    if (node.start() != 0) rc = 1;
    uv_run(loop, UV_RUN_DEFAULT);
  }
  int closeRc = uv_loop_close(loop);
  if (closeRc != 0) spdlog::warn("loop closed with handles still open");
  curl_global_cleanup();
  spdlog::info("bye");
  return rc;
}

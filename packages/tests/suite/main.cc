// meshkv-tests: the black-box integration suite. main() takes the target from --service-url
// (or SERVICE_URL, default http://127.0.0.1:8080), removes that flag from argv, then hands the
// rest to GoogleTest (so --gtest_filter etc. work). Exit status is non-zero on any failure.
// libcurl's global state is set up here, once, before any test's Client exists.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/suite/suite.h"

int main(int argc, char** argv) {
  const char* env = std::getenv("SERVICE_URL");
  std::string url = env != nullptr && *env != '\0' ? env : "http://127.0.0.1:8080";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--service-url" && i + 1 < argc) {
      url = argv[++i];
    } else if (a.rfind("--service-url=", 0) == 0) {
      url = std::string(a.substr(14));
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "meshkv-tests: black-box integration suite\n"
          "  --service-url URL   target (env SERVICE_URL, default http://127.0.0.1:8080)\n"
          "  env MESHKV_TEST_HEADER_TIMEOUT_MS  the server's header timeout (slow-client case)\n"
          "GoogleTest flags follow:\n");
      rest.push_back(argv[i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  try {
    suite::setTarget(url);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meshkv-tests: invalid service URL '%s': %s\n", url.c_str(), e.what());
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  testing::InitGoogleTest(&n, rest.data());
  std::printf("meshkv-tests: target %s, run id %s\n", suite::target().url.c_str(),
              suite::target().runId.c_str());
  int rc = RUN_ALL_TESTS();
  curl_global_cleanup();
  return rc;
}

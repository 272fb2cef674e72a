// Assertion helpers shared by the suite's test files (header-only, test thread only). Kept
// apart from suite.h so the helpers there stay free of GoogleTest. A newcomer's trap: the
// fixture's Client is one keep-alive connection, so a read-after-write through the balancer
// stays on one node; use a second Client only when the test means "another connection".
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/suite/suite.h"

namespace suite {

class ApiTest : public testing::Test {
 protected:
  Client c_;
};

inline std::string describe(const Response& r) {
  return "status " + std::to_string(r.status) + " body '" + r.body.substr(0, 300) + "'" +
         (r.error.empty() ? "" : " transport error: " + r.error);
}

// A JSON error answer: the status, {"error":code}, and application/json.
inline void expectError(const Response& r, long status, const std::string& code) {
  EXPECT_EQ(r.status, status) << describe(r);
  EXPECT_EQ(errorCode(r), code) << describe(r);
  EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0u)
      << "content-type: " << r.header("content-type");
}

inline void expectSuccess(const Response& r) {
  EXPECT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.body, "{\"success\":true}") << describe(r);
}

// /set?k=key&v=value on c, expected to succeed.
inline void put(Client& c, const std::string& key, const std::string& value) {
  expectSuccess(c.get("/set?k=" + enc(key) + "&v=" + enc(value)));
}

// /get?k=key eventually answers value (as a JSON string literal that decodes to it).
inline void expectValue(Client& c, const std::string& key, const std::string& value) {
  Response last;
  bool ok = eventually([&] {
    last = c.get("/get?k=" + enc(key));
    auto s = jsonString(last.body);
    return last.status == 200 && s && *s == value;
  });
  EXPECT_TRUE(ok) << "GET " << key << ": " << describe(last);
}

inline std::string repeat(const std::string& unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += unit;
  return s;
}

}  // namespace suite

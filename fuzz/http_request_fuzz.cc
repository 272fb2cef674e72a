// Fuzz target: the HTTP/1.x request parser (common/http/request_parser.h), which reads every
// byte a client (or the balancer, or a peer) sends to a node. The input is one connection's
// byte stream, pipelined requests included; its first byte says how many split points follow
// (each a byte), and the stream is parsed twice: in one feed() and in pieces cut there.
// Properties: both parses deliver the same requests and end with the same status (a read
// boundary never changes a verdict); every delivered request is within the limits (URL,
// headers, the body limit its route gave at the head) and obeys the RFC 9112 grammar checked
// here independently (token method and header names, no control bytes in the target or header
// values, a body as long as its Content-Length); the shared body budget is fully given back.
#include <strings.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/http/request_parser.h"
#include "fuzz_check.h"

namespace {

using common::http::Request;

constexpr size_t kMaxUrl = 256, kMaxHeaders = 512, kMaxBody = 1024, kBigBody = 4096;

struct Seen {
  std::string method, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keepAlive = false;
  int httpMinor = 0;
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> requests;
  int status = 0;
};

bool isTchar(unsigned char c) {  // RFC 9110 5.6.2
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return isTchar(c); });
}

bool hasCtl(std::string_view s, bool allowTab) {
  return std::any_of(s.begin(), s.end(), [allowTab](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && !(allowTab && c == '\t')) || c == 0x7f;
  });
}

// The route's decision at the head: "/big..." gets a larger body limit, "/refuse..." a 403.
common::http::HeadDecision decide(const Request& head) {
  common::http::HeadDecision d;
  if (head.path.starts_with("/big")) d.maxBodyBytes = kBigBody;
  if (head.path.starts_with("/refuse")) {
    d.refuseStatus = 403;
    d.refuseCode = "REFUSED";
  }
  return d;
}

void checkRequest(const Request& r) {
  FUZZ_CHECK(r.path.size() + r.query.size() <= kMaxUrl, "URL within maxUrlBytes");
  size_t headerBytes = 0;
  std::string_view contentLength;
  bool chunked = false;
  for (const auto& h : *r.headers) {
    headerBytes += h.name.size() + h.value.size();
    FUZZ_CHECK(isToken(h.name), "a header name is a token");
    FUZZ_CHECK(!hasCtl(h.value, true), "a header value has no control bytes");
    if (h.name.size() == 14 && strncasecmp(h.name.data(), "content-length", 14) == 0) {
      contentLength = h.value;
    }
    if (h.name.size() == 17 && strncasecmp(h.name.data(), "transfer-encoding", 17) == 0) {
      chunked = true;
    }
  }
  FUZZ_CHECK(headerBytes <= kMaxHeaders, "headers within maxHeaderBytes");
  size_t limit = r.path.starts_with("/big") ? kBigBody : kMaxBody;
  FUZZ_CHECK(r.body.size() <= limit, "body within the route's limit");
  FUZZ_CHECK(!r.path.starts_with("/refuse"), "a refused head delivers no request");
  FUZZ_CHECK(isToken(r.method), "the method is a token");
  FUZZ_CHECK(!hasCtl(r.path, false) && !hasCtl(r.query, false), "no control bytes in the target");
  FUZZ_CHECK(r.path.find(' ') == std::string_view::npos, "no space in the path");
  FUZZ_CHECK(r.query.find(' ') == std::string_view::npos, "no space in the query");
  if (!contentLength.empty() && !chunked) {
    FUZZ_CHECK(contentLength.find_first_not_of("0123456789") == std::string_view::npos,
               "Content-Length is digits");
    FUZZ_CHECK(std::stoull(std::string(contentLength)) == r.body.size(),
               "the body is as long as its Content-Length");
  }
}

Outcome parse(std::string_view stream, const std::vector<size_t>& cuts) {
  Outcome out;
  common::http::BodyBudget budget(1 << 20);
  {
    common::http::ParserLimits limits{kMaxUrl, kMaxHeaders, kMaxBody};
    common::http::RequestParser parser(
        limits,
        [&](Request& r) {
          checkRequest(r);
          Seen s;
          s.method = r.method;
          s.path = r.path;
          s.query = r.query;
          s.body = r.body;
          for (const auto& h : *r.headers) s.headers.emplace_back(h.name, h.value);
          s.keepAlive = r.keepAlive;
          s.httpMinor = r.httpMinor;
          out.requests.push_back(std::move(s));
        },
        decide, &budget);
    size_t from = 0;
    for (size_t i = 0; i <= cuts.size() && out.status == 0; ++i) {
      size_t to = i < cuts.size() ? cuts[i] : stream.size();
      out.status = parser.feed(stream.data() + from, to - from);
      from = to;
    }
    FUZZ_CHECK(budget.used() <= (1 << 20), "the body budget is never exceeded");
  }
  FUZZ_CHECK(budget.used() == 0, "a destroyed parser gives its body budget back");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  size_t nCuts = in.byte() % 8;
  std::vector<uint8_t> raw;
  for (size_t i = 0; i < nCuts; ++i) raw.push_back(in.byte());
  std::string_view stream = in.rest();
  std::vector<size_t> cuts;
  for (uint8_t b : raw) cuts.push_back(stream.empty() ? 0 : b * stream.size() / 256);
  std::sort(cuts.begin(), cuts.end());

  Outcome whole = parse(stream, {});
  Outcome split = parse(stream, cuts);
  FUZZ_CHECK(whole.status == split.status, "split reads end with the same status");
  FUZZ_CHECK(whole.requests == split.requests, "split reads deliver the same requests");
  return 0;
}

// Shared helpers of meshkv-tests, the black-box suite: the target service (SERVICE_URL), a
// per-run key prefix, a keep-alive libcurl client, a raw-socket HTTP/1.1 connection for
// protocol-level cases, JSON parsing (RapidJSON) and eventually(), the deadline poll.
// Everything runs on the test thread; a Client owns its curl handle and a RawConn its socket,
// both released in their destructors. The thing to remember: behind the balancer, writes reach
// the other nodes asynchronously, so a read-after-write keeps its Client (one connection, one
// pinned node) AND asserts through eventually(), never a fixed sleep.
#pragma once

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace suite {

// ---- the target and the run ------------------------------------------------------------

struct Target {
  std::string url;   // http://host:port, no trailing slash
  std::string host;  // for raw sockets
  int port = 0;
  std::string runId;  // random hex, unique per run
};

// Set once by main() before the tests run.
Target& target();
void setTarget(const std::string& serviceUrl);

// A key unique to this run: "t<runId>:<name>".
std::string key(std::string_view name);

// Percent-encodes every byte outside [A-Za-z0-9-._~].
std::string enc(std::string_view raw);

// The node's limits, read once from /status (never hard-coded).
size_t maxKeyLength();
size_t maxValueLength();

// ---- HTTP through libcurl --------------------------------------------------------------

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // transport error; empty on success
  std::string header(const std::string& lowerName) const;
  bool has(const std::string& lowerName) const { return headers.count(lowerName) != 0; }
};

// One keep-alive connection (curl reuses it): through the per-connection balancer, one node.
class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // pathAndQuery starts with '/', already encoded.
  Response get(const std::string& pathAndQuery, const char* method = "GET");
  // Any method with a body (sent as is, with this Content-Type; no Expect: 100-continue).
  // "HEAD" reads no body.
  Response send(const char* method, const std::string& pathAndQuery, std::string_view body = {},
                const char* contentType = "application/octet-stream");

 private:
  CURL* curl_;
};

// ---- eventually ------------------------------------------------------------------------

// Polls pred every few milliseconds until it returns true or the deadline passes.
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(5000));

// GETs path on c until the answer has `status` (and `body`, when given); returns the last one.
Response eventuallyGet(Client& c, const std::string& path, long status,
                       std::optional<std::string> body = std::nullopt);

// ---- JSON ------------------------------------------------------------------------------

// Strict parse (UTF-8 validated); nullopt when the text is not one JSON value.
std::optional<rapidjson::Document> parseJson(std::string_view text);
// The "error" code of an error body, or "" when there is none.
std::string errorCode(const Response& r);
// A JSON array of strings -> its elements; nullopt when it is not one.
std::optional<std::vector<std::string>> stringArray(std::string_view text);
// A JSON array of {"k","v"} -> pairs; nullopt when it is not one.
std::optional<std::vector<std::pair<std::string, std::string>>> pairArray(std::string_view text);
// The JSON string literal `text` decodes to; nullopt when it is not one.
std::optional<std::string> jsonString(std::string_view text);

// ---- raw sockets -----------------------------------------------------------------------

struct RawResponse {
  int status = 0;
  std::string statusLine;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One TCP connection to the target, blocking I/O with poll() deadlines.
class RawConn {
 public:
  RawConn();  // connects (check ok())
  ~RawConn();
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Sends everything; false if the peer closed or reset.
  bool sendAll(std::string_view data);
  // Reads one response (Content-Length, chunked, or until close); nullopt on close/timeout first.
  // head: the answer to a HEAD request (headers only, whatever Content-Length says).
  std::optional<RawResponse> readResponse(
      std::chrono::milliseconds deadline = std::chrono::milliseconds(5000), bool head = false);
  // True when the peer closes (EOF or reset) before the deadline; unread data is discarded.
  bool waitClosed(std::chrono::milliseconds deadline = std::chrono::milliseconds(5000));
  // For a long-lived response (a watch stream): reads what arrives before `deadline` into
  // received(); false when nothing came (deadline, or the peer closed: then closed() is true).
  bool readSome(std::chrono::milliseconds deadline) {
    return fill(std::chrono::steady_clock::now() + deadline);
  }
  const std::string& received() const { return buf_; }
  bool closed() const { return eof_; }

 private:
  bool fill(std::chrono::steady_clock::time_point until);  // reads more into buf_
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Parses one response from the front of buf, consuming it; nullopt when incomplete.
// eof: the peer closed (a body without length or chunking ends there).
std::optional<RawResponse> takeResponse(std::string& buf, bool eof, bool head = false);

}  // namespace suite

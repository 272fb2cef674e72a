// See suite.h. Helpers only: no assertions live here (each test asserts what it means), except
// the one-time /status read of the limits, which aborts the test that needs them if it fails.
// Raw sockets use blocking fds with poll() deadlines so a silent server fails a test instead
// of hanging the suite.
#include "tests/suite/suite.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

namespace suite {

using Clock = std::chrono::steady_clock;

Target& target() {
  static Target t;
  return t;
}

void setTarget(const std::string& serviceUrl) {
  Target& t = target();
  t.url = serviceUrl;
  while (!t.url.empty() && t.url.back() == '/') t.url.pop_back();
  std::string rest = t.url;
  if (rest.rfind("http://", 0) != 0) throw std::invalid_argument("SERVICE_URL must be http://");
  rest = rest.substr(7);
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    t.host = rest;
    t.port = 80;
  } else {
    t.host = rest.substr(0, colon);
    t.port = std::stoi(rest.substr(colon + 1));
  }
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  std::random_device rd;
  std::mt19937_64 gen((uint64_t{rd()} << 32) ^ rd() ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(gen()));
  t.runId.assign(id, 10);
}

std::string key(std::string_view name) {
  return "t" + target().runId + ":" + std::string(name);
}

std::string enc(std::string_view raw) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : raw) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {

struct Limits {
  size_t key = 0, value = 0;
};

const Limits& limits() {
  static Limits l = [] {
    Client c;
    Response r = c.get("/status");
    auto doc = parseJson(r.body);
    if (r.status != 200 || !doc || !doc->IsObject() || !doc->HasMember("maxKeyLength") ||
        !(*doc)["maxKeyLength"].IsUint() || !doc->HasMember("maxValueLength") ||
        !(*doc)["maxValueLength"].IsUint()) {
      throw std::runtime_error("cannot read the limits from /status: " + r.body + r.error);
    }
    return Limits{(*doc)["maxKeyLength"].GetUint(), (*doc)["maxValueLength"].GetUint()};
  }();
  return l;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();  // a new response (e.g. after 100-continue)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  r->headers[name] = std::string(value);
  return size * n;
}

}  // namespace

size_t maxKeyLength() {
  return limits().key;
}
size_t maxValueLength() {
  return limits().value;
}

std::string Response::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? std::string() : it->second;
}

Client::Client() : curl_(curl_easy_init()) {}

Client::~Client() {
  curl_easy_cleanup(curl_);
}

Response Client::send(const char* method, const std::string& pathAndQuery, std::string_view body,
                      const char* contentType) {
  curl_slist* headers = nullptr;
  std::string type = std::string("Content-Type: ") + contentType;
  headers = curl_slist_append(headers, type.c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  bool head = std::string_view(method) == "HEAD";
  if (head) curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
  Response r = get(pathAndQuery, method);
  // Back to a plain GET for the next request on this handle.
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
  curl_slist_free_all(headers);
  return r;
}

Response Client::get(const std::string& pathAndQuery, const char* method) {
  Response r;
  std::string url = target().url + pathAndQuery;
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl_, CURLOPT_PATH_AS_IS, 1L);
  CURLcode rc = curl_easy_perform(curl_);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
  auto until = Clock::now() + deadline;
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval, not a wait
  }
}

Response eventuallyGet(Client& c, const std::string& path, long status,
                       std::optional<std::string> body) {
  Response last;
  eventually([&] {
    last = c.get(path);
    return last.status == status && (!body || last.body == *body);
  });
  return last;
}

std::optional<rapidjson::Document> parseJson(std::string_view text) {
  rapidjson::Document d;
  // Trailing non-whitespace is an error (kParseErrorDocumentRootNotSingular).
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (d.HasParseError()) return std::nullopt;
  return d;
}

std::string errorCode(const Response& r) {
  auto d = parseJson(r.body);
  if (!d || !d->IsObject() || !d->HasMember("error") || !(*d)["error"].IsString()) return "";
  return (*d)["error"].GetString();
}

std::optional<std::vector<std::string>> stringArray(std::string_view text) {
  auto d = parseJson(text);
  if (!d || !d->IsArray()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : d->GetArray()) {
    if (!v.IsString()) return std::nullopt;
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> pairArray(std::string_view text) {
  auto d = parseJson(text);
  if (!d || !d->IsArray()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& v : d->GetArray()) {
    if (!v.IsObject() || v.MemberCount() != 2 || !v.HasMember("k") || !v.HasMember("v") ||
        !v["k"].IsString() || !v["v"].IsString()) {
      return std::nullopt;
    }
    out.emplace_back(std::string(v["k"].GetString(), v["k"].GetStringLength()),
                     std::string(v["v"].GetString(), v["v"].GetStringLength()));
  }
  return out;
}

std::optional<std::string> jsonString(std::string_view text) {
  auto d = parseJson(text);
  if (!d || !d->IsString()) return std::nullopt;
  return std::string(d->GetString(), d->GetStringLength());
}

// ---- raw sockets -----------------------------------------------------------------------

RawConn::RawConn() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(target().port);
  if (getaddrinfo(target().host.c_str(), port.c_str(), &hints, &res) != 0) return;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
      break;
    }
    ::close(fd);
  }
  freeaddrinfo(res);
}

RawConn::~RawConn() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConn::sendAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool RawConn::fill(Clock::time_point until) {
  if (eof_) return false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

std::optional<RawResponse> RawConn::readResponse(std::chrono::milliseconds deadline, bool head) {
  auto until = Clock::now() + deadline;
  while (true) {
    if (auto r = takeResponse(buf_, eof_, head)) return r;
    if (!fill(until)) {
      if (eof_) return takeResponse(buf_, true, head);
      return std::nullopt;
    }
  }
}

bool RawConn::waitClosed(std::chrono::milliseconds deadline) {
  auto until = Clock::now() + deadline;
  while (!eof_) {
    buf_.clear();
    if (!fill(until) && !eof_) return false;
  }
  return true;
}

std::optional<RawResponse> takeResponse(std::string& buf, bool eof, bool headOnly) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  RawResponse r;
  std::string_view head(buf.data(), end);
  auto lineEnd = head.find("\r\n");
  r.statusLine = std::string(head.substr(0, lineEnd));
  if (r.statusLine.size() >= 12) r.status = std::atoi(r.statusLine.c_str() + 9);
  size_t pos = lineEnd == std::string_view::npos ? head.size() : lineEnd + 2;
  while (pos < head.size()) {
    auto e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = head.substr(pos, e - pos);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      r.headers[name] = std::string(v);
    }
    pos = e + 2;
  }
  size_t bodyStart = end + 4;
  if (headOnly) {
    buf.erase(0, bodyStart);
    return r;
  }
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    size_t len = std::stoul(it->second);
    if (buf.size() < bodyStart + len) return std::nullopt;
    r.body = buf.substr(bodyStart, len);
    buf.erase(0, bodyStart + len);
    return r;
  }
  if (auto it = r.headers.find("transfer-encoding");
      it != r.headers.end() && it->second.find("chunked") != std::string::npos) {
    size_t p = bodyStart;
    std::string body;
    while (true) {
      auto le = buf.find("\r\n", p);
      if (le == std::string::npos) return std::nullopt;
      size_t n = std::stoul(buf.substr(p, le - p), nullptr, 16);
      if (n == 0) {
        auto trailerEnd = buf.find("\r\n", le + 2);
        if (trailerEnd == std::string::npos) return std::nullopt;
        r.body = std::move(body);
        buf.erase(0, trailerEnd + 2);
        return r;
      }
      if (buf.size() < le + 2 + n + 2) return std::nullopt;
      body.append(buf, le + 2, n);
      p = le + 2 + n + 2;
    }
  }
  if (r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200)) {
    buf.erase(0, bodyStart);
    return r;
  }
  if (!eof) return std::nullopt;  // body until close
  r.body = buf.substr(bodyStart);
  buf.clear();
  return r;
}

}  // namespace suite

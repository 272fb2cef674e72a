// See client.h. The flow: start() adds an easy handle to the multi handle; libcurl answers with
// a 0 ms timer, so nothing runs inside send(). Every wake-up (poll or timer) goes through
// socketAction(), which runs curl_multi_socket_action and then collects finished transfers.
// libcurl forbids removing an easy handle from inside its own callbacks, so a cancel() or a
// close() made while libcurl is on the stack (inCurl_ > 0) only marks the transfer; the removal
// and the teardown happen in afterCurl(), once libcurl has returned.
#include "common/http/client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace common::http {

namespace {

CURLM* asMulti(void* m) {
  return static_cast<CURLM*>(m);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string_view ClientResponse::header(std::string_view lowercaseName) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercaseName) return value;
  }
  return {};
}

struct Client::Transfer {
  Client* client = nullptr;
  uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headerList = nullptr;
  ClientRequest request;  // owns url, body and socket path for the easy handle's lifetime
  bool streaming = false;
  bool cancelled = false;
  bool headersReported = false;
  bool tooLarge = false;
  int startError = 0;  // a CURLMcode/CURLcode when the transfer could not even start
  ClientResponse response;
  std::function<void(ClientResponse&&)> done;
  std::function<void(long)> onHeaders;
  std::function<void(std::string_view)> onData;
  std::function<void(std::string)> onDone;
  char errorBuffer[CURL_ERROR_SIZE] = {};
};

struct Client::Socket {
  uv_poll_t poll;
  Client* client = nullptr;
  curl_socket_t fd = CURL_SOCKET_BAD;
};

Client::Client(uv_loop_t* loop) : loop_(loop) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timerOpen_ = true;
  ++handlesOpen_;
  CURLM* m = curl_multi_init();
  multi_ = m;
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &Client::onSocket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &Client::onTimer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 64L);
}

Client::~Client() {
  // close() and its callback must have run: the uv handles live inside this object.
  if (multi_ != nullptr) {
    spdlog::error("http client destroyed without close(); leaking its handles");
  }
}

uint64_t Client::send(ClientRequest req, std::function<void(ClientResponse&&)> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(req);
  t->done = std::move(done);
  return start(std::move(t));
}

uint64_t Client::stream(ClientRequest req, std::function<void(long)> onHeaders,
                        std::function<void(std::string_view)> onData,
                        std::function<void(std::string)> onDone) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(req);
  t->streaming = true;
  t->onHeaders = std::move(onHeaders);
  t->onData = std::move(onData);
  t->onDone = std::move(onDone);
  return start(std::move(t));
}

uint64_t Client::start(std::unique_ptr<Transfer> t) {
  if (closing_) return 0;  // documented: nothing is started and nothing calls back
  t->client = this;
  t->id = nextId_++;
  Transfer* raw = t.get();
  transfers_.emplace(raw->id, std::move(t));

  CURL* e = curl_easy_init();
  raw->easy = e;
  if (e == nullptr) {
    raw->startError = CURLE_OUT_OF_MEMORY;
  } else {
    const ClientRequest& r = raw->request;
    curl_easy_setopt(e, CURLOPT_PRIVATE, raw);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Client::onWrite);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, raw);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Client::onHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, raw);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, raw->errorBuffer);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::max(1L, r.connectTimeoutMs));
    if (r.timeoutMs > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r.timeoutMs);
    if (r.freshConnection) {
      curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (!r.unixSocket.empty()) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, r.unixSocket.c_str());
    if (raw->streaming) curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    for (const auto& h : r.headers) raw->headerList = curl_slist_append(raw->headerList, h.c_str());
    raw->headerList = curl_slist_append(raw->headerList, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, raw->headerList);
    if (r.method == "GET" && r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (r.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      }
    }
    if (inCurl_ > 0) {
      pendingAdds_.push_back(raw->id);  // libcurl refuses re-entrant calls: add once it returns
    } else {
      addToMulti(raw);
    }
  }
  if (raw->startError != 0) {
    spdlog::warn("http client: cannot start {} {}", raw->request.method, raw->request.url);
    uv_timer_start(&timer_, &Client::onTimeout, 0, 0);  // report it from the loop, not now
  }
  return raw->id;
}

void Client::addToMulti(Transfer* t) {
  CURLMcode mc = curl_multi_add_handle(asMulti(multi_), t->easy);
  if (mc != CURLM_OK) {
    spdlog::warn("http client: cannot start {} {}: {}", t->request.method, t->request.url,
                 curl_multi_strerror(mc));
    t->startError = static_cast<int>(mc) + 1000;
    curl_easy_cleanup(t->easy);
    t->easy = nullptr;
    uv_timer_start(&timer_, &Client::onTimeout, 0, 0);
  }
}

void Client::cancel(uint64_t id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end() || it->second->cancelled) return;
  it->second->cancelled = true;
  if (inCurl_ > 0) {
    deferredRemovals_.push_back(id);
  } else {
    removeTransfer(id);
  }
}

void Client::close(std::function<void()> done) {
  if (closing_) {
    spdlog::error("http client: close() called twice");
    return;
  }
  closing_ = true;
  onClosed_ = std::move(done);
  for (auto& [id, t] : transfers_) t->cancelled = true;
  if (inCurl_ == 0) afterCurl();
}

void Client::afterCurl() {
  if (inCurl_ > 0) return;
  if (!pendingAdds_.empty() && !closing_) {
    std::vector<uint64_t> ids;
    ids.swap(pendingAdds_);
    for (uint64_t id : ids) {
      auto it = transfers_.find(id);
      if (it != transfers_.end() && !it->second->cancelled && it->second->easy != nullptr) {
        addToMulti(it->second.get());
      }
    }
  }
  if (!deferredRemovals_.empty()) {
    std::vector<uint64_t> ids;
    ids.swap(deferredRemovals_);
    for (uint64_t id : ids) removeTransfer(id);
  }
  if (closing_ && multi_ != nullptr) teardown();
}

void Client::teardown() {
  ++inCurl_;  // nothing below may re-enter teardown through a callback
  std::vector<uint64_t> ids;
  ids.reserve(transfers_.size());
  for (auto& [id, t] : transfers_) ids.push_back(id);
  for (uint64_t id : ids) removeTransfer(id);
  CURLM* m = asMulti(multi_);
  tearingDown_ = true;
  curl_multi_cleanup(m);  // closes cached connections; may report CURL_POLL_REMOVE
  multi_ = nullptr;
  --inCurl_;
  while (!sockets_.empty()) closePoll(sockets_.back());
  if (timerOpen_) {
    timerOpen_ = false;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Client::onTimerClosed);
  }
}

void Client::removeTransfer(uint64_t id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  if (t->easy != nullptr) {
    curl_multi_remove_handle(asMulti(multi_), t->easy);
    curl_easy_cleanup(t->easy);
  }
  curl_slist_free_all(t->headerList);
}

void Client::socketAction(int fd, int flags) {
  if (multi_ == nullptr) return;
  int running = 0;
  ++inCurl_;
  curl_multi_socket_action(asMulti(multi_), fd, flags, &running);
  --inCurl_;
  afterCurl();
  drainMessages();
}

void Client::drainMessages() {
  // Transfers that could not start are reported here too, always from the loop.
  for (auto it = transfers_.begin(); it != transfers_.end() && !closing_;) {
    Transfer* t = it->second.get();
    ++it;
    if (t->startError != 0 && !t->cancelled) {
      finish(t, t->startError);
      it = transfers_.begin();  // callbacks may have changed the map
    }
  }
  int left = 0;
  while (!closing_ && multi_ != nullptr) {
    CURLMsg* msg = curl_multi_info_read(asMulti(multi_), &left);
    if (msg == nullptr) break;
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    if (t != nullptr) finish(t, static_cast<int>(msg->data.result));
  }
}

void Client::finish(Transfer* t, int code) {
  const uint64_t id = t->id;
  if (t->cancelled) {
    removeTransfer(id);
    return;
  }
  long status = 0;
  if (t->easy != nullptr) curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  std::string error;
  if (t->startError != 0) {
    error = "could not start the request";
  } else if (t->tooLarge) {
    error = "response body larger than " + std::to_string(t->request.maxResponseBytes) + " bytes";
  } else if (code != CURLE_OK) {
    error = t->errorBuffer[0] != '\0'
                ? std::string(t->errorBuffer)
                : std::string(curl_easy_strerror(static_cast<CURLcode>(code)));
    if (code == CURLE_OPERATION_TIMEDOUT && error.find("imeout") == std::string::npos) {
      error = "timeout: " + error;
    }
  }
  if (t->streaming) {
    bool reportHeaders = !t->headersReported && error.empty() && status > 0;
    auto onHeaders = std::move(t->onHeaders);
    auto onDone = std::move(t->onDone);
    removeTransfer(id);  // t is gone from here on
    if (reportHeaders && onHeaders) onHeaders(status);
    if (onDone && !closing_) onDone(std::move(error));
    return;
  }
  ClientResponse response = std::move(t->response);
  response.status = error.empty() ? status : 0;
  response.error = std::move(error);
  auto done = std::move(t->done);
  removeTransfer(id);
  if (done) done(std::move(response));
}

void Client::closePoll(Socket* s) {
  auto it = std::find(sockets_.begin(), sockets_.end(), s);
  if (it == sockets_.end()) return;  // already closing
  sockets_.erase(it);
  uv_poll_stop(&s->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), &Client::onPollClosed);
}

void Client::maybeFinishClose() {
  if (!closing_ || multi_ != nullptr || handlesOpen_ > 0 || !onClosed_) return;
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();  // may destroy this Client: nothing touches members afterwards
}

// ---- libcurl callbacks -----------------------------------------------------------------------

int Client::onSocket(void* /*easy*/, int fd, int what, void* userp, void* socketp) noexcept {
  auto* c = static_cast<Client*>(userp);
  auto* s = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (s != nullptr) {
      c->closePoll(s);
      if (!c->tearingDown_ && c->multi_ != nullptr)
        curl_multi_assign(asMulti(c->multi_), fd, nullptr);
    }
    return 0;
  }
  if (s == nullptr) {
    s = new Socket();
    s->client = c;
    s->fd = fd;
    int rc = uv_poll_init_socket(c->loop_, &s->poll, fd);
    if (rc != 0) {
      spdlog::error("http client: cannot watch socket {}: {}", fd, uv_strerror(rc));
      delete s;
      return -1;
    }
    s->poll.data = s;
    ++c->handlesOpen_;
    c->sockets_.push_back(s);
    curl_multi_assign(asMulti(c->multi_), fd, s);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, &Client::onPoll);
  return 0;
}

int Client::onTimer(void* /*multi*/, long timeoutMs, void* userp) noexcept {
  auto* c = static_cast<Client*>(userp);
  if (!c->timerOpen_) return 0;
  if (timeoutMs < 0) {
    uv_timer_stop(&c->timer_);
  } else {
    // Never run socket_action from inside libcurl: a 0 ms timeout fires on the next turn.
    uv_timer_start(&c->timer_, &Client::onTimeout, static_cast<uint64_t>(timeoutMs), 0);
  }
  return 0;
}

void Client::onTimeout(uv_timer_t* t) noexcept {
  auto* c = static_cast<Client*>(t->data);
  c->socketAction(CURL_SOCKET_TIMEOUT, 0);
}

void Client::onPoll(uv_poll_t* p, int status, int events) noexcept {
  auto* s = static_cast<Socket*>(p->data);
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  s->client->socketAction(s->fd, flags);
}

void Client::onPollClosed(uv_handle_t* h) noexcept {
  auto* s = static_cast<Socket*>(h->data);
  Client* c = s->client;
  delete s;
  --c->handlesOpen_;
  c->maybeFinishClose();
}

void Client::onTimerClosed(uv_handle_t* h) noexcept {
  auto* c = static_cast<Client*>(h->data);
  --c->handlesOpen_;
  c->maybeFinishClose();
}

size_t Client::onWrite(char* data, size_t size, size_t n, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t len = size * n;
  if (t->cancelled) return 0;  // aborts the transfer; it is removed once libcurl returns
  if (t->streaming) {
    if (!t->headersReported) {
      t->headersReported = true;
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      if (t->onHeaders) t->onHeaders(status);
      if (t->cancelled) return 0;
    }
    if (t->onData) t->onData(std::string_view(data, len));
    return t->cancelled ? 0 : len;
  }
  if (t->response.body.size() + len > t->request.maxResponseBytes) {
    t->tooLarge = true;
    return 0;
  }
  t->response.body.append(data, len);
  return len;
}

size_t Client::onHeader(char* data, size_t size, size_t n, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t len = size * n;
  if (t->cancelled) return 0;
  std::string_view line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new block (after a 1xx): only the final one counts
    return len;
  }
  if (line == "\r\n" || line == "\n") {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (t->streaming && !t->headersReported && status >= 200) {
      t->headersReported = true;
      if (t->onHeaders) t->onHeaders(status);
      if (t->cancelled) return 0;
    }
    return len;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
  }
  return len;
}

}  // namespace common::http

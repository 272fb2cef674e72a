// See request_parser.h. http-parser calls back with fragments (a URL or header may arrive in
// several reads), so every piece is appended to buffers that are reused request after request:
// a keep-alive connection allocates nothing in steady state.
#include "common/http/request_parser.h"

#include <strings.h>

namespace common::http {
namespace {

RequestParser* self(http_parser* p) {
  return static_cast<RequestParser*>(p->data);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  if (headers == nullptr) return {};
  for (const Header& h : *headers) {
    if (equalsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

RequestParser::RequestParser(ParserLimits limits, OnRequest onRequest)
    : limits_(limits), onRequest_(std::move(onRequest)) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onHeaderField;
  settings_.on_header_value = &RequestParser::onHeaderValue;
  settings_.on_headers_complete = &RequestParser::onHeadersComplete;
  settings_.on_body = &RequestParser::onBody;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
}

int RequestParser::fail(int status, const char* reason) {
  if (failStatus_ == 0) {
    failStatus_ = status;
    errorReason_ = reason;
  }
  return -1;
}

int RequestParser::feed(const char* data, size_t len) {
  if (failStatus_ != 0) return failStatus_;
  size_t parsed = http_parser_execute(&parser_, &settings_, data, len);
  if (failStatus_ != 0) return failStatus_;
  enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_HEADER_OVERFLOW) {
    fail(431, "header overflow");
    return failStatus_;
  }
  if (err != HPE_OK) {
    fail(400, http_errno_description(err));
    return failStatus_;
  }
  if (parser_.upgrade) {
    fail(400, "protocol upgrade not supported");
    return failStatus_;
  }
  if (parsed != len) {
    fail(400, "unparsed bytes");
    return failStatus_;
  }
  return 0;
}

int RequestParser::onMessageBegin(http_parser* p) noexcept {
  RequestParser* s = self(p);
  s->url_.clear();
  s->headerBytes_.clear();
  s->spans_.clear();
  s->body_.clear();
  s->lastWasValue_ = false;
  s->inMessage_ = true;
  s->wantsContinue_ = false;
  return 0;
}

int RequestParser::onUrl(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  if (s->url_.size() + len > s->limits_.maxUrlBytes) return s->fail(414, "URL too long");
  s->url_.append(at, len);
  return 0;
}

int RequestParser::onHeaderField(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  if (s->headerBytes_.size() + len > s->limits_.maxHeaderBytes) {
    return s->fail(431, "headers too large");
  }
  if (s->spans_.empty() || s->lastWasValue_) {
    auto off = static_cast<uint32_t>(s->headerBytes_.size());
    s->spans_.push_back(Span{off, 0, off, 0});
    s->lastWasValue_ = false;
  }
  s->headerBytes_.append(at, len);
  s->spans_.back().nameLen += static_cast<uint32_t>(len);
  s->spans_.back().valueOff = static_cast<uint32_t>(s->headerBytes_.size());
  return 0;
}

int RequestParser::onHeaderValue(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  if (s->headerBytes_.size() + len > s->limits_.maxHeaderBytes) {
    return s->fail(431, "headers too large");
  }
  if (s->spans_.empty()) return s->fail(400, "header value without a name");
  s->lastWasValue_ = true;
  s->headerBytes_.append(at, len);
  s->spans_.back().valueLen += static_cast<uint32_t>(len);
  return 0;
}

int RequestParser::onHeadersComplete(http_parser* p) noexcept {
  RequestParser* s = self(p);
  if (p->content_length != ULLONG_MAX && p->content_length > s->limits_.maxBodyBytes) {
    return s->fail(413, "body too large");
  }
  s->headers_.clear();
  for (const Span& sp : s->spans_) {
    s->headers_.push_back(
        Header{std::string_view(s->headerBytes_).substr(sp.nameOff, sp.nameLen),
               std::string_view(s->headerBytes_).substr(sp.valueOff, sp.valueLen)});
    if (equalsIgnoreCase(s->headers_.back().name, "expect") &&
        equalsIgnoreCase(s->headers_.back().value, "100-continue")) {
      s->wantsContinue_ = true;
    }
  }
  return 0;
}

int RequestParser::onBody(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  if (s->body_.size() + len > s->limits_.maxBodyBytes) return s->fail(413, "body too large");
  s->body_.append(at, len);
  return 0;
}

int RequestParser::onMessageComplete(http_parser* p) noexcept {
  RequestParser* s = self(p);
  s->inMessage_ = false;
  s->wantsContinue_ = false;
  Request req;
  req.method = http_method_str(static_cast<http_method>(p->method));
  req.head = p->method == HTTP_HEAD;
  std::string_view url = s->url_;
  if (!url.empty() && url.front() != '/') {
    // absolute-form ("http://host/path?q"): keep from the path on
    size_t scheme = url.find("://");
    size_t slash =
        scheme == std::string_view::npos ? std::string_view::npos : url.find('/', scheme + 3);
    url = slash == std::string_view::npos ? std::string_view("/") : url.substr(slash);
  }
  size_t q = url.find('?');
  std::string_view beforeFragment = url.substr(0, url.find('#'));
  req.path = beforeFragment.substr(0, q);
  req.query = q == std::string_view::npos || q >= beforeFragment.size()
                  ? std::string_view{}
                  : beforeFragment.substr(q + 1);
  req.body = s->body_;
  req.headers = &s->headers_;
  req.keepAlive = http_should_keep_alive(p) != 0;
  req.httpMinor = static_cast<uint8_t>(p->http_major == 1 ? p->http_minor : 0);
  req.id = s->nextId_++;
  s->onRequest_(req);
  return 0;
}

}  // namespace common::http

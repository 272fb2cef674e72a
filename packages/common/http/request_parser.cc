// See request_parser.h. http-parser calls back with fragments (a URL or header may arrive in
// several reads), so every piece is appended to buffers that are reused request after request:
// a keep-alive connection allocates nothing in steady state. A body buffer is the exception:
// one above kKeepBodyCapacity is freed (not just cleared) when its request ends or fails, so
// the memory really goes back; while a body grows, every capacity increase is charged to the
// shared BodyBudget first.
#include "common/http/request_parser.h"

#include <strings.h>

#include <algorithm>
#include <climits>

namespace common::http {
namespace {

RequestParser* self(http_parser* p) {
  return static_cast<RequestParser*>(p->data);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// RFC 9110 5.6.2 tchar.
bool isToken(std::string_view s) {
  static constexpr std::string_view kPunct = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  for (char c : s) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && kPunct.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// The piece (and its bytes) that a pass of flushUnflushed handed over at the end of its bytes:
// only the hand-over a read's end makes reaches `end` (one made when a piece ends stops at its
// delimiter, before it), and http-parser has at most one piece open there.
struct UnflushedTail {
  enum class Piece { kNone, kTarget, kHeaderName, kHeaderValue };
  const char* end;
  Piece piece = Piece::kNone;
  const char* at = nullptr;
  size_t len = 0;

  template <Piece P>
  static int record(http_parser* p, const char* at, size_t len) {
    auto* t = static_cast<UnflushedTail*>(p->data);
    if (at + len == t->end) *t = UnflushedTail{t->end, P, at, len};
    return 0;
  }
};

constexpr size_t kKeepBodyCapacity = 8192;  // a body buffer this small is kept for reuse

}  // namespace

std::string_view Request::header(std::string_view name) const {
  if (headers == nullptr) return {};
  for (const Header& h : *headers) {
    if (equalsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

RequestParser::RequestParser(ParserLimits limits, OnRequest onRequest, OnHead onHead,
                             BodyBudget* budget)
    : limits_(limits),
      onRequest_(std::move(onRequest)),
      maxBodyBytes_(limits.maxBodyBytes),
      onHead_(std::move(onHead)),
      budget_(budget) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onHeaderField;
  settings_.on_header_value = &RequestParser::onHeaderValue;
  settings_.on_headers_complete = &RequestParser::onHeadersComplete;
  settings_.on_chunk_header = &RequestParser::onChunkHeader;
  settings_.on_body = &RequestParser::onBody;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
}

RequestParser::~RequestParser() {
  releaseBody();
}

int RequestParser::fail(int status, const char* reason) {
  if (failStatus_ == 0) {
    failStatus_ = status;
    errorReason_ = reason;
    releaseBody();  // nothing more of it will be read: the memory goes back now
  }
  return -1;
}

void RequestParser::releaseBody() {
  if (budget_ != nullptr) budget_->release(charged_);
  charged_ = 0;
  if (body_.capacity() > kKeepBodyCapacity) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
}

bool RequestParser::growBody(size_t len) {
  size_t need = body_.size() + len;
  if (need <= body_.capacity()) return true;
  // Double as std::string would, but never past the request's limit (or its declared length).
  size_t cap = std::max(need, std::min(body_.capacity() * 2, maxBodyBytes_));
  if (parser_.content_length != ULLONG_MAX && !(parser_.flags & F_CHUNKED)) {
    cap = std::max(need, std::min(cap, body_.size() + len + parser_.content_length));
  }
  size_t more = cap - body_.capacity();
  if (budget_ != nullptr && !budget_->reserve(more)) return false;
  charged_ += more;
  body_.reserve(cap);
  return true;
}

bool RequestParser::checkChunkEnd(const char* from, const char* end) {
  static constexpr char kCrlf[] = "\r\n";
  while (chunkCrlfLeft_ > 0 && from < end) {
    if (*from++ != kCrlf[2 - chunkCrlfLeft_]) return false;
    chunkCrlfLeft_--;
  }
  return true;
}

int RequestParser::feed(const char* data, size_t len) {
  if (failStatus_ != 0) return failStatus_;
  // http-parser reads an empty buffer as the end of the stream (a request cut short: 400).
  // An empty read is not an end here; Connection handles EOF itself.
  if (len == 0) return 0;
  if (!checkChunkEnd(data, data + len)) {
    fail(400, "chunk data longer than its chunk size");
    return failStatus_;
  }
  feedEnd_ = data + len;
  const http_parser before = parser_;  // the state this read began in, for flushUnflushed
  size_t parsed = http_parser_execute(&parser_, &settings_, data, len);
  feedEnd_ = nullptr;
  if (failStatus_ != 0) return failStatus_;
  enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err != HPE_OK && flushUnflushed(before, data, parsed) != 0) {
    return failStatus_;  // a target or header broke a limit before the byte http-parser refused
  }
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
  s->releaseBody();
  s->maxBodyBytes_ = s->limits_.maxBodyBytes;
  s->chunkLeft_ = 0;
  s->chunkCrlfLeft_ = 0;
  s->lastWasValue_ = false;
  s->headersDone_ = false;
  s->inMessage_ = true;
  s->wantsContinue_ = false;
  return 0;
}

int RequestParser::checkTarget(const char* at, size_t len) {
  // Byte by byte, so the first fault in the stream decides (414 or 400) wherever reads split it.
  // http-parser, built non-strict, lets a tab or a form feed into the target; RFC 9112 3.2
  // does not, and a proxy that splits on them would read another target.
  for (size_t i = 0; i < len; ++i) {
    if (url_.size() + i >= limits_.maxUrlBytes) return fail(414, "URL too long");
    auto c = static_cast<unsigned char>(at[i]);
    if (c <= 0x20 || c == 0x7f) return fail(400, "control byte in the request target");
  }
  return 0;
}

int RequestParser::flushUnflushed(const http_parser& before, const char* data, size_t upTo) {
  // http-parser hands a target, header name or header value to its callback when the piece
  // ends or the read does. When it refuses a byte, the bytes of the current piece before it in
  // this read were never handed over: split there, the first read would have handed them over
  // (and a limit they break would answer 414 or 431), in one read only the 400 was seen. So the
  // read is parsed again up to the refused byte, from the state it began in: that pass ends
  // with exactly the hand-over a split there would have made (everything before it reached the
  // real callbacks in the first pass), which the recorder keeps and the real callback checks.
  // Every error is treated so, whatever cut the piece short: the first fault decides.
  if (upTo == 0) return 0;
  UnflushedTail tail{data + upTo};
  http_parser again = before;
  again.data = &tail;
  // http-parser's own head limit (80 KiB, HPE_HEADER_OVERFLOW) may be what stopped the first
  // pass. Counted from zero, this one reaches the refused byte when a target is open (counted
  // byte by byte); if it stops short, the open piece is a header and 431 is the answer anyway.
  again.nread = 0;
  static const http_parser_settings kRecord = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = &UnflushedTail::record<UnflushedTail::Piece::kTarget>;
    s.on_header_field = &UnflushedTail::record<UnflushedTail::Piece::kHeaderName>;
    s.on_header_value = &UnflushedTail::record<UnflushedTail::Piece::kHeaderValue>;
    return s;
  }();
  http_parser_execute(&again, &kRecord, data, upTo);
  if (HTTP_PARSER_ERRNO(&again) != HPE_OK) return 0;
  switch (tail.piece) {
    case UnflushedTail::Piece::kNone:
      return 0;
    case UnflushedTail::Piece::kTarget:
      return onUrl(&parser_, tail.at, tail.len);
    case UnflushedTail::Piece::kHeaderName:
      return onHeaderField(&parser_, tail.at, tail.len);
    case UnflushedTail::Piece::kHeaderValue:
      return onHeaderValue(&parser_, tail.at, tail.len);
  }
  return 0;
}

int RequestParser::onUrl(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  if (int st = s->checkTarget(at, len); st != 0) return st;
  s->url_.append(at, len);
  return 0;
}

int RequestParser::onHeaderField(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  // Trailer fields (after a chunked body) are dropped, as RFC 9110 6.5.1 allows: the delivered
  // headers are views into headerBytes_, which must not grow (reallocate) after the head.
  if (s->headersDone_) return 0;
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
  if (s->headersDone_) return 0;  // a trailer: see onHeaderField
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
  // HTTP/2+ (and 0.x) on this socket is not a dialect we speak. A higher 1.x minor is served as
  // 1.1, as RFC 9110 2.5 asks of a recipient that implements the major version.
  if (p->http_major != 1) return s->fail(505, "HTTP version not supported");
  s->headersDone_ = true;
  s->headers_.clear();
  for (Span& sp : s->spans_) {
    // RFC 9112 5.1: a field name is a token, and whitespace before the colon MUST be refused
    // (non-strict http-parser accepts "Host : x"; a proxy may read it as another header).
    if (!isToken(std::string_view(s->headerBytes_).substr(sp.nameOff, sp.nameLen))) {
      return s->fail(400, "header name is not a token");
    }
    // RFC 9110 5.5: a value is visible characters, spaces and tabs; http-parser lets some
    // control bytes through (a backspace right after the colon).
    for (char ch : std::string_view(s->headerBytes_).substr(sp.valueOff, sp.valueLen)) {
      auto c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return s->fail(400, "control byte in a header value");
      }
    }
    // RFC 9110 5.5: trailing whitespace is not part of a field value ("Content-Length: 3 ").
    while (sp.valueLen > 0 && (s->headerBytes_[sp.valueOff + sp.valueLen - 1] == ' ' ||
                               s->headerBytes_[sp.valueOff + sp.valueLen - 1] == '\t')) {
      --sp.valueLen;
    }
    s->headers_.push_back(
        Header{std::string_view(s->headerBytes_).substr(sp.nameOff, sp.nameLen),
               std::string_view(s->headerBytes_).substr(sp.valueOff, sp.valueLen)});
    if (equalsIgnoreCase(s->headers_.back().name, "expect") &&
        equalsIgnoreCase(s->headers_.back().value, "100-continue")) {
      s->wantsContinue_ = true;
    }
  }
  if (s->onHead_) {
    Request head;
    s->fillHead(head);
    HeadDecision d = s->onHead_(head);
    if (d.refuseStatus != 0) {
      s->errorCode_.assign(d.refuseCode);
      s->errorAllow_.assign(d.refuseAllow);
      return s->fail(d.refuseStatus, "refused by the route");
    }
    if (d.maxBodyBytes != 0) s->maxBodyBytes_ = d.maxBodyBytes;
  }
  if (p->content_length != ULLONG_MAX && p->content_length > s->maxBodyBytes_) {
    return s->fail(413, "body too large");
  }
  return 0;
}

int RequestParser::onChunkHeader(http_parser* p) noexcept {
  RequestParser* s = self(p);
  // p->content_length is this chunk's size: refused before any of it is read.
  if (p->content_length > s->maxBodyBytes_ - s->body_.size()) {
    return s->fail(413, "chunk larger than the body limit");
  }
  s->chunkLeft_ = p->content_length;
  return 0;
}

int RequestParser::onBody(http_parser* p, const char* at, size_t len) noexcept {
  RequestParser* s = self(p);
  if (len > s->maxBodyBytes_ - s->body_.size()) return s->fail(413, "body too large");
  if (!s->growBody(len)) return s->fail(503, "request body memory full");
  s->body_.append(at, len);
  if ((p->flags & F_CHUNKED) && len > 0) {
    s->chunkLeft_ -= std::min<uint64_t>(len, s->chunkLeft_);
    if (s->chunkLeft_ == 0) {  // the chunk's data ends at at+len: a CRLF must follow
      s->chunkCrlfLeft_ = 2;
      if (!s->checkChunkEnd(at + len, s->feedEnd_)) {
        return s->fail(400, "chunk data longer than its chunk size");
      }
    }
  }
  return 0;
}

void RequestParser::fillHead(Request& req) {
  const http_parser* p = &parser_;
  req.method = http_method_str(static_cast<http_method>(p->method));
  req.head = p->method == HTTP_HEAD;
  std::string_view url = url_;
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
  req.headers = &headers_;
  req.keepAlive = http_should_keep_alive(p) != 0;
  req.httpMinor = static_cast<uint8_t>(std::min<unsigned>(p->http_minor, 1));
}

int RequestParser::onMessageComplete(http_parser* p) noexcept {
  RequestParser* s = self(p);
  s->inMessage_ = false;
  s->wantsContinue_ = false;
  Request req;
  s->fillHead(req);
  req.body = s->body_;
  req.id = s->nextId_++;
  s->onRequest_(req);
  s->releaseBody();  // a large buffer goes back now, not when the next request begins
  return 0;
}

}  // namespace common::http

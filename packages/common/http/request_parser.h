// RequestParser: turns the bytes of one client connection into complete HTTP/1.x requests,
// with http-parser (nodejs/http-parser, Debian's libhttp-parser) underneath. It enforces the
// server's limits while parsing (URL over maxUrlBytes -> 414, headers over maxHeaderBytes ->
// 431, a body over its route's limit -> 413 as soon as Content-Length or a chunk size says so,
// the server-wide body budget full -> 503, HTTP/x.y with x != 1 -> 505, anything malformed ->
// 400) so no client can make it buffer more than those limits. At headers-complete it asks its
// owner (OnHead) for the request's body limit, or a refusal, before any body byte is kept.
// Owned by one Connection; no sockets, so it is unit-tested directly. The one thing to get
// right: the views in a delivered Request are valid only during the onRequest call (a large
// body buffer is freed right after it).
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/http/request.h"

namespace common::http {

struct ParserLimits {
  size_t maxUrlBytes = 8192;
  size_t maxHeaderBytes = 8192;
  size_t maxBodyBytes = 8192;  // when OnHead gives none
};

// Bytes held by unfinished request bodies, summed over every parser that shares it (the
// server's connections). Loop thread only.
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  bool reserve(size_t n) {
    if (n > limit_ - used_) return false;
    used_ += n;
    return true;
  }
  void release(size_t n) { used_ -= n; }
  size_t used() const { return used_; }

 private:
  size_t limit_;
  size_t used_ = 0;
};

// What the owner decides about a request once its head is complete.
struct HeadDecision {
  size_t maxBodyBytes = 0;  // 0: ParserLimits::maxBodyBytes
  int refuseStatus = 0;     // not 0: answer this status (with refuseCode) and read no body
  std::string_view refuseCode;
  std::string_view refuseAllow;  // not empty: the refusal's Allow header
};

class RequestParser {
 public:
  using OnRequest = std::function<void(Request&)>;
  // Called with the request's head (body empty) before any body byte is read.
  using OnHead = std::function<HeadDecision(const Request& head)>;

  // `budget` (may be null: no global cap) must outlive the parser.
  RequestParser(ParserLimits limits, OnRequest onRequest, OnHead onHead = {},
                BodyBudget* budget = nullptr);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses `len` bytes; calls onRequest for each complete request. Returns 0 when all was
  // consumed, or the HTTP status to answer (400, 413, 414, 431, 503, 505, or a refusal from
  // OnHead) after which the connection must close. Once failed, it stays failed, and the body
  // read so far is freed. An empty feed does nothing (it is not an end of stream).
  int feed(const char* data, size_t len);

  // True between the first byte of a request and its end (used for the header timeout).
  bool inRequest() const { return inMessage_; }
  // A request's headers were complete and it carried "Expect: 100-continue".
  bool wantsContinue() const { return wantsContinue_; }
  void continueSent() { wantsContinue_ = false; }
  std::string_view errorReason() const { return errorReason_; }
  // The JSON error code OnHead gave with its refusal; "" for the parser's own failures.
  std::string_view errorCode() const { return errorCode_; }
  std::string_view errorAllow() const { return errorAllow_; }  // a refusal's Allow header

 private:
  static int onMessageBegin(http_parser* p) noexcept;
  static int onUrl(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeaderField(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeaderValue(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeadersComplete(http_parser* p) noexcept;
  static int onChunkHeader(http_parser* p) noexcept;
  static int onBody(http_parser* p, const char* at, size_t len) noexcept;
  static int onMessageComplete(http_parser* p) noexcept;

  int fail(int status, const char* reason);
  // The request target's rules (length, no control byte) on bytes not yet in url_: 0, or -1
  // once fail() was called (414 or 400).
  int checkTarget(const char* at, size_t len);
  // After http-parser refused the byte at data[upTo] of a read that began in state `before`:
  // hands the target, header name or value bytes of this read before it that http-parser had
  // not handed over to onUrl, onHeaderField or onHeaderValue, as a read ending there would
  // have. 0, or -1 once fail() was called (414, 431 or 400).
  int flushUnflushed(const http_parser& before, const char* data, size_t upTo);
  void fillHead(Request& req);
  bool growBody(size_t len);  // room for len more body bytes, charged to the budget
  void releaseBody();         // frees the body buffer and its charge
  // Checks the CRLF that must follow a chunk's data (http-parser, built non-strict, accepts
  // any two bytes there); false on a mismatch.
  bool checkChunkEnd(const char* from, const char* end);

  struct Span {
    uint32_t nameOff, nameLen, valueOff, valueLen;
  };

  ParserLimits limits_;
  OnRequest onRequest_;
  http_parser parser_;
  http_parser_settings settings_;
  std::string url_;
  std::string headerBytes_;
  std::vector<Span> spans_;
  std::vector<Header> headers_;
  std::string body_;
  size_t maxBodyBytes_ = 0;  // this request's limit, from OnHead
  size_t charged_ = 0;       // body_ capacity charged to budget_ for this request
  OnHead onHead_;
  BodyBudget* budget_;
  uint64_t chunkLeft_ = 0;  // data bytes of the current chunk not seen yet
  int chunkCrlfLeft_ = 0;   // bytes of the CRLF after a chunk's data not checked yet
  const char* feedEnd_ = nullptr;
  std::string errorCode_;
  std::string errorAllow_;
  bool lastWasValue_ = false;
  bool headersDone_ = false;  // past headers-complete: trailer fields are dropped
  bool inMessage_ = false;
  bool wantsContinue_ = false;
  int failStatus_ = 0;
  const char* errorReason_ = "";
  uint64_t nextId_ = 1;
};

}  // namespace common::http

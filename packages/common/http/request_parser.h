// RequestParser: turns the bytes of one client connection into complete HTTP/1.x requests,
// with http-parser (nodejs/http-parser, Debian's libhttp-parser) underneath. It enforces the
// server's limits while parsing (URL over maxUrlBytes -> 414, headers over maxHeaderBytes ->
// 431, body over maxBodyBytes -> 413, anything malformed -> 400) so no client can make it
// buffer more than those limits. Owned by one Connection; no sockets, so it is unit-tested
// directly. The views in a delivered Request stay valid until the next feed() call.
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
  size_t maxBodyBytes = 64u << 20;
};

class RequestParser {
 public:
  using OnRequest = std::function<void(Request&)>;

  RequestParser(ParserLimits limits, OnRequest onRequest);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses `len` bytes; calls onRequest for each complete request. Returns 0 when all was
  // consumed, or the HTTP status to answer (400, 413, 414, 431) after which the connection
  // must close. Once failed, it stays failed.
  int feed(const char* data, size_t len);

  // True between the first byte of a request and its end (used for the header timeout).
  bool inRequest() const { return inMessage_; }
  // A request's headers were complete and it carried "Expect: 100-continue".
  bool wantsContinue() const { return wantsContinue_; }
  void continueSent() { wantsContinue_ = false; }
  std::string_view errorReason() const { return errorReason_; }

 private:
  static int onMessageBegin(http_parser* p) noexcept;
  static int onUrl(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeaderField(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeaderValue(http_parser* p, const char* at, size_t len) noexcept;
  static int onHeadersComplete(http_parser* p) noexcept;
  static int onBody(http_parser* p, const char* at, size_t len) noexcept;
  static int onMessageComplete(http_parser* p) noexcept;

  int fail(int status, const char* reason);

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
  bool lastWasValue_ = false;
  bool inMessage_ = false;
  bool wantsContinue_ = false;
  int failStatus_ = 0;
  const char* errorReason_ = "";
  uint64_t nextId_ = 1;
};

}  // namespace common::http

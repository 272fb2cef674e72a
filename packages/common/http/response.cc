// See response.h.
#include "common/http/response.h"

#include <charconv>
#include <ctime>

namespace common::http {
namespace {

std::string_view currentDate() {
  thread_local time_t cachedAt = 0;
  thread_local char buf[40];
  thread_local size_t len = 0;
  time_t now = time(nullptr);
  if (now != cachedAt) {
    struct tm tm;
    gmtime_r(&now, &tm);
    len = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cachedAt = now;
  }
  return std::string_view(buf, len);
}

}  // namespace

std::string_view statusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void appendResponseHead(std::string& out, int status, std::string_view contentType,
                        BodyFraming framing, size_t contentLength, bool keepAlive,
                        const ExtraHeaders& extra) {
  char num[24];
  out.append("HTTP/1.1 ");
  auto [end, ec] = std::to_chars(num, num + sizeof num, status);
  out.append(num, end);
  out.push_back(' ');
  out.append(statusText(status));
  out.append("\r\nDate: ");
  out.append(currentDate());
  out.append("\r\nContent-Type: ");
  out.append(contentType);
  switch (framing) {
    case BodyFraming::kLength: {
      out.append("\r\nContent-Length: ");
      auto [e2, ec2] = std::to_chars(num, num + sizeof num, contentLength);
      out.append(num, e2);
      break;
    }
    case BodyFraming::kChunked:
      out.append("\r\nTransfer-Encoding: chunked");
      break;
    case BodyFraming::kUntilClose:
      break;
  }
  out.append(keepAlive ? "\r\nConnection: keep-alive" : "\r\nConnection: close");
  for (const auto& [name, value] : extra) {
    out.append("\r\n");
    out.append(name);
    out.append(": ");
    out.append(value);
  }
  out.append("\r\n\r\n");
}

void appendChunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  out.append(hex, end);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

}  // namespace common::http

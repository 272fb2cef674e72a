// Formatting of HTTP/1.1 response heads. Every complete response carries Content-Length and
// a Date; streamed ones use chunked encoding (or close-delimited bodies for HTTP/1.0).
// Pure functions; the Date string is cached per second per thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace common::http {

using ExtraHeaders = std::vector<std::pair<std::string, std::string>>;

std::string_view statusText(int status);

enum class BodyFraming { kLength, kChunked, kUntilClose };

// Appends the status line and headers, ending with the blank line.
void appendResponseHead(std::string& out, int status, std::string_view contentType,
                        BodyFraming framing, size_t contentLength, bool keepAlive,
                        const ExtraHeaders& extra);

// Appends one chunk of a chunked body ("<hex>\r\n<data>\r\n"); empty data is not a terminator.
void appendChunk(std::string& out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace common::http

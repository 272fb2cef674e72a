// Minimal JSON text output for the hot path: appends escaped string literals and numbers to a
// std::string without building a DOM. Every control character is escaped (\u00XX or the short
// forms); valid UTF-8, astral characters included, passes through unchanged.
// Inputs must already be valid UTF-8 (the HTTP layer validates what clients send).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace common::json {

// Appends "s" (with quotes) to out.
void appendString(std::string& out, std::string_view s);

// Appends a decimal integer.
void appendInt(std::string& out, int64_t v);
void appendUint(std::string& out, uint64_t v);

// {"error":"CODE"}
std::string errorBody(std::string_view code);

}  // namespace common::json

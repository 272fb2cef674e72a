// The REST interface's path decoder (README.md, "REST interface"): "/kv", "/kv/C", "/kv/C/K"
// and "/kv/C/K/V" into a collection, key and value, each percent-decoded ('+' stays a '+': this is
// a path, not a form) and checked with the GET API's rules (storage/record_rules.h). The collection
// "_" is the default collection (the GET API's c= absent, named "" in /collections). Codes, in this
// order: TOO_MANY_PATH_SEGMENTS (more than 3 after /kv), EMPTY_PATH_SEGMENT
// ("/kv//k", "/kv/c/"), INVALID_ENCODING (a broken %-escape, or bytes that are not UTF-8 once
// decoded), then the record rules: INVALID_COLLECTION / MAXIMUM_COLLECTION_LENGTH_REACHED,
// MAXIMUM_KEY_LENGTH_REACHED, MAXIMUM_VALUE_LENGTH_REACHED (a segment is never empty, so EMPTY_KEY
// cannot happen; set an empty value with PUT and an empty body).
// The one thing to get right: split on '/' BEFORE decoding, so "%2F" is a slash inside a key.
// Pure functions; the output's buffers are reused (no allocation in steady state); any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "database/storage/record_rules.h"

namespace db {

// The path spelling of the default collection.
inline constexpr std::string_view kRestDefaultCollection = "_";
// The routes' root ("/kv"); every REST path is it or starts with it and a '/'.
inline constexpr std::string_view kRestRoot = "/kv";

struct RestPath {
  enum class Shape { kRoot, kCollection, kKey, kKeyValue };
  Shape shape = Shape::kRoot;
  std::string collection;  // "" = the default collection ("_" in the path)
  std::string key;
  std::string value;  // kKeyValue only (POST /kv/C/K/V)
};

// Decodes %XX escapes only ('+' is itself). False on a broken escape ("%", "%4", "%zz").
bool percentDecode(std::string_view in, std::string& out);

// `path` is the request's raw path (no query). "/kv" and "/kv/" are the root.
common::Status decodeRestPath(std::string_view path, const Limits& limits, RestPath& out);

}  // namespace db

// The client's side of meshkv's HTTP API as pure functions: request targets ("/get?k=..."),
// and the JSON answers turned into values (a value string, a page of keys or entries, /status,
// the error code of a failed request). Used by ClientCore; no I/O, any thread.
// The one thing a newcomer gets wrong: keys and values are percent-encoded byte by byte (a '+'
// in a key must become %2B, since the server decodes '+' as a space).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meshkv/client.h"

namespace meshkv::protocol {

struct Param {
  std::string_view name;
  std::string_view value;
  bool optional = false;  // left out when empty (w=, prefix=, cursor=)
};

// "/path?name=value&..." with every value percent-encoded.
std::string target(std::string_view path, std::initializer_list<Param> params);

// The targets of the key and list operations; c=, w=, ttl=, prefix= and cursor= are left out
// when they are the default (so a caller without collections sends what it always sent).
// `path` of keyTarget: /get, /is, /ttl; of writeTarget: /rm, /persist.
std::string keyTarget(std::string_view path, std::string_view key, std::string_view collection);
std::string setTarget(std::string_view key, std::string_view value, const WriteOptions& opts);
std::string writeTarget(std::string_view path, std::string_view key, const WriteOptions& opts);
std::string clearTarget(const WriteOptions& opts);
std::string listTarget(const ListOptions& opts, std::string_view cursor);

// Percent-encodes every byte outside [A-Za-z0-9-._~].
void appendEncoded(std::string& out, std::string_view in);

// The code of a failed answer: {"error":"CODE"} -> CODE, otherwise "HTTP_<status>".
Error errorOf(long status, std::string_view body);

struct HostPort {
  std::string host;  // without [] for IPv6
  int port = 80;
};
// "http://host[:port][/...]" -> host and port (kBadUrl otherwise).
Result<HostPort> parseUrl(std::string_view url);

// A JSON string literal ("value", /get's answer) -> the value.
Result<std::string> parseString(std::string_view body);

// A /getKeys (strings) or /getAll ({"k":..,"v":..}) array.
Result<std::vector<Entry>> parseList(std::string_view body, ListKind kind);

// A /ttl answer, {"key":..,"ttl":N}: N (seconds left, -1 for no expiry).
Result<int64_t> parseTtl(std::string_view body);

// A /status answer.
Result<NodeStatus> parseStatus(std::string_view body);

}  // namespace meshkv::protocol

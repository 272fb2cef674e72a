// See protocol.h. JSON is read with RapidJSON's DOM (answers are small: one page at most).
#include "client/protocol.h"

#include <rapidjson/document.h>

namespace meshkv::protocol {
namespace {

std::string str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

uint64_t number(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsUint64()) return 0;
  return it->value.GetUint64();
}

std::string text(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return str(it->value);
}

bool flag(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

Error bad(std::string_view what) {
  return Error{kBadResponse, std::string(what)};
}

}  // namespace

void appendEncoded(std::string& out, std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

std::string target(std::string_view path, std::initializer_list<Param> params) {
  std::string out(path);
  char sep = '?';
  for (const auto& [name, value, optional] : params) {
    if (optional && value.empty()) continue;
    out.push_back(sep);
    sep = '&';
    out.append(name);
    out.push_back('=');
    appendEncoded(out, value);
  }
  return out;
}

std::string keyTarget(std::string_view path, std::string_view key, std::string_view collection) {
  return target(path, {{"c", collection, true}, {"k", key}});
}

std::string setTarget(std::string_view key, std::string_view value, const WriteOptions& opts) {
  std::string ttl = opts.ttlSeconds == 0 ? "" : std::to_string(opts.ttlSeconds);
  return target("/set", {{"c", opts.collection, true},
                         {"k", key},
                         {"v", value},
                         {"w", opts.w, true},
                         {"ttl", ttl, true}});
}

std::string writeTarget(std::string_view path, std::string_view key, const WriteOptions& opts) {
  return target(path, {{"c", opts.collection, true}, {"k", key}, {"w", opts.w, true}});
}

std::string clearTarget(const WriteOptions& opts) {
  return target("/clear", {{"c", opts.collection, true}, {"w", opts.w, true}});
}

std::string listTarget(const ListOptions& opts, std::string_view cursor) {
  std::string limit = std::to_string(opts.pageSize == 0 ? 1000 : opts.pageSize);
  return target(opts.kind == ListKind::kKeys ? "/getKeys" : "/getAll",
                {{"c", opts.collection, true},
                 {"prefix", opts.prefix, true},
                 {"limit", limit},
                 {"cursor", cursor, true}});
}

Error errorOf(long status, std::string_view body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  std::string message = "HTTP " + std::to_string(status);
  if (!d.HasParseError() && d.IsObject()) {
    std::string code = text(d, "error");
    if (!code.empty()) return Error{code, message};
  }
  return Error{"HTTP_" + std::to_string(status), message};
}

Result<HostPort> parseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return Error{kBadUrl, "not http://host:port"};
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  HostPort out;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Error{kBadUrl, "unclosed ["};
    out.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return Error{kBadUrl, "junk after ]"};
      port = rest.substr(close + 2);
    }
  } else {
    size_t colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return Error{kBadUrl, "no host in " + std::string(url)};
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) return Error{kBadUrl, "bad port in " + std::string(url)};
      p = p * 10 + (c - '0');
    }
    if (p == 0 || p > 65535) return Error{kBadUrl, "bad port in " + std::string(url)};
    out.port = p;
  }
  return out;
}

Result<std::string> parseString(std::string_view body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsString()) return bad("expected a JSON string");
  return str(d);
}

Result<std::vector<Entry>> parseList(std::string_view body, ListKind kind) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsArray()) return bad("expected a JSON array");
  std::vector<Entry> out;
  out.reserve(d.Size());
  for (const auto& item : d.GetArray()) {
    if (kind == ListKind::kKeys) {
      if (!item.IsString()) return bad("expected an array of strings");
      out.push_back(Entry{str(item), {}});
    } else {
      if (!item.IsObject()) return bad("expected an array of {k, v}");
      auto k = item.FindMember("k");
      auto v = item.FindMember("v");
      if (k == item.MemberEnd() || v == item.MemberEnd() || !k->value.IsString() ||
          !v->value.IsString()) {
        return bad("expected an array of {k, v}");
      }
      out.push_back(Entry{str(k->value), str(v->value)});
    }
  }
  return out;
}

Result<int64_t> parseTtl(std::string_view body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) return bad("expected a JSON object");
  auto it = d.FindMember("ttl");
  if (it == d.MemberEnd() || !it->value.IsInt64() || it->value.GetInt64() < -1) {
    return bad("expected {\"ttl\": seconds or -1}");
  }
  return it->value.GetInt64();
}

Result<NodeStatus> parseStatus(std::string_view body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) return bad("expected a JSON object");
  NodeStatus s;
  s.json = std::string(body);
  s.version = text(d, "version");
  s.hostname = text(d, "hostname");
  s.records = number(d, "availableRecords");
  s.uptimeSeconds = number(d, "uptimeSeconds");
  s.openConnections = number(d, "openConnections");
  s.totalRequests = number(d, "totalRequests");
  s.ready = flag(d, "ready");
  auto mem = d.FindMember("memory");
  if (mem != d.MemberEnd() && mem->value.IsObject())
    s.residentBytes = number(mem->value, "residentBytes");
  auto members = d.FindMember("members");
  if (members != d.MemberEnd() && members->value.IsArray()) {
    for (const auto& m : members->value.GetArray()) {
      if (!m.IsObject()) continue;
      Member member{text(m, "id"), text(m, "url"), text(m, "state"), flag(m, "self"), false};
      member.ready = member.self ? s.ready : flag(m, "ready");
      s.members.push_back(std::move(member));
    }
  }
  return s;
}

}  // namespace meshkv::protocol

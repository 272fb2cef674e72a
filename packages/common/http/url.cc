// See url.h. The UTF-8 validator follows the Unicode "well-formed byte sequences" table (3-7)
// so it rejects overlongs, surrogates and code points past U+10FFFF.
#include "common/http/url.h"

#include <charconv>

namespace common {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool formDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  size_t run = 0;  // start of the current run of bytes copied as they are
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '+' && c != '%') continue;
    out.append(in.data() + run, i - run);
    if (c == '+') {
      out.push_back(' ');
    } else {
      if (i + 2 >= in.size()) return false;
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
    run = i + 1;
  }
  out.append(in.data() + run, in.size() - run);
  return true;
}

Result<std::vector<QueryParam>> parseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  bool ok = true;
  forEachRawParam(query, [&](std::string_view rawName, std::string_view rawValue, bool hasValue) {
    QueryParam p;
    p.hasValue = hasValue;
    ok = formDecode(rawName, p.name) && formDecode(rawValue, p.value) && isValidUtf8(p.name) &&
         isValidUtf8(p.value);
    if (ok) params.push_back(std::move(p));
    return ok;
  });
  if (!ok) return Error{"INVALID_ENCODING", "broken % escape or not UTF-8 after decoding"};
  return params;
}

bool isValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= need) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (size_t i = 2; i <= need; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    }
    p += need + 1;
  }
  return true;
}

size_t countCodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Result<HttpUrl> parseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return Error{"BAD_URL", "must start with http://"};
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.empty()) return Error{"BAD_URL", "no host"};
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"BAD_URL", "unclosed ["};
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error{"BAD_URL", "junk after ]"};
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return Error{"BAD_URL", "no host"};
  for (char c : host) {
    if (c == '@' || c == ' ' || c == '?' || c == '#') return Error{"BAD_URL", "bad host"};
  }
  out.host = std::string(host);
  if (!port.empty() || authority.back() == ':') {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return Error{"BAD_URL", "bad port"};
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

void urlEncode(std::string_view in, std::string& out) {
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

}  // namespace common

// See auth.h. HMAC-SHA256 from OpenSSL's libcrypto, streamed over the parts so a large batch
// body is never copied (EVP_MAC, OpenSSL 3); CRYPTO_memcmp for the constant-time comparison.
#include "database/mesh/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <charconv>
#include <initializer_list>

namespace db {

namespace {
constexpr size_t kMaxNonce = 64;
constexpr size_t kMacHex = 64;  // SHA-256 in hex

bool isHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
}  // namespace

std::string MeshAuth::mac(std::initializer_list<std::string_view> fields,
                          std::string_view body) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = hmac != nullptr ? EVP_MAC_CTX_new(hmac) : nullptr;
  bool ok = ctx != nullptr;
  if (ok) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    ok = EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret_.data()), secret_.size(),
                      params) == 1;
  }
  const unsigned char nl = '\n';
  auto feed = [&](std::string_view s, bool sep) {
    if (!ok) return;
    ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(s.data()), s.size()) == 1;
    if (ok && sep) ok = EVP_MAC_update(ctx, &nl, 1) == 1;
  };
  for (std::string_view f : fields) feed(f, true);
  feed(body, false);
  if (ok) ok = EVP_MAC_final(ctx, out, &len, sizeof out) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  if (!ok) return {};
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 15]);
  }
  return hex;
}

bool MeshAuth::equalMac(std::string_view want, std::string_view given) const {
  if (want.empty() || given.size() != want.size()) return false;
  return CRYPTO_memcmp(want.data(), given.data(), want.size()) == 0;
}

bool MeshAuth::split(std::string_view header, Parts& out) {
  size_t d1 = header.find('.');
  if (d1 == std::string_view::npos || d1 == 0) return false;
  size_t d2 = header.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  out.ts = header.substr(0, d1);
  out.nonce = header.substr(d1 + 1, d2 - d1 - 1);
  out.mac = header.substr(d2 + 1);
  if (out.nonce.empty() || out.nonce.size() > kMaxNonce || !isHex(out.nonce)) return false;
  if (out.mac.size() != kMacHex || !isHex(out.mac)) return false;
  auto [p, ec] = std::from_chars(out.ts.data(), out.ts.data() + out.ts.size(), out.ms);
  return ec == std::errc() && p == out.ts.data() + out.ts.size();
}

std::string MeshAuth::sign(std::string_view method, std::string_view path, std::string_view query,
                           std::string_view body, uint64_t nowMs, std::string_view nonce) const {
  if (!enabled()) return {};
  std::string ts = std::to_string(nowMs);
  std::string m = mac({method, path, query, ts, nonce}, body);
  std::string out;
  out.reserve(ts.size() + nonce.size() + m.size() + 2);
  out.append(ts).append(".").append(nonce).append(".").append(m);
  return out;
}

bool MeshAuth::plausible(std::string_view header, uint64_t nowMs) const {
  if (!enabled()) return true;
  Parts p;
  if (!split(header, p)) return false;
  uint64_t skew = p.ms > nowMs ? p.ms - nowMs : nowMs - p.ms;
  return skew <= windowMs_;
}

bool MeshAuth::verify(std::string_view header, std::string_view method, std::string_view path,
                      std::string_view query, std::string_view body, uint64_t nowMs) const {
  if (!enabled()) return true;
  if (!plausible(header, nowMs)) return false;
  Parts p;
  split(header, p);
  return equalMac(mac({method, path, query, p.ts, p.nonce}, body), p.mac);
}

std::string MeshAuth::signResponse(std::string_view requestProof, int status,
                                   std::string_view responderId, std::string_view body) const {
  if (!enabled()) return {};
  return mac({"response", requestProof, std::to_string(status), responderId}, body);
}

bool MeshAuth::verifyResponse(std::string_view header, std::string_view requestProof, int status,
                              std::string_view responderId, std::string_view body) const {
  if (!enabled()) return true;
  if (header.size() != kMacHex || requestProof.empty()) return false;
  return equalMac(signResponse(requestProof, status, responderId, body), header);
}

}  // namespace db

// See auth.h. HMAC-SHA256 from OpenSSL's libcrypto, streamed over the parts so a large batch
// body is never copied (EVP_MAC, OpenSSL 3); CRYPTO_memcmp for the constant-time comparison.
#include "database/mesh/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <charconv>

namespace db {

std::string MeshAuth::mac(std::string_view method, std::string_view path, std::string_view query,
                          std::string_view body, std::string_view ts) const {
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
  feed(method, true);
  feed(path, true);
  feed(query, true);
  feed(ts, true);
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

std::string MeshAuth::sign(std::string_view method, std::string_view path, std::string_view query,
                           std::string_view body, uint64_t nowMs) const {
  if (!enabled()) return {};
  std::string ts = std::to_string(nowMs);
  return ts + "." + mac(method, path, query, body, ts);
}

bool MeshAuth::verify(std::string_view header, std::string_view method, std::string_view path,
                      std::string_view query, std::string_view body, uint64_t nowMs) const {
  if (!enabled()) return true;
  size_t dot = header.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  std::string_view ts = header.substr(0, dot);
  std::string_view given = header.substr(dot + 1);
  uint64_t t = 0;
  auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
  if (ec != std::errc() || p != ts.data() + ts.size()) return false;
  uint64_t skew = t > nowMs ? t - nowMs : nowMs - t;
  if (skew > windowMs_) return false;
  std::string want = mac(method, path, query, body, ts);
  if (want.empty() || given.size() != want.size()) return false;
  return CRYPTO_memcmp(want.data(), given.data(), want.size()) == 0;
}

}  // namespace db

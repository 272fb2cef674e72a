// MeshAuth: proves, in both directions, that a mesh exchange is with a node that knows the shared
// MESH_SECRET. A request carries `X-Mesh-Auth: <unix ms>.<nonce>.<hex HMAC-SHA256(secret,
// method \n path \n query \n unix ms \n nonce \n body)>`: refused outside the time window, MAC
// compared in constant time. Its ANSWER carries `X-Mesh-Auth: <hex HMAC(secret, "response" \n
// request proof \n status \n responder id \n body)>`: bound to the one request it answers (the
// nonce makes every request proof unique), so a captured answer replayed to another request fails.
// With no secret every request and answer passes (the mesh is open; the node warns at start).
// Pure functions; any thread. The one thing to get right: sign exactly the bytes that travel
// (raw query, raw body, the status line's code), and verify an answer BEFORE acting on any of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace db {

inline constexpr std::string_view kMeshAuthHeader = "X-Mesh-Auth";

class MeshAuth {
 public:
  MeshAuth(std::string secret, uint64_t windowMs)
      : secret_(std::move(secret)), windowMs_(windowMs) {}
  bool enabled() const { return !secret_.empty(); }

  // The header value for a request (empty when the mesh is open). `nonce`: 1-64 characters of
  // [0-9a-f], unique per request (the caller's counter); it makes the answer's proof unique.
  std::string sign(std::string_view method, std::string_view path, std::string_view query,
                   std::string_view body, uint64_t nowMs, std::string_view nonce) const;
  // True when `header` is a valid proof for the request (always true when the mesh is open).
  bool verify(std::string_view header, std::string_view method, std::string_view path,
              std::string_view query, std::string_view body, uint64_t nowMs) const;
  // The cheap part of verify(), possible before the body arrived: present, well-formed and
  // within the time window (always true when the mesh is open).
  bool plausible(std::string_view header, uint64_t nowMs) const;

  // The X-Mesh-Auth value of an answer to the request whose proof was `requestProof` (empty when
  // the mesh is open).
  std::string signResponse(std::string_view requestProof, int status, std::string_view responderId,
                           std::string_view body) const;
  // True when `header` proves that the answer (status, responder id, body) was made for the
  // request whose proof was `requestProof` by a holder of the secret (always true when open).
  bool verifyResponse(std::string_view header, std::string_view requestProof, int status,
                      std::string_view responderId, std::string_view body) const;

 private:
  struct Parts {
    std::string_view ts, nonce, mac;
    uint64_t ms = 0;
  };
  static bool split(std::string_view header, Parts& out);
  std::string mac(std::initializer_list<std::string_view> fields, std::string_view body) const;
  bool equalMac(std::string_view want, std::string_view given) const;
  std::string secret_;
  uint64_t windowMs_;
};

}  // namespace db

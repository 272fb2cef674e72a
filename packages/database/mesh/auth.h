// MeshAuth: proves that an internal request (/_mesh/...) comes from a node that knows the shared
// MESH_SECRET. The header is `X-Mesh-Auth: <unix ms>.<hex HMAC-SHA256(secret, method \n path \n
// query \n unix ms \n body)>`; a request whose timestamp is outside the window is refused, and the
// MAC is compared in constant time. With no secret configured every request passes (the node
// warns at start that the mesh is open). Pure functions; any thread.
// The one thing to get right: sign exactly the bytes that travel (raw query, raw body).
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
  // The header value for a request (empty when the mesh is open).
  std::string sign(std::string_view method, std::string_view path, std::string_view query,
                   std::string_view body, uint64_t nowMs) const;
  // True when `header` is a valid proof for the request (always true when the mesh is open).
  bool verify(std::string_view header, std::string_view method, std::string_view path,
              std::string_view query, std::string_view body, uint64_t nowMs) const;

 private:
  std::string mac(std::string_view method, std::string_view path, std::string_view query,
                  std::string_view body, std::string_view ts) const;
  std::string secret_;
  uint64_t windowMs_;
};

}  // namespace db

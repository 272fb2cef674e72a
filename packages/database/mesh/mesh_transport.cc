// MeshTransport (see mesh_transport.h): signed control requests out, authorised and signed
// answers in. Loop thread only. The one thing to get right: nothing of an answer is believed
// before its proof is checked, and nothing of a request before authorized() said yes.
#include "database/mesh/mesh_transport.h"

#include <spdlog/spdlog.h>

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

#include "common/http/json.h"
#include "database/mesh/mesh_util.h"

namespace db {

namespace json = common::json;
using mesh_util::hex64;
using mesh_util::wallMs;

MeshTransport::MeshTransport(uv_loop_t* loop, const MeshOptions& opts, const Membership& membership,
                             Owner& owner)
    : opts_(opts),
      membership_(membership),
      owner_(owner),
      auth_(opts.secret, opts.authWindowMs),
      client_(std::make_unique<common::http::Client>(loop)) {
  // A nonce prefix per process (a counter follows it): every request proof is unique.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&nonceSeed_), sizeof nonceSeed_) != 1) {
    nonceSeed_ = uv_hrtime() ^ std::hash<std::string>{}(opts_.nodeId);
  }
}

std::string MeshTransport::nextNonce() {
  return hex64(nonceSeed_) + hex64(++nonceCounter_);
}

std::string MeshTransport::sign(std::string_view path, std::string_view query,
                                std::string_view body) {
  return auth_.sign("POST", path, query, body, wallMs(), nextNonce());
}

void MeshTransport::post(const std::string& url, std::string path, std::string query,
                         std::string body, uint64_t timeoutMs,
                         std::function<void(common::http::ClientResponse&&)> done) {
  common::http::ClientRequest req;
  req.method = "POST";
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + path + (query.empty() ? "" : "?" + query);
  req.headers.push_back("Content-Type: application/octet-stream");
  req.headers.push_back("X-Mesh-From: " + opts_.nodeId);
  uint64_t epoch = membership_.self().epoch;
  req.headers.push_back(std::string(kEpochHeader) + ": " + std::to_string(epoch));
  std::string proof = sign(path, query, body);
  if (!proof.empty()) req.headers.push_back(std::string(kMeshAuthHeader) + ": " + proof);
  req.body = std::move(body);
  req.connectTimeoutMs = static_cast<long>(std::min<uint64_t>(timeoutMs, 1000));
  req.timeoutMs = static_cast<long>(timeoutMs);
  req.maxResponseBytes = 256u << 20;
  req.freshConnection = url == opts_.meshNetworkUrl;  // the balancer picks anew each time
  client_->send(std::move(req), [this, url, path, epoch, proof = std::move(proof),
                                 done = std::move(done)](common::http::ClientResponse&& r) {
    // Nothing of an answer is believed before its proof is checked: an answer without a valid
    // one (unsigned, signed for another request, or by another responder) is a failed request.
    if (r.error.empty() &&
        !auth_.verifyResponse(r.header("x-mesh-auth"), proof, static_cast<int>(r.status),
                              r.header("x-mesh-from"), r.body)) {
      ++forgedAnswers_;
      spdlog::warn("mesh: answer to {} from {} (HTTP {}) has no valid proof: ignored", path, url,
                   r.status);
      r.error = "answer without a valid X-Mesh-Auth proof";
      r.status = 0;
      r.body.clear();
      r.headers.clear();
    }
    // An answer can say that this life of ours was evicted (see eviction.h); an answer to a
    // request of a previous life says nothing about this one.
    if (r.error.empty() && r.status == 409 && r.header("x-mesh-error") == "EVICTED" &&
        epoch == membership_.self().epoch && !owner_.closed()) {
      uint64_t gc = 0;
      auto v = r.header("x-mesh-gc");
      std::from_chars(v.data(), v.data() + v.size(), gc);
      owner_.onEvictionClaim(url, std::string(r.header("x-mesh-from")), gc);
    }
    done(std::move(r));
  });
}

common::http::Refusal MeshTransport::admit(const common::http::Request& head) const {
  if (head.method != "POST") return {405, "METHOD_NOT_ALLOWED", "POST"};
  if (!auth_.plausible(head.header("x-mesh-auth"), wallMs())) return {401, "MESH_AUTH_FAILED"};
  return {};
}

bool MeshTransport::authorized(const common::http::Request& req, common::http::Responder& r) {
  // Mesh routes change state: POST only (a link or a crawler must not reach them). The route's
  // admit check refuses the others before their body is read; this is the same rule again.
  if (req.method != "POST") {
    r.respond(405, json::errorBody("METHOD_NOT_ALLOWED"), "application/json", {{"Allow", "POST"}});
    return false;
  }
  std::string_view proof = req.header("x-mesh-auth");
  if (!auth_.verify(proof, "POST", req.path, req.query, req.body, wallMs())) {
    spdlog::warn("mesh: refused {} from {}: bad or missing X-Mesh-Auth", req.path,
                 req.header("x-mesh-from"));
    r.respond(401, json::errorBody("MESH_AUTH_FAILED"));
    return false;
  }
  if (owner_.closed()) {
    answer(r, proof, 503, json::errorBody("LEAVING"));
    return false;
  }
  return !refuseEvicted(req, r);
}

bool MeshTransport::refuseEvicted(const common::http::Request& req, common::http::Responder& r) {
  std::string_view from = req.header("x-mesh-from");
  std::string_view epochText = req.header("x-mesh-epoch");
  uint64_t epoch = 0;
  std::from_chars(epochText.data(), epochText.data() + epochText.size(), epoch);
  if (from.empty() || !membership_.isEvicted(from, epoch)) return false;
  spdlog::info("mesh: refused {} from {}: that life of it (epoch {}) was evicted", req.path, from,
               epoch);
  answer(r, req.header("x-mesh-auth"), 409, json::errorBody("EVICTED"), "application/json",
         {{"X-Mesh-Error", "EVICTED"}, {"X-Mesh-Gc", std::to_string(owner_.collectedBelow())}});
  return true;
}

void MeshTransport::answer(common::http::Responder& r, std::string_view requestProof, int status,
                           std::string_view body, std::string_view contentType,
                           std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("X-Mesh-From", opts_.nodeId);
  if (auth_.enabled()) {
    headers.emplace_back(std::string(kMeshAuthHeader),
                         auth_.signResponse(requestProof, status, opts_.nodeId, body));
  }
  r.respond(status, body, contentType, std::move(headers));
}

void MeshTransport::close(std::function<void()> done) {
  client_->close(std::move(done));
}

}  // namespace db

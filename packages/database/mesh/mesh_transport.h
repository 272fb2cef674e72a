// MeshTransport: the mesh's internal HTTP, both directions. Outgoing: post() signs a control
// request (join, ping, snapshot page, digest...) with MESH_SECRET, sends it through the libcurl
// client and believes nothing of the answer before its proof is checked. Incoming: authorized()
// checks a /_mesh request (POST, proof, not from an evicted life) and answer() signs the answer,
// bound to the request's own proof. It also signs the replication stream's requests (sign()).
// Owned by MeshCluster, used by every part; loop thread only. close(done) must run before it is
// destroyed (the client's handles). The one thing to get right: an answer that says this life
// of ours was evicted is only a claim, handed to the Owner (the eviction part decides).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http/client.h"
#include "common/http/server.h"
#include "database/mesh/auth.h"
#include "database/mesh/membership.h"
#include "database/mesh/mesh_options.h"

namespace db {

// Every internal request carries the sender's life (Membership epoch) in this header.
inline constexpr std::string_view kEpochHeader = "X-Mesh-Epoch";

class MeshTransport {
 public:
  // What the transport asks of the node: whether it shut down, its tombstone horizon (told to
  // an evicted life), and what to do with an answer claiming this life was evicted.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual bool closed() const = 0;
    virtual uint64_t collectedBelow() const = 0;
    virtual void onEvictionClaim(const std::string& url, const std::string& from,
                                 uint64_t gcHlc) = 0;
  };

  // `opts` and `membership` (this node's id, URLs and life) outlive the transport.
  MeshTransport(uv_loop_t* loop, const MeshOptions& opts, const Membership& membership,
                Owner& owner);
  MeshTransport(const MeshTransport&) = delete;
  MeshTransport& operator=(const MeshTransport&) = delete;

  const MeshAuth& auth() const { return auth_; }
  bool secured() const { return auth_.enabled(); }
  uint64_t forgedAnswers() const { return forgedAnswers_; }
  void countForged() { ++forgedAnswers_; }  // a replication ack without a valid proof

  // A signed POST to `url` + `path`; done(answer) on the loop, the answer's proof checked
  // (an answer without a valid one arrives as a failed request).
  void post(const std::string& url, std::string path, std::string query, std::string body,
            uint64_t timeoutMs, std::function<void(common::http::ClientResponse&&)> done);
  // The X-Mesh-Auth proof of one request ("" when the mesh is open); each gets a fresh nonce.
  std::string sign(std::string_view path, std::string_view query, std::string_view body);

  // True when the /_mesh request may be served; otherwise it was answered (405, 401, 503
  // LEAVING or 409 EVICTED).
  bool authorized(const common::http::Request& req, common::http::Responder& r);
  // Every answer to a /_mesh request goes through here: it carries our id and, with a secret,
  // the proof bound to the request's own proof (`requestProof`: its X-Mesh-Auth).
  void answer(common::http::Responder& r, std::string_view requestProof, int status,
              std::string_view body, std::string_view contentType = "application/json",
              std::vector<std::pair<std::string, std::string>> headers = {});
  // The route's admit check, before any body is read: POST, and a plausible proof.
  common::http::Refusal admit(const common::http::Request& head) const;

  void close(std::function<void()> done);

 private:
  bool refuseEvicted(const common::http::Request& req, common::http::Responder& r);
  std::string nextNonce();

  const MeshOptions& opts_;
  const Membership& membership_;
  Owner& owner_;
  MeshAuth auth_;
  std::unique_ptr<common::http::Client> client_;
  uint64_t nonceSeed_ = 0;
  uint64_t nonceCounter_ = 0;
  uint64_t forgedAnswers_ = 0;
};

}  // namespace db

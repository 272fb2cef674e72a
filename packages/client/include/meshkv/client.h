// meshkv::Client and meshkv::AsyncClient: the C++ client library of meshkv (find_package(meshkv)
// or pkg-config meshkv; link meshkv::client). One URL in (a node or the balancer); the client
// reads the members from /status and sends every request straight to a live member over a
// keep-alive, pipelined connection pool, retries reads on another node when a connection fails
// or a node stops answering (attemptTimeoutMs; Options::resend says what may be sent twice), and
// follows members that join and leave. Errors are values: Result<T> / Status carry the server's
// code ("MISSING_RECORD", ...) or a client-side one (kTimeout, kUnavailable, ...). AsyncClient
// lives on the caller's libuv loop (loop thread only; close(done) before destroying it; like any
// libuv program, one using it must ignore SIGPIPE, or a node that resets a connection during a
// write kills it; Client does that itself around its calls). Client is
// the blocking face: it runs a private loop inside each call, so it is not thread-safe (one Client
// per thread). The one thing a newcomer gets wrong: a list cursor belongs to the node that produced
// it, so every page of a listing goes to the same node (Pager does it).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/result.h"

namespace meshkv {

using common::Error;
using common::Ok;
using common::Result;
using common::Status;

// Client-side error codes (the server's own codes pass through unchanged).
inline constexpr const char* kTimeout = "TIMEOUT";                 // no answer within the timeout
inline constexpr const char* kUnavailable = "UNAVAILABLE";         // no node could be reached
inline constexpr const char* kConnectionLost = "CONNECTION_LOST";  // a write sent, then cut off
inline constexpr const char* kBadResponse = "BAD_RESPONSE";        // not the answer meshkv gives
inline constexpr const char* kBadUrl = "BAD_URL";                  // Options::url is not http://h:p
inline constexpr const char* kClosed = "CLIENT_CLOSED";            // close() ran before the answer
inline constexpr const char* kMissingRecord = "MISSING_RECORD";    // the server's "not found"

// What the client may send a second time after a failure.
enum class Resend {
  kSafe,            // reads again (on another node when one exists, up to `retries`); writes only
                    // when they never left this process, or with retryWrites
  kLostConnection,  // anything once more, on a new connection, when its connection closed before
                    // the answer (what curl does with a stale keep-alive); never after a timeout
  kNever,           // nothing is ever sent twice: every failure is the caller's (load tools)
};

// How long a connection lives.
enum class Reuse {
  kKeepAlive,      // pooled and reused
  kOnePerRequest,  // a new connection per request, closed after its answer (Connection: close)
};

enum class Discovery {
  kCluster,   // learn the members from /status, talk to them directly (the seed stays a fallback)
  kSeedOnly,  // every request to the URL given (a balancer, or one node on purpose)
};

struct Options {
  std::string url = "http://127.0.0.1:8080";  // a node or the balancer
  Discovery discovery = Discovery::kCluster;
  int connectTimeoutMs = 1000;
  int requestTimeoutMs = 5000;      // from the request's start to its answer, retries included
  int connectionsPerNode = 4;       // keep-alive connections per node, opened on demand
  int maxPipeline = 32;             // requests in flight on one connection
  int retries = 2;                  // extra attempts of a read (on another node when one exists)
  int attemptTimeoutMs = 0;         // one attempt of a read (0: requestTimeoutMs / (retries + 1));
                                    // a hung node costs a read this long, then another node answers
  bool retryWrites = false;         // also resend writes cut off after being sent (may apply twice)
  Resend resend = Resend::kSafe;    // what may be sent twice (kNever: nothing)
  Reuse reuse = Reuse::kKeepAlive;  // or a connection per request
  int refreshMs = 2000;             // members are re-read from /status this often
  int downMs = 1000;                // a node that failed a connection is skipped this long
};

// Every key and list operation works in one collection (c= on the wire): "" is the default
// collection, so a caller that never names one sees the store as before.

// Per-write options.
struct WriteOptions {
  std::string w{};           // write concern: "" (the node's default: local), "1", "quorum", "all"
  std::string collection{};  // "" = the default collection; clear() clears only this one when set
  uint64_t ttlSeconds = 0;   // set() only: the key expires this long after the write (0: never)
};

enum class ListKind { kKeys, kAll };  // /getKeys (Entry::value empty) or /getAll

struct ListOptions {
  std::string prefix;
  ListKind kind = ListKind::kKeys;
  size_t pageSize = 1000;  // 1..10000 (the server caps at 10000)
  std::string collection;  // "" = the default collection
};

struct Entry {
  std::string key;
  std::string value;
};

struct Page {
  std::vector<Entry> entries;
  std::string cursor;  // pass back for the next page; empty after the last page
  std::string node;    // the URL that served it (the next page must go there too)
};

struct Member {
  std::string id;
  std::string url;
  std::string state;   // alive, suspect, dead, left
  bool self = false;   // the node that answered /status
  bool ready = false;  // caught up: serves reads (a joining node copies the data first)
};

struct NodeStatus {
  std::string version;
  std::string hostname;
  uint64_t records = 0;
  uint64_t uptimeSeconds = 0;
  uint64_t openConnections = 0;
  uint64_t totalRequests = 0;
  uint64_t residentBytes = 0;
  bool ready = false;
  std::vector<Member> members;
  std::string json;  // the whole answer, for --json and fields not parsed here
};

// The answer to AsyncClient::request(), whatever its HTTP status.
struct Response {
  int status = 0;  // 200, 404, 500, ...
  std::string body;
  std::string node;  // the URL that answered
};

// Whether request() may be resent under Resend::kSafe.
enum class RequestKind { kRead, kWrite };

// Counters of this client, for tests and tools.
struct ClientStats {
  uint64_t requests = 0;
  uint64_t retries = 0;
  uint64_t connectionsOpened = 0;
  uint64_t refreshes = 0;
  std::vector<std::string> nodes;              // the URLs requests are spread over now
  std::map<std::string, uint64_t> answeredBy;  // answers received, by node URL
};

template <typename T>
using Callback = std::function<void(Result<T>)>;

class ClientCore;  // the implementation (connections, nodes, retries)

class AsyncClient {
 public:
  // Starts nothing until the first request (or refresh()). Loop thread only.
  AsyncClient(uv_loop_t* loop, Options options);
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Every callback runs exactly once, on the loop, never from inside the call that started it.
  // `collection` "" (or left out) is the default collection.
  void get(std::string_view key, Callback<std::string> done) { get(key, {}, std::move(done)); }
  void get(std::string_view key, std::string_view collection, Callback<std::string> done);
  void set(std::string_view key, std::string_view value, const WriteOptions& opts,
           Callback<Ok> done);
  void remove(std::string_view key, const WriteOptions& opts, Callback<Ok> done);
  void exists(std::string_view key, Callback<bool> done) { exists(key, {}, std::move(done)); }
  void exists(std::string_view key, std::string_view collection, Callback<bool> done);
  // Seconds until the key expires, -1 when it never does; MISSING_RECORD when it does not exist.
  void ttl(std::string_view key, std::string_view collection, Callback<int64_t> done);
  // Removes the key's expiry (it lives until removed); MISSING_RECORD when it does not exist.
  void persist(std::string_view key, const WriteOptions& opts, Callback<Ok> done);
  // The whole cluster's records of opts.collection ("" = the default collection).
  void clear(const WriteOptions& opts, Callback<Ok> done);
  void status(Callback<NodeStatus> done);
  void members(Callback<std::vector<Member>> done);
  // One page; `cursor` and `node` from the previous page (both empty for the first one).
  void listPage(const ListOptions& opts, std::string_view cursor, std::string_view node,
                Callback<Page> done);
  // /ping?nodes=host:port on a node: that node contacts host:port and the meshes merge.
  void join(std::string_view hostPort, Callback<Ok> done);
  // Low level, for tools (meshkv-stress): GET `target` (path and query, already URL-encoded,
  // e.g. "/set?k=a&v=1&w=quorum") on some node. An HTTP error is an answer here (a Response
  // with its status); an Error means no answer (kTimeout, kUnavailable, kConnectionLost, ...).
  void request(std::string_view target, RequestKind kind, Callback<Response> done);
  // Re-reads the members now; done(number of nodes requests go to).
  void refresh(Callback<size_t> done);

  ClientStats stats() const;
  // Fails what is pending with kClosed, closes every connection, then calls done (on the loop).
  void close(std::function<void()> done);

 private:
  std::unique_ptr<ClientCore> core_;
};

class Pager;

// The blocking client: each call runs a private loop until its answer. One thread at a time.
class Client {
 public:
  explicit Client(Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<std::string> get(std::string_view key, std::string_view collection = {});
  Status set(std::string_view key, std::string_view value, const WriteOptions& opts = {});
  Status remove(std::string_view key, const WriteOptions& opts = {});
  Result<bool> exists(std::string_view key, std::string_view collection = {});
  // Seconds left (-1: no expiry); MISSING_RECORD when the key does not exist.
  Result<int64_t> ttl(std::string_view key, std::string_view collection = {});
  Status persist(std::string_view key, const WriteOptions& opts = {});
  Status clear(const WriteOptions& opts = {});
  Result<NodeStatus> status();
  Result<std::vector<Member>> members();
  Status join(std::string_view hostPort);
  Result<size_t> refresh();
  // Pages of keys (or entries) by prefix: for (auto p = c.list({}); !p.done();) p.next()...
  Pager list(ListOptions opts = {});
  // Every key with this prefix, up to `max` (for completion and scripts).
  Result<std::vector<std::string>> keys(std::string_view prefix, size_t max = 100000,
                                        std::string_view collection = {});
  ClientStats stats() const;

 private:
  friend class Pager;
  template <typename T>
  Result<T> wait(const std::function<void(Callback<T>)>& start);

  uv_loop_t loop_;
  std::unique_ptr<AsyncClient> async_;
};

// Iterates pages of a listing; every page comes from the node that served the first one.
class Pager {
 public:
  bool done() const { return done_; }
  Result<Page> next();  // precondition: !done()

 private:
  friend class Client;
  Pager(Client& client, ListOptions opts) : client_(&client), opts_(std::move(opts)) {}
  Client* client_;
  ListOptions opts_;
  std::string cursor_;
  std::string node_;
  bool done_ = false;
};

}  // namespace meshkv

// ClientCore: the machinery behind AsyncClient: the table of nodes (the seed URL and the members
// learnt from /status), a pool of pipelined Connections per node, the choice of node (round
// robin over live members; the seed only when no member answers, or always in kSeedOnly mode),
// deadlines, and retries on another node. Owned by AsyncClient; loop thread only.
// A call's `done` runs exactly once, later on the loop. Nodes are never erased (a removed member
// keeps its entry, flagged), so a Node* held by a pending call stays valid until close.
// The one thing a newcomer gets wrong: a write that was sent and then cut off is not resent
// (it may have been applied) unless Options::retryWrites; one that never left is always resent
// (with the default Resend::kSafe; kNever sends nothing twice, kLostConnection see client.h).
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/connection.h"
#include "meshkv/client.h"

namespace meshkv {

class ClientCore : public Connection::Events {
 public:
  using Done = std::function<void(Outcome&&, const std::string& nodeUrl)>;

  ClientCore(uv_loop_t* loop, Options options);
  ~ClientCore() override;

  // GET `target` on some node (or on `pinned`, a node URL). `idempotent`: safe to resend.
  void submit(std::string target, bool idempotent, std::string pinned, Done done);
  // Re-reads the members from /status; done(number of nodes in rotation).
  void refresh(Callback<size_t> done);
  ClientStats stats() const;
  void close(std::function<void()> done);

  void onClosed(Connection* c, bool connectFailed) override;
  void onFreed(Connection* c) override;
  void onIdle(Connection* c) override;

 private:
  struct Node {
    std::string url;
    std::string host;
    int port = 0;
    bool seed = false;       // the URL the client was given
    bool member = false;     // listed alive, and ready, by /status: gets requests
    bool seenReady = false;  // some /status reported it ready since it was last listed
    bool removed = false;    // a member that left: no new requests
    int failures = 0;        // consecutive connection failures (backoff)
    uint64_t downUntilMs = 0;
    std::vector<Connection*> conns;
    // Connections that became idle, most recent last: a request takes one in O(1) instead of
    // scanning `conns` (thousands in meshkv-stress). Entries are checked when taken.
    std::vector<Connection*> idle;
  };
  struct Call {
    std::string target;
    bool idempotent = true;
    std::string pinned;
    std::string avoid;  // the node that just failed this call
    int attempts = 0;
    uint64_t deadlineMs = 0;
    Done done;
  };
  using CallPtr = std::shared_ptr<Call>;

  void dispatch(const CallPtr& call);
  Node* pick(const Call& call);
  Connection* connectionFor(Node& node);
  void onOutcome(const CallPtr& call, Node* node, Outcome&& o);
  // Whether a failed attempt goes again, by Options::resend (the deadline and close aside).
  bool mayResend(const Call& call, const Outcome& o) const;
  void finish(const CallPtr& call, Outcome&& o, const std::string& url);
  void markDown(Node& node);
  void applyMembers(const NodeStatus& s);
  Node* findNode(const std::string& url);
  Node* addNode(const std::string& url, bool seed);
  void defer(std::function<void()> fn);
  void startTimers();
  void drainPending();
  void maybeFinishClose();
  uint64_t now() const { return uv_now(loop_); }

  static void onTick(uv_timer_t* t) noexcept;
  static void onRefreshTimer(uv_timer_t* t) noexcept;
  static void onSoon(uv_timer_t* t) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;

  uv_loop_t* loop_;
  Options opts_;
  std::string urlError_;  // Options::url could not be parsed
  std::vector<std::unique_ptr<Node>> nodes_;
  size_t rr_ = 0;
  std::unordered_map<Connection*, Node*> nodeOf_;  // every open connection's node
  std::deque<CallPtr> pending_;                    // every connection of the chosen node is full
  std::vector<std::function<void()>> deferred_;
  uv_timer_t tick_;
  uv_timer_t refreshTimer_;
  uv_timer_t soon_;
  bool timersStarted_ = false;
  int timersOpen_ = 0;
  size_t liveConns_ = 0;
  bool refreshing_ = false;
  bool discovered_ = false;
  bool closing_ = false;
  std::function<void()> onClosed_;
  ClientStats stats_;
};

}  // namespace meshkv

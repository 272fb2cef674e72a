// db::watch::WatchHub: the node's change streams. A subscriber of the write log: every entry
// the node applies (a client's write, a peer's record, a wipe) becomes one shared Event, kept in
// the ring for resumes and queued on each live watcher whose prefix matches; at the end of the
// loop turn (after the disk and the peers took the turn) the watchers that got something are
// woken once, so a burst of writes goes out in one write per watcher.
// The ring (the backlog) exists only while watchers are open or left less than backlogTtlMs ago.
// Bounds: at most maxWatchers open (TOO_MANY_WATCHERS), a watcher whose queue passes
// watcherBytes is dropped (a `reset` event, then the stream ends), the ring holds ringEvents /
// ringBytes. Owned by the Node, which must keep it alive until the HTTP server (which owns the
// watchers) is destroyed. Loop thread only.
// The one thing to get right: a watcher can be destroyed inside a wake (its stream ended or its
// client went away), so the hub finds watchers by id at the moment it needs them and never
// iterates over its own registry while it wakes them.
#pragma once

#include <uv.h>

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/result.h"
#include "database/core/write_log.h"
#include "database/watch/event.h"
#include "database/watch/event_ring.h"
#include "database/watch/watcher.h"

namespace db::watch {

struct WatchOptions {
  size_t maxWatchers = 4096;
  size_t watcherBytes = 4u << 20;  // a watcher's unsent events past which it is dropped
  size_t ringEvents = 65536;
  size_t ringBytes = 8u << 20;
  uint64_t heartbeatMs = 15000;  // a keep-alive line to quiet watchers (0: none)
  // The ring is kept only from the first watcher of this life until this long after the last
  // one left (Redis's repl-backlog-ttl): an id from this node can only be held by a client that
  // watched it, so without watchers the ring would cost every write an event and up to
  // ringBytes of memory for nobody. A resume after that gets a reset.
  uint64_t backlogTtlMs = 3600 * 1000;
};

struct WatchStats {
  size_t open = 0;          // live watchers
  uint64_t opened = 0;      // watchers ever opened
  uint64_t eventsSent = 0;  // events handed to watchers' connections (resets included)
  uint64_t dropped = 0;     // watchers disconnected for reading too slowly
  uint64_t resets = 0;      // reset events queued (too old, slow, wiped)
};

struct WatchRequest {
  std::string prefix;
  Format format = Format::kSse;
  std::optional<EventId> lastEventId;  // resume after it
  std::string collection{};            // c=: only this collection's changes ("" = default)
};

class WatchHub : public LogSubscriber {
 public:
  // `loop` may be null (tests): then no heartbeat.
  WatchHub(uv_loop_t* loop, WatchOptions options, std::string epoch = newEpoch());
  ~WatchHub() override;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void start();  // the heartbeat timer
  // Shutdown: every stream ends after what is queued, new watches are refused (STOPPING), the
  // timer closes.
  void close();

  // A watcher for `req`, with what it missed since req.lastEventId already queued (or a reset
  // when that is gone). `wake` asks its connection to pull it (Responder::resume). Errors:
  // TOO_MANY_WATCHERS, STOPPING.
  common::Result<std::unique_ptr<Watcher>> open(WatchRequest req, std::function<void()> wake);

  void onAppend(Ticket ticket, const LogEntry& entry, Source source) override;
  bool wantsExpiry() const override { return true; }  // `expire` events
  void onReset() override;
  void onTurnEnd() override;

  const WatchStats& stats() const { return stats_; }
  const EventRing& ring() const { return ring_; }
  const std::string& epoch() const { return epoch_; }
  // ,"watch":{...} for /status.
  void appendStatus(std::string& out) const;

 private:
  friend class Watcher;
  static void onHeartbeat(uv_timer_t* t) noexcept;
  void leave(Watcher& w);  // from ~Watcher
  void countSent(size_t n) { stats_.eventsSent += n; }
  void index(Watcher& w);    // starts delivering to w
  void unindex(Watcher& w);  // stops delivering to w (dropped, ending or gone)
  void deliver(Watcher& w, const EventPtr& e);
  void schedule(Watcher& w);  // woken at the end of this turn
  EventPtr reset(ResetReason reason);
  // matched_ = the live watchers of `collection` whose prefix `key` has.
  void collect(std::string_view collection, std::string_view key);
  void collectCollection(std::string_view collection);  // matched_ = its live watchers
  void collectAll();                                    // matched_ = every live watcher
  // Whether the ring is kept (see WatchOptions::backlogTtlMs); kOff frees it.
  enum class Backlog { kOff, kOn };
  void armBacklog();
  void maybeDropBacklog();
  uint64_t nowMs() const { return loop_ != nullptr ? uv_now(loop_) : 0; }

  uv_loop_t* loop_;
  WatchOptions opts_;
  std::string epoch_;
  EventRing ring_;
  Backlog backlog_ = Backlog::kOff;
  Ticket lastTicket_ = 0;    // the newest entry the log appended, kept or not
  uint64_t lastLeftMs_ = 0;  // loop clock when the number of open watchers fell to 0
  WatchStats stats_;
  uint64_t nextId_ = 1;
  bool closed_ = false;
  bool timerOpen_ = false;
  uv_timer_t heartbeat_;
  absl::flat_hash_map<uint64_t, Watcher*> watchers_;  // every watcher alive, live or ending
  // Live ones, by Watcher::indexKey() (collection, 0xFF, prefix).
  absl::flat_hash_map<std::string, std::vector<Watcher*>> byPrefix_;
  std::map<size_t, size_t> prefixLengths_;  // length -> distinct index keys of it
  std::string matchKey_;                    // scratch of collect()
  std::vector<uint64_t> scheduled_;         // ids to wake at the end of the turn
  std::vector<Watcher*> matched_;           // scratch of onAppend
};

}  // namespace db::watch

// db::watch::Watcher: one open /watch response. It is the connection's BodyProducer: the hub
// queues the events that match its prefix (shared, already encoded), the connection pulls them
// while the client keeps up, and the watcher pauses when its queue is empty until the hub wakes
// it at the end of a loop turn. Owned by the HTTP connection (the server destroys it when the
// client goes away or the stream ended); it leaves the hub in its destructor. Loop thread only.
// The one thing to get right: the queue is the only memory a slow client can grow, so the hub
// counts it (backlog()) on every event and drops the watcher past its limit; the connection's
// own output stays under the server's watermark because it pulls only below it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "common/http/request.h"
#include "database/watch/event.h"

namespace db::watch {

class WatchHub;

class Watcher : public common::http::BodyProducer {
 public:
  enum class State : uint8_t {
    kLive,    // receives the changes that match its prefix
    kEnding,  // receives nothing more: sends what is queued (a final reset maybe), then ends
  };

  Watcher(WatchHub& hub, uint64_t id, std::string collection, std::string prefix, Format format,
          std::function<void()> wake);
  ~Watcher() override;
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  bool produce(std::string& out, size_t budget) override;
  bool paused() const override;

  // The hub's side.
  uint64_t id() const { return id_; }
  const std::string& prefix() const { return prefix_; }
  const std::string& collection() const { return collection_; }
  // What the hub indexes it by: collection, 0xFF (never in UTF-8), prefix. A change matches
  // when its collection, 0xFF and key start with it.
  const std::string& indexKey() const { return indexKey_; }
  // Whether `e` (a change, not a reset) is for this watcher: its collection, and for a set or
  // rm a key with its prefix (a clear of its collection removed its keys too).
  bool matches(const Event& e) const;
  State state() const { return state_; }
  size_t backlog() const { return backlog_; }
  void enqueue(EventPtr event);
  // Stops the stream after what is queued; `discard` drops the queue first (a slow watcher).
  void end(bool discard);
  void heartbeat() { heartbeat_ = true; }
  void wake() { wake_(); }

 private:
  friend class WatchHub;
  WatchHub* hub_;
  uint64_t id_;
  std::string collection_;
  std::string prefix_;
  std::string indexKey_;
  Format format_;
  std::function<void()> wake_;
  std::deque<EventPtr> queue_;
  size_t backlog_ = 0;  // sum of the queued events' cost()
  State state_ = State::kLive;
  bool heartbeat_ = false;  // send a keep-alive line at the next pull
  bool scheduled_ = false;  // in the hub's list of watchers to wake at the end of the turn
};

}  // namespace db::watch

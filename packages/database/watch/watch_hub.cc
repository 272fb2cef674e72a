// See watch_hub.h. Matching: watchers are indexed by their exact prefix, and the set of prefix
// lengths in use is kept beside; an event's key is looked up once per distinct length (not once
// per watcher), so a thousand watchers of other prefixes cost a /set a few hash lookups.
#include "database/watch/watch_hub.h"

#include <absl/strings/string_view.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/http/json.h"

namespace db::watch {

WatchHub::WatchHub(uv_loop_t* loop, WatchOptions options, std::string epoch)
    : loop_(loop),
      opts_(options),
      epoch_(std::move(epoch)),
      ring_(options.ringEvents, options.ringBytes) {
  heartbeat_.data = this;
}

WatchHub::~WatchHub() = default;

void WatchHub::start() {
  if (loop_ == nullptr || opts_.heartbeatMs == 0) return;
  uv_timer_init(loop_, &heartbeat_);
  uv_timer_start(&heartbeat_, &WatchHub::onHeartbeat, opts_.heartbeatMs, opts_.heartbeatMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&heartbeat_));
  timerOpen_ = true;
}

void WatchHub::onHeartbeat(uv_timer_t* t) noexcept {
  auto* self = static_cast<WatchHub*>(t->data);
  for (auto& [id, w] : self->watchers_) {
    w->heartbeat();
    self->schedule(*w);
  }
  self->onTurnEnd();
}

void WatchHub::close() {
  closed_ = true;
  if (timerOpen_) {
    timerOpen_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&heartbeat_), nullptr);
  }
  std::vector<Watcher*> all;
  for (auto& [id, w] : watchers_) all.push_back(w);
  for (Watcher* w : all) {
    if (w->state() != Watcher::State::kLive) continue;
    unindex(*w);
    w->end(false);
    schedule(*w);
  }
  onTurnEnd();
}

common::Result<std::unique_ptr<Watcher>> WatchHub::open(WatchRequest req,
                                                        std::function<void()> wake) {
  if (closed_) return common::Error{"STOPPING", "the node is shutting down"};
  if (stats_.open >= opts_.maxWatchers) {
    return common::Error{"TOO_MANY_WATCHERS", "this node serves its maximum of watchers"};
  }
  auto w = std::make_unique<Watcher>(*this, nextId_++, std::move(req.collection),
                                     std::move(req.prefix), req.format, std::move(wake));
  armBacklog();
  watchers_[w->id()] = w.get();
  ++stats_.opened;
  if (req.lastEventId) {
    std::optional<std::deque<EventPtr>> missed;
    if (req.lastEventId->epoch == epoch_) missed = ring_.since(req.lastEventId->ticket);
    if (!missed) {
      w->enqueue(reset(ResetReason::kTooOld));
    } else {
      for (EventPtr& e : *missed) {
        if (w->matches(*e)) {
          w->enqueue(std::move(e));
        }
      }
    }
  }
  index(*w);
  return w;
}

void WatchHub::leave(Watcher& w) {
  if (w.state() == Watcher::State::kLive) unindex(w);
  watchers_.erase(w.id());
  if (watchers_.empty()) lastLeftMs_ = nowMs();
}

void WatchHub::armBacklog() {
  if (backlog_ == Backlog::kOn) return;
  backlog_ = Backlog::kOn;
  ring_.clear(lastTicket_);  // nothing from before can be resumed: it was not kept
}

void WatchHub::maybeDropBacklog() {
  if (backlog_ == Backlog::kOff || !watchers_.empty()) return;
  if (nowMs() - lastLeftMs_ < opts_.backlogTtlMs) return;
  backlog_ = Backlog::kOff;
  ring_.clear(lastTicket_);
}

void WatchHub::index(Watcher& w) {
  auto& group = byPrefix_[w.indexKey()];
  if (group.empty()) ++prefixLengths_[w.indexKey().size()];
  group.push_back(&w);
  ++stats_.open;
}

void WatchHub::unindex(Watcher& w) {
  auto it = byPrefix_.find(w.indexKey());
  if (it == byPrefix_.end()) return;
  auto& group = it->second;
  auto pos = std::find(group.begin(), group.end(), &w);
  if (pos == group.end()) return;
  group.erase(pos);
  --stats_.open;
  if (!group.empty()) return;
  byPrefix_.erase(it);
  auto len = prefixLengths_.find(w.indexKey().size());
  if (--len->second == 0) prefixLengths_.erase(len);
}

void WatchHub::collect(std::string_view collection, std::string_view key) {
  matched_.clear();
  matchKey_.assign(collection);
  matchKey_.push_back('\xFF');
  matchKey_.append(key);
  for (const auto& [len, count] : prefixLengths_) {
    if (len > matchKey_.size()) break;
    auto it = byPrefix_.find(absl::string_view(matchKey_.data(), len));
    if (it != byPrefix_.end())
      matched_.insert(matched_.end(), it->second.begin(), it->second.end());
  }
}

void WatchHub::collectCollection(std::string_view collection) {
  matched_.clear();
  for (auto& [indexKey, group] : byPrefix_) {
    if (group.front()->collection() == collection)
      matched_.insert(matched_.end(), group.begin(), group.end());
  }
}

void WatchHub::collectAll() {
  matched_.clear();
  for (auto& [prefix, group] : byPrefix_)
    matched_.insert(matched_.end(), group.begin(), group.end());
}

void WatchHub::onAppend(Ticket ticket, const LogEntry& entry, Source source) {
  lastTicket_ = ticket;
  maybeDropBacklog();
  if (backlog_ == Backlog::kOff) return;  // no watcher this life, or none for backlogTtlMs
  auto e = std::make_shared<const Event>(epoch_, ticket, entry, source);
  ring_.push(e);
  if (stats_.open == 0) return;
  // Collected first: delivering may drop a watcher, which edits the index.
  if (e->kind() == EventKind::kClear) {
    collectCollection(e->collection());  // its every watcher: the clear removed their keys
  } else {
    collect(e->collection(), e->key());
  }
  for (Watcher* w : matched_) deliver(*w, e);
}

void WatchHub::deliver(Watcher& w, const EventPtr& e) {
  if (w.backlog() + e->cost() > opts_.watcherBytes) {
    spdlog::info("watch: watcher {} (prefix \"{}\") fell {} bytes behind; dropped", w.id(),
                 w.prefix(), w.backlog());
    ++stats_.dropped;
    unindex(w);
    w.end(true);
    w.enqueue(reset(ResetReason::kSlow));
  } else {
    w.enqueue(e);
  }
  schedule(w);
}

void WatchHub::onReset() {
  ring_.clear(lastTicket_);
  collectAll();
  for (Watcher* w : matched_) {
    w->enqueue(reset(ResetReason::kWiped));
    schedule(*w);
  }
}

EventPtr WatchHub::reset(ResetReason reason) {
  ++stats_.resets;
  return std::make_shared<const Event>(epoch_, lastTicket_, reason);
}

void WatchHub::schedule(Watcher& w) {
  if (w.scheduled_) return;
  w.scheduled_ = true;
  scheduled_.push_back(w.id());
}

void WatchHub::onTurnEnd() {
  if (scheduled_.empty()) return;
  std::vector<uint64_t> ids;
  ids.swap(scheduled_);
  for (uint64_t id : ids) {
    auto it = watchers_.find(id);
    if (it == watchers_.end()) continue;  // gone meanwhile
    Watcher* w = it->second;
    w->scheduled_ = false;
    w->wake();  // may destroy w
  }
}

void WatchHub::appendStatus(std::string& s) const {
  namespace json = common::json;
  s.append(",\"watch\":{\"watchers\":");
  json::appendUint(s, stats_.open);
  s.append(",\"opened\":");
  json::appendUint(s, stats_.opened);
  s.append(",\"eventsSent\":");
  json::appendUint(s, stats_.eventsSent);
  s.append(",\"dropped\":");
  json::appendUint(s, stats_.dropped);
  s.append(",\"resets\":");
  json::appendUint(s, stats_.resets);
  s.append(",\"ringEvents\":");
  json::appendUint(s, ring_.size());
  s.append(",\"ringBytes\":");
  json::appendUint(s, ring_.bytes());
  s.append(",\"epoch\":");
  json::appendString(s, epoch_);
  s.push_back('}');
}

}  // namespace db::watch

// See watcher.h.
#include "database/watch/watcher.h"

#include "database/watch/watch_hub.h"

namespace db::watch {

Watcher::Watcher(WatchHub& hub, uint64_t id, std::string collection, std::string prefix,
                 Format format, std::function<void()> wake)
    : hub_(&hub),
      id_(id),
      collection_(std::move(collection)),
      prefix_(std::move(prefix)),
      indexKey_(collection_ + '\xFF' + prefix_),
      format_(format),
      wake_(std::move(wake)) {}

bool Watcher::matches(const Event& e) const {
  if (e.collection() != collection_) return false;
  return e.kind() == EventKind::kClear || e.key().starts_with(prefix_);
}

Watcher::~Watcher() {
  hub_->leave(*this);
}

void Watcher::enqueue(EventPtr event) {
  backlog_ += event->cost();
  queue_.push_back(std::move(event));
}

void Watcher::end(bool discard) {
  if (discard) {
    queue_.clear();
    backlog_ = 0;
  }
  state_ = State::kEnding;
}

bool Watcher::produce(std::string& out, size_t budget) {
  size_t sent = 0;
  while (!queue_.empty() && out.size() < budget) {
    const EventPtr& e = queue_.front();
    out.append(e->wire(format_));
    backlog_ -= e->cost();
    queue_.pop_front();
    ++sent;
  }
  hub_->countSent(sent);
  if (heartbeat_ && out.empty()) {  // SSE comment line / NDJSON blank line: ignored by readers
    out.append(format_ == Format::kSse ? ":\n\n" : "\n");
  }
  heartbeat_ = false;
  return !(state_ == State::kEnding && queue_.empty());
}

bool Watcher::paused() const {
  return state_ == State::kLive && queue_.empty() && !heartbeat_;
}

}  // namespace db::watch

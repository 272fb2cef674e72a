// See event_ring.h.
#include "database/watch/event_ring.h"

namespace db::watch {

void EventRing::push(EventPtr event) {
  last_ = event->ticket();
  if (events_.empty()) floor_ = last_ - 1;
  bytes_ += event->cost();
  events_.push_back(std::move(event));
  while (events_.size() > 1 && (events_.size() > maxEvents_ || bytes_ > maxBytes_)) {
    floor_ = events_.front()->ticket();
    bytes_ -= events_.front()->cost();
    events_.pop_front();
  }
}

void EventRing::clear(Ticket ticket) {
  events_.clear();
  bytes_ = 0;
  floor_ = last_ = ticket;
}

std::optional<std::deque<EventPtr>> EventRing::since(Ticket after) const {
  if (after < floor_ || after > last_) return std::nullopt;
  size_t skip = static_cast<size_t>(after - floor_);
  return std::deque<EventPtr>(events_.begin() + static_cast<std::ptrdiff_t>(skip), events_.end());
}

}  // namespace db::watch

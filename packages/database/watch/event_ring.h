// db::watch::EventRing: the recent changes of this node, in ticket order, for watchers that
// reconnect with a Last-Event-ID. Bounded by a count and by bytes (Event::cost): the oldest
// events fall off as new ones come. Owned by the WatchHub; loop thread only.
// The one thing to get right: a resume is allowed only when every ticket after the client's id
// is still here; one missing event is a reset, never a silent gap. Tickets are contiguous
// because the hub is told of every entry the write log appends; a wipe (clear()) moves the
// floor to the current ticket so no id from before it resumes.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "database/watch/event.h"

namespace db::watch {

class EventRing {
 public:
  EventRing(size_t maxEvents, size_t maxBytes) : maxEvents_(maxEvents), maxBytes_(maxBytes) {}

  // Precondition: event->ticket() == last() + 1 (or the first after a clear()).
  void push(EventPtr event);
  // Forgets every event: nothing before `ticket` can be resumed any more.
  void clear(Ticket ticket);
  // The events after `after`, oldest first, or nullopt when some of them are gone (or `after`
  // is in the future). Empty when `after` is the newest ticket.
  std::optional<std::deque<EventPtr>> since(Ticket after) const;

  Ticket last() const { return last_; }
  size_t size() const { return events_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  size_t maxEvents_;
  size_t maxBytes_;
  std::deque<EventPtr> events_;
  size_t bytes_ = 0;
  Ticket floor_ = 0;  // every ticket in (floor_, last_] is in events_
  Ticket last_ = 0;
};

}  // namespace db::watch

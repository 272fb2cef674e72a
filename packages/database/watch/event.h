// db::watch::Event: one change as a watcher sees it (set, rm, clear, expire: docs/ttl.md)
// or a `reset` telling the watcher to re-list, with its id and its two wire forms (a Server-Sent
// Events frame, an NDJSON line). The hub makes one Event per applied change and shares it among
// the ring and every watcher that matches (shared_ptr, loop thread only); each wire form is
// encoded on first use and then reused, so a change is encoded once, not once per watcher.
// An id is "<epoch>-<ticket>": the node's per-process epoch (random) and the write log's ticket.
// The one thing to get right: an id means "everything up to this ticket of this life of the
// node", so a reset carries the ticket it resets to, and an id of another epoch can never
// resume (the tickets restart at 1 in every life).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "database/core/write_log_types.h"

namespace db::watch {

enum class EventKind : uint8_t { kSet, kRm, kClear, kReset, kExpire };
std::string_view kindName(EventKind kind);

// How a watcher asked to receive events: SSE by default, NDJSON with Accept:
// application/x-ndjson.
enum class Format : uint8_t { kSse, kNdjson };

// Why a watcher gets a reset event (its "reason" field).
enum class ResetReason : uint8_t {
  kTooOld,  // its Last-Event-ID is older than the ring, of another life, or unknown
  kSlow,    // it read too slowly; the node disconnects it after this event
  kWiped,   // this node's keyspace was wiped (it copies the cluster's data again)
};

struct EventId {
  std::string epoch;
  Ticket ticket = 0;
};
std::string formatEventId(std::string_view epoch, Ticket ticket);
// "<1-32 lowercase hex>-<decimal ticket>"; INVALID_LAST_EVENT_ID otherwise.
common::Result<EventId> parseEventId(std::string_view text);
// 12 lowercase hex digits, random: this life of the node.
std::string newEpoch();

class Event {
 public:
  // A change the log applied. Copies the entry's views. An entry of Source::kExpiry (an expired
  // record this node dropped) is an `expire` event.
  Event(std::string_view epoch, Ticket ticket, const LogEntry& entry,
        Source source = Source::kClient);
  // A reset to `ticket` (the newest ticket the watcher may resume from once it re-listed).
  Event(std::string_view epoch, Ticket ticket, ResetReason reason);

  EventKind kind() const { return kind_; }
  Ticket ticket() const { return ticket_; }
  const std::string& key() const { return key_; }
  const std::string& collection() const { return collection_; }  // "" = the default one
  // The bytes a watcher's backlog and the ring count for it (its key and value, plus overhead).
  size_t cost() const {
    return collection_.size() + key_.size() + value_.size() + origin_.size() + 96;
  }
  // The event in `format`, encoded on the first call.
  const std::string& wire(Format format) const;

 private:
  std::string json() const;

  EventKind kind_;
  ResetReason reason_ = ResetReason::kTooOld;
  Ticket ticket_;
  std::string id_;
  std::string collection_;
  std::string key_;
  std::string value_;
  uint64_t hlc_ = 0;
  uint64_t expiresAtMs_ = 0;  // a set's expiry (0 = none)
  std::string origin_;
  mutable std::string sse_;
  mutable std::string ndjson_;
};

using EventPtr = std::shared_ptr<const Event>;

}  // namespace db::watch

// See event.h. The JSON of an event is one line (every control character is escaped), so an
// SSE frame needs one data: line and an NDJSON record one line.
#include "database/watch/event.h"

#include <charconv>
#include <random>

#include "common/http/json.h"

namespace db::watch {
namespace {

namespace json = common::json;

std::string_view reasonName(ResetReason reason) {
  switch (reason) {
    case ResetReason::kTooOld:
      return "too-old";
    case ResetReason::kSlow:
      return "slow";
    case ResetReason::kWiped:
      return "wiped";
  }
  return "too-old";
}

EventKind kindOf(Mutation::Kind kind) {
  switch (kind) {
    case Mutation::Kind::kPut:
      return EventKind::kSet;
    case Mutation::Kind::kDelete:
      return EventKind::kRm;
    case Mutation::Kind::kClear:
      return EventKind::kClear;
  }
  return EventKind::kSet;
}

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

std::string_view kindName(EventKind kind) {
  switch (kind) {
    case EventKind::kSet:
      return "set";
    case EventKind::kRm:
      return "rm";
    case EventKind::kClear:
      return "clear";
    case EventKind::kReset:
      return "reset";
    case EventKind::kExpire:
      return "expire";
  }
  return "set";
}

std::string formatEventId(std::string_view epoch, Ticket ticket) {
  std::string id(epoch);
  id.push_back('-');
  json::appendUint(id, ticket);
  return id;
}

common::Result<EventId> parseEventId(std::string_view text) {
  common::Error bad{"INVALID_LAST_EVENT_ID", "expected <epoch>-<ticket> from an event's id"};
  size_t dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 32) return bad;
  std::string_view epoch = text.substr(0, dash);
  std::string_view digits = text.substr(dash + 1);
  for (char c : epoch) {
    if (!isLowerHex(c)) return bad;
  }
  if (digits.empty() || digits.size() > 20) return bad;
  EventId id{std::string(epoch), 0};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id.ticket);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return bad;
  return id;
}

std::string newEpoch() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string epoch(12, '0');
  for (char& c : epoch) {
    c = kHex[v & 15];
    v >>= 4;
  }
  return epoch;
}

Event::Event(std::string_view epoch, Ticket ticket, const LogEntry& entry, Source source)
    : kind_(source == Source::kExpiry ? EventKind::kExpire : kindOf(entry.kind)),
      ticket_(ticket),
      id_(formatEventId(epoch, ticket)),
      collection_(entry.collection),
      key_(entry.key),
      value_(entry.value),
      hlc_(entry.hlc),
      expiresAtMs_(entry.kind == Mutation::Kind::kPut ? entry.expiresAtMs : 0),
      origin_(entry.origin) {}

Event::Event(std::string_view epoch, Ticket ticket, ResetReason reason)
    : kind_(EventKind::kReset),
      reason_(reason),
      ticket_(ticket),
      id_(formatEventId(epoch, ticket)) {}

std::string Event::json() const {
  std::string s = "{\"id\":";
  json::appendString(s, id_);
  s.append(",\"kind\":");
  json::appendString(s, kindName(kind_));
  if (kind_ == EventKind::kReset) {
    s.append(",\"reason\":");
    json::appendString(s, reasonName(reason_));
    s.push_back('}');
    return s;
  }
  s.append(",\"collection\":");
  json::appendString(s, collection_);
  if (kind_ != EventKind::kClear) {
    s.append(",\"key\":");
    json::appendString(s, key_);
  }
  if (kind_ == EventKind::kSet) {
    s.append(",\"value\":");
    json::appendString(s, value_);
    if (expiresAtMs_ != 0) {  // wall-clock ms since the epoch (fits a JavaScript number)
      s.append(",\"expiresAt\":");
      json::appendUint(s, expiresAtMs_);
    }
  }
  // A string: the clock is 64 bits, more than a JavaScript number holds exactly.
  s.append(",\"hlc\":\"");
  json::appendUint(s, hlc_);
  s.append("\",\"origin\":");
  json::appendString(s, origin_);
  s.push_back('}');
  return s;
}

const std::string& Event::wire(Format format) const {
  std::string& out = format == Format::kSse ? sse_ : ndjson_;
  if (!out.empty()) return out;
  if (format == Format::kNdjson) {
    out = json();
    out.push_back('\n');
    return out;
  }
  out = "id: ";
  out.append(id_);
  out.append("\nevent: ");
  out.append(kindName(kind_));
  out.append("\ndata: ");
  out.append(json());
  out.append("\n\n");
  return out;
}

}  // namespace db::watch

// See event_stream.h. RapidJSON parses each object once it is complete; the scanner only tracks
// string state and brace depth, so it costs one pass over the bytes.
#include "load-balancer/docker/event_stream.h"

#include <rapidjson/document.h>

namespace lb {

common::Result<ContainerEvent> parseEvent(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError()) return common::Error{"BAD_JSON", "malformed event JSON"};
  if (!d.IsObject()) return common::Error{"BAD_EVENT", "event is not a JSON object"};
  ContainerEvent e;
  auto str = [](const rapidjson::Value& obj, const char* key) -> std::string {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsString()) return {};
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  e.type = str(d, "Type");
  e.action = str(d, "Action");
  if (e.action.empty()) e.action = str(d, "status");  // pre-1.22 shape
  auto actor = d.FindMember("Actor");
  if (actor != d.MemberEnd() && actor->value.IsObject()) {
    e.id = str(actor->value, "ID");
    auto attrs = actor->value.FindMember("Attributes");
    if (attrs != actor->value.MemberEnd() && attrs->value.IsObject()) {
      for (auto& m : attrs->value.GetObject()) {
        if (m.value.IsString()) {
          e.attributes.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                               std::string(m.value.GetString(), m.value.GetStringLength()));
        }
      }
    }
  }
  if (e.id.empty()) e.id = str(d, "id");
  auto t = d.FindMember("time");
  if (t != d.MemberEnd() && t->value.IsInt64()) e.time = t->value.GetInt64();
  auto tn = d.FindMember("timeNano");
  if (tn != d.MemberEnd() && tn->value.IsInt64()) e.timeNano = tn->value.GetInt64();
  if (e.timeNano == 0 && __builtin_mul_overflow(e.time, int64_t{1000000000}, &e.timeNano)) {
    return common::Error{"BAD_EVENT", "event time out of range"};
  }
  if (e.type.empty()) e.type = "container";  // old daemons omit it on container events
  if (e.action.empty() || e.id.empty()) {
    return common::Error{"BAD_EVENT", "event without Action or Actor.ID"};
  }
  return e;
}

void EventStream::reset() {
  buf_.clear();
  depth_ = 0;
  inString_ = false;
  escape_ = false;
  skipping_ = false;
}

void EventStream::feed(std::string_view bytes, const Sink& sink) {
  for (char ch : bytes) {
    if (depth_ == 0) {
      if (ch == '{') {
        depth_ = 1;
        inString_ = false;
        escape_ = false;
        skipping_ = false;
        buf_.assign(1, ch);
      } else if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
        // Bytes outside any object: report a junk line once, then skip to the next '{'.
        if (!skipping_) sink(common::Error{"BAD_JSON", "unexpected bytes between events"});
        skipping_ = true;
      }
      continue;
    }
    if (!skipping_) {
      buf_.push_back(ch);
      if (buf_.size() > maxObject_) {
        sink(common::Error{"TOO_LARGE", "event larger than the limit; skipped"});
        skipping_ = true;
        buf_.clear();
      }
    }
    if (inString_) {
      if (escape_) {
        escape_ = false;
      } else if (ch == '\\') {
        escape_ = true;
      } else if (ch == '"') {
        inString_ = false;
      }
      continue;
    }
    if (ch == '"') {
      inString_ = true;
    } else if (ch == '{' || ch == '[') {
      ++depth_;
    } else if (ch == '}' || ch == ']') {
      if (--depth_ == 0) {
        if (!skipping_) sink(parseEvent(buf_));
        buf_.clear();
        skipping_ = false;
      }
    }
  }
}

}  // namespace lb

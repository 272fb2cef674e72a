// lb::EventStream: splits the Docker Engine's /events body into JSON objects and decodes them
// into ContainerEvent. The daemon writes one object per line over chunked HTTP, but chunk
// boundaries fall anywhere, so bytes are buffered until an object's braces balance (strings
// and escapes respected; newlines not required). A malformed object, a non-object, an event of
// an unexpected shape or an oversized object is reported as an error and skipped; the stream
// goes on. Owned by the DockerWatcher (one per subscription); reset() on reconnect. Pure logic.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/core/result.h"

namespace lb {

struct ContainerEvent {
  std::string type;    // "container"
  std::string action;  // "start", "kill", "health_status: healthy", ...
  std::string id;      // Actor.ID
  std::unordered_map<std::string, std::string> attributes;  // labels, name, signal, exitCode...
  int64_t time = 0;                                         // seconds
  int64_t timeNano = 0;  // nanoseconds (0 if absent: then time * 1e9)

  std::string attribute(const std::string& key) const {
    auto it = attributes.find(key);
    return it == attributes.end() ? std::string() : it->second;
  }
};

// Decodes one JSON object; an error for anything that is not a container-shaped event.
common::Result<ContainerEvent> parseEvent(std::string_view json);

class EventStream {
 public:
  using Sink = std::function<void(common::Result<ContainerEvent>&&)>;
  explicit EventStream(size_t maxObjectBytes = 1 << 20) : maxObject_(maxObjectBytes) {}

  // Feeds body bytes; calls sink for each complete object, in order.
  void feed(std::string_view bytes, const Sink& sink);
  void reset();
  size_t buffered() const { return buf_.size(); }

 private:
  std::string buf_;  // bytes of the object being assembled
  int depth_ = 0;
  bool inString_ = false;
  bool escape_ = false;
  bool skipping_ = false;  // inside an oversized object or junk: drop until it ends
  size_t maxObject_;
};

}  // namespace lb

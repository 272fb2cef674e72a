// Fuzz target: the balancer's Docker event decoding (load-balancer/docker/event_stream.h): the
// /events body splitter and the JSON event decoder (RapidJSON underneath), plus the Engine API
// version comparison (engine_client.h compareApiVersions) fed by the daemon's Api-Version header.
// The stream is fed whole and then cut at fuzzer-chosen points (as chunked HTTP delivers it).
// Properties: both feeds report the same events and errors in the same order (a chunk boundary
// never changes what was seen); the splitter never buffers more than its object limit; every
// event it reports has an Action and an ID; version comparison is a total order on the pair
// (antisymmetric, reflexive).
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "load-balancer/docker/engine_client.h"
#include "load-balancer/docker/event_stream.h"

namespace {

constexpr size_t kMaxObject = 1024;

// One line per sink call: the error code, or the event's fields.
std::vector<std::string> run(std::string_view stream, const std::vector<size_t>& cuts) {
  std::vector<std::string> seen;
  lb::EventStream es(kMaxObject);
  auto sink = [&](common::Result<lb::ContainerEvent>&& r) {
    if (!r.ok()) {
      seen.push_back("error " + r.error().code);
      return;
    }
    const lb::ContainerEvent& e = *r;
    FUZZ_CHECK(!e.action.empty() && !e.id.empty(), "an event has an Action and an ID");
    std::string line = e.type + "|" + e.action + "|" + e.id + "|" + std::to_string(e.time) + "|" +
                       std::to_string(e.timeNano);
    std::vector<std::string> attrs;
    for (const auto& [k, v] : e.attributes) attrs.push_back(k + "=" + v);
    std::sort(attrs.begin(), attrs.end());
    for (const auto& a : attrs) line += "|" + a;
    seen.push_back(std::move(line));
  };
  size_t from = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    size_t to = i < cuts.size() ? cuts[i] : stream.size();
    es.feed(stream.substr(from, to - from), sink);
    FUZZ_CHECK(es.buffered() <= kMaxObject, "the splitter holds at most one object's limit");
    from = to;
  }
  return seen;
}

int sign(int v) {
  return (v > 0) - (v < 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  size_t nCuts = in.byte() % 8;
  std::vector<uint8_t> raw;
  for (size_t i = 0; i < nCuts; ++i) raw.push_back(in.byte());
  std::string_view stream = in.rest();
  std::vector<size_t> cuts;
  for (uint8_t b : raw) cuts.push_back(stream.empty() ? 0 : b * stream.size() / 256);
  std::sort(cuts.begin(), cuts.end());

  auto whole = run(stream, {});
  auto split = run(stream, cuts);
  FUZZ_CHECK(whole == split, "a chunk boundary never changes the events seen");

  // The first two lines double as Api-Version strings.
  size_t nl = stream.find('\n');
  std::string_view a = stream.substr(0, std::min<size_t>(nl, 16));
  std::string_view b =
      nl == std::string_view::npos ? std::string_view("1.41") : stream.substr(nl + 1, 16);
  FUZZ_CHECK(lb::compareApiVersions(a, a) == 0, "a version equals itself");
  FUZZ_CHECK(sign(lb::compareApiVersions(a, b)) == -sign(lb::compareApiVersions(b, a)),
             "version comparison is antisymmetric");
  return 0;
}

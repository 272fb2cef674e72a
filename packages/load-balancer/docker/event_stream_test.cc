// EventStream: objects reassembled across any chunk boundary, junk and malformed objects
// reported and skipped without losing the events around them.
#include "load-balancer/docker/event_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lb {
namespace {

const std::string kStart =
    R"({"status":"start","id":"abc","Type":"container","Action":"start","Actor":{"ID":"abc",)"
    R"("Attributes":{"com.docker.compose.service":"web","name":"p_web_1","note":"a } { \" brace"}},)"
    R"("scope":"local","time":1700000000,"timeNano":1700000000123456789})"
    "\n";

struct Collected {
  std::vector<ContainerEvent> events;
  int errors = 0;
  EventStream::Sink sink() {
    return [this](common::Result<ContainerEvent>&& r) {
      if (r.ok()) {
        events.push_back(r.value());
      } else {
        ++errors;
      }
    };
  }
};

TEST(EventStreamTest, ReassemblesObjectsSplitAtEveryPossibleBoundary) {
  for (size_t cut = 0; cut <= kStart.size(); ++cut) {
    EventStream s;
    Collected c;
    auto sink = c.sink();
    s.feed(kStart.substr(0, cut), sink);
    s.feed(kStart.substr(cut), sink);
    ASSERT_EQ(1u, c.events.size()) << "cut at " << cut;
    EXPECT_EQ(0, c.errors);
    const ContainerEvent& e = c.events[0];
    EXPECT_EQ("start", e.action);
    EXPECT_EQ("abc", e.id);
    EXPECT_EQ("container", e.type);
    EXPECT_EQ("web", e.attribute("com.docker.compose.service"));
    EXPECT_EQ("a } { \" brace", e.attribute("note"));
    EXPECT_EQ(1700000000123456789LL, e.timeNano);
  }
}

TEST(EventStreamTest, ByteByByteAndSeveralObjectsInOneChunk) {
  EventStream s;
  Collected c;
  auto sink = c.sink();
  std::string three = kStart + kStart + kStart;
  for (char ch : three) s.feed(std::string_view(&ch, 1), sink);
  EXPECT_EQ(3u, c.events.size());
  s.feed(three, sink);
  EXPECT_EQ(6u, c.events.size());
  EXPECT_EQ(0u, s.buffered());
}

TEST(EventStreamTest, MalformedObjectsAndJunkAreSkippedNotFatal) {
  EventStream s;
  Collected c;
  auto sink = c.sink();
  s.feed("{\"Action\": oops}\n", sink);        // balanced but not JSON
  s.feed("garbage line\n", sink);              // outside any object
  s.feed("{\"Type\":\"container\"}\n", sink);  // JSON, wrong shape (no Action, no id)
  s.feed("[1,2]\n", sink);                     // junk again
  s.feed(kStart, sink);
  EXPECT_EQ(1u, c.events.size());
  EXPECT_EQ(4, c.errors);
}

TEST(EventStreamTest, OversizedObjectIsDroppedAndTheStreamContinues) {
  EventStream s(256);
  Collected c;
  auto sink = c.sink();
  s.feed("{\"Action\":\"start\",\"pad\":\"" + std::string(1000, 'x') + "\"}\n", sink);
  s.feed(kStart, sink);
  EXPECT_EQ(1, c.errors);
  ASSERT_EQ(1u, c.events.size());
}

TEST(EventStreamTest, ResetDropsAHalfObject) {
  EventStream s;
  Collected c;
  auto sink = c.sink();
  s.feed(kStart.substr(0, 40), sink);
  s.reset();
  s.feed(kStart, sink);
  EXPECT_EQ(1u, c.events.size());
  EXPECT_EQ(0, c.errors);
}

}  // namespace
}  // namespace lb

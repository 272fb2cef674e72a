// Event ids and wire forms as a watcher's client reads them.
#include "database/watch/event.h"

#include <gtest/gtest.h>

namespace db::watch {
namespace {

TEST(EventId, RoundTripsAndRefusesWhatNoEventCarries) {
  auto id = parseEventId(formatEventId("0a1b2c3d4e5f", 42));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->epoch, "0a1b2c3d4e5f");
  EXPECT_EQ(id->ticket, 42u);
  for (const char* bad : {"", "42", "-42", "abc-", "abc-x", "ABC-1", "abc-1-2", "abc--1",
                          "abc-99999999999999999999999", "g12-1"}) {
    auto r = parseEventId(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "INVALID_LAST_EVENT_ID");
  }
}

TEST(EventId, EachLifeOfTheNodeHasItsOwnEpoch) {
  EXPECT_NE(newEpoch(), newEpoch());
  EXPECT_EQ(newEpoch().size(), 12u);
}

TEST(Event, SseFrameAndNdjsonLineCarryTheSameJson) {
  LogEntry e{Mutation::Kind::kPut, "user:1", "a \"quoted\"\nline", 1234567890123456789ull, "n1"};
  Event ev("abc", 7, e);
  const char* json =
      "{\"id\":\"abc-7\",\"kind\":\"set\",\"collection\":\"\",\"key\":\"user:1\","
      "\"value\":\"a \\\"quoted\\\"\\nline\",\"hlc\":\"1234567890123456789\",\"origin\":\"n1\"}";
  EXPECT_EQ(ev.wire(Format::kNdjson), std::string(json) + "\n");
  EXPECT_EQ(ev.wire(Format::kSse), std::string("id: abc-7\nevent: set\ndata: ") + json + "\n\n");
  EXPECT_EQ(&ev.wire(Format::kSse), &ev.wire(Format::kSse));  // encoded once
}

TEST(Event, RmHasNoValueClearNoKeyResetSaysWhy) {
  Event rm("abc", 8, LogEntry{Mutation::Kind::kDelete, "k", "", 5, "n2"});
  EXPECT_EQ(rm.wire(Format::kNdjson),
            "{\"id\":\"abc-8\",\"kind\":\"rm\",\"collection\":\"\",\"key\":\"k\",\"hlc\":\"5\","
            "\"origin\":\"n2\"}\n");
  Event clear("abc", 9, LogEntry{Mutation::Kind::kClear, "", "", 6, "n2"});
  EXPECT_EQ(clear.wire(Format::kNdjson),
            "{\"id\":\"abc-9\",\"kind\":\"clear\",\"collection\":\"\",\"hlc\":\"6\","
            "\"origin\":\"n2\"}\n");
  Event reset("abc", 9, ResetReason::kSlow);
  EXPECT_EQ(reset.wire(Format::kSse),
            "id: abc-9\nevent: reset\ndata: {\"id\":\"abc-9\",\"kind\":\"reset\","
            "\"reason\":\"slow\"}\n\n");
}

TEST(Event, ASetCarriesItsExpiryAndADroppedExpiredRecordIsAnExpireEvent) {
  LogEntry set{Mutation::Kind::kPut, "k", "v", 5, "n1", "users", 1700000002000};
  EXPECT_EQ(Event("abc", 1, set).wire(Format::kNdjson),
            "{\"id\":\"abc-1\",\"kind\":\"set\",\"collection\":\"users\",\"key\":\"k\","
            "\"value\":\"v\",\"expiresAt\":1700000002000,\"hlc\":\"5\",\"origin\":\"n1\"}\n");
  Event expire("abc", 2, LogEntry{Mutation::Kind::kDelete, "k", "", 5, "n1", "users"},
               Source::kExpiry);
  EXPECT_EQ(expire.kind(), EventKind::kExpire);
  EXPECT_EQ(expire.wire(Format::kSse),
            "id: abc-2\nevent: expire\ndata: {\"id\":\"abc-2\",\"kind\":\"expire\","
            "\"collection\":\"users\",\"key\":\"k\",\"hlc\":\"5\",\"origin\":\"n1\"}\n\n");
}

}  // namespace
}  // namespace db::watch

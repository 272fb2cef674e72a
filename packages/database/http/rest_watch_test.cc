// Unit tests for watch= of GET /kv/C (rest.h parseWatchFlag): 1 streams, 0 or absent lists, any
// other value or a repeat is a 400 code of its own before anything is answered. The stream itself
// is the /watch route's (tested in packages/tests/suite/watch_test.cc on real nodes).
#include <gtest/gtest.h>

#include "database/http/rest.h"

namespace db {
namespace {

TEST(RestWatchFlag, OneStreamsZeroOrAbsentLists) {
  EXPECT_TRUE(*parseWatchFlag("watch=1"));
  EXPECT_TRUE(*parseWatchFlag("prefix=a&watch=1&lastEventId=x"));
  EXPECT_FALSE(*parseWatchFlag("watch=0"));
  EXPECT_FALSE(*parseWatchFlag(""));
  EXPECT_FALSE(*parseWatchFlag("prefix=a&limit=2"));
  EXPECT_FALSE(*parseWatchFlag("watcher=1"));  // another parameter, not watch=
}

TEST(RestWatchFlag, AnyOtherValueIsInvalidWatch) {
  for (const char* q :
       {"watch=", "watch", "watch=true", "watch=2", "watch=01", "watch=%31%31", "watch=1%20"}) {
    auto r = parseWatchFlag(q);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.error().code, "INVALID_WATCH") << q;
  }
  EXPECT_TRUE(*parseWatchFlag("watch=%31"));  // percent-decoded like every parameter
}

TEST(RestWatchFlag, RepeatedIsDuplicateParam) {
  auto r = parseWatchFlag("watch=1&watch=1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "DUPLICATE_PARAM");
}

TEST(RestWatchFlag, UnreadableQueryIsInvalidEncoding) {
  auto r = parseWatchFlag("watch=1&prefix=%ZZ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "INVALID_ENCODING");
}

}  // namespace
}  // namespace db

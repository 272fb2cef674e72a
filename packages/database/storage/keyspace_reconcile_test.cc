// Unit tests for the second-level anti-entropy codecs (keyspace_reconcile.h): a summary and an
// answer survive a round trip, and every malformed input a peer could send (wrong magic, cut
// short, trailing bytes, hashes out of order or repeated, unknown flags, a count the bytes do
// not back) is refused with a clear code before anything is used.
#include "database/storage/keyspace_reconcile.h"

#include <gtest/gtest.h>

namespace db::reconcile {
namespace {

TEST(KeyspaceReconcile, SummaryRoundTrips) {
  Keyspace::SegmentSet segs;
  segs.set(0);
  segs.set(77);
  segs.set(Keyspace::kSegments - 1);
  std::vector<uint64_t> hashes = {9, 3, 3, UINT64_MAX, 0};
  sortUnique(hashes);
  EXPECT_EQ(hashes, (std::vector<uint64_t>{0, 3, 9, UINT64_MAX}));
  std::string bytes = encodeSummary(segs, hashes);
  EXPECT_EQ(bytes.size(), 4 + Keyspace::kSegments / 8 + 4 + 8 * hashes.size());
  auto s = decodeSummary(bytes);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->segments, segs);
  EXPECT_EQ(s->hashes, hashes);
  EXPECT_EQ(encodeSummary(s->segments, s->hashes), bytes);
}

TEST(KeyspaceReconcile, MalformedSummariesAreRefused) {
  Keyspace::SegmentSet segs;
  segs.set(5);
  std::string good = encodeSummary(segs, {1, 2, 3});
  struct Case {
    const char* what;
    std::string bytes;
    const char* why;
  };
  std::string badMagic = good;
  badMagic[3] = '2';
  std::string unordered = encodeSummary(segs, {1, 2, 3});
  unordered[unordered.size() - 8] = 0;  // the last hash becomes 0 < 2
  std::string repeated = encodeSummary(segs, {1, 2, 3});
  repeated[repeated.size() - 8] = 2;  // 1, 2, 2
  std::string bigCount = good;
  bigCount[4 + Keyspace::kSegments / 8 + 3] = '\x7f';  // announces ~2^30 hashes
  std::vector<Case> cases = {
      {"empty", "", "truncated"},
      {"magic only", "MKS1", "truncated"},
      {"wrong magic", badMagic, "magic"},
      {"one byte short", good.substr(0, good.size() - 1), "truncated hashes"},
      {"one hash short", good.substr(0, good.size() - 8), "truncated hashes"},
      {"trailing byte", good + "x", "trailing bytes"},
      {"count beyond the bytes", bigCount, "truncated hashes"},
      {"not ascending", unordered, "hashes not strictly ascending"},
      {"repeated hash", repeated, "hashes not strictly ascending"},
  };
  for (const auto& c : cases) {
    auto s = decodeSummary(c.bytes);
    ASSERT_FALSE(s.ok()) << c.what;
    EXPECT_EQ(s.error().code, "BAD_SUMMARY") << c.what;
    EXPECT_EQ(s.error().message, c.why) << c.what;
  }
}

TEST(KeyspaceReconcile, AnswerRoundTripsWithItsFrameOpaque) {
  std::string frame = "any bytes: the mesh admits the frame itself";
  for (bool truncated : {false, true}) {
    std::string bytes = encodeAnswer(truncated, {4, 40, 400}, frame);
    auto a = decodeAnswer(bytes);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->truncated, truncated);
    EXPECT_EQ(a->wanted, (std::vector<uint64_t>{4, 40, 400}));
    EXPECT_EQ(a->frame, frame);
    EXPECT_EQ(encodeAnswer(a->truncated, a->wanted, a->frame), bytes);
  }
  auto empty = decodeAnswer(encodeAnswer(false, {}, ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->wanted.empty());
  EXPECT_TRUE(empty->frame.empty());
}

TEST(KeyspaceReconcile, MalformedAnswersAreRefused) {
  std::string good = encodeAnswer(false, {1, 2}, "");
  std::string flags = good;
  flags[4] = 2;
  std::string magic = good;
  magic[0] = 'X';
  std::string unordered = encodeAnswer(false, {2, 1}, "");
  std::string bigCount = good;
  bigCount[8] = '\x10';
  struct Case {
    const char* what;
    std::string bytes;
    const char* why;
  };
  std::vector<Case> cases = {
      {"empty", "", "truncated"},
      {"header cut", good.substr(0, 8), "truncated"},
      {"wrong magic", magic, "magic"},
      {"unknown flag", flags, "unknown flags"},
      {"hash cut", good.substr(0, good.size() - 3), "truncated hashes"},
      {"count beyond the bytes", bigCount, "truncated hashes"},
      {"not ascending", unordered, "hashes not strictly ascending"},
  };
  for (const auto& c : cases) {
    auto a = decodeAnswer(c.bytes);
    ASSERT_FALSE(a.ok()) << c.what;
    EXPECT_EQ(a.error().code, "BAD_ANSWER") << c.what;
    EXPECT_EQ(a.error().message, c.why) << c.what;
  }
}

}  // namespace
}  // namespace db::reconcile

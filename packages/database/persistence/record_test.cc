// The record codec: round trip of every kind, and the reader's verdicts on a file cut at every
// byte of its last record (torn), a flipped bit in the last record (torn), in a middle record
// (damaged, at that record's offset), and a zero-filled tail (torn); the record count estimate.
#include "database/persistence/record.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>
#include <vector>

namespace db::persistence {
namespace {

using State = ScanOutcome::State;

struct Decoded {
  RecordKind kind;
  std::string key, value, origin;
  uint64_t hlc;
  std::string collection;
  uint64_t expiresAtMs = 0;
};

std::vector<Decoded> readAll(std::string_view bytes, ScanOutcome* out) {
  std::vector<Decoded> v;
  *out = scanRecords(bytes, [&](const LogRecord& r) {
    v.push_back({r.kind, std::string(r.key), std::string(r.value), std::string(r.origin), r.hlc,
                 std::string(r.collection), r.expiresAtMs});
    return true;
  });
  return v;
}

std::string threeRecords(std::vector<size_t>* offsets = nullptr) {
  std::string b;
  if (offsets) offsets->push_back(b.size());
  encodeRecord(b, RecordKind::kPut, "alpha", "one", 11, "node-a");
  if (offsets) offsets->push_back(b.size());
  encodeRecord(b, RecordKind::kDelete, "beta", "", 12, "node-b");
  if (offsets) offsets->push_back(b.size());
  encodeRecord(b, RecordKind::kPut, "gamma", std::string(300, 'x'), 13, "node-a");
  return b;
}

TEST(Record, RoundTripsEveryKind) {
  std::string b;
  encodeRecord(b, RecordKind::kPut, "k", "v", 1, "o");
  encodeRecord(b, RecordKind::kDelete, "k", "", 2, "o");
  encodeRecord(b, RecordKind::kClear, "", "", 3, "p");
  encodeRecord(b, RecordKind::kReset, "", "", 0, "");
  EXPECT_EQ(b.size(), encodedSize("k", "v", "o") + encodedSize("k", "", "o") +
                          encodedSize("", "", "p") + encodedSize("", "", ""));
  ScanOutcome out;
  auto v = readAll(b, &out);
  EXPECT_EQ(out.state, State::kClean);
  EXPECT_EQ(out.goodEnd, b.size());
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].kind, RecordKind::kPut);
  EXPECT_EQ(v[0].key, "k");
  EXPECT_EQ(v[0].value, "v");
  EXPECT_EQ(v[0].origin, "o");
  EXPECT_EQ(v[0].hlc, 1u);
  EXPECT_EQ(v[1].kind, RecordKind::kDelete);
  EXPECT_EQ(v[2].kind, RecordKind::kClear);
  EXPECT_EQ(v[2].hlc, 3u);
  EXPECT_EQ(v[3].kind, RecordKind::kReset);
}

TEST(Record, EmptyInputIsClean) {
  ScanOutcome out;
  EXPECT_TRUE(readAll("", &out).empty());
  EXPECT_EQ(out.state, State::kClean);
}

TEST(Record, ACutAtAnyByteOfTheLastRecordIsATornTail) {
  std::vector<size_t> off;
  std::string b = threeRecords(&off);
  for (size_t cut = off[2] + 1; cut < b.size(); ++cut) {
    ScanOutcome out;
    auto v = readAll(std::string_view(b).substr(0, cut), &out);
    ASSERT_EQ(out.state, State::kTorn) << "cut at " << cut;
    EXPECT_EQ(out.goodEnd, off[2]);
    EXPECT_EQ(v.size(), 2u);
  }
}

TEST(Record, AFlippedBitInTheLastRecordIsATornTail) {
  std::vector<size_t> off;
  std::string b = threeRecords(&off);
  b[b.size() - 5] ^= 0x10;
  ScanOutcome out;
  auto v = readAll(b, &out);
  EXPECT_EQ(out.state, State::kTorn);
  EXPECT_EQ(out.goodEnd, off[2]);
  EXPECT_EQ(v.size(), 2u);
}

TEST(Record, AFlippedBitInTheMiddleIsDamageAtThatRecord) {
  std::vector<size_t> off;
  std::string b = threeRecords(&off);
  for (size_t at : {off[1] + 3, off[1] + 6, off[1] + 20}) {  // length, checksum, body
    std::string d = b;
    d[at] ^= 0x01;
    ScanOutcome out;
    auto v = readAll(d, &out);
    EXPECT_EQ(out.state, State::kDamaged) << "flip at " << at;
    EXPECT_EQ(out.goodEnd, off[1]);
    EXPECT_EQ(v.size(), 1u);
  }
}

TEST(Record, AZeroFilledTailIsTorn) {
  std::vector<size_t> off;
  std::string b = threeRecords(&off);
  b.append(4096, '\0');
  ScanOutcome out;
  auto v = readAll(b, &out);
  EXPECT_EQ(out.state, State::kTorn);
  EXPECT_EQ(out.goodEnd, b.size() - 4096);
  EXPECT_EQ(v.size(), 3u);
}

TEST(Record, TheVisitorCanStopEarly) {
  std::string b = threeRecords();
  int seen = 0;
  auto out = scanRecords(b, [&](const LogRecord&) { return ++seen < 2; });
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(out.records, 2u);
}

TEST(Record, CarriesTheCollectionAndLeavesDefaultRecordsAsTheyWere) {
  std::string b;
  encodeRecord(b, RecordKind::kPut, "k", "v", 1, "o", "users");
  encodeRecord(b, RecordKind::kClear, "", "", 2, "o", "orders");
  encodeRecord(b, RecordKind::kPut, "k", "v", 3, "o");
  EXPECT_EQ(b.size(), encodedSize("k", "v", "o", "users") + encodedSize("", "", "o", "orders") +
                          encodedSize("k", "v", "o"));
  ScanOutcome out;
  auto v = readAll(b, &out);
  EXPECT_EQ(out.state, State::kClean);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].collection, "users");
  EXPECT_EQ(v[0].key, "k");
  EXPECT_EQ(v[0].value, "v");
  EXPECT_EQ(v[1].kind, RecordKind::kClear);
  EXPECT_EQ(v[1].collection, "orders");
  EXPECT_EQ(v[2].collection, "");

  // A default-collection record's body is what it always was (files written before collections
  // load unchanged).
  std::string one;
  encodeRecord(one, RecordKind::kPut, "k", "v", 0x0102030405060708, "o");
  std::string body("\x00\x08\x07\x06\x05\x04\x03\x02\x01\x01\x00\x01\x00\x01\x00\x00\x00okv", 20);
  EXPECT_EQ(one.substr(kRecordHeaderBytes), body);
}

// A record with a valid header (length, checksum) around `body`: for bodies encodeRecord would
// never write.
std::string seal(const std::string& body) {
  std::string out;
  auto len = static_cast<uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  uint64_t sum = XXH3_64bits_withSeed(body.data(), body.size(), len);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
  return out + body;
}

TEST(Record, AFlaggedResetOrAFlagWithoutACollectionIsBad) {
  std::string plain;
  encodeRecord(plain, RecordKind::kPut, "k", "v", 1, "o");
  std::string body = plain.substr(kRecordHeaderBytes);
  std::string flagged = body;
  flagged[0] = static_cast<char>(kCollectionFlag);  // flag, but nothing after the value
  std::string trailing = body + "x";                // bytes after the value, but no flag
  std::string reset;
  encodeRecord(reset, RecordKind::kReset, "", "", 0, "");
  std::string flaggedReset = reset.substr(kRecordHeaderBytes);
  flaggedReset[0] = static_cast<char>(kCollectionFlag | 3);
  flaggedReset.append("c");
  for (const std::string& bad : {flagged, trailing, flaggedReset}) {
    std::string file = seal(bad) + plain;  // followed by a good record: damage, not a tear
    ScanOutcome out;
    auto v = readAll(file, &out);
    EXPECT_EQ(out.state, State::kDamaged);
    EXPECT_TRUE(v.empty());
  }
}

TEST(Record, CarriesTheExpiryOfAPutAndLeavesRecordsWithoutOneAsTheyWere) {
  std::string b;
  encodeRecord(b, RecordKind::kPut, "k", "v", 1, "o", "users", 1'700'000'002'000);
  encodeRecord(b, RecordKind::kPut, "k2", "v2", 2, "o", {}, 42);
  encodeRecord(b, RecordKind::kDelete, "k", "", 3, "o", {}, 99);  // not a put: no expiry
  encodeRecord(b, RecordKind::kPut, "k", "v", 4, "o");
  EXPECT_EQ(b.size(), encodedSize("k", "v", "o", "users", 1) + encodedSize("k2", "v2", "o", {}, 1) +
                          encodedSize("k", "", "o") + encodedSize("k", "v", "o"));
  ScanOutcome out;
  auto v = readAll(b, &out);
  EXPECT_EQ(out.state, State::kClean);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].expiresAtMs, 1'700'000'002'000u);
  EXPECT_EQ(v[0].collection, "users");
  EXPECT_EQ(v[0].key, "k");
  EXPECT_EQ(v[0].value, "v");
  EXPECT_EQ(v[0].hlc, 1u);
  EXPECT_EQ(v[0].origin, "o");
  EXPECT_EQ(v[1].expiresAtMs, 42u);
  EXPECT_EQ(v[1].collection, "");
  EXPECT_EQ(v[1].value, "v2");
  EXPECT_EQ(v[2].expiresAtMs, 0u);
  EXPECT_EQ(v[3].expiresAtMs, 0u);
  // The expiry follows the kind byte, which carries the flag.
  std::string one;
  encodeRecord(one, RecordKind::kPut, "k", "v", 0x0102030405060708, "o", {}, 0x1112131415161718);
  std::string body(
      "\x40\x18\x17\x16\x15\x14\x13\x12\x11\x08\x07\x06\x05\x04\x03\x02\x01"
      "\x01\x00\x01\x00\x01\x00\x00\x00okv",
      28);
  EXPECT_EQ(one.substr(kRecordHeaderBytes), body);
}

TEST(Record, AZeroExpiryOrAnExpiryOnANonPutIsBad) {
  std::string plain;
  encodeRecord(plain, RecordKind::kPut, "k", "v", 1, "o");
  std::string timed;
  encodeRecord(timed, RecordKind::kPut, "k", "v", 1, "o", {}, 77);
  std::string body = timed.substr(kRecordHeaderBytes);
  std::string zero = body;
  for (size_t i = 1; i <= 8; ++i) zero[i] = '\0';
  std::string onDelete = body;
  onDelete[0] = static_cast<char>(kExpiryFlag | 1);
  std::string flagOnly = plain.substr(kRecordHeaderBytes);  // flag, but no 8 bytes of expiry
  flagOnly[0] = static_cast<char>(kExpiryFlag);
  for (const std::string& bad : {zero, onDelete, flagOnly}) {
    std::string file = seal(bad) + plain;
    ScanOutcome out;
    auto v = readAll(file, &out);
    EXPECT_EQ(out.state, State::kDamaged);
    EXPECT_TRUE(v.empty());
  }
}

// The estimate sizes the index before a load: close for a file of similar records, far past
// the 1 MiB sample too, and never more records than the bytes could hold.
TEST(Record, EstimateExtrapolatesTheSampleToTheWholeFile) {
  std::string b;
  EXPECT_EQ(estimateRecords(b), 0u);
  constexpr size_t kN = 20000;  // 20000 x ~350 bytes: ~7 MiB, the sample is the first 1 MiB
  for (size_t i = 0; i < kN; ++i) {
    encodeRecord(b, RecordKind::kPut, "key:" + std::to_string(i), std::string(300, 'v'), i, "n1");
  }
  size_t e = estimateRecords(b);
  EXPECT_GE(e, kN - kN / 100);
  EXPECT_LE(e, kN + kN / 100);
  std::string wild(1000, '\0');  // length fields of 0: not a record, no estimate
  EXPECT_EQ(estimateRecords(wild), 0u);
  std::string cut = b.substr(0, 5);  // not even a header
  EXPECT_EQ(estimateRecords(cut), 0u);
}

}  // namespace
}  // namespace db::persistence

// Unit tests of the mesh wire format: round trips of every record kind and of
// the extra field, and refusal of every truncation, every single-bit
// corruption, wrong type/version, trailing bytes and hand-built or random frames whose
// checksum is right but whose records lie about lengths (read within bounds under ASan).
#include "database/mesh/wire.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <memory>
#include <random>

namespace db::wire {
namespace {

Mutation put(std::string k, std::string v, uint64_t hlc, std::string origin = "n1") {
  Mutation m;
  m.kind = Mutation::Kind::kPut;
  m.key = std::move(k);
  m.value = std::move(v);
  m.hlc = hlc;
  m.origin = std::move(origin);
  return m;
}

std::string sampleBatch(uint64_t seq = 7) {
  FrameWriter w(FrameType::kBatch);
  w.setSeq(seq);
  w.add(put("k1", "v1", 100));
  w.add(put("utf:✓", std::string("\0\xff binary", 9), 101, "node-2"));
  w.add(Mutation::Kind::kDelete, "k1", "", 102, "n1");
  w.add(Mutation::Kind::kClear, "", "", 103, "n3");
  w.add(put("empty", "", 104));
  return w.finish();
}

// Re-seals a frame whose payload was edited so the checksum matches again.
std::string reseal(std::string f) {
  f.resize(f.size() - kTrailerBytes);
  putU64(f, XXH3_64bits(f.data(), f.size()));
  return f;
}

TEST(Wire, RoundTripsEveryRecordKind) {
  std::string f = sampleBatch(7);
  auto d = decodeFrame(f, FrameType::kBatch);
  ASSERT_TRUE(d.ok()) << d.error().code;
  EXPECT_EQ(d->seq, 7u);
  ASSERT_EQ(d->records.size(), 5u);
  EXPECT_EQ(d->records[0].key, "k1");
  EXPECT_EQ(d->records[0].value, "v1");
  EXPECT_EQ(d->records[0].hlc, 100u);
  EXPECT_EQ(d->records[0].origin, "n1");
  EXPECT_EQ(d->records[1].key, "utf:✓");
  EXPECT_EQ(d->records[1].value, std::string("\0\xff binary", 9));
  EXPECT_EQ(d->records[1].origin, "node-2");
  EXPECT_EQ(d->records[2].kind, Mutation::Kind::kDelete);
  EXPECT_EQ(d->records[3].kind, Mutation::Kind::kClear);
  EXPECT_EQ(d->records[3].hlc, 103u);
  EXPECT_EQ(d->records[4].value, "");
}

TEST(Wire, ExtraFieldAndEmptyFrame) {
  FrameWriter w(FrameType::kSnapshot);
  w.setExtra("cursor-42");
  std::string f = w.finish();
  auto d = decodeFrame(f, FrameType::kSnapshot);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->extra, "cursor-42");
  EXPECT_TRUE(d->records.empty());
  // The writer is reusable and starts clean.
  w.add(put("a", "b", 1));
  auto d2 = decodeFrame(w.finish(), FrameType::kSnapshot);
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->extra, "");
  EXPECT_EQ(d2->records.size(), 1u);
}

TEST(Wire, RefusesEveryTruncation) {
  std::string f = sampleBatch();
  for (size_t n = 0; n < f.size(); ++n) {
    auto d = decodeFrame(std::string_view(f).substr(0, n), FrameType::kBatch);
    EXPECT_FALSE(d.ok()) << "prefix of " << n << " bytes accepted";
  }
}

TEST(Wire, RefusesEverySingleBitFlip) {
  std::string f = sampleBatch();
  for (size_t i = 0; i < f.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string g = f;
      g[i] = static_cast<char>(g[i] ^ (1 << bit));
      EXPECT_FALSE(decodeFrame(g, FrameType::kBatch).ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Wire, RefusesTrailingBytesWrongTypeAndVersion) {
  std::string f = sampleBatch();
  auto d = decodeFrame(f + "x", FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "TRAILING_BYTES");
  d = decodeFrame(f, FrameType::kSnapshot);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "BAD_TYPE");
  std::string v = f;
  v[4] = 2;
  d = decodeFrame(reseal(v), FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "BAD_VERSION");
  std::string flagged = f;
  flagged[6] = 1;  // a flag this version does not know
  d = decodeFrame(reseal(flagged), FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "BAD_FLAGS");
  d = decodeFrame("", FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "TRUNCATED");
}

TEST(Wire, RefusesLyingRecordsEvenWithAValidChecksum) {
  // One record whose key length points past the payload.
  FrameWriter w(FrameType::kBatch);
  w.add(put("abc", "v", 1));
  std::string f = w.finish();
  // Layout: header 24, extraLen 1 byte (0), kind 1, hlc 8, originLen 1, "n1",
  // keyLen at 24+1+1+8+1+2.
  size_t keyLenAt = kHeaderBytes + 1 + 1 + 8 + 1 + 2;
  ASSERT_EQ(f[keyLenAt], 3);
  f[keyLenAt] = 100;
  auto d = decodeFrame(reseal(f), FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "BAD_RECORD");

  // A count larger than the records present.
  FrameWriter w2(FrameType::kBatch);
  w2.add(put("abc", "v", 1));
  std::string g = w2.finish();
  g[16] = 2;
  d = decodeFrame(reseal(g), FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "BAD_RECORD");

  // An unknown kind; a delete carrying a value; a put without a key.
  for (auto [kind, key, value] : {std::tuple<uint8_t, std::string, std::string>{9, "k", ""},
                                  {1, "k", "value"},
                                  {0, "", "v"},
                                  {2, "k", ""}}) {
    FrameWriter w3(FrameType::kBatch);
    w3.add(static_cast<Mutation::Kind>(kind), key, value, 5, "n");
    EXPECT_FALSE(decodeFrame(w3.finish(), FrameType::kBatch).ok()) << int(kind) << key << value;
  }
}

TEST(Wire, RandomGarbageNeverDecodes) {
  std::mt19937_64 rng(1);
  std::string f = sampleBatch();
  for (int i = 0; i < 2000; ++i) {
    std::string g = f;
    size_t at = rng() % g.size();
    size_t len = 1 + rng() % 16;
    for (size_t j = at; j < std::min(g.size(), at + len); ++j) g[j] = static_cast<char>(rng());
    if (g == f) continue;
    EXPECT_FALSE(decodeFrame(g, FrameType::kBatch).ok());
  }
}

TEST(Wire, ForgedFramesWithAValidChecksumAreReadWithinTheirBytes) {
  // A forging peer computes the checksum: the record parser itself must stay inside the frame.
  // Each forged frame sits in a buffer of exactly its size, so under ASan a read one byte past
  // it fails the test; a frame that is accepted yields records that all lie inside it.
  std::mt19937_64 rng(2);
  std::string f = sampleBatch();
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string g = f;
    size_t body = g.size() - kTrailerBytes;
    for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
      g[kHeaderBytes + rng() % (body - kHeaderBytes)] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) g[16] = static_cast<char>(rng() % 16);  // the record count lies too
    g = reseal(std::move(g));
    auto exact = std::make_unique<char[]>(g.size());
    std::memcpy(exact.get(), g.data(), g.size());
    std::string_view bytes(exact.get(), g.size());
    auto v = validateFrame(bytes, FrameType::kBatch);
    if (!v.ok()) continue;
    ++accepted;
    uint32_t seen = 0;
    forEachRecord(*v, [&](const RecordRef& r) {
      ++seen;
      for (std::string_view part : {r.origin, r.key, r.value}) {
        EXPECT_GE(part.data(), bytes.data());
        EXPECT_LE(part.data() + part.size(), bytes.data() + bytes.size());
      }
    });
    EXPECT_EQ(seen, v->count);
  }
  EXPECT_GT(accepted, 0) << "some edits only change bytes inside keys and values";
}

TEST(Wire, VarintsRoundTripAndRefuseOverflow) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
    std::string s;
    putVarint(s, v);
    const char* p = s.data();
    uint64_t got = 0;
    ASSERT_TRUE(getVarint(p, s.data() + s.size(), got));
    EXPECT_EQ(got, v);
    EXPECT_EQ(p, s.data() + s.size());
    // Any truncation fails.
    const char* q = s.data();
    if (s.size() > 1) {
      EXPECT_FALSE(getVarint(q, s.data() + s.size() - 1, got));
    }
  }
  std::string over(10, '\xff');
  over.push_back(1);
  const char* p = over.data();
  uint64_t got = 0;
  EXPECT_FALSE(getVarint(p, over.data() + over.size(), got));
  // 0 spelled in two bytes would give a frame a second encoding.
  std::string longZero("\x80\x00", 2);
  const char* z = longZero.data();
  EXPECT_FALSE(getVarint(z, longZero.data() + longZero.size(), got));
}

TEST(Wire, CarriesTheCollectionAndLeavesDefaultRecordsAsTheyWere) {
  FrameWriter w(FrameType::kBatch);
  Mutation inUsers = put("k", "v", 100);
  inUsers.collection = "users";
  w.add(inUsers);
  w.add(Mutation::Kind::kClear, "", "", 101, "n1", "orders");
  w.add(put("k", "v", 102));
  auto d = decodeFrame(w.finish(), FrameType::kBatch);
  ASSERT_TRUE(d.ok()) << d.error().code;
  ASSERT_EQ(d->records.size(), 3u);
  EXPECT_EQ(d->records[0].collection, "users");
  EXPECT_EQ(d->records[0].key, "k");
  EXPECT_EQ(d->records[1].kind, Mutation::Kind::kClear);
  EXPECT_EQ(d->records[1].collection, "orders");
  EXPECT_EQ(d->records[2].collection, "");

  // A default-collection record is spelled exactly as before collections existed.
  FrameWriter one(FrameType::kBatch);
  one.add(put("k", "v", 0x0102030405060708, "n1"));
  std::string f = one.finish();
  std::string want("\x00\x08\x07\x06\x05\x04\x03\x02\x01\x02n1\x01k\x01v", 16);
  EXPECT_EQ(f.substr(kHeaderBytes + 1, want.size()), want);  // after the empty extra's varint
  EXPECT_EQ(f.size(), kHeaderBytes + 1 + want.size() + kTrailerBytes);
}

TEST(Wire, RefusesAFlaggedRecordWithoutACollectionOrWithAnOversizedOne) {
  FrameWriter w(FrameType::kBatch);
  w.add(put("k", "v", 100));
  std::string f = w.finish();
  size_t kindAt = kHeaderBytes + 1;
  // The flag set, then an empty collection appended: a second spelling of a default record.
  std::string g = f.substr(0, f.size() - kTrailerBytes);
  g[kindAt] = static_cast<char>(kCollectionFlag);
  g.push_back('\0');
  g[20] = static_cast<char>(g[20] + 1);  // payload length
  g.append(8, '\0');
  auto d = decodeFrame(reseal(g), FrameType::kBatch);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "BAD_RECORD");
  // The flag set and nothing after the value: truncated.
  std::string h = f;
  h[kindAt] = static_cast<char>(kCollectionFlag);
  EXPECT_FALSE(decodeFrame(reseal(h), FrameType::kBatch).ok());
  // A collection longer than any valid name.
  FrameWriter big(FrameType::kBatch);
  big.add(Mutation::Kind::kPut, "k", "v", 100, "n1", std::string(kMaxCollectionBytes + 1, 'c'));
  auto b = decodeFrame(big.finish(), FrameType::kBatch);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "BAD_RECORD");
}

TEST(Wire, CarriesTheExpiryOfAPutAndNothingMoreForOneWithout) {
  FrameWriter w(FrameType::kBatch);
  Mutation timed = put("k", "v", 100);
  timed.expiresAtMs = 1'700'000'002'000;
  timed.collection = "users";
  w.add(timed);
  w.add(put("k", "v", 101));
  Mutation del;  // an expiry on a delete is not a thing: not encoded
  del.kind = Mutation::Kind::kDelete;
  del.key = "k";
  del.hlc = 102;
  del.origin = "n1";
  del.expiresAtMs = 5;
  w.add(del);
  std::string f = w.finish();
  auto d = decodeFrame(f, FrameType::kBatch);
  ASSERT_TRUE(d.ok()) << d.error().code;
  ASSERT_EQ(d->records.size(), 3u);
  EXPECT_EQ(d->records[0].expiresAtMs, 1'700'000'002'000u);
  EXPECT_EQ(d->records[0].collection, "users");
  EXPECT_EQ(d->records[0].value, "v");
  EXPECT_EQ(d->records[0].hlc, 100u);
  EXPECT_EQ(d->records[1].expiresAtMs, 0u);
  EXPECT_EQ(d->records[2].expiresAtMs, 0u);
  // Re-encoding what was decoded gives the same bytes (one encoding per frame).
  FrameWriter again(FrameType::kBatch);
  for (const Mutation& m : d->records) again.add(m);
  EXPECT_EQ(again.finish(), f);
  // The flag and its 8 bytes: exactly 8 bytes more than the same record without an expiry.
  FrameWriter a(FrameType::kBatch), b(FrameType::kBatch);
  a.add(put("k", "v", 100));
  Mutation t = put("k", "v", 100);
  t.expiresAtMs = 7;
  b.add(t);
  EXPECT_EQ(a.finish().size() + 8, b.finish().size());
}

TEST(Wire, RefusesAZeroExpiryOrAnExpiryOnANonPut) {
  Mutation t = put("k", "v", 100);
  t.expiresAtMs = 0x1111111111111111;
  FrameWriter w(FrameType::kBatch);
  w.add(t);
  std::string f = w.finish();
  size_t kindAt = kHeaderBytes + 1;
  ASSERT_EQ(static_cast<uint8_t>(f[kindAt]), kExpiryFlag);
  std::string zero = f;  // the flag with a zero expiry: a second spelling of "none"
  for (size_t i = 1; i <= 8; ++i) zero[kindAt + i] = '\0';
  auto z = decodeFrame(reseal(zero), FrameType::kBatch);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().code, "BAD_RECORD");
  std::string onClear = f;  // a flagged clear (its key and value would be refused anyway)
  onClear[kindAt] = static_cast<char>(kExpiryFlag | 2);
  EXPECT_FALSE(decodeFrame(reseal(onClear), FrameType::kBatch).ok());
  std::string onDelete = f;
  onDelete[kindAt] = static_cast<char>(kExpiryFlag | 1);
  EXPECT_FALSE(decodeFrame(reseal(onDelete), FrameType::kBatch).ok());
  // A flag with its 8 bytes cut: the record is short.
  std::string cut = f.substr(0, kindAt + 5);
  cut[20] = static_cast<char>(6);  // payload: extra varint, kind, 4 bytes of the expiry
  cut[21] = cut[22] = cut[23] = 0;
  cut.append(8, '\0');
  EXPECT_FALSE(decodeFrame(reseal(cut), FrameType::kBatch).ok());
}

}  // namespace
}  // namespace db::wire

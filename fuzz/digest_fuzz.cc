// Fuzz target: the anti-entropy digest decoders, fed by peers: the digest (database/storage/
// keyspace.h decodeDigest, a GET /_mesh/digest answer) and the second level's summary and answer
// (keyspace_reconcile.h: a POST /_mesh/reconcile body and its answer). The first input byte picks
// the decoder (bits 1-2: 0 or 3 the digest, 1 the summary, 2 the answer) and, when odd, seals the
// rest into that message's fixed frame (magic; digest: the segment values the bitmap announces
// padded or cut to fit; summary and answer: a hash count the bytes back) so the fuzzer reaches
// the loops. The property: an accepted message re-encodes through the project's own encoder to
// the same bytes, so two nodes never disagree about what one message says.
#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "database/storage/keyspace.h"
#include "database/storage/keyspace_reconcile.h"
#include "fuzz_check.h"

namespace {

constexpr size_t kBitmap = db::Keyspace::kSegments / 8;

void putU32(std::string& b, size_t at, size_t v) {
  for (size_t i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

int summary(std::string bytes, bool sealed) {
  constexpr size_t kFixed = 4 + kBitmap + 4;
  if (sealed) {
    if (bytes.size() < kFixed) bytes.resize(kFixed, '\0');
    std::memcpy(bytes.data(), "MKS1", 4);
    bytes.resize(kFixed + (bytes.size() - kFixed) / 8 * 8);
    putU32(bytes, 4 + kBitmap, (bytes.size() - kFixed) / 8);
  }
  auto s = db::reconcile::decodeSummary(bytes);
  if (!s.ok()) return 0;
  FUZZ_CHECK(db::reconcile::encodeSummary(s->segments, s->hashes) == bytes,
             "a valid summary re-encodes to the same bytes");
  return 0;
}

int answer(std::string bytes, bool sealed) {
  constexpr size_t kFixed = 4 + 1 + 4;
  if (sealed) {
    if (bytes.size() < kFixed) bytes.resize(kFixed, '\0');
    std::memcpy(bytes.data(), "MKA1", 4);
    bytes[4] = static_cast<char>(bytes[4] & 1);
    size_t count = static_cast<unsigned char>(bytes[5]);  // small: the rest is the frame
    putU32(bytes, 5, std::min(count, (bytes.size() - kFixed) / 8));
  }
  auto a = db::reconcile::decodeAnswer(bytes);
  if (!a.ok()) return 0;
  FUZZ_CHECK(a->frame.size() <= bytes.size(), "the frame is inside the answer");
  FUZZ_CHECK(db::reconcile::encodeAnswer(a->truncated, a->wanted, a->frame) == bytes,
             "a valid answer re-encodes to the same bytes");
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t mode = in.byte();
  std::string bytes(in.rest());
  if (((mode >> 1) & 3) == 1) return summary(std::move(bytes), mode & 1);
  if (((mode >> 1) & 3) == 2) return answer(std::move(bytes), mode & 1);
  if (mode & 1) {  // sealed: magic, then as many segment values as the bitmap announces
    if (bytes.size() < 13) bytes.resize(13, '\0');
    std::memcpy(bytes.data(), "MKD1", 4);
    size_t olen = static_cast<unsigned char>(bytes[12]);
    size_t bitmapAt = 13 + olen + 8;
    if (bytes.size() < bitmapAt + kBitmap) bytes.resize(bitmapAt + kBitmap, '\0');
    size_t set = 0;
    for (size_t i = 0; i < kBitmap; ++i) {
      set += std::popcount(static_cast<unsigned char>(bytes[bitmapAt + i]));
    }
    bytes.resize(bitmapAt + kBitmap + 8 * set, '\x5a');
  }
  auto d = db::Keyspace::decodeDigest(bytes);
  if (!d.ok()) return 0;
  FUZZ_CHECK(d->clearOrigin.size() <= 255, "origin fits its length byte");
  FUZZ_CHECK(db::Keyspace::encodeDigest(*d) == bytes,
             "a valid digest re-encodes to the same bytes");
  return 0;
}

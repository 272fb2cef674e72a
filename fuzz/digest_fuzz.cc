// Fuzz target: the anti-entropy digest decoder (database/storage/keyspace.h decodeDigest), fed
// by every peer's GET /_mesh/digest answer. The first input byte, when odd, seals the rest into
// the digest's fixed frame (magic, and the segment values the bitmap announces padded or cut to
// fit) so the fuzzer reaches the segment loop. The property: an accepted digest re-encodes
// through the project's own encoder (Keyspace::encodeDigest(const Digest&)) to the same bytes,
// so two nodes never disagree about what one digest says.
#include <bit>
#include <cstring>
#include <string>

#include "database/storage/keyspace.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t mode = in.byte();
  std::string bytes(in.rest());
  constexpr size_t kBitmap = db::Keyspace::kSegments / 8;
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

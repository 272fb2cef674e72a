// Fuzz target: the mesh's binary frame decoder (database/mesh/wire.h validateFrame,
// forEachRecord, decodeFrame), which reads every replication batch, snapshot page and repair
// frame a peer sends. The first input byte picks the expected frame type and, with its top bit,
// "sealed" mode: the rest is patched into a frame with the right magic, version, type, payload
// length and checksum, so the fuzzer explores records instead of failing the checksum. The
// property: a frame that validates re-encodes, through the project's own FrameWriter, to the
// same bytes (one canonical encoding: nothing ignored, nothing ambiguous), its records are within
// the wire limits, and decodeFrame agrees with the zero-copy path.
#include <xxhash.h>

#include <cstring>
#include <string>
#include <vector>

#include "database/mesh/wire.h"
#include "fuzz_check.h"

using db::wire::FrameType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t mode = in.byte();
  auto type = static_cast<FrameType>(1 + (mode & 0x7f) % 3);
  std::string bytes(in.rest());
  if (mode & 0x80) {  // sealed: a well-formed envelope around the fuzzer's payload
    if (bytes.size() < db::wire::kHeaderBytes) bytes.resize(db::wire::kHeaderBytes, '\0');
    std::memcpy(bytes.data(), "MKV1", 4);
    bytes[4] = 1;
    bytes[5] = static_cast<char>(type);
    auto payloadLen = static_cast<uint32_t>(bytes.size() - db::wire::kHeaderBytes);
    for (int i = 0; i < 4; ++i) bytes[20 + i] = static_cast<char>((payloadLen >> (8 * i)) & 0xff);
    db::wire::putU64(bytes, XXH3_64bits(bytes.data(), bytes.size()));
  }

  auto v = db::wire::validateFrame(bytes, type);
  auto d = db::wire::decodeFrame(bytes, type);
  FUZZ_CHECK(v.ok() == d.ok(), "validateFrame and decodeFrame agree");
  if (!v.ok()) return 0;

  FUZZ_CHECK(v->extra.size() <= db::wire::kMaxExtraBytes, "extra within its limit");
  db::wire::FrameWriter w(type);
  w.setSeq(v->seq);
  w.setExtra(v->extra);
  size_t n = 0;
  db::wire::forEachRecord(*v, [&](const db::wire::RecordRef& r) {
    FUZZ_CHECK(r.origin.size() <= db::wire::kMaxOriginBytes, "origin within its limit");
    FUZZ_CHECK(r.key.size() <= db::wire::kMaxKeyBytes, "key within its limit");
    FUZZ_CHECK(r.value.size() <= db::wire::kMaxValueBytes, "value within its limit");
    FUZZ_CHECK(r.expiresAtMs == 0 || r.kind == db::Mutation::Kind::kPut, "only a put expires");
    FUZZ_CHECK(n < d->records.size(), "as many records both ways");
    const db::Mutation& m = d->records[n++];
    FUZZ_CHECK(m.kind == r.kind && m.key == r.key && m.value == r.value && m.hlc == r.hlc &&
                   m.origin == r.origin && m.collection == r.collection &&
                   m.expiresAtMs == r.expiresAtMs,
               "decodeFrame copies what forEachRecord shows");
    w.add(r.kind, r.key, r.value, r.hlc, r.origin, r.collection, r.expiresAtMs);
  });
  FUZZ_CHECK(n == v->count && n == d->records.size(), "every announced record is delivered");
  FUZZ_CHECK(d->seq == v->seq && d->extra == v->extra, "same header both ways");
  FUZZ_CHECK(w.finish() == bytes, "a valid frame re-encodes to the same bytes");
  return 0;
}

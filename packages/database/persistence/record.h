// The record format of the node's files (log.<gen> and snapshot.<gen>): one record per mutation,
//   u32 bodyLen | u64 checksum | body = u8 kind, [u64 expiresAtMs,] u64 hlc, u16 originLen,
//   u16 keyLen, u32 valueLen, origin, key, value [, collection]
// A record of a named collection has kCollectionFlag set in its kind byte and the collection's
// name as the rest of the body (never empty); a default-collection record is byte for byte what
// it was before collections, so older files load unchanged. A kPut with an expiry (docs/ttl.md)
// has kExpiryFlag set and its expiresAtMs (never 0) right after the kind byte; one without is
// unchanged too.
// little-endian; checksum = XXH3-64 of the body seeded with bodyLen, so a bad length is caught
// too. Kinds are Mutation::Kind plus kReset (the keyspace forgot everything: an evicted node).
// encodeRecord() appends to a buffer on the loop thread; scanRecords() walks bytes (an mmapped
// file at recovery) on any thread. The one thing to get right: a bad record is a TORN TAIL only
// when nothing valid can follow it (it runs past the end, is the last record, or only zero bytes
// follow); anything else is damage in the middle and must never be silently cut.
// (A length damaged so that the record runs past the end looks like a tear: only possible in
// the last kMaxRecordBodyBytes of a file.)
#pragma once

#include <absl/functional/function_ref.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "database/storage/mutation.h"

namespace db::persistence {

enum class RecordKind : uint8_t { kPut = 0, kDelete = 1, kClear = 2, kReset = 3 };

constexpr size_t kRecordHeaderBytes = 12;     // bodyLen + checksum
constexpr size_t kRecordFixedBodyBytes = 17;  // kind, hlc, three lengths
constexpr size_t kMaxRecordBodyBytes = size_t{1} << 20;
constexpr uint8_t kCollectionFlag = 0x80;
constexpr uint8_t kExpiryFlag = 0x40;

// A decoded record; the views point into the scanned bytes.
struct LogRecord {
  RecordKind kind = RecordKind::kPut;
  uint64_t hlc = 0;
  std::string_view origin;
  std::string_view key;
  std::string_view value;
  std::string_view collection{};  // "" = the default collection
  uint64_t expiresAtMs = 0;       // kPut: when it expires (0 = never)
};

// Appends one record. Precondition: key and origin < 64 KiB, the whole body within
// kMaxRecordBodyBytes (the keyspace's limits are far below).
void encodeRecord(std::string& out, RecordKind kind, std::string_view key, std::string_view value,
                  uint64_t hlc, std::string_view origin, std::string_view collection = {},
                  uint64_t expiresAtMs = 0);
inline void encodeMutation(std::string& out, const Mutation& m) {
  encodeRecord(out, static_cast<RecordKind>(m.kind), m.key, m.value, m.hlc, m.origin, m.collection,
               m.expiresAtMs);
}
size_t encodedSize(std::string_view key, std::string_view value, std::string_view origin,
                   std::string_view collection = {}, uint64_t expiresAtMs = 0);

struct ScanOutcome {
  enum class State : uint8_t {
    kClean,    // every byte belongs to a valid record
    kTorn,     // valid records up to goodEnd, then an incomplete/bad last record: cut it
    kDamaged,  // a bad record at goodEnd with data after it: do not guess
  };
  State state = State::kClean;
  size_t goodEnd = 0;  // end of the last valid record (= the bad record's offset)
  size_t records = 0;  // valid records visited
};
const char* toString(ScanOutcome::State s);

// Walks `bytes` from the start, calling visit for every valid record until the first bad one.
// visit returns false to stop early (the outcome is then kClean up to that record's end).
ScanOutcome scanRecords(std::string_view bytes, absl::FunctionRef<bool(const LogRecord&)> visit);

// About how many records `bytes` holds, extrapolated from the sizes of those in its first
// kEstimateSampleBytes (length fields only, nothing checked): a hint to size an index before a
// scan, never a fact (a damaged length makes it wrong, not unsafe). 0 for no records.
constexpr size_t kEstimateSampleBytes = size_t{1} << 20;
size_t estimateRecords(std::string_view bytes);

}  // namespace db::persistence

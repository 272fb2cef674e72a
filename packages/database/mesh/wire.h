// The mesh's binary wire format: one framed, versioned, checksummed container for replication
// batches (POST /_mesh/replicate), snapshot pages (GET /_mesh/snapshot) and anti-entropy record
// exchanges. Pure functions, no I/O, safe from any thread; MeshCluster and the tests call them.
// Frame layout (little endian):
//   "MKV1" | type u8 | flags u8 | reserved u16 | seq u64 | count u32 | payloadLen u32 |
//   payload[payloadLen] | xxh3_64(everything before it) u64
//   payload = extraLen varint, extra bytes, then `count` records:
//   kind u8 [| expiresAtMs u64: only when kind has kExpiryFlag; a kPut's, never 0] | hlc u64 |
//   originLen varint, origin | keyLen varint, key | valueLen varint, value
//   [| collectionLen varint, collection: only when kind has kCollectionFlag; never empty]
// A record of the default collection has no flag and no collection bytes, one without an
// expiry no expiry flag and bytes: their bytes are what they were before collections and TTLs.
// The one thing to get right: decodeFrame() validates the WHOLE frame (lengths, checksum, every
// record) before returning anything, so a truncated or corrupt frame is refused with nothing
// applied half-way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "database/storage/mutation.h"
#include "database/storage/record_rules.h"

namespace db::wire {

enum class FrameType : uint8_t {
  kBatch = 1,     // live replication: seq = sender's batch number
  kSnapshot = 2,  // snapshot page: extra = next cursor (empty when done)
  kRecords = 3,   // anti-entropy repair: records of the segments that differ
};

inline constexpr size_t kHeaderBytes = 24;
inline constexpr size_t kTrailerBytes = 8;
inline constexpr size_t kMaxOriginBytes = db::kMaxOriginBytes;  // record_rules.h
inline constexpr size_t kMaxKeyBytes = 1u << 16;
inline constexpr size_t kMaxValueBytes = 1u << 20;
inline constexpr size_t kMaxExtraBytes = 1u << 16;
inline constexpr size_t kMaxCollectionBytes = db::kMaxCollectionBytes;  // record_rules.h
inline constexpr uint8_t kCollectionFlag = 0x80;                        // in a record's kind byte
inline constexpr uint8_t kExpiryFlag = 0x40;                            // in a record's kind byte
// The largest request body a mesh route accepts (its RouteOptions::maxBodyBytes). A batch is
// far smaller (maxBatchBytes plus one record); a repair frame carries whole differing segments,
// which is why this stays at the HTTP server's former global limit.
inline constexpr size_t kMaxFrameBytes = 64u << 20;

// Builds a frame incrementally: add records, then finish(). Reusable after finish().
class FrameWriter {
 public:
  explicit FrameWriter(FrameType type);
  void setSeq(uint64_t seq) { seq_ = seq; }
  void setExtra(std::string_view extra) { extra_.assign(extra); }
  void add(const Mutation& m);
  void add(Mutation::Kind kind, std::string_view key, std::string_view value, uint64_t hlc,
           std::string_view origin, std::string_view collection = {}, uint64_t expiresAtMs = 0);
  size_t count() const { return count_; }
  size_t bytes() const { return records_.size(); }  // record bytes so far
  bool empty() const { return count_ == 0; }
  // Returns the complete frame and resets the writer (type kept, seq/extra cleared).
  std::string finish();

 private:
  FrameType type_;
  uint64_t seq_ = 0;
  uint32_t count_ = 0;
  std::string extra_;
  std::string records_;
};

struct Frame {
  FrameType type;
  uint64_t seq = 0;
  std::string extra;
  std::vector<Mutation> records;
};

// A record inside a validated frame (views into the frame's bytes).
struct RecordRef {
  Mutation::Kind kind = Mutation::Kind::kPut;
  uint64_t hlc = 0;
  std::string_view origin, key, value;
  std::string_view collection{};  // "" = the default collection
  uint64_t expiresAtMs = 0;       // kPut only: when it expires (0 = never)
};

// A validated frame: every byte checked (envelope, checksum, every record), nothing copied.
struct FrameView {
  FrameType type;
  uint64_t seq = 0;
  std::string_view extra;
  uint32_t count = 0;
  std::string_view records;
};
common::Result<FrameView> validateFrame(std::string_view bytes, FrameType expected);
// Calls fn for every record of a frame that validateFrame() accepted.
void forEachRecord(const FrameView& f, const std::function<void(const RecordRef&)>& fn);

// Validates and decodes a whole frame (copies; validateFrame + forEachRecord avoid them). Error
// codes: TRUNCATED, BAD_MAGIC, BAD_VERSION, BAD_TYPE, BAD_FLAGS, BAD_CHECKSUM, BAD_RECORD,
// TRAILING_BYTES. A frame has exactly one encoding: flags and reserved bytes are 0 and every
// varint is minimal, so a valid frame re-encodes to the same bytes.
common::Result<Frame> decodeFrame(std::string_view bytes, FrameType expected);

// LEB128 helpers (exposed for tests and the digest codec).
void putVarint(std::string& out, uint64_t v);
// Reads a varint at p (advancing it); false when it runs past end, exceeds 10 bytes or is not
// minimal (a last byte of 0 after the first).
bool getVarint(const char*& p, const char* end, uint64_t& v);
void putU64(std::string& out, uint64_t v);
uint64_t getU64(const char* p);

}  // namespace db::wire

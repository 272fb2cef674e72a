// db::Keyspace: one node's data with replication semantics, on top of a StorageAdapter engine.
// Client writes are stamped with the node's Hlc and id and returned as Mutations to replicate;
// replicated, snapshot and anti-entropy data goes through apply(), a last-write-wins merge on
// (hlc, origin) with tombstones and a cluster-wide clear mark. Merging is commutative,
// associative and idempotent, so the mesh may deliver anything in any order, any number of times.
// It also keeps the anti-entropy digest (4096 XOR segments) up to date in O(1) per change.
// The Node owns it (routes and mesh hold references); loop thread only, no locking.
// The one thing to get right: views returned by get()/scans point into the engine and are
// valid only until the next write (set/remove/clear/apply/collectTombstones).
#pragma once

#include <absl/functional/function_ref.h>

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "database/storage/adapter.h"
#include "database/storage/hlc.h"
#include "database/storage/mutation.h"

namespace db {

struct KeyspaceOptions {
  std::string nodeId;                                  // this node's id (HOSTNAME); the origin
  uint64_t maxClockDriftMs = Hlc::kDefaultMaxDriftMs;  // remote HLCs further ahead are refused
  uint64_t tombstoneGraceMs = 10 * 60 * 1000;          // deletes are kept at least this long
  Hlc::WallClock wallClock;                            // empty: the system clock (tests inject)
};

KeyspaceOptions makeDefaultKeyspaceOptions(std::string nodeId);

enum class ApplyResult : uint8_t {
  kApplied,         // the mutation changed the state
  kStale,           // already known, or older than what is stored / the clear mark: no-op
  kRefusedClock,    // its hlc is too far ahead of our wall clock (Hlc::observe): not applied
  kRefusedInvalid,  // malformed (empty origin, key/value over the engine's limits): not applied
};
const char* toString(ApplyResult r);

// A page of a scan. `next` is the cursor of the following page, "" when the walk is complete.
struct ScanPage {
  std::string next;
  size_t visited = 0;
};

class Keyspace {
 public:
  static constexpr size_t kSegmentBits = 12;
  static constexpr size_t kSegments = size_t{1} << kSegmentBits;
  using Segments = std::array<uint64_t, kSegments>;
  using SegmentSet = std::bitset<kSegments>;

  // engine: null = a MemoryAdapter.
  explicit Keyspace(KeyspaceOptions opts, std::unique_ptr<StorageAdapter> engine = nullptr);
  ~Keyspace();
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  const std::string& nodeId() const { return opts_.nodeId; }
  Hlc& clock() { return hlc_; }
  uint64_t tombstoneGraceMs() const { return opts_.tombstoneGraceMs; }
  size_t maxKeyBytes() const;  // the engine's limits; the routes' limits must stay below
  size_t maxValueBytes() const;

  // ---- Client operations (stamped with the local clock and node id) ----

  // Precondition: key non-empty, key.size() <= maxKeyBytes(), value.size() <= maxValueBytes()
  // (the routes validate first). Returns the mutation to replicate, or the engine's refusal
  // (STORE_FULL: no memory for another arena chunk); nothing is stored then.
  common::Result<Mutation> set(std::string_view key, std::string_view value);
  // Writes a tombstone. MISSING_RECORD when there is no live record (the route answers 404);
  // STORE_FULL as for set().
  common::Result<Mutation> remove(std::string_view key);
  // Sets the clear mark to now: every record and tombstone goes.
  Mutation clear();
  // Forgets everything locally (records, tombstones, clear mark, digest) WITHOUT a mutation to
  // replicate: for a node that must copy the cluster's data again (evicted). The clock goes on.
  void reset();
  // Bulk-load hints, passed to the engine (see StorageAdapter): about `records` records
  // (tombstones included) of about `bytes` will be stored soon; `key` will be written soon.
  void reserve(size_t records, size_t bytes) { engine_->reserve(records, bytes); }
  void prefetch(std::string_view key) const { engine_->prefetch(key); }

  std::optional<std::string_view> get(std::string_view key) const;  // one lookup, no allocation
  bool contains(std::string_view key) const;
  size_t size() const;  // live records
  size_t memoryUsed() const;

  // Live records for the list routes. cursor "" = start; a cursor from a previous page of this
  // process (any other is INVALID_CURSOR). `visit` returns false to stop after that record.
  // Records present (and not resized) for the whole listing are visited exactly once. A prefix
  // filter is an O(n) walk like Redis SCAN MATCH: each page examines at most maxExamined records
  // and may come back short (even empty) with a non-empty `next`. limit 0 visits nothing and
  // hands back the cursor it was given.
  common::Result<ScanPage> scan(
      std::string_view cursor, size_t limit, std::string_view prefix,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit,
      size_t maxExamined = SIZE_MAX) const;

  // ---- Replication ----

  // LWW merge of a remote (or snapshot / anti-entropy) mutation. Calls Hlc::observe.
  ApplyResult apply(const Mutation& m);
  ApplyResult apply(Mutation::Kind kind, std::string_view key, std::string_view value, uint64_t hlc,
                    std::string_view origin);
  // apply() for the node's own log replayed at start: the same merge, but the hlc is absorbed
  // without the drift check (this node accepted it once; a wall clock that went back since must
  // not drop it).
  ApplyResult replay(Mutation::Kind kind, std::string_view key, std::string_view value,
                     uint64_t hlc, std::string_view origin);

  // The cluster-wide clear mark: every record with version (hlc, origin) <= it is gone.
  // hlc 0 = never cleared.
  uint64_t clearMarkHlc() const { return clearHlc_; }
  const std::string& clearMarkOrigin() const { return clearOrigin_; }
  // The kClear mutation that reproduces the mark (a snapshot sends it first); nullopt if none.
  std::optional<Mutation> clearMarkMutation() const;

  // Snapshot: every record INCLUDING tombstones (as RecordView: tombstone flag, hlc, origin),
  // sliceable like scan(). Send clearMarkMutation() before the pages.
  common::Result<ScanPage> scanAll(std::string_view cursor, size_t limit,
                                   absl::FunctionRef<bool(const RecordView&)> visit,
                                   size_t maxExamined = SIZE_MAX) const;

  // Converts a record of scanAll()/scanSegments() into the mutation that reproduces it.
  static Mutation toMutation(const RecordView& r);

  // ---- Tombstones ----

  size_t tombstoneCount() const;
  // Drops tombstones with hlc < olderThanHlc (the horizon the mesh computed: older than the
  // grace period and known to every live peer). O(1) when no tombstone is that old (a lower
  // bound of the oldest is kept); otherwise a walk over the records. With maxExamined set, each
  // call sweeps one slice and the next call resumes where it stopped (bounded loop stalls).
  size_t collectTombstones(uint64_t olderThanHlc, size_t maxExamined = SIZE_MAX);

  // ---- Anti-entropy digest ----

  // The segment of a key (top 12 bits of its 64-bit hash); stable across nodes.
  static uint32_t segmentOf(std::string_view key);
  // Each segment is the XOR of recordHash(...) over its records (tombstones included).
  const Segments& segments() const { return segments_; }
  // Hash of all segments plus the clear mark; equal roots = equal states. Cached.
  uint64_t rootHash() const;
  // hash64(key, hlc, origin, tombstone): what a record contributes to its segment.
  static uint64_t recordHash(std::string_view key, uint64_t hlc, std::string_view origin,
                             bool tombstone);

  // Compact encoding of the whole digest (clear mark, root, non-zero segments): <= ~33 KB.
  struct Digest {
    uint64_t clearHlc = 0;
    std::string clearOrigin;
    uint64_t root = 0;
    Segments segments{};
  };
  std::string encodeDigest() const;
  static std::string encodeDigest(const Digest& d);
  static common::Result<Digest> decodeDigest(std::string_view bytes);  // BAD_DIGEST
  // Segments whose hashes differ.
  static SegmentSet diffSegments(const Segments& a, const Segments& b);
  // Records (tombstones included) of the given segments, sliceable like scanAll(). O(n) walk.
  common::Result<ScanPage> scanSegments(const SegmentSet& which, std::string_view cursor,
                                        size_t limit,
                                        absl::FunctionRef<bool(const RecordView&)> visit,
                                        size_t maxExamined = SIZE_MAX) const;

  const StorageAdapter& engine() const { return *engine_; }

 private:
  // `refusal`, when given, receives the engine's error when it refuses the write.
  ApplyResult merge(Mutation::Kind kind, std::string_view key, std::string_view value, uint64_t hlc,
                    std::string_view origin, bool trusted);
  ApplyResult write(std::string_view key, std::string_view value, uint64_t hlc,
                    std::string_view origin, bool tombstone, common::Error* refusal = nullptr);
  void applyClearMark(uint64_t hlc, std::string_view origin);
  void xorRecord(uint64_t keyHash, uint64_t hlc, std::string_view origin, bool tombstone);
  void noteTombstone(uint64_t hlc);
  std::string encodeCursor(uint64_t pos) const;
  common::Result<uint64_t> decodeCursor(std::string_view cursor) const;

  KeyspaceOptions opts_;
  Hlc hlc_;
  std::unique_ptr<StorageAdapter> engine_;
  uint64_t clearHlc_ = 0;
  std::string clearOrigin_;
  uint64_t maxStoredHlc_ = 0;  // upper bound of every stored record's hlc (clear fast path)
  Segments segments_{};
  mutable uint64_t root_ = 0;
  mutable bool rootDirty_ = true;
  uint64_t cursorSecret_;
  uint64_t oldestTombstone_ = UINT64_MAX;  // <= the hlc of every stored tombstone
  uint64_t sweepOldest_ = UINT64_MAX;      // oldest tombstone kept by the sweep in progress
  uint64_t sweepCursor_ = 0;               // engine cursor of the sliced sweep (0 = none)
};

}  // namespace db

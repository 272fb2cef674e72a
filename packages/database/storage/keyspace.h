// db::Keyspace: one node's data with replication semantics, on top of a StorageAdapter engine.
// Client writes are stamped with the node's Hlc and id and returned as Mutations to replicate;
// replicated, snapshot and anti-entropy data goes through apply(), a last-write-wins merge on
// (hlc, origin) with tombstones and a cluster-wide clear mark. Merging is commutative,
// associative and idempotent, so the mesh may deliver anything in any order, any number of times.
// It also keeps the anti-entropy digest (4096 XOR segments) up to date in O(1) per change.
// Records live in named collections (docs/collections.md): the default collection ("") is stored
// under the client's keys as before; a collection's records under 0xFF + its node-local id
// (varint) + the key, so a record costs 2-3 bytes more. Ids never leave the node: records
// handed out carry the name (RecordView::collection), and each collection has its own clear mark.
// A record may carry an absolute expiry (docs/ttl.md): reads and counts hide it from that
// moment; sweepExpired() drops it once it is below the expiry horizon the mesh hands in.
// The Node owns it (routes and mesh hold references); loop thread only, no locking.
// The one thing to get right: views returned by get()/scans point into the engine and are
// valid only until the next write (set/remove/persist/clear/apply/collectTombstones/sweepExpired).
#pragma once

#include <absl/container/btree_map.h>
#include <absl/functional/function_ref.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
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

// What /collections and /status show of one collection.
struct CollectionInfo {
  std::string name;       // "" = the default collection
  size_t records = 0;     // live records (expired ones not counted, swept or not)
  size_t tombstones = 0;  // deletes kept for replication
  size_t bytes = 0;       // key + value bytes of the live records
  size_t expiring = 0;    // live records with an expiry (docs/ttl.md)
};

// What one slice of the expiry sweep did (Keyspace::sweepExpired).
struct ExpirySweep {
  size_t examined = 0;  // records looked at
  size_t dropped = 0;   // expired records removed
  bool done = true;     // the walk reached the end of the store (the next slice starts over)
};

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

  // A client write that would make one more collection than this is refused
  // (TOO_MANY_COLLECTIONS); a peer's or the log's records may go up to kMaxCollections *
  // kPeerCollectionSlack (two nodes can each create collections concurrently), beyond which
  // they are refused as invalid.
  static constexpr size_t kMaxCollections = 1024;
  static constexpr size_t kPeerCollectionSlack = 2;

  const std::string& nodeId() const { return opts_.nodeId; }
  Hlc& clock() { return hlc_; }
  // The newest version (hlc) of any record or clear mark this keyspace has stored, replayed
  // ones included; 0 after reset(). After a recovery it says how old the recovered data is,
  // which the clock cannot: replaying pulls the clock up to the wall clock of the restart.
  uint64_t newestHlc() const { return newestHlc_; }
  uint64_t tombstoneGraceMs() const { return opts_.tombstoneGraceMs; }
  size_t maxKeyBytes() const;  // the engine's limits; the routes' limits must stay below
  size_t maxValueBytes() const;

  // ---- Client operations (stamped with the local clock and node id) ----

  // Precondition: key non-empty, key.size() <= maxKeyBytes(), value.size() <= maxValueBytes()
  // (the routes validate first). Returns the mutation to replicate, or the engine's refusal
  // (STORE_FULL: no memory for another arena chunk); nothing is stored then.
  // `collection` "" is the default collection, any other a valid name (checkCollection); a
  // write to a collection not seen yet creates it (TOO_MANY_COLLECTIONS past kMaxCollections).
  // ttlMs > 0: the record expires at the stamp's wall-clock ms + ttlMs (Mutation::expiresAtMs);
  // 0: no expiry (a set without a ttl clears one, like Redis SET). Precondition: ttlMs <=
  // kMaxTtlMs (the routes validate).
  common::Result<Mutation> set(std::string_view key, std::string_view value,
                               std::string_view collection = {}, uint64_t ttlMs = 0);
  static constexpr uint64_t kMaxTtlMs = uint64_t{10} * 366 * 24 * 3600 * 1000;  // ~10 years
  // Removes the expiry of a live record: a new write (stamped now, same value, no expiry).
  // MISSING_RECORD when there is no live record; nullopt (nothing written) when it had none.
  common::Result<std::optional<Mutation>> persist(std::string_view key,
                                                  std::string_view collection = {});
  // Milliseconds left before the live record expires (> 0), -1 when it has no expiry;
  // MISSING_RECORD when there is no live record.
  common::Result<int64_t> ttlMs(std::string_view key, std::string_view collection = {}) const;
  // Writes a tombstone. MISSING_RECORD when there is no live record (the route answers 404);
  // STORE_FULL as for set().
  common::Result<Mutation> remove(std::string_view key, std::string_view collection = {});
  // Sets the default collection's clear mark to now: its records and tombstones go (the other
  // collections stay).
  Mutation clear();
  // The same for one collection (TOO_MANY_COLLECTIONS when it is new and there is no room).
  common::Result<Mutation> clear(std::string_view collection);
  // Forgets everything locally (records, tombstones, clear mark, digest) WITHOUT a mutation to
  // replicate: for a node that must copy the cluster's data again (evicted). The clock goes on.
  void reset();
  // Bulk-load hints, passed to the engine (see StorageAdapter): about `records` records
  // (tombstones included) of about `bytes` will be stored soon; `key` will be written soon.
  void reserve(size_t records, size_t bytes) { engine_->reserve(records, bytes); }
  // (A collection's record is stored under another key: only the default collection's is
  // prefetched, the rest are a miss like without the hint.)
  void prefetch(std::string_view key, std::string_view collection = {}) const {
    if (collection.empty()) engine_->prefetch(key);
  }

  // One lookup, no allocation. An expired record is absent from the moment it expires (every
  // read: get, contains, scans, counts), swept or not.
  std::optional<std::string_view> get(std::string_view key, std::string_view collection = {}) const;
  bool contains(std::string_view key, std::string_view collection = {}) const;
  size_t size() const;  // live records, every collection (expired ones not counted)
  size_t memoryUsed() const;
  // The default collection first, then the others in name order (those holding records,
  // tombstones or a clear mark; an emptied one without a mark is forgotten).
  std::vector<CollectionInfo> collections() const;

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
  // The same within one collection ("" = the default one). A collection is stored in the same
  // engine as the others, so its listing is a prefix walk over all of them.
  common::Result<ScanPage> scan(
      std::string_view collection, std::string_view cursor, size_t limit, std::string_view prefix,
      absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit,
      size_t maxExamined = SIZE_MAX) const;

  // ---- Replication ----

  // LWW merge of a remote (or snapshot / anti-entropy) mutation. Calls Hlc::observe.
  ApplyResult apply(const Mutation& m);
  // A record that has already expired and is below the expiry horizon is not taken when no
  // version of its key is held (kStale): it was dropped here or is about to be everywhere.
  ApplyResult apply(Mutation::Kind kind, std::string_view key, std::string_view value, uint64_t hlc,
                    std::string_view origin, std::string_view collection = {},
                    uint64_t expiresAtMs = 0);
  // apply() for the node's own log replayed at start: the same merge, but the hlc is absorbed
  // without the drift check (this node accepted it once; a wall clock that went back since must
  // not drop it).
  ApplyResult replay(Mutation::Kind kind, std::string_view key, std::string_view value,
                     uint64_t hlc, std::string_view origin, std::string_view collection = {},
                     uint64_t expiresAtMs = 0);

  // The default collection's cluster-wide clear mark: every record of it with version
  // (hlc, origin) <= it is gone. hlc 0 = never cleared.
  uint64_t clearMarkHlc() const { return default_.clearHlc; }
  const std::string& clearMarkOrigin() const { return default_.clearOrigin; }
  // The kClear mutation that reproduces the default collection's mark; nullopt if none.
  std::optional<Mutation> clearMarkMutation() const;
  // The kClear mutations of every collection's mark, the default's first: what a snapshot, a
  // repair frame or a compacted file carries before the records.
  std::vector<Mutation> clearMarkMutations() const;

  // Snapshot: every record INCLUDING tombstones (as RecordView: tombstone flag, hlc, origin,
  // collection), sliceable like scan(). Send clearMarkMutations() before the pages.
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

  // ---- Expiry (docs/ttl.md) ----

  // The wall clock reads use (the Hlc's: tests inject it).
  uint64_t wallMs() const { return hlc_.wallMs(); }
  // Expired records with an hlc below this may be dropped (the mesh's collection horizon: every
  // live member has them, so none can bring back an older version). Only ever raised.
  void setExpiryHorizon(uint64_t hlc) { expiryHorizon_ = std::max(expiryHorizon_, hlc); }
  uint64_t expiryHorizon() const { return expiryHorizon_; }
  // Whether a record is expired at `nowMs` (0 = never expires).
  static bool expired(uint64_t expiresAtMs, uint64_t nowMs) {
    return expiresAtMs != 0 && expiresAtMs <= nowMs;
  }
  // Whether some record has expired and is not dropped yet (O(collections)).
  bool expiryDue() const;
  // One slice of the active sweep: walks the engine from where the last slice stopped,
  // examining at most maxExamined records, and drops the expired ones below the horizon;
  // `dropped` sees each (client view: key and collection) while it still exists, and must not
  // touch the keyspace.
  ExpirySweep sweepExpired(size_t maxExamined, absl::FunctionRef<void(const RecordView&)> dropped);
  size_t expiring() const;  // live records with an expiry, not expired
  uint64_t expiredDropped() const { return expiredDropped_; }  // records the sweep dropped

  // ---- Anti-entropy digest ----

  // The segment of a key (top 12 bits of its 64-bit hash); stable across nodes. A collection's
  // record hashes its key seeded with the collection's name (the default's hash is unchanged).
  static uint32_t segmentOf(std::string_view key, std::string_view collection = {});
  // Each segment is the XOR of recordHash(...) over its records (tombstones included).
  const Segments& segments() const { return segments_; }
  // Hash of all segments plus every clear mark; equal roots = equal states. Cached. (The digest
  // encoding carries the default's mark only: the other marks differ only through the root, and
  // a repair frame carries every mark.)
  uint64_t rootHash() const;
  // hash64(key, hlc, origin, tombstone): what a record contributes to its segment.
  static uint64_t recordHash(std::string_view key, uint64_t hlc, std::string_view origin,
                             bool tombstone, std::string_view collection = {});

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
  // One collection's bookkeeping. The default collection's has an empty name and prefix.
  struct Collection {
    std::string name;
    std::string prefix;  // engine key prefix: 0xFF + varint id ("" for the default)
    uint64_t nameHash = 0;
    uint64_t clearHlc = 0;
    std::string clearOrigin;
    size_t records = 0, tombstones = 0, bytes = 0;
    // Records with an expiry, by expiry time: how many and their key + value bytes, so counts
    // leave out what has expired but is not dropped yet. Small: one entry per distinct ms.
    struct Expiring {
      size_t records = 0, bytes = 0;
    };
    absl::btree_map<uint64_t, Expiring> expiries;
    size_t expiring = 0;  // records in `expiries`, all together
    bool stored() const { return records + tombstones > 0; }
    // Records and bytes that expired at or before nowMs (still stored).
    Expiring expiredAt(uint64_t nowMs) const;
  };
  // nullptr when the collection is unknown here.
  const Collection* find(std::string_view name) const;
  // f(collection) for the default collection, then every named one held here.
  template <typename F>
  void forEachCollection(F&& f) const {
    f(default_);
    for (const auto& c : slots_) {
      if (c) f(*c);
    }
  }
  Collection* find(std::string_view name);
  // Finds or creates; nullptr when there is no room (at most `cap` collections besides default).
  Collection* intern(std::string_view name, size_t cap);
  // The collection of an engine key, and the client's key within it.
  const Collection& collectionOf(std::string_view engineKey, std::string_view* key) const;
  Collection& collectionOf(std::string_view engineKey, std::string_view* key);
  // The engine key of `key` in `c`, built in keyBuf_ (valid until the next call).
  std::string_view engineKey(const Collection& c, std::string_view key) const;
  // Forgets a collection without records, tombstones or clear mark (its id is free again).
  void release(Collection& c);
  // release() for every collection left with nothing stored and no clear mark.
  void releaseEmpty();
  // The record handed out for an engine record (collection name filled in, key stripped).
  RecordView clientView(const RecordView& engineRec) const;
  // Accounts for a record leaving `c`.
  static void forget(Collection& c, size_t keyBytes, size_t valueBytes, bool tombstone,
                     uint64_t expiresAtMs = 0);
  static void noteExpiry(Collection& c, uint64_t expiresAtMs, size_t bytes);

  // `refusal`, when given, receives the engine's error when it refuses the write.
  ApplyResult merge(Mutation::Kind kind, std::string_view key, std::string_view value, uint64_t hlc,
                    std::string_view origin, std::string_view collection, uint64_t expiresAtMs,
                    bool trusted);
  ApplyResult write(Collection& c, std::string_view key, std::string_view value, uint64_t hlc,
                    std::string_view origin, bool tombstone, uint64_t expiresAtMs = 0,
                    common::Error* refusal = nullptr);
  // The live record of `key` in `collection` (not a tombstone, not expired), if any.
  std::optional<RecordView> live(std::string_view key, std::string_view collection) const;
  std::optional<RecordView> live(std::string_view key, std::string_view collection,
                                 uint64_t nowMs) const;  // expired as of nowMs
  void applyClearMark(Collection& c, uint64_t hlc, std::string_view origin);
  void xorRecord(uint64_t keyHash, uint64_t hlc, std::string_view origin, bool tombstone);
  void noteTombstone(uint64_t hlc);
  std::string encodeCursor(uint64_t pos) const;
  common::Result<uint64_t> decodeCursor(std::string_view cursor) const;

  KeyspaceOptions opts_;
  Hlc hlc_;
  std::unique_ptr<StorageAdapter> engine_;
  Collection default_;
  // Named collections by id (index); a null slot is a free id. byName_ maps names to ids.
  std::vector<std::unique_ptr<Collection>> slots_;
  std::unordered_map<std::string, uint32_t> byName_;
  size_t named_ = 0;  // non-null slots
  mutable std::string keyBuf_;
  uint64_t maxStoredHlc_ = 0;  // upper bound of every stored record's hlc (clear fast path)
  uint64_t newestHlc_ = 0;     // newest hlc ever stored (records, tombstones, clear marks)
  Segments segments_{};
  mutable uint64_t root_ = 0;
  mutable bool rootDirty_ = true;
  uint64_t cursorSecret_;
  uint64_t oldestTombstone_ = UINT64_MAX;  // <= the hlc of every stored tombstone
  uint64_t sweepOldest_ = UINT64_MAX;      // oldest tombstone kept by the sweep in progress
  uint64_t sweepCursor_ = 0;               // engine cursor of the sliced sweep (0 = none)
  uint64_t expiryHorizon_ = 0;             // expired records below it may be dropped
  uint64_t expiryCursor_ = 0;              // engine cursor of the expiry sweep (0 = start)
  uint64_t expiredDropped_ = 0;            // expired records dropped so far
};

}  // namespace db

// db::StorageAdapter: the engine interface under the Keyspace. An engine stores records (key,
// value, HLC, origin node id, tombstone flag) and knows nothing of replication: the Keyspace
// decides what to write (last-write-wins, clear marks, digests) through upsert()'s predicate.
// Implementations: MemoryAdapter (slab arena + compact hash index); a persistent engine later.
// Single-threaded: the node's loop thread owns the Keyspace, which owns its adapter.
// The one thing a newcomer gets wrong: every string_view an adapter hands out (get, scan,
// upsert's `previous`) points into the engine and is valid only until its next mutating call.
#pragma once

#include <absl/functional/function_ref.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/core/result.h"

namespace db {

// A record as the engine holds it. Views, never owned.
struct RecordView {
  std::string_view key;
  std::string_view value;  // empty for tombstones
  uint64_t hlc = 0;
  std::string_view origin;
  bool tombstone = false;
  // Engines leave it empty (they see engine keys); the Keyspace fills it in the records it hands
  // out (scanAll, scanSegments): "" = the default collection, and `key` is then the client's key.
  std::string_view collection{};
  uint64_t expiresAtMs = 0;  // wall-clock ms when the record expires; 0 = never (docs/ttl.md)
};

// What upsert() found before writing. `origin` stays valid until the next mutating call.
struct PreviousRecord {
  uint64_t hlc = 0;
  std::string_view origin;
  bool tombstone = false;
  size_t valueSize = 0;
  uint64_t expiresAtMs = 0;
};

struct UpsertResult {
  bool existed = false;     // a record (live or tombstone) was there
  bool written = false;     // the new record was stored
  PreviousRecord previous;  // meaningful when existed
};

struct ScanOptions {
  bool includeTombstones = false;  // true for snapshots and digests, false for client lists
  std::string_view prefix;         // only keys starting with it (still an O(n) walk)
  size_t limit = SIZE_MAX;         // stop after this many records were visited
  size_t maxExamined = SIZE_MAX;   // stop after examining this many blocks (bounds a slice)
};

struct ScanResult {
  uint64_t next = 0;    // cursor for the next call; meaningful when !done
  bool done = true;     // the walk reached the end
  size_t visited = 0;   // records handed to the visitor
  size_t examined = 0;  // records looked at (incl. filtered ones)
};

class StorageAdapter {
 public:
  virtual ~StorageAdapter() = default;

  // Largest key / value an engine accepts; bigger writes are refused with an error.
  virtual size_t maxKeyBytes() const = 0;
  virtual size_t maxValueBytes() const = 0;

  // One lookup. Tombstones are returned too (the caller filters).
  virtual std::optional<RecordView> get(std::string_view key) const = 0;

  // Writes `rec` when no record has its key, or when `replace(existing)` returns true; one
  // lookup either way. Errors: KEY_TOO_LARGE, VALUE_TOO_LARGE, ORIGIN_TOO_LARGE, STORE_FULL.
  // `replace` must not touch the adapter. `rec`'s views may point into this adapter (e.g. a
  // value read with get()).
  using ReplacePredicate = absl::FunctionRef<bool(const RecordView& existing)>;
  virtual common::Result<UpsertResult> upsert(const RecordView& rec, ReplacePredicate replace) = 0;

  // Unconditional write (upsert that always replaces).
  common::Result<UpsertResult> put(const RecordView& rec) {
    return upsert(rec, [](const RecordView&) { return true; });
  }

  // Removes the record (live or tombstone). False when there was none.
  virtual bool erase(std::string_view key) = 0;

  // Removes the records for which pred is true, walking like scan() from `cursor` (0 = start)
  // and examining at most maxExamined records, so a big store can be swept in slices. Returns
  // where to resume (`visited` = how many were removed). `pred` sees each record while it still
  // exists and must not touch the adapter.
  virtual ScanResult removeIf(uint64_t cursor, size_t maxExamined,
                              absl::FunctionRef<bool(const RecordView&)> pred) = 0;
  // The whole walk at once (O(n)). Returns how many were removed.
  size_t removeIf(absl::FunctionRef<bool(const RecordView&)> pred) {
    return removeIf(0, SIZE_MAX, pred).visited;
  }

  // Removes everything and gives the memory back.
  virtual void clear() = 0;

  // Hints for a bulk load (recovery knows them from the files); never required for correctness,
  // an engine without a use for them ignores them. reserve: about `records` records taking
  // about `bytes` will be stored soon, so the index is sized once instead of grown step by step.
  // prefetch: `key` will be written or read soon; its place in the index is brought into the
  // cache meanwhile (a load of a million records waits mostly on those cache misses).
  virtual void reserve(size_t records, size_t bytes) { (void)records, (void)bytes; }
  virtual void prefetch(std::string_view key) const { (void)key; }

  // Unordered walk from `cursor` (0 = start). A record present (and not resized) for the whole
  // walk is visited exactly once across pages even when others are written or erased between
  // calls; records written meanwhile may or may not be visited. A cursor is only meaningful to
  // the adapter that produced it. `visit` must not touch the adapter; it returns false to stop
  // early (the record it saw counts as visited, the walk resumes after it).
  virtual ScanResult scan(uint64_t cursor, const ScanOptions& opts,
                          absl::FunctionRef<bool(const RecordView&)> visit) const = 0;

  virtual size_t size() const = 0;            // records including tombstones
  virtual size_t tombstoneCount() const = 0;  // tombstones among them
  virtual size_t memoryUsed() const = 0;      // bytes the engine holds (data + index)
};

}  // namespace db

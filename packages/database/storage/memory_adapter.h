// db::MemoryAdapter: the in-memory StorageAdapter, built to hold ~1M small records in as little
// memory as possible (1M x 64-byte keys + 256-byte values: ~347 MB, ~27 bytes over the data).
// Each record is ONE contiguous block in a slab arena of 4 MiB mmap'd chunks (16-byte header:
// hlc, interned origin index, key/value lengths, flags; then the expiry (only for a record that
// has one: 8 bytes), key and value bytes; 8-byte
// granularity; per-size free lists with splitting); the index is a flat hash set of 32-bit block
// references whose hash/equality functors read the key from the arena (~5 bytes a slot), grown
// incrementally (two tables) past 8k entries so no single write pays for a whole rehash.
// The Keyspace owns it; loop thread only. The one thing to get right: blocks never move while
// they live, so the arena walk is the scan and its position is the cursor; a write that changes
// a record's size beyond its block moves it, which is why a record resized during a scan may be
// seen twice or not at all (records only written in place, or not written, are seen once).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "database/storage/adapter.h"

namespace db {

class MemoryAdapter final : public StorageAdapter {
 public:
  static constexpr size_t kMaxKeyBytes = 0xFFFF;             // 16-bit length field
  static constexpr size_t kMaxValueBytes = size_t{1} << 20;  // 1 MiB (24-bit length field)
  static constexpr size_t kMaxOrigins = 0xFFFF;              // distinct node ids ever seen

  MemoryAdapter();
  ~MemoryAdapter() override;
  MemoryAdapter(const MemoryAdapter&) = delete;
  MemoryAdapter& operator=(const MemoryAdapter&) = delete;
  MemoryAdapter(MemoryAdapter&&) = delete;  // the index's functors point at this object

  size_t maxKeyBytes() const override { return kMaxKeyBytes; }
  size_t maxValueBytes() const override { return kMaxValueBytes; }
  std::optional<RecordView> get(std::string_view key) const override;
  common::Result<UpsertResult> upsert(const RecordView& rec, ReplacePredicate replace) override;
  bool erase(std::string_view key) override;
  using StorageAdapter::removeIf;
  ScanResult removeIf(uint64_t cursor, size_t maxExamined,
                      absl::FunctionRef<bool(const RecordView&)> pred) override;
  void clear() override;
  // Sizes the index for `records` entries in one step (one rehash of what is there, at most),
  // so filling it up to that many never rehashes; a no-op when it already has the room or holds
  // that many (a growth under way then goes on). The next `bytes` of arena chunks are mapped
  // populated (one mmap instead of a fault per page).
  void reserve(size_t records, size_t bytes) override;
  void prefetch(std::string_view key) const override { index_.prefetch(key); }
  ScanResult scan(uint64_t cursor, const ScanOptions& opts,
                  absl::FunctionRef<bool(const RecordView&)> visit) const override;
  size_t size() const override;
  size_t tombstoneCount() const override { return tombstones_; }
  size_t memoryUsed() const override;

  // Introspection for tests and /status.
  size_t chunkCount() const;
  size_t liveBytes() const { return liveBytes_; }      // bytes in live blocks (headers included)
  bool indexGrowing() const { return !old_.empty(); }  // an incremental index growth is under way
  size_t indexCapacity() const { return index_.capacity() + old_.capacity(); }
  // Walks the whole arena and the free lists and checks they agree (blocks tile every chunk,
  // every free block is listed once, live blocks = index entries, per-chunk byte counts). For
  // tests: "" when consistent, else what is wrong.
  std::string checkInvariants() const;

 private:
  // Arena geometry. A block reference is (chunk << 19 | offset / 8): 32 bits address 8192
  // chunks of 4 MiB = 32 GiB.
  static constexpr uint32_t kChunkShift = 22;
  static constexpr size_t kChunkBytes = size_t{1} << kChunkShift;
  static constexpr uint32_t kOffsetBits = kChunkShift - 3;
  static constexpr uint32_t kMaxChunks = uint32_t{1} << (32 - kOffsetBits);
  static constexpr uint32_t kNil = 0xFFFFFFFFu;    // never a block (it would be 8 bytes long)
  static constexpr uint32_t kSmallClasses = 1024;  // exact free lists for blocks <= 8 KiB
  static constexpr uint32_t kMaxSlack = 31;        // unused 8-byte units a live block may carry

  struct Chunk {
    char* base = nullptr;     // null: index free (chunk returned to the OS)
    uint32_t end = 0;         // blocks occupy [0, end)
    uint32_t live = 0;        // bytes in live blocks
    uint32_t generation = 0;  // new on every (re)start: cursors of another one restart it
  };
  struct IndexHash {
    using is_transparent = void;
    const MemoryAdapter* self;
    size_t operator()(uint32_t ref) const;
    size_t operator()(std::string_view key) const;
  };
  struct IndexEq {
    using is_transparent = void;
    const MemoryAdapter* self;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t ref, std::string_view key) const;
    bool operator()(std::string_view key, uint32_t ref) const { return (*this)(ref, key); }
  };
  using Index = absl::flat_hash_set<uint32_t, IndexHash, IndexEq>;

  char* at(uint32_t ref) const;
  std::string_view keyOf(uint32_t ref) const;
  RecordView view(uint32_t ref) const;
  common::Result<uint16_t> internOrigin(std::string_view origin);
  bool ensureRoom(uint32_t units);
  uint32_t allocate(uint32_t need, uint32_t& units);  // precondition: ensureRoom(need)
  uint32_t takeFree(uint32_t ref, uint32_t need, uint32_t& units);
  void freeBlock(uint32_t ref);
  void pushFree(uint32_t ref, uint32_t units);
  void unlinkFree(uint32_t ref);
  uint32_t findLarger(uint32_t units) const;
  static void* mapChunk(bool populate);
  bool newChunk();
  void retireCurrent();
  void chunkEmptied(uint32_t ci);
  void releaseChunk(uint32_t ci);
  void writeBlock(uint32_t ref, uint32_t units, uint32_t need, const RecordView& rec,
                  uint16_t origin, bool copyKey = true);
  void eraseRef(uint32_t ref);
  void decodePosition(uint64_t cursor, uint32_t& ci, uint32_t& off) const;
  static uint64_t position(uint32_t ci, uint32_t generation, uint32_t off);

  const uint32_t* findSlot(std::string_view key) const;
  void maybeGrowIndex();
  void maybeShrinkIndex();
  void migrate(size_t count);
  template <typename K>
  bool eraseFromIndex(const K& key);

  Index index_;             // every entry, except those still in old_
  Index old_;               // the previous table while it is being drained (else empty)
  Index::iterator drain_;   // next entry of old_ to move
  size_t erasedSince_ = 0;  // erasures from index_ since it was built
  std::vector<Chunk> chunks_;
  std::vector<uint32_t> freeChunkSlots_;  // indexes of released chunks, for reuse
  uint32_t current_ = kNil;               // the chunk new blocks are bumped from
  uint32_t spare_ = kNil;                 // one emptied chunk kept mapped (avoids mmap churn)
  std::vector<uint32_t> smallHeads_;      // per size (in 8-byte units) free lists
  std::vector<uint64_t> smallBits_;       // which small lists are non-empty
  uint32_t largeHead_ = kNil;             // blocks > kSmallClasses units, first fit
  std::deque<std::string> origins_;       // interned node ids (stable addresses)
  absl::flat_hash_map<std::string_view, uint16_t> originIds_;
  std::string_view lastOrigin_;
  uint16_t lastOriginId_ = 0;
  size_t tombstones_ = 0;
  size_t liveBytes_ = 0;
  size_t populateBytes_ = 0;     // chunks mapped populated until this many bytes were (reserve)
  uint32_t nextGeneration_ = 1;  // never reused (even across clear()), modulo 2^24 in cursors
};

}  // namespace db

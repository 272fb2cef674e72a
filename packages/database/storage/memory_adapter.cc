// See memory_adapter.h. Block layouts (little endian, every block 8-byte aligned):
//   live: [0..8) hlc | [8..10) origin index | [10..12) key length | [12..15) value length (24
//         bits) | [15] flags (bit 0 free = 0, bit 1 tombstone, bit 2 expiry, bits 3..7 slack
//         units) | [expiresAtMs u64, only with bit 2] | key | value
// A record without an expiry (docs/ttl.md) costs nothing for the feature: no bit, no bytes.
//   free: [0..4) size in 8-byte units | [4..8) next free | [8..12) prev free | [15] flags = 1
// A live block's size is 16 + key + value rounded up to 8, plus its slack (kept when a smaller
// value was written in place). Free blocks are never merged: splitting only ever adds block
// boundaries, so a scan cursor (a block boundary) stays a boundary while its chunk lives;
// a chunk that empties is reset (new generation) or unmapped.
#include "database/storage/memory_adapter.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace db {
namespace {

constexpr uint32_t kHeader = 16;
constexpr uint8_t kFlagFree = 1;
constexpr uint8_t kFlagTombstone = 2;
constexpr uint8_t kFlagExpiry = 4;
constexpr uint32_t kSlackShift = 3;

template <typename T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void store(char* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

uint8_t flagsOf(const char* b) {
  return static_cast<uint8_t>(b[15]);
}
bool isFree(const char* b) {
  return (flagsOf(b) & kFlagFree) != 0;
}
uint32_t keyLen(const char* b) {
  return load<uint16_t>(b + 10);
}
uint32_t valueLen(const char* b) {
  auto* u = reinterpret_cast<const unsigned char*>(b + 12);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16;
}
uint32_t needUnits(size_t key, size_t value, bool expiry) {
  return static_cast<uint32_t>((kHeader + (expiry ? 8 : 0) + key + value + 7) / 8);
}
bool hasExpiry(const char* b) {
  return (flagsOf(b) & kFlagExpiry) != 0;
}
// Where the key starts: after the header and, when there is one, the expiry.
uint32_t keyAt(const char* b) {
  return kHeader + (hasExpiry(b) ? 8 : 0);
}
// Size in 8-byte units of any block, live or free.
uint32_t blockUnits(const char* b) {
  if (isFree(b)) return load<uint32_t>(b);
  return needUnits(keyLen(b), valueLen(b), hasExpiry(b)) + (flagsOf(b) >> kSlackShift);
}
uint32_t freeNext(const char* b) {
  return load<uint32_t>(b + 4);
}
uint32_t freePrev(const char* b) {
  return load<uint32_t>(b + 8);
}

}  // namespace

MemoryAdapter::MemoryAdapter()
    : index_(0, IndexHash{this}, IndexEq{this}),
      smallHeads_(kSmallClasses + 1, kNil),
      smallBits_((kSmallClasses + 1 + 63) / 64, 0) {}

MemoryAdapter::~MemoryAdapter() {
  for (auto& c : chunks_) {
    if (c.base != nullptr) munmap(c.base, kChunkBytes);
  }
}

// ---- references and views ----

char* MemoryAdapter::at(uint32_t ref) const {
  return chunks_[ref >> kOffsetBits].base + (size_t{ref & ((1u << kOffsetBits) - 1)} << 3);
}

std::string_view MemoryAdapter::keyOf(uint32_t ref) const {
  const char* b = at(ref);
  return {b + keyAt(b), keyLen(b)};
}

RecordView MemoryAdapter::view(uint32_t ref) const {
  const char* b = at(ref);
  uint32_t k = keyLen(b);
  uint32_t ko = keyAt(b);
  RecordView v;
  v.key = {b + ko, k};
  v.value = {b + ko + k, valueLen(b)};
  v.expiresAtMs = hasExpiry(b) ? load<uint64_t>(b + kHeader) : 0;
  v.hlc = load<uint64_t>(b);
  v.origin = origins_[load<uint16_t>(b + 8)];
  v.tombstone = (flagsOf(b) & kFlagTombstone) != 0;
  return v;
}

size_t MemoryAdapter::IndexHash::operator()(uint32_t ref) const {
  return (*this)(self->keyOf(ref));
}
size_t MemoryAdapter::IndexHash::operator()(std::string_view key) const {
  return static_cast<size_t>(XXH3_64bits(key.data(), key.size()));
}
bool MemoryAdapter::IndexEq::operator()(uint32_t ref, std::string_view key) const {
  return self->keyOf(ref) == key;
}

common::Result<uint16_t> MemoryAdapter::internOrigin(std::string_view origin) {
  if (!lastOrigin_.empty() && origin == lastOrigin_) return lastOriginId_;
  auto it = originIds_.find(origin);
  if (it == originIds_.end()) {
    if (origins_.size() >= kMaxOrigins) {
      return common::Error{"ORIGIN_TABLE_FULL", "too many distinct node ids"};
    }
    origins_.emplace_back(origin);
    it = originIds_.emplace(origins_.back(), static_cast<uint16_t>(origins_.size() - 1)).first;
  }
  lastOrigin_ = it->first;
  lastOriginId_ = it->second;
  return it->second;
}

// ---- free lists ----

void MemoryAdapter::pushFree(uint32_t ref, uint32_t units) {
  char* b = at(ref);
  store<uint32_t>(b, units);
  b[15] = static_cast<char>(kFlagFree);
  uint32_t* head = &largeHead_;
  if (units <= kSmallClasses) {
    head = &smallHeads_[units];
    smallBits_[units / 64] |= uint64_t{1} << (units % 64);
  }
  store<uint32_t>(b + 4, *head);
  store<uint32_t>(b + 8, kNil);
  if (*head != kNil) store<uint32_t>(at(*head) + 8, ref);
  *head = ref;
}

void MemoryAdapter::unlinkFree(uint32_t ref) {
  char* b = at(ref);
  uint32_t units = load<uint32_t>(b);
  uint32_t next = freeNext(b);
  uint32_t prev = freePrev(b);
  if (next != kNil) store<uint32_t>(at(next) + 8, prev);
  if (prev != kNil) {
    store<uint32_t>(at(prev) + 4, next);
  } else if (units <= kSmallClasses) {
    smallHeads_[units] = next;
    if (next == kNil) smallBits_[units / 64] &= ~(uint64_t{1} << (units % 64));
  } else {
    largeHead_ = next;
  }
}

// A free block with more than `units` units (so it can be split), or kNil.
uint32_t MemoryAdapter::findLarger(uint32_t units) const {
  for (uint32_t c = units + 1; c <= kSmallClasses;) {
    uint64_t word = smallBits_[c / 64] >> (c % 64);
    if (word != 0) return smallHeads_[c + static_cast<uint32_t>(__builtin_ctzll(word))];
    c = (c / 64 + 1) * 64;
  }
  for (uint32_t r = largeHead_; r != kNil; r = freeNext(at(r))) {
    if (load<uint32_t>(at(r)) >= units) return r;
  }
  return kNil;
}

// ---- chunks ----

// Plain 4 KiB pages on purpose: with MADV_HUGEPAGE the first touch of each 2 MiB page cost
// ~5 ms of synchronous compaction on a busy host (measured), a stall of the whole loop.
// A populated chunk (a bulk load that will fill it) costs one mmap instead of 1024 page faults.
void* MemoryAdapter::mapChunk(bool populate) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0);
  void* mem = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  return mem == MAP_FAILED ? nullptr : mem;
}

bool MemoryAdapter::newChunk() {
  uint32_t ci;
  if (spare_ != kNil) {
    ci = spare_;
    spare_ = kNil;
  } else {
    if (freeChunkSlots_.empty() && chunks_.size() >= kMaxChunks) return false;
    void* mem = mapChunk(populateBytes_ > 0);
    if (mem == nullptr) return false;
    populateBytes_ -= std::min(populateBytes_, kChunkBytes);
    if (!freeChunkSlots_.empty()) {
      ci = freeChunkSlots_.back();
      freeChunkSlots_.pop_back();
    } else {
      ci = static_cast<uint32_t>(chunks_.size());
      chunks_.emplace_back();
    }
    chunks_[ci].base = static_cast<char*>(mem);
    chunks_[ci].end = 0;
    chunks_[ci].live = 0;
    chunks_[ci].generation = nextGeneration_++;
  }
  retireCurrent();
  current_ = ci;
  return true;
}

// The current chunk stops being bumped from: its tail becomes a free block.
void MemoryAdapter::retireCurrent() {
  if (current_ == kNil) return;
  Chunk& c = chunks_[current_];
  uint32_t tail = static_cast<uint32_t>(kChunkBytes) - c.end;
  if (tail >= kHeader) {
    uint32_t ref = (current_ << kOffsetBits) | (c.end >> 3);
    c.end = static_cast<uint32_t>(kChunkBytes);
    pushFree(ref, tail / 8);
  }
  current_ = kNil;
}

// Every block of chunk ci is free: take them off the free lists and reset or unmap the chunk.
void MemoryAdapter::chunkEmptied(uint32_t ci) {
  Chunk& c = chunks_[ci];
  for (uint32_t off = 0; off < c.end;) {
    const char* b = c.base + off;
    assert(isFree(b));
    uint32_t units = load<uint32_t>(b);
    unlinkFree((ci << kOffsetBits) | (off >> 3));
    off += units * 8;
  }
  uint32_t used = c.end;
  c.end = 0;
  c.generation = nextGeneration_++;
  if (ci != current_ && spare_ != kNil) {
    releaseChunk(ci);
    return;
  }
  // Kept mapped (the current chunk keeps being bumped from its start; one spare saves an mmap):
  // its pages still go back to the OS, so a store that emptied (expired keys, a clear) shrinks
  // to what it holds. Only for a chunk that was really used: one record written and removed
  // over and over must not cost a madvise and a page fault each time.
  if (used >= kChunkBytes / 16) madvise(c.base, kChunkBytes, MADV_DONTNEED);
  if (ci != current_) spare_ = ci;
}

void MemoryAdapter::releaseChunk(uint32_t ci) {
  Chunk& c = chunks_[ci];
  munmap(c.base, kChunkBytes);
  c.base = nullptr;
  c.end = 0;
  c.live = 0;
  c.generation = nextGeneration_++;
  freeChunkSlots_.push_back(ci);
}

// ---- allocation ----

bool MemoryAdapter::ensureRoom(uint32_t units) {
  if (units <= kSmallClasses && smallHeads_[units] != kNil) return true;
  if (current_ != kNil && kChunkBytes - chunks_[current_].end >= size_t{units} * 8) return true;
  if (findLarger(units) != kNil) return true;
  return newChunk();
}

// Takes free block `ref` (of `have` units) for `need` units, splitting off the rest when it
// can hold a block. Sets units to what the caller got (need, or need + 1 when unsplittable).
uint32_t MemoryAdapter::takeFree(uint32_t ref, uint32_t need, uint32_t& units) {
  uint32_t have = load<uint32_t>(at(ref));
  unlinkFree(ref);
  if (have - need >= 2) {
    pushFree(ref + need, have - need);  // same chunk: offsets add
    units = need;
  } else {
    units = have;
  }
  return ref;
}

// Returns a block for `need` units; `units` says how big it really is (at most kMaxSlack more).
// Its contents are garbage until writeBlock.
uint32_t MemoryAdapter::allocate(uint32_t need, uint32_t& units) {
  units = need;
  if (need <= kSmallClasses && smallHeads_[need] != kNil) {
    uint32_t ref = smallHeads_[need];
    unlinkFree(ref);
    return ref;
  }
  if (current_ != kNil && kChunkBytes - chunks_[current_].end >= size_t{need} * 8) {
    Chunk& c = chunks_[current_];
    uint32_t ref = (current_ << kOffsetBits) | (c.end >> 3);
    c.end += need * 8;
    return ref;
  }
  uint32_t ref = findLarger(need);
  assert(ref != kNil);  // ensureRoom(need) guaranteed one of the three
  return takeFree(ref, need, units);
}

void MemoryAdapter::writeBlock(uint32_t ref, uint32_t units, uint32_t need, const RecordView& rec,
                               uint16_t origin, bool copyKey) {
  char* b = at(ref);
  store<uint64_t>(b, rec.hlc);
  store<uint16_t>(b + 8, origin);
  store<uint16_t>(b + 10, static_cast<uint16_t>(rec.key.size()));
  auto v = static_cast<uint32_t>(rec.value.size());
  b[12] = static_cast<char>(v & 0xFF);
  b[13] = static_cast<char>((v >> 8) & 0xFF);
  b[14] = static_cast<char>((v >> 16) & 0xFF);
  bool expiry = rec.expiresAtMs != 0;
  // In place (copyKey false) only when the expiry's presence is unchanged: the key stays put.
  assert(copyKey || expiry == hasExpiry(b));
  b[15] = static_cast<char>(((units - need) << kSlackShift) | (rec.tombstone ? kFlagTombstone : 0) |
                            (expiry ? kFlagExpiry : 0));
  uint32_t keyStart = kHeader;
  if (expiry) {
    store<uint64_t>(b + kHeader, rec.expiresAtMs);
    keyStart += 8;
  }
  // memmove: the caller's views may point into this arena (even into this very block).
  if (copyKey && !rec.key.empty()) std::memmove(b + keyStart, rec.key.data(), rec.key.size());
  if (!rec.value.empty()) std::memmove(b + keyStart + rec.key.size(), rec.value.data(), v);
}

void MemoryAdapter::freeBlock(uint32_t ref) {
  char* b = at(ref);
  uint32_t units = blockUnits(b);
  if (flagsOf(b) & kFlagTombstone) --tombstones_;
  liveBytes_ -= size_t{units} * 8;
  uint32_t ci = ref >> kOffsetBits;
  pushFree(ref, units);
  chunks_[ci].live -= units * 8;
  if (chunks_[ci].live == 0) chunkEmptied(ci);
}

// ---- StorageAdapter ----

// ---- index (with incremental growth) ----
// absl grows (or compacts) a table in one go, and for this index that means reading every key
// from the arena: ~0.3 s of stalled loop at 1M records. So for big tables the adapter grows the
// index itself before absl would: a fresh table takes the new entries while `old_` is drained
// into it a few entries per write (Redis' incremental rehash). Lookups try both meanwhile.
// `erasedSince_` over-counts absl's deleted slots, so absl never reaches its own rehash.

namespace {
constexpr size_t kIncrementalFrom = 8191;  // smaller tables: absl's own growth is cheap enough
constexpr size_t kMigratePerWrite = 16;
size_t growthOf(size_t capacity) {
  return capacity - capacity / 8;
}  // absl's max load
}  // namespace

const uint32_t* MemoryAdapter::findSlot(std::string_view key) const {
  auto it = index_.find(key);
  if (it != index_.end()) return &*it;
  if (old_.empty()) return nullptr;
  auto o = old_.find(key);
  return o == old_.end() ? nullptr : &*o;
}

void MemoryAdapter::maybeGrowIndex() {
  if (!old_.empty()) {
    migrate(kMigratePerWrite);
    if (index_.size() + erasedSince_ + 2 < growthOf(index_.capacity())) return;
    migrate(SIZE_MAX);  // cannot happen with the sizes chosen below; stay correct anyway
  }
  size_t cap = index_.capacity();
  if (cap < kIncrementalFrom || index_.size() + erasedSince_ + 2 < growthOf(cap)) return;
  size_t n = index_.size();
  old_ = std::move(index_);
  index_ = Index(0, IndexHash{this}, IndexEq{this});
  // Double when more than half full, else rebuild at a size that leaves as much room again.
  index_.reserve(2 * n > growthOf(cap) ? cap + 1 : std::max<size_t>(2 * n, 1024));
  erasedSince_ = 0;
  drain_ = old_.begin();
  migrate(kMigratePerWrite);
}

void MemoryAdapter::migrate(size_t count) {
  for (size_t i = 0; i < count && drain_ != old_.end(); ++i) {
    uint32_t ref = *drain_;
    old_.erase(drain_++);
    index_.insert(ref);
  }
  if (drain_ == old_.end() && old_.capacity() > 0) old_ = Index(0, IndexHash{this}, IndexEq{this});
}

void MemoryAdapter::reserve(size_t records, size_t bytes) {
  populateBytes_ = bytes;
  // Room below absl's max load for every record plus the +2 that maybeGrowIndex keeps.
  // Never a rehash for fewer records than it holds (recovery's closing reserve(0, 0) among them).
  size_t want = records + 2;
  if (records <= size() || (old_.empty() && want + erasedSince_ < growthOf(index_.capacity()))) {
    return;
  }
  // A fresh table, so absl's deleted slots are gone for sure and erasedSince_ restarts at 0.
  Index fresh(0, IndexHash{this}, IndexEq{this});
  fresh.reserve(want);
  for (uint32_t ref : old_) fresh.insert(ref);
  for (uint32_t ref : index_) fresh.insert(ref);
  index_ = std::move(fresh);
  old_ = Index(0, IndexHash{this}, IndexEq{this});
  drain_ = old_.end();
  erasedSince_ = 0;
}

// absl never shrinks a table on erase: a store whose records went (expired, deleted, cleared by
// collection) would keep an index sized for its peak. When the table is less than 1/8 full and
// small enough to rebuild without a noticeable stall, it is rebuilt at twice its size.
void MemoryAdapter::maybeShrinkIndex() {
  constexpr size_t kShrinkMaxEntries = 65536;  // a rebuild of this many reads ~1-5 ms of keys
  size_t cap = index_.capacity();
  size_t n = index_.size();
  if (!old_.empty() || cap < kIncrementalFrom || n >= cap / 8 || n > kShrinkMaxEntries) return;
  Index fresh(0, IndexHash{this}, IndexEq{this});
  fresh.reserve(std::max<size_t>(2 * n, 1024));
  for (uint32_t ref : index_) fresh.insert(ref);
  index_ = std::move(fresh);
  erasedSince_ = 0;
}

// Removes `key` (or the entry `ref`) from whichever table holds it.
template <typename K>
bool MemoryAdapter::eraseFromIndex(const K& key) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    index_.erase(it);
    ++erasedSince_;
    return true;
  }
  if (old_.empty()) return false;
  auto o = old_.find(key);
  if (o == old_.end()) return false;
  if (o == drain_) ++drain_;
  old_.erase(o);
  return true;
}

// ---- StorageAdapter ----

std::optional<RecordView> MemoryAdapter::get(std::string_view key) const {
  const uint32_t* slot = findSlot(key);
  if (slot == nullptr) return std::nullopt;
  return view(*slot);
}

common::Result<UpsertResult> MemoryAdapter::upsert(const RecordView& rec,
                                                   ReplacePredicate replace) {
  if (rec.key.size() > kMaxKeyBytes) return common::Error{"KEY_TOO_LARGE", ""};
  if (rec.value.size() > kMaxValueBytes) return common::Error{"VALUE_TOO_LARGE", ""};
  auto origin = internOrigin(rec.origin);
  if (!origin.ok()) return origin.error();
  const uint32_t need = needUnits(rec.key.size(), rec.value.size(), rec.expiresAtMs != 0);
  if (!ensureRoom(need)) return common::Error{"STORE_FULL", "cannot map another arena chunk"};

  maybeGrowIndex();
  if (!old_.empty()) {
    // Still in the table being drained: move it over first, so the probe below finds it.
    auto o = old_.find(rec.key);
    if (o != old_.end()) {
      uint32_t moving = *o;
      if (o == drain_) ++drain_;
      old_.erase(o);
      index_.insert(moving);
    }
  }

  UpsertResult out;
  bool inserted = false;
  auto it = index_.lazy_emplace(rec.key, [&](const Index::constructor& ctor) {
    uint32_t units;
    uint32_t ref = allocate(need, units);
    writeBlock(ref, units, need, rec, *origin);
    ctor(ref);
    chunks_[ref >> kOffsetBits].live += units * 8;
    liveBytes_ += size_t{units} * 8;
    inserted = true;
  });
  if (inserted) {
    if (rec.tombstone) ++tombstones_;
    out.written = true;
    return out;
  }

  uint32_t ref = *it;
  RecordView ex = view(ref);
  out.existed = true;
  if (!replace(ex)) return out;
  out.previous = PreviousRecord{ex.hlc, ex.origin, ex.tombstone, ex.value.size(), ex.expiresAtMs};
  if (ex.tombstone) --tombstones_;
  if (rec.tombstone) ++tombstones_;
  uint32_t have = blockUnits(at(ref));
  bool sameLayout = (ex.expiresAtMs != 0) == (rec.expiresAtMs != 0);
  if (sameLayout && have >= need && have - need <= kMaxSlack) {
    writeBlock(ref, have, need, rec, *origin, false);  // in place: the key bytes are already there
    out.written = true;
    return out;
  }
  uint32_t units;
  uint32_t fresh = allocate(need, units);
  writeBlock(fresh, units, need, rec, *origin);
  chunks_[fresh >> kOffsetBits].live += units * 8;
  liveBytes_ += size_t{units} * 8;
  const_cast<uint32_t&>(*it) = fresh;  // same key, same hash: the slot stays valid
  // freeBlock adjusts the tombstone count of the block it frees; undo our early adjustment.
  if (ex.tombstone) ++tombstones_;
  freeBlock(ref);
  out.written = true;
  return out;
}

void MemoryAdapter::eraseRef(uint32_t ref) {
  eraseFromIndex(ref);
  freeBlock(ref);
}

bool MemoryAdapter::erase(std::string_view key) {
  const uint32_t* slot = findSlot(key);
  if (slot == nullptr) return false;
  uint32_t ref = *slot;
  eraseFromIndex(ref);
  freeBlock(ref);
  if (!old_.empty()) migrate(kMigratePerWrite);
  maybeShrinkIndex();
  return true;
}

// Cursor: (chunk + 1) << 44 | (generation & 0xFFFFFF) << 20 | offset / 8; 0 = start. A cursor
// into a chunk that was reset since (another generation) restarts that chunk: everything in
// it now was written after the cursor was issued.
uint64_t MemoryAdapter::position(uint32_t ci, uint32_t generation, uint32_t off) {
  return (uint64_t{ci} + 1) << 44 | uint64_t{generation & 0xFFFFFF} << 20 | (off >> 3);
}

void MemoryAdapter::decodePosition(uint64_t cursor, uint32_t& ci, uint32_t& off) const {
  ci = 0;
  off = 0;
  if (cursor == 0) return;
  ci = static_cast<uint32_t>((cursor >> 44) - 1);
  off = static_cast<uint32_t>(cursor & 0xFFFFF) << 3;
  uint32_t gen = static_cast<uint32_t>((cursor >> 20) & 0xFFFFFF);
  if (ci < chunks_.size() && (chunks_[ci].generation & 0xFFFFFF) != gen) off = 0;
}

ScanResult MemoryAdapter::removeIf(uint64_t cursor, size_t maxExamined,
                                   absl::FunctionRef<bool(const RecordView&)> pred) {
  ScanResult r;
  uint32_t ci, off;
  decodePosition(cursor, ci, off);
  for (; ci < chunks_.size(); ++ci, off = 0) {
    // Re-read the chunk each step: freeing its last live block resets or unmaps it.
    while (chunks_[ci].base != nullptr && off < chunks_[ci].end) {
      const char* b = chunks_[ci].base + off;
      uint32_t units = blockUnits(b);
      if (units < 2 || off + units * 8 > chunks_[ci].end ||
          (!isFree(b) && load<uint16_t>(b + 8) >= origins_.size())) {
        assert(false && "corrupt arena block");
        break;
      }
      if (isFree(b)) {
        off += units * 8;
        continue;
      }
      if (r.examined >= maxExamined) {
        r.done = false;
        r.next = position(ci, chunks_[ci].generation, off);
        if (r.visited > 0) maybeShrinkIndex();
        return r;
      }
      ++r.examined;
      uint32_t ref = (ci << kOffsetBits) | (off >> 3);
      off += units * 8;
      if (!pred(view(ref))) continue;
      eraseRef(ref);
      ++r.visited;
    }
  }
  r.done = true;
  if (r.visited > 0) maybeShrinkIndex();
  return r;
}

void MemoryAdapter::clear() {
  index_ = Index(0, IndexHash{this}, IndexEq{this});
  old_ = Index(0, IndexHash{this}, IndexEq{this});
  drain_ = old_.end();
  erasedSince_ = 0;
  for (auto& c : chunks_) {
    if (c.base != nullptr) munmap(c.base, kChunkBytes);
  }
  chunks_.clear();
  freeChunkSlots_.clear();
  current_ = spare_ = largeHead_ = kNil;
  std::fill(smallHeads_.begin(), smallHeads_.end(), kNil);
  std::fill(smallBits_.begin(), smallBits_.end(), 0);
  tombstones_ = 0;
  liveBytes_ = 0;
}

ScanResult MemoryAdapter::scan(uint64_t cursor, const ScanOptions& opts,
                               absl::FunctionRef<bool(const RecordView&)> visit) const {
  ScanResult r;
  uint32_t ci, off;
  decodePosition(cursor, ci, off);
  for (; ci < chunks_.size(); ++ci, off = 0) {
    const Chunk& c = chunks_[ci];
    if (c.base == nullptr) continue;
    while (off < c.end) {
      const char* b = c.base + off;
      uint32_t units = blockUnits(b);
      if (units < 2 || off + units * 8 > c.end ||
          (!isFree(b) && load<uint16_t>(b + 8) >= origins_.size())) {
        assert(false && "corrupt arena block");
        break;
      }
      uint32_t ref = (ci << kOffsetBits) | (off >> 3);
      off += units * 8;
      if (isFree(b)) continue;
      if (r.examined >= opts.maxExamined) {
        r.done = false;
        r.next = position(ci, c.generation, off - units * 8);
        return r;
      }
      ++r.examined;
      if (!opts.includeTombstones && (flagsOf(b) & kFlagTombstone)) continue;
      RecordView v = view(ref);
      if (v.key.substr(0, opts.prefix.size()) != opts.prefix) continue;
      ++r.visited;
      if (!visit(v) || r.visited >= opts.limit) {
        r.done = false;
        r.next = position(ci, c.generation, off);
        return r;
      }
    }
  }
  r.done = true;
  return r;
}

size_t MemoryAdapter::size() const {
  return index_.size() + old_.size();
}

size_t MemoryAdapter::memoryUsed() const {
  size_t bytes = 0;
  for (uint32_t ci = 0; ci < chunks_.size(); ++ci) {
    if (chunks_[ci].base == nullptr) continue;
    bytes += ci == current_ ? (chunks_[ci].end + 4095) / 4096 * 4096 : kChunkBytes;
  }
  bytes += (index_.capacity() + old_.capacity()) * (sizeof(uint32_t) + 1);
  bytes += chunks_.capacity() * sizeof(Chunk) + smallHeads_.capacity() * sizeof(uint32_t);
  for (const auto& o : origins_) bytes += sizeof(std::string) + o.capacity() + 16;
  return bytes;
}

std::string MemoryAdapter::checkInvariants() const {
  size_t liveBlocks = 0, freeBlocks = 0, live = 0, tombs = 0;
  for (uint32_t ci = 0; ci < chunks_.size(); ++ci) {
    const Chunk& c = chunks_[ci];
    if (c.base == nullptr) continue;
    uint32_t chunkLive = 0;
    uint32_t off = 0;
    while (off < c.end) {
      const char* b = c.base + off;
      uint32_t units = blockUnits(b);
      if (units < 2 || off + units * 8 > c.end) return "block overruns chunk " + std::to_string(ci);
      uint32_t ref = (ci << kOffsetBits) | (off >> 3);
      if (isFree(b)) {
        ++freeBlocks;
      } else {
        ++liveBlocks;
        chunkLive += units * 8;
        if (flagsOf(b) & kFlagTombstone) ++tombs;
        const uint32_t* slot = findSlot(keyOf(ref));
        if (slot == nullptr || *slot != ref)
          return "live block not indexed: " + std::to_string(ref);
      }
      off += units * 8;
    }
    if (off != c.end) return "blocks do not tile chunk " + std::to_string(ci);
    if (chunkLive != c.live) return "live bytes of chunk " + std::to_string(ci);
    if (c.live == 0 && c.end != 0 && ci != current_)
      return "empty chunk kept " + std::to_string(ci);
    live += chunkLive;
  }
  size_t listed = 0;
  auto walkList = [&](uint32_t head, uint32_t cls) -> std::string {
    uint32_t prev = kNil;
    for (uint32_t r = head; r != kNil; r = freeNext(at(r))) {
      const char* b = at(r);
      if (!isFree(b)) return "listed block is not free";
      if (freePrev(b) != prev) return "broken prev link";
      uint32_t units = load<uint32_t>(b);
      if (cls != 0 && units != cls) return "block in the wrong size list";
      if (cls == 0 && units <= kSmallClasses) return "small block in the large list";
      prev = r;
      if (++listed > freeBlocks) return "free list cycle";
    }
    return "";
  };
  for (uint32_t cls = 1; cls <= kSmallClasses; ++cls) {
    bool bit = (smallBits_[cls / 64] >> (cls % 64)) & 1;
    if (bit != (smallHeads_[cls] != kNil)) return "size bitmap out of date";
    if (auto e = walkList(smallHeads_[cls], cls); !e.empty()) return e;
  }
  if (auto e = walkList(largeHead_, 0); !e.empty()) return e;
  if (listed != freeBlocks) {
    return "free blocks " + std::to_string(freeBlocks) + " listed " + std::to_string(listed);
  }
  if (liveBlocks != size()) return "index size differs from live blocks";
  if (live != liveBytes_) return "liveBytes differs";
  if (tombs != tombstones_) return "tombstone count differs";
  return "";
}

size_t MemoryAdapter::chunkCount() const {
  size_t n = 0;
  for (const auto& c : chunks_) n += c.base != nullptr;
  return n;
}

}  // namespace db

// See keyspace.h. Versions are ordered by (hlc, origin bytes), then (only for the degenerate
// case of two different mutations sharing both, which correct nodes never produce) tombstone
// over value and larger value bytes, so the order is total and merging stays a pure max.
#include "database/storage/keyspace.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <random>
#include <utility>

#include "database/storage/memory_adapter.h"
#include "database/storage/record_rules.h"

namespace db {
namespace {

constexpr uint64_t kTombstoneSalt = 0x9E3779B97F4A7C15ull;
constexpr char kDigestMagic[4] = {'M', 'K', 'D', '1'};

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: a bijection that spreads every bit
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

uint64_t keyHash(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

uint64_t nameHash(std::string_view name) {
  return name.empty() ? 0 : XXH3_64bits(name.data(), name.size());
}

// A collection's record hashes its key seeded with its name's hash; the default's (seed 0 means
// the plain hash) is what it always was, so digests of data without collections do not change.
uint64_t keyHash(uint64_t collectionHash, std::string_view key) {
  if (collectionHash == 0) return keyHash(key);
  return XXH3_64bits_withSeed(key.data(), key.size(), collectionHash);
}

// What one collection's clear mark adds to the root hash (0 without a mark).
uint64_t markHash(std::string_view name, uint64_t hlc, std::string_view origin) {
  if (hlc == 0 && origin.empty()) return 0;
  return mix64(nameHash(name) ^ mix64(hlc) ^ XXH3_64bits(origin.data(), origin.size()));
}

constexpr char kCollectionMarker = '\xFF';  // never a byte of UTF-8, so never a client key's

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// True when version a is newer than version b (see the file comment).
bool newer(uint64_t aHlc, std::string_view aOrigin, bool aTomb, std::string_view aValue,
           uint64_t bHlc, std::string_view bOrigin, bool bTomb, std::string_view bValue) {
  if (aHlc != bHlc) return aHlc > bHlc;
  int c = aOrigin.compare(bOrigin);
  if (c != 0) return c > 0;
  if (aTomb != bTomb) return aTomb;
  return aValue > bValue;
}

void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t getU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

KeyspaceOptions makeDefaultKeyspaceOptions(std::string nodeId) {
  KeyspaceOptions o;
  o.nodeId = std::move(nodeId);
  return o;
}

const char* toString(ApplyResult r) {
  switch (r) {
    case ApplyResult::kApplied:
      return "applied";
    case ApplyResult::kStale:
      return "stale";
    case ApplyResult::kRefusedClock:
      return "refused-clock";
    case ApplyResult::kRefusedInvalid:
      return "refused-invalid";
  }
  return "?";
}

Keyspace::Keyspace(KeyspaceOptions opts, std::unique_ptr<StorageAdapter> engine)
    : opts_(std::move(opts)),
      hlc_(opts_.maxClockDriftMs, opts_.wallClock),
      engine_(engine ? std::move(engine) : std::make_unique<MemoryAdapter>()) {
  std::random_device rd;
  cursorSecret_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

Keyspace::~Keyspace() = default;

size_t Keyspace::maxKeyBytes() const {
  return engine_->maxKeyBytes();
}
size_t Keyspace::maxValueBytes() const {
  return engine_->maxValueBytes();
}

// ---- client operations ----

namespace {
common::Error tooManyCollections() {
  return common::Error{"TOO_MANY_COLLECTIONS",
                       "at most " + std::to_string(Keyspace::kMaxCollections) + " collections"};
}
}  // namespace

common::Result<Mutation> Keyspace::set(std::string_view key, std::string_view value,
                                       std::string_view collection, uint64_t ttlMs) {
  Collection* c = intern(collection, kMaxCollections);
  if (c == nullptr) return tooManyCollections();
  Mutation m{Mutation::Kind::kPut, std::string(key), std::string(value),
             hlc_.now(),           opts_.nodeId,     std::string(collection)};
  // Decided once, here: the stamp's physical time plus the ttl. Every node expires the record
  // at this wall-clock time (skew bounded by the clock-drift limit).
  if (ttlMs > 0) m.expiresAtMs = Hlc::millis(m.hlc) + std::min(ttlMs, kMaxTtlMs);
  common::Error refusal;
  ApplyResult r = write(*c, key, value, m.hlc, opts_.nodeId, false, m.expiresAtMs, &refusal);
  if (r == ApplyResult::kApplied) return m;
  if (!c->stored() && c->clearHlc == 0) release(*c);  // created for a write that failed
  // A fresh local stamp is newer than anything stored, so only the engine can refuse it.
  if (refusal.code.empty()) refusal = {"STORE_REFUSED", toString(r)};
  return refusal;
}

common::Result<Mutation> Keyspace::remove(std::string_view key, std::string_view collection) {
  Collection* c = find(collection);
  if (c == nullptr || !live(key, collection)) return common::Error{"MISSING_RECORD", ""};
  Mutation m{Mutation::Kind::kDelete, std::string(key), {}, hlc_.now(), opts_.nodeId,
             std::string(collection)};
  common::Error refusal;
  ApplyResult r = write(*c, key, {}, m.hlc, opts_.nodeId, true, 0, &refusal);
  if (r == ApplyResult::kApplied) return m;
  if (refusal.code.empty()) refusal = {"STORE_REFUSED", toString(r)};
  return refusal;
}

common::Result<std::optional<Mutation>> Keyspace::persist(std::string_view key,
                                                          std::string_view collection) {
  auto cur = live(key, collection);
  if (!cur) return common::Error{"MISSING_RECORD", ""};
  if (cur->expiresAtMs == 0) return std::optional<Mutation>{};
  Collection* c = find(collection);
  // Copied first: the view points into the engine, which the write changes.
  Mutation m{Mutation::Kind::kPut, std::string(key), std::string(cur->value),
             hlc_.now(),           opts_.nodeId,     std::string(collection)};
  common::Error refusal;
  ApplyResult r = write(*c, key, m.value, m.hlc, opts_.nodeId, false, 0, &refusal);
  if (r == ApplyResult::kApplied) return std::optional<Mutation>{std::move(m)};
  if (refusal.code.empty()) refusal = {"STORE_REFUSED", toString(r)};
  return refusal;
}

common::Result<int64_t> Keyspace::ttlMs(std::string_view key, std::string_view collection) const {
  uint64_t now = wallMs();  // one reading: the check and the difference must agree
  auto cur = live(key, collection, now);
  if (!cur) return common::Error{"MISSING_RECORD", ""};
  if (cur->expiresAtMs == 0) return int64_t{-1};
  return static_cast<int64_t>(cur->expiresAtMs - now);  // > 0: live() checked it at `now`
}

std::optional<RecordView> Keyspace::live(std::string_view key, std::string_view collection) const {
  return live(key, collection, wallMs());
}

std::optional<RecordView> Keyspace::live(std::string_view key, std::string_view collection,
                                         uint64_t nowMs) const {
  const Collection* c = find(collection);
  if (c == nullptr) return std::nullopt;
  auto r = engine_->get(engineKey(*c, key));
  if (!r || r->tombstone) return std::nullopt;
  if (r->expiresAtMs != 0 && expired(r->expiresAtMs, nowMs)) return std::nullopt;
  return r;
}

Mutation Keyspace::clear() {
  Mutation m{Mutation::Kind::kClear, {}, {}, hlc_.now(), opts_.nodeId};
  applyClearMark(default_, m.hlc, opts_.nodeId);
  return m;
}

common::Result<Mutation> Keyspace::clear(std::string_view collection) {
  if (collection.empty()) return clear();
  // A clear of a collection this node never saw still leaves its mark: a record of it written
  // earlier elsewhere and arriving later must be cleared too.
  Collection* c = intern(collection, kMaxCollections);
  if (c == nullptr) return tooManyCollections();
  Mutation m{Mutation::Kind::kClear, {}, {}, hlc_.now(), opts_.nodeId, std::string(collection)};
  applyClearMark(*c, m.hlc, opts_.nodeId);
  return m;
}

// ---- collections ----

const Keyspace::Collection* Keyspace::find(std::string_view name) const {
  if (name.empty()) return &default_;
  if (named_ == 0) return nullptr;
  auto it = byName_.find(std::string(name));
  return it == byName_.end() ? nullptr : slots_[it->second].get();
}

Keyspace::Collection* Keyspace::find(std::string_view name) {
  return const_cast<Collection*>(std::as_const(*this).find(name));
}

Keyspace::Collection* Keyspace::intern(std::string_view name, size_t cap) {
  if (Collection* c = find(name)) return c;
  if (named_ >= cap) return nullptr;
  uint32_t id = 0;
  while (id < slots_.size() && slots_[id]) ++id;  // lowest free id: ids stay short (<= 2 bytes)
  if (id == slots_.size()) slots_.emplace_back();
  auto c = std::make_unique<Collection>();
  c->name.assign(name);
  c->prefix.push_back(kCollectionMarker);
  putVarint(c->prefix, id);
  c->nameHash = nameHash(name);
  slots_[id] = std::move(c);
  byName_.emplace(std::string(name), id);
  ++named_;
  return slots_[id].get();
}

void Keyspace::release(Collection& c) {
  if (c.name.empty()) return;  // the default collection is always there
  if (c.clearHlc != 0) rootDirty_ = true;
  auto it = byName_.find(c.name);
  uint32_t id = it->second;
  byName_.erase(it);
  slots_[id].reset();
  --named_;
  while (!slots_.empty() && !slots_.back()) slots_.pop_back();
}

void Keyspace::releaseEmpty() {
  // By index: release() shrinks slots_ when it frees the last ids.
  for (size_t i = 0; i < slots_.size(); ++i) {
    Collection* c = slots_[i].get();
    if (c != nullptr && !c->stored() && c->clearHlc == 0) release(*c);
  }
}

const Keyspace::Collection& Keyspace::collectionOf(std::string_view engineKey,
                                                   std::string_view* key) const {
  if (engineKey.empty() || engineKey[0] != kCollectionMarker) {
    *key = engineKey;
    return default_;
  }
  uint64_t id = 0;
  size_t i = 1;
  for (int shift = 0; i < engineKey.size(); shift += 7) {
    auto b = static_cast<uint8_t>(engineKey[i++]);
    id |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  // Every engine key with the marker was written through a collection that still holds it.
  assert(id < slots_.size() && slots_[id]);
  *key = engineKey.substr(i);
  return *slots_[id];
}

Keyspace::Collection& Keyspace::collectionOf(std::string_view engineKey, std::string_view* key) {
  return const_cast<Collection&>(std::as_const(*this).collectionOf(engineKey, key));
}

std::string_view Keyspace::engineKey(const Collection& c, std::string_view key) const {
  if (c.prefix.empty()) return key;
  keyBuf_.assign(c.prefix);
  keyBuf_.append(key);
  return keyBuf_;
}

RecordView Keyspace::clientView(const RecordView& rec) const {
  RecordView out = rec;
  out.collection = collectionOf(rec.key, &out.key).name;
  return out;
}

void Keyspace::forget(Collection& c, size_t keyBytes, size_t valueBytes, bool tombstone,
                      uint64_t expiresAtMs) {
  if (tombstone) {
    --c.tombstones;
  } else {
    --c.records;
    c.bytes -= keyBytes + valueBytes;
  }
  if (expiresAtMs == 0) return;
  auto it = c.expiries.find(expiresAtMs);
  assert(it != c.expiries.end());
  if (it == c.expiries.end()) return;
  it->second.records -= 1;
  it->second.bytes -= keyBytes + valueBytes;
  --c.expiring;
  if (it->second.records == 0) c.expiries.erase(it);
}

void Keyspace::noteExpiry(Collection& c, uint64_t expiresAtMs, size_t bytes) {
  Collection::Expiring& e = c.expiries[expiresAtMs];
  e.records += 1;
  e.bytes += bytes;
  ++c.expiring;
}

Keyspace::Collection::Expiring Keyspace::Collection::expiredAt(uint64_t nowMs) const {
  Expiring out;
  // One entry per distinct expiry ms that is due: the sweep keeps this short.
  for (auto it = expiries.begin(); it != expiries.end() && it->first <= nowMs; ++it) {
    out.records += it->second.records;
    out.bytes += it->second.bytes;
  }
  return out;
}

std::vector<CollectionInfo> Keyspace::collections() const {
  std::vector<CollectionInfo> out;
  out.reserve(named_ + 1);
  uint64_t now = wallMs();
  auto info = [now](const Collection& c) {
    if (c.expiries.empty()) return CollectionInfo{c.name, c.records, c.tombstones, c.bytes, 0};
    Collection::Expiring gone = c.expiredAt(now);
    return CollectionInfo{c.name, c.records - gone.records, c.tombstones, c.bytes - gone.bytes,
                          c.expiring - gone.records};
  };
  out.push_back(info(default_));
  for (const auto& c : slots_) {
    if (c) out.push_back(info(*c));
  }
  std::sort(out.begin() + 1, out.end(),
            [](const CollectionInfo& a, const CollectionInfo& b) { return a.name < b.name; });
  return out;
}

void Keyspace::reset() {
  engine_->clear();
  segments_.fill(0);
  default_ = Collection{};
  slots_.clear();
  byName_.clear();
  named_ = 0;
  maxStoredHlc_ = 0;
  newestHlc_ = 0;
  oldestTombstone_ = sweepOldest_ = UINT64_MAX;
  sweepCursor_ = 0;
  expiryCursor_ = 0;
  rootDirty_ = true;
}

std::optional<std::string_view> Keyspace::get(std::string_view key,
                                              std::string_view collection) const {
  auto r = live(key, collection);
  if (!r) return std::nullopt;
  return r->value;
}

bool Keyspace::contains(std::string_view key, std::string_view collection) const {
  return get(key, collection).has_value();
}

size_t Keyspace::size() const {
  size_t n = engine_->size() - engine_->tombstoneCount();
  uint64_t now = wallMs();
  forEachCollection([&](const Collection& c) {
    if (!c.expiries.empty()) n -= c.expiredAt(now).records;
  });
  return n;
}

size_t Keyspace::memoryUsed() const {
  size_t table = slots_.capacity() * sizeof(slots_[0]) + named_ * (sizeof(Collection) + 64);
  // The expiry maps: about 40 bytes an entry (key, value, b-tree node overhead).
  size_t expiries = 0;
  forEachCollection([&](const Collection& c) { expiries += c.expiries.size(); });
  return engine_->memoryUsed() + sizeof(segments_) + table + expiries * 40;
}

// ---- cursors ----

std::string Keyspace::encodeCursor(uint64_t pos) const {
  uint64_t check = XXH3_64bits_withSeed(&pos, sizeof pos, cursorSecret_) & 0xFFFFFFFFu;
  char buf[25];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(pos),
                static_cast<unsigned long long>(check));
  return std::string(buf, 24);
}

common::Result<uint64_t> Keyspace::decodeCursor(std::string_view cursor) const {
  if (cursor.empty()) return uint64_t{0};
  if (cursor.size() != 24) return common::Error{"INVALID_CURSOR", "bad length"};
  uint64_t pos = 0, check = 0;
  for (size_t i = 0; i < 24; ++i) {
    char ch = cursor[i];
    uint64_t d;
    if (ch >= '0' && ch <= '9') {
      d = static_cast<uint64_t>(ch - '0');
    } else if (ch >= 'a' && ch <= 'f') {
      d = static_cast<uint64_t>(ch - 'a' + 10);
    } else {
      return common::Error{"INVALID_CURSOR", "not hex"};
    }
    if (i < 16) {
      pos = (pos << 4) | d;
    } else {
      check = (check << 4) | d;
    }
  }
  uint64_t want = XXH3_64bits_withSeed(&pos, sizeof pos, cursorSecret_) & 0xFFFFFFFFu;
  if (check != want || pos == 0) return common::Error{"INVALID_CURSOR", "not issued here"};
  return pos;
}

common::Result<ScanPage> Keyspace::scan(
    std::string_view cursor, size_t limit, std::string_view prefix,
    absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit,
    size_t maxExamined) const {
  return scan({}, cursor, limit, prefix, visit, maxExamined);
}

common::Result<ScanPage> Keyspace::scan(
    std::string_view collection, std::string_view cursor, size_t limit, std::string_view prefix,
    absl::FunctionRef<bool(std::string_view key, std::string_view value)> visit,
    size_t maxExamined) const {
  auto pos = decodeCursor(cursor);
  if (!pos.ok()) return pos.error();
  if (limit == 0) return ScanPage{std::string(cursor), 0};  // nothing asked: stay put
  const Collection* c = find(collection);
  if (c == nullptr || (!c->prefix.empty() && c->records == 0)) return ScanPage{};  // none
  ScanOptions o;
  o.includeTombstones = false;
  o.maxExamined = maxExamined;
  uint64_t now = wallMs();
  if (c->prefix.empty() && named_ == 0 && c->expiries.empty()) {
    // The default collection alone, nothing that can expire: as it always was.
    o.prefix = prefix;
    o.limit = limit;
    ScanResult r =
        engine_->scan(*pos, o, [&](const RecordView& rec) { return visit(rec.key, rec.value); });
    return ScanPage{r.done ? std::string() : encodeCursor(r.next), r.visited};
  }
  std::string enginePrefix = c->prefix + std::string(prefix);
  o.prefix = enginePrefix;
  // Records of other collections are skipped here, so `limit` is enforced here too.
  size_t visited = 0;
  size_t skip = c->prefix.size();
  ScanResult r = engine_->scan(*pos, o, [&](const RecordView& rec) {
    if (skip == 0 && !rec.key.empty() && rec.key[0] == kCollectionMarker) return true;
    if (expired(rec.expiresAtMs, now)) return true;  // absent from the moment it expires
    ++visited;
    return visit(rec.key.substr(skip), rec.value) && visited < limit;
  });
  return ScanPage{r.done ? std::string() : encodeCursor(r.next), visited};
}

common::Result<ScanPage> Keyspace::scanAll(std::string_view cursor, size_t limit,
                                           absl::FunctionRef<bool(const RecordView&)> visit,
                                           size_t maxExamined) const {
  auto pos = decodeCursor(cursor);
  if (!pos.ok()) return pos.error();
  if (limit == 0) return ScanPage{std::string(cursor), 0};  // nothing asked: stay put
  ScanOptions o;
  o.includeTombstones = true;
  o.limit = limit;
  o.maxExamined = maxExamined;
  ScanResult r = engine_->scan(*pos, o, [&](const RecordView& rec) {
    return named_ == 0 ? visit(rec) : visit(clientView(rec));
  });
  return ScanPage{r.done ? std::string() : encodeCursor(r.next), r.visited};
}

common::Result<ScanPage> Keyspace::scanSegments(const SegmentSet& which, std::string_view cursor,
                                                size_t limit,
                                                absl::FunctionRef<bool(const RecordView&)> visit,
                                                size_t maxExamined) const {
  auto pos = decodeCursor(cursor);
  if (!pos.ok()) return pos.error();
  if (limit == 0) return ScanPage{std::string(cursor), 0};  // nothing asked: stay put
  ScanOptions o;
  o.includeTombstones = true;
  o.maxExamined = maxExamined;
  // The segment filter is applied here, so `limit` is enforced here too.
  size_t visited = 0;
  ScanResult r = engine_->scan(*pos, o, [&](const RecordView& engineRec) {
    RecordView rec = named_ == 0 ? engineRec : clientView(engineRec);
    if (!which.test(segmentOf(rec.key, rec.collection))) return true;
    ++visited;
    return visit(rec) && visited < limit;
  });
  uint64_t next = r.next;
  bool done = r.done;
  return ScanPage{done ? std::string() : encodeCursor(next), visited};
}

Mutation Keyspace::toMutation(const RecordView& r) {
  return Mutation{r.tombstone ? Mutation::Kind::kDelete : Mutation::Kind::kPut,
                  std::string(r.key),
                  r.tombstone ? std::string() : std::string(r.value),
                  r.hlc,
                  std::string(r.origin),
                  std::string(r.collection),
                  r.tombstone ? 0 : r.expiresAtMs};
}

// ---- replication ----

ApplyResult Keyspace::apply(const Mutation& m) {
  return apply(m.kind, m.key, m.value, m.hlc, m.origin, m.collection, m.expiresAtMs);
}

ApplyResult Keyspace::apply(Mutation::Kind kind, std::string_view key, std::string_view value,
                            uint64_t hlc, std::string_view origin, std::string_view collection,
                            uint64_t expiresAtMs) {
  return merge(kind, key, value, hlc, origin, collection, expiresAtMs, false);
}

ApplyResult Keyspace::replay(Mutation::Kind kind, std::string_view key, std::string_view value,
                             uint64_t hlc, std::string_view origin, std::string_view collection,
                             uint64_t expiresAtMs) {
  return merge(kind, key, value, hlc, origin, collection, expiresAtMs, true);
}

ApplyResult Keyspace::merge(Mutation::Kind kind, std::string_view key, std::string_view value,
                            uint64_t hlc, std::string_view origin, std::string_view collection,
                            uint64_t expiresAtMs, bool trusted) {
  if (kind != Mutation::Kind::kPut) expiresAtMs = 0;  // only a value expires
  if (origin.empty() || origin.size() > kMaxOriginBytes) return ApplyResult::kRefusedInvalid;
  if (collection.size() > kMaxCollectionBytes) return ApplyResult::kRefusedInvalid;
  switch (kind) {
    case Mutation::Kind::kPut:
    case Mutation::Kind::kDelete:
      // A key starting with the collection marker would read as another collection's record.
      if (key.empty() || key[0] == kCollectionMarker || key.size() + 4 > engine_->maxKeyBytes() ||
          value.size() > engine_->maxValueBytes()) {
        return ApplyResult::kRefusedInvalid;
      }
      break;
    case Mutation::Kind::kClear:
      break;
    default:
      return ApplyResult::kRefusedInvalid;
  }
  if (!collection.empty() && !checkCollection(collection).ok()) {
    return ApplyResult::kRefusedInvalid;
  }
  // An existing collection, or a new one if there is room (the peers' slack: see kMaxCollections).
  Collection* c = intern(collection, kMaxCollections * kPeerCollectionSlack);
  if (c == nullptr) {
    spdlog::warn("refused a record of a new collection: already {} collections", named_);
    return ApplyResult::kRefusedInvalid;
  }
  if (trusted) {
    // Already below the clock (every replayed record after the first few): nothing to absorb,
    // and no wall-clock read per record of a million-record recovery.
    if (hlc >= hlc_.last()) hlc_.absorb(hlc);
  } else if (!hlc_.observe(hlc).ok()) {
    if (!c->stored() && c->clearHlc == 0) release(*c);
    return ApplyResult::kRefusedClock;
  }
  if (kind == Mutation::Kind::kClear) {
    if (!newer(hlc, origin, false, {}, c->clearHlc, c->clearOrigin, false, {})) {
      return ApplyResult::kStale;
    }
    applyClearMark(*c, hlc, origin);
    return ApplyResult::kApplied;
  }
  bool tomb = kind == Mutation::Kind::kDelete;
  if (expiresAtMs != 0 && hlc < expiryHorizon_ && expired(expiresAtMs, wallMs()) &&
      !engine_->get(engineKey(*c, key))) {
    // Dropped here already, or about to be on every node: taking it back would make nodes
    // re-teach each other what they dropped. (When an older version is held, the merge goes
    // on: the expired record replaces it, and the sweep drops it.)
    if (!c->stored() && c->clearHlc == 0) release(*c);
    return ApplyResult::kStale;
  }
  ApplyResult r = write(*c, key, tomb ? std::string_view() : value, hlc, origin, tomb, expiresAtMs);
  if (!c->stored() && c->clearHlc == 0) release(*c);  // created for a write that was not kept
  return r;
}

ApplyResult Keyspace::write(Collection& c, std::string_view key, std::string_view value,
                            uint64_t hlc, std::string_view origin, bool tombstone,
                            uint64_t expiresAtMs, common::Error* refusal) {
  newestHlc_ = std::max(newestHlc_, hlc);
  // At or below the clear mark: already wiped by a clear this node knows about.
  if (!newer(hlc, origin, false, {}, c.clearHlc, c.clearOrigin, false, {})) {
    return ApplyResult::kStale;
  }
  RecordView rec{engineKey(c, key), value, hlc, origin, tombstone, {}, expiresAtMs};
  auto r = engine_->upsert(rec, [&](const RecordView& ex) {
    return newer(hlc, origin, tombstone, value, ex.hlc, ex.origin, ex.tombstone, ex.value);
  });
  if (!r.ok()) {
    spdlog::warn("storage refused a write: {} {}", r.error().code, r.error().message);
    if (refusal != nullptr) *refusal = r.error();
    return ApplyResult::kRefusedInvalid;
  }
  if (!r->written) return ApplyResult::kStale;
  uint64_t kh = keyHash(c.nameHash, key);
  if (r->existed) {
    xorRecord(kh, r->previous.hlc, r->previous.origin, r->previous.tombstone);
    forget(c, key.size(), r->previous.valueSize, r->previous.tombstone, r->previous.expiresAtMs);
  }
  xorRecord(kh, hlc, origin, tombstone);
  if (tombstone) {
    ++c.tombstones;
    noteTombstone(hlc);
  } else {
    ++c.records;
    c.bytes += key.size() + value.size();
    if (expiresAtMs != 0) noteExpiry(c, expiresAtMs, key.size() + value.size());
  }
  maxStoredHlc_ = std::max(maxStoredHlc_, hlc);
  return ApplyResult::kApplied;
}

void Keyspace::applyClearMark(Collection& c, uint64_t hlc, std::string_view origin) {
  newestHlc_ = std::max(newestHlc_, hlc);
  c.clearHlc = hlc;
  c.clearOrigin.assign(origin);
  rootDirty_ = true;
  if (!c.stored()) {
    if (engine_->size() == 0) maxStoredHlc_ = 0;
    return;
  }
  if (hlc > maxStoredHlc_ && c.stored() && engine_->size() == c.records + c.tombstones) {
    // This collection holds every stored record and all are older: drop them all at once.
    engine_->clear();
    segments_.fill(0);
    c.records = c.tombstones = c.bytes = 0;
    c.expiries.clear();
    c.expiring = 0;
    maxStoredHlc_ = 0;
    oldestTombstone_ = sweepOldest_ = UINT64_MAX;
    sweepCursor_ = 0;
    return;
  }
  engine_->removeIf([&](const RecordView& r) {
    std::string_view key;
    if (&collectionOf(r.key, &key) != &c) return false;
    if (newer(r.hlc, r.origin, false, {}, hlc, origin, false, {})) return false;
    xorRecord(keyHash(c.nameHash, key), r.hlc, r.origin, r.tombstone);
    forget(c, key.size(), r.value.size(), r.tombstone, r.expiresAtMs);
    return true;
  });
  if (engine_->size() == 0) maxStoredHlc_ = 0;
}

std::optional<Mutation> Keyspace::clearMarkMutation() const {
  if (default_.clearHlc == 0 && default_.clearOrigin.empty()) return std::nullopt;
  return Mutation{Mutation::Kind::kClear, {}, {}, default_.clearHlc, default_.clearOrigin};
}

std::vector<Mutation> Keyspace::clearMarkMutations() const {
  std::vector<Mutation> out;
  if (auto m = clearMarkMutation()) out.push_back(std::move(*m));
  for (const auto& c : slots_) {
    if (!c || c->clearHlc == 0) continue;
    out.push_back(Mutation{Mutation::Kind::kClear, {}, {}, c->clearHlc, c->clearOrigin, c->name});
  }
  return out;
}

// ---- tombstones ----

size_t Keyspace::tombstoneCount() const {
  return engine_->tombstoneCount();
}

void Keyspace::noteTombstone(uint64_t hlc) {
  oldestTombstone_ = std::min(oldestTombstone_, hlc);
  sweepOldest_ = std::min(sweepOldest_, hlc);
}

size_t Keyspace::collectTombstones(uint64_t olderThanHlc, size_t maxExamined) {
  // A collection's clear mark below the horizon is known to every live peer, like a tombstone
  // there: it goes, and so does a collection left with nothing stored (its id is free again).
  for (auto& c : slots_) {
    if (c && c->clearHlc != 0 && c->clearHlc < olderThanHlc) {
      c->clearHlc = 0;
      c->clearOrigin.clear();
      rootDirty_ = true;
    }
  }
  releaseEmpty();
  if (engine_->tombstoneCount() == 0) {
    oldestTombstone_ = sweepOldest_ = UINT64_MAX;
    sweepCursor_ = 0;
    return 0;
  }
  if (olderThanHlc <= oldestTombstone_) return 0;  // none is old enough: no walk
  if (maxExamined == SIZE_MAX) sweepCursor_ = 0;   // a full walk starts over
  if (sweepCursor_ == 0) sweepOldest_ = UINT64_MAX;
  ScanResult r = engine_->removeIf(sweepCursor_, maxExamined, [&](const RecordView& rec) {
    if (!rec.tombstone) return false;
    if (rec.hlc >= olderThanHlc) {
      sweepOldest_ = std::min(sweepOldest_, rec.hlc);
      return false;
    }
    std::string_view key;
    Collection& c = collectionOf(rec.key, &key);
    xorRecord(keyHash(c.nameHash, key), rec.hlc, rec.origin, true);
    forget(c, key.size(), 0, true);
    return true;
  });
  releaseEmpty();
  if (r.done) {
    // Every tombstone was either seen by this sweep or written during it (noteTombstone).
    oldestTombstone_ = sweepOldest_;
    sweepCursor_ = 0;
  } else {
    sweepCursor_ = r.next;
  }
  return r.visited;
}

// ---- expiry ----

bool Keyspace::expiryDue() const {
  uint64_t now = wallMs();
  bool due = false;
  forEachCollection([&](const Collection& c) {
    due = due || (!c.expiries.empty() && c.expiries.begin()->first <= now);
  });
  return due;
}

size_t Keyspace::expiring() const {
  size_t n = 0;
  uint64_t now = wallMs();
  forEachCollection([&](const Collection& c) {
    if (!c.expiries.empty()) n += c.expiring - c.expiredAt(now).records;
  });
  return n;
}

ExpirySweep Keyspace::sweepExpired(size_t maxExamined,
                                   absl::FunctionRef<void(const RecordView&)> dropped) {
  uint64_t now = wallMs();
  ScanResult r = engine_->removeIf(expiryCursor_, maxExamined, [&](const RecordView& rec) {
    if (!expired(rec.expiresAtMs, now) || rec.hlc >= expiryHorizon_) return false;
    std::string_view key;
    Collection& c = collectionOf(rec.key, &key);
    xorRecord(keyHash(c.nameHash, key), rec.hlc, rec.origin, rec.tombstone);
    forget(c, key.size(), rec.value.size(), rec.tombstone, rec.expiresAtMs);
    RecordView out = rec;
    out.key = key;
    out.collection = c.name;
    dropped(out);
    return true;
  });
  expiryCursor_ = r.done ? 0 : r.next;
  expiredDropped_ += r.visited;
  if (r.visited > 0) releaseEmpty();
  return ExpirySweep{r.examined, r.visited, r.done};
}

// ---- digest ----

uint32_t Keyspace::segmentOf(std::string_view key, std::string_view collection) {
  return static_cast<uint32_t>(keyHash(nameHash(collection), key) >> (64 - kSegmentBits));
}

uint64_t Keyspace::recordHash(std::string_view key, uint64_t hlc, std::string_view origin,
                              bool tombstone, std::string_view collection) {
  uint64_t h =
      keyHash(nameHash(collection), key) ^ XXH3_64bits_withSeed(origin.data(), origin.size(), hlc);
  return mix64(h ^ (tombstone ? kTombstoneSalt : 0));
}

void Keyspace::xorRecord(uint64_t kh, uint64_t hlc, std::string_view origin, bool tombstone) {
  uint64_t h = mix64(kh ^ XXH3_64bits_withSeed(origin.data(), origin.size(), hlc) ^
                     (tombstone ? kTombstoneSalt : 0));
  segments_[kh >> (64 - kSegmentBits)] ^= h;
  rootDirty_ = true;
}

uint64_t Keyspace::rootHash() const {
  if (rootDirty_) {
    uint64_t seed = mix64(default_.clearHlc) ^
                    XXH3_64bits(default_.clearOrigin.data(), default_.clearOrigin.size());
    for (const auto& c : slots_) {
      if (c) seed ^= markHash(c->name, c->clearHlc, c->clearOrigin);
    }
    root_ = XXH3_64bits_withSeed(segments_.data(), sizeof(segments_), seed);
    rootDirty_ = false;
  }
  return root_;
}

// "MKD1" | clearHlc u64 | originLen u8 | origin | root u64 | bitmap of non-zero segments
// (kSegments/8 bytes) | each non-zero segment u64, in index order. Little endian.
std::string Keyspace::encodeDigest() const {
  Digest d;
  d.clearHlc = default_.clearHlc;
  d.clearOrigin = default_.clearOrigin;
  d.root = rootHash();
  d.segments = segments_;
  return encodeDigest(d);
}

std::string Keyspace::encodeDigest(const Digest& d) {
  std::string out(kDigestMagic, 4);
  putU64(out, d.clearHlc);
  out.push_back(static_cast<char>(d.clearOrigin.size()));
  out.append(d.clearOrigin);
  putU64(out, d.root);
  size_t bitmapAt = out.size();
  out.append(kSegments / 8, '\0');
  for (size_t i = 0; i < kSegments; ++i) {
    if (d.segments[i] == 0) continue;
    out[bitmapAt + i / 8] = static_cast<char>(out[bitmapAt + i / 8] | (1 << (i % 8)));
    putU64(out, d.segments[i]);
  }
  return out;
}

common::Result<Keyspace::Digest> Keyspace::decodeDigest(std::string_view b) {
  auto bad = [](const char* why) { return common::Error{"BAD_DIGEST", why}; };
  if (b.size() < 4 + 8 + 1 || std::memcmp(b.data(), kDigestMagic, 4) != 0) return bad("magic");
  Digest d;
  const char* p = b.data() + 4;
  const char* end = b.data() + b.size();
  d.clearHlc = getU64(p);
  p += 8;
  size_t olen = static_cast<unsigned char>(*p++);
  if (static_cast<size_t>(end - p) < olen + 8 + kSegments / 8) return bad("truncated");
  d.clearOrigin.assign(p, olen);
  p += olen;
  d.root = getU64(p);
  p += 8;
  const char* bitmap = p;
  p += kSegments / 8;
  for (size_t i = 0; i < kSegments; ++i) {
    if ((static_cast<unsigned char>(bitmap[i / 8]) >> (i % 8) & 1) == 0) continue;
    if (end - p < 8) return bad("truncated segments");
    d.segments[i] = getU64(p);
    p += 8;
    // The encoder announces only non-zero segments; a zero one would be a second encoding.
    if (d.segments[i] == 0) return bad("zero segment announced");
  }
  if (p != end) return bad("trailing bytes");
  return d;
}

Keyspace::SegmentSet Keyspace::diffSegments(const Segments& a, const Segments& b) {
  SegmentSet s;
  for (size_t i = 0; i < kSegments; ++i) {
    if (a[i] != b[i]) s.set(i);
  }
  return s;
}

}  // namespace db

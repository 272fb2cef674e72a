// See memory_adapter.h. TEMPORARY std::map implementation so the headers can be used; the arena
// implementation replaces it.
#include "database/storage/memory_adapter.h"

#include <map>

namespace db {

struct MemoryAdapter::Impl {
  struct Rec {
    std::string value;
    uint64_t hlc;
    std::string origin;
    bool tombstone;
  };
  std::map<std::string, Rec, std::less<>> map;
};

MemoryAdapter::MemoryAdapter() : impl_(std::make_unique<Impl>()) {}
MemoryAdapter::~MemoryAdapter() = default;

std::optional<RecordView> MemoryAdapter::get(std::string_view key) const {
  auto it = impl_->map.find(key);
  if (it == impl_->map.end()) return std::nullopt;
  return RecordView{it->first, it->second.value, it->second.hlc, it->second.origin,
                    it->second.tombstone};
}

common::Result<UpsertResult> MemoryAdapter::upsert(const RecordView& rec,
                                                   ReplacePredicate replace) {
  if (rec.key.size() > kMaxKeyBytes) return common::Error{"KEY_TOO_LARGE", ""};
  if (rec.value.size() > kMaxValueBytes) return common::Error{"VALUE_TOO_LARGE", ""};
  UpsertResult out;
  auto it = impl_->map.find(rec.key);
  if (it != impl_->map.end()) {
    out.existed = true;
    RecordView ex{it->first, it->second.value, it->second.hlc, it->second.origin,
                  it->second.tombstone};
    if (!replace(ex)) return out;
    static thread_local std::string prevOrigin;
    prevOrigin = it->second.origin;
    out.previous = PreviousRecord{ex.hlc, prevOrigin, ex.tombstone, ex.value.size()};
    if (ex.tombstone) --tombstones_;
  } else {
    it = impl_->map.emplace(std::string(rec.key), Impl::Rec{}).first;
  }
  it->second = Impl::Rec{std::string(rec.value), rec.hlc, std::string(rec.origin), rec.tombstone};
  if (rec.tombstone) ++tombstones_;
  out.written = true;
  return out;
}

bool MemoryAdapter::erase(std::string_view key) {
  auto it = impl_->map.find(key);
  if (it == impl_->map.end()) return false;
  if (it->second.tombstone) --tombstones_;
  impl_->map.erase(it);
  return true;
}

size_t MemoryAdapter::removeIf(absl::FunctionRef<bool(const RecordView&)> pred) {
  size_t n = 0;
  for (auto it = impl_->map.begin(); it != impl_->map.end();) {
    RecordView v{it->first, it->second.value, it->second.hlc, it->second.origin,
                 it->second.tombstone};
    if (pred(v)) {
      if (it->second.tombstone) --tombstones_;
      it = impl_->map.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void MemoryAdapter::clear() {
  impl_->map.clear();
  tombstones_ = 0;
}

ScanResult MemoryAdapter::scan(uint64_t cursor, const ScanOptions& opts,
                               absl::FunctionRef<bool(const RecordView&)> visit) const {
  ScanResult r;
  size_t i = 0;
  uint64_t skip = cursor == 0 ? 0 : cursor - 1;
  for (auto it = impl_->map.begin(); it != impl_->map.end(); ++it, ++i) {
    if (i < skip) continue;
    if (r.visited >= opts.limit || r.examined >= opts.maxExamined) {
      r.done = false;
      r.next = i + 1;
      return r;
    }
    ++r.examined;
    if (it->second.tombstone && !opts.includeTombstones) continue;
    if (it->first.compare(0, opts.prefix.size(), opts.prefix) != 0) continue;
    ++r.visited;
    RecordView v{it->first, it->second.value, it->second.hlc, it->second.origin,
                 it->second.tombstone};
    if (!visit(v)) {
      r.done = false;
      r.next = i + 2;
      return r;
    }
  }
  r.done = true;
  return r;
}

size_t MemoryAdapter::size() const {
  return impl_->map.size();
}
size_t MemoryAdapter::memoryUsed() const {
  return impl_->map.size() * 400;
}
size_t MemoryAdapter::chunkCount() const {
  return 0;
}

}  // namespace db

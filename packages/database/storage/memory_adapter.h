// db::MemoryAdapter: the in-memory StorageAdapter, built to hold ~1M small records in as little
// memory as possible. Each record is ONE contiguous block in a slab arena of 4 MiB chunks
// (16-byte header: hlc, interned origin index, key/value lengths, flags; then key and value
// bytes; 8-byte granularity, per-size free lists); the index is a flat hash set of 32-bit block
// references whose hash/equality functors read the key from the arena (~5 bytes a slot).
// The Keyspace owns it; loop thread only. The one thing to get right: blocks never move while
// they live, so the arena walk is the scan and its position is the cursor; a write that changes
// a record's size moves it (new block), which is why a resized record may be seen twice or not
// at all by a scan that is in progress.
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

  size_t maxKeyBytes() const override { return kMaxKeyBytes; }
  size_t maxValueBytes() const override { return kMaxValueBytes; }
  std::optional<RecordView> get(std::string_view key) const override;
  common::Result<UpsertResult> upsert(const RecordView& rec, ReplacePredicate replace) override;
  bool erase(std::string_view key) override;
  size_t removeIf(absl::FunctionRef<bool(const RecordView&)> pred) override;
  void clear() override;
  ScanResult scan(uint64_t cursor, const ScanOptions& opts,
                  absl::FunctionRef<bool(const RecordView&)> visit) const override;
  size_t size() const override;
  size_t tombstoneCount() const override { return tombstones_; }
  size_t memoryUsed() const override;

  // Introspection for tests and /status.
  size_t chunkCount() const;
  size_t liveBytes() const { return liveBytes_; }  // bytes in live blocks (headers included)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t tombstones_ = 0;
  size_t liveBytes_ = 0;
};

}  // namespace db

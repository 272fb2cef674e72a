// StoreBridge: everything the mesh needs from the local keyspace, in the mesh's own terms: merge
// a remote record (LWW), cut a snapshot page, summarise and compare digests, list the records of
// digest segments, collect tombstones. It is the only mesh file that knows db::Keyspace's API.
// Owned by MeshCluster; loop thread only. Snapshot pages are bounded by bytes; a repair round is
// bounded by kRepairRecordBudget records, so no call holds the loop for long.
// The one thing to get right: a repair frame always carries the clear mark too, because two
// stores can differ only by their clear marks (the root hash covers it, the segments do not).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "database/mesh/wire.h"
#include "database/storage/keyspace.h"

namespace db {

class StoreBridge {
 public:
  // A round repairs at most about this many records' worth of segments (at least 256 of the
  // 4096 segments), so a large divergence is healed over several rounds, never in one huge one.
  static constexpr size_t kRepairRecordBudget = 50000;
  static constexpr size_t kMinRepairSegments = 256;

  explicit StoreBridge(Keyspace& keyspace) : keyspace_(keyspace) {}

  ApplyResult applyRemote(const wire::RecordRef& r) {
    return keyspace_.apply(r.kind, r.key, r.value, r.hlc, r.origin);
  }
  // For anti-entropy records: a tombstone older than what we already collected is ignored (it
  // is collectable everywhere; taking it back would make two nodes re-teach it to each other
  // after each collection).
  ApplyResult applyRepair(const wire::RecordRef& r) {
    if (r.kind == Mutation::Kind::kDelete && r.hlc < collectedBelow_) return ApplyResult::kStale;
    return keyspace_.apply(r.kind, r.key, r.value, r.hlc, r.origin);
  }
  uint64_t lastHlc() { return keyspace_.clock().last(); }
  uint64_t wallMs() { return keyspace_.clock().wallMs(); }

  // A kSnapshot frame of about `budget` bytes from `cursor` ("" = start, which also carries the
  // clear mark); its extra field is the next cursor, "" after the last page.
  common::Result<std::string> snapshotPage(const std::string& cursor, size_t budget);

  // Digest exchange: we send digestSummary() (8 bytes: the root hash); the peer answers with
  // answerDigest(): "=" when equal, else its full encoded digest; repairPlan() on that answer
  // gives the segments to exchange (bounded by kRepairRecordBudget).
  uint64_t rootDigest() const { return keyspace_.rootHash(); }
  std::string digestSummary() const;
  common::Result<std::string> answerDigest(std::string_view summary) const;
  struct RepairPlan {
    bool equal = true;
    Keyspace::SegmentSet segments;
    size_t differing = 0;  // segments that differ in all (may exceed what this round repairs)
  };
  common::Result<RepairPlan> repairPlan(std::string_view answer) const;

  // A kRecords frame: the clear mark plus our records of `segments`; the set travels in the
  // frame's extra field (so the peer answers with its records of the same segments).
  std::string segmentRecords(const Keyspace::SegmentSet& segments) const;
  static common::Result<Keyspace::SegmentSet> segmentsFromExtra(std::string_view extra);

  // Drops tombstones older than both `horizonHlc` and now - grace. Returns how many.
  size_t collectTombstones(uint64_t horizonHlc, uint64_t graceMs);
  size_t tombstoneCount() const { return keyspace_.tombstoneCount(); }
  // Tombstones with an hlc below this may have been collected here (0: none ever was).
  uint64_t collectedBelow() const { return collectedBelow_; }
  // A snapshot copied from a peer lacks the tombstones that peer collected: its horizon is ours.
  void adoptCollectedBelow(uint64_t hlc) { collectedBelow_ = std::max(collectedBelow_, hlc); }

  // A kRecords frame of every record (tombstones and the clear mark included) with hlc >= floor:
  // what an evicted node keeps across its wipe. One O(n) walk. `skipped`: records left out.
  std::string recordsSince(uint64_t floorHlc, size_t* skipped) const;
  // Forgets the whole local state (Keyspace::reset) and the collection horizon.
  void reset() {
    keyspace_.reset();
    collectedBelow_ = 0;
  }

 private:
  Keyspace& keyspace_;
  uint64_t collectedBelow_ = 0;  // tombstones below this hlc were collected here
};

}  // namespace db

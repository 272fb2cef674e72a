// StoreBridge: everything the mesh needs from the local keyspace, in the mesh's own terms: admit
// a peer's frame (envelope and every record checked against the node's record rules), merge its
// records (LWW), cut a snapshot page, summarise and compare digests, list the records of digest
// segments, collect tombstones. It is the only mesh file that knows db::Keyspace's API, and
// every change it makes to the keyspace is appended to the node's WriteLog (so it reaches the
// disk, and, for records kept across a wipe, the peers).
// Owned by MeshCluster; loop thread only. Snapshot pages are bounded by bytes; a repair round is
// bounded by kRepairRecordBudget records, so no call holds the loop for long.
// The one thing to get right: a peer's records reach the keyspace only from a frame admit()
// accepted (the API's rules, whole frame or nothing); and a repair frame always carries the
// clear marks (every collection's) too, because two stores can differ only by their clear marks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "database/core/write_log.h"
#include "database/mesh/wire.h"
#include "database/storage/keyspace.h"
#include "database/storage/keyspace_reconcile.h"
#include "database/storage/record_rules.h"

namespace db {

class StoreBridge {
 public:
  // A round compares at most about this many records' worth of segments (at least 256 of the
  // 4096 segments): their summary is 8 bytes a record (8 MiB here), so 1M records take one
  // round. The records each side sends in a round stop at kRepairBytesBudget; what is left
  // over differs still and goes in the next round.
  static constexpr size_t kRepairRecordBudget = size_t{1} << 20;
  static constexpr size_t kMinRepairSegments = 256;
  static constexpr size_t kRepairBytesBudget = 16u << 20;

  // `limits`: this node's MAX_KEY_LENGTH / MAX_VALUE_LENGTH, the ones its API enforces.
  StoreBridge(Keyspace& keyspace, WriteLog& log, Limits limits = {})
      : keyspace_(keyspace), log_(log), limits_(limits) {}

  // A frame a peer sent (a batch, a snapshot page, a repair frame): its envelope is checked
  // (wire::validateFrame) and then every record against the record rules (record_rules.h), so
  // nothing a client could not have written is ever stored. Refused whole: the wire's error
  // code, or INVALID_RECORD with the first offending record's rule code and index as message.
  // Every refusal is counted (framesRefused, and recordsRefused for the records that broke a
  // rule); the caller logs it with the sender's name.
  common::Result<wire::FrameView> admit(std::string_view bytes, wire::FrameType type);

  // LWW merge of a peer's record; what changed the keyspace is appended to the log as `source`
  // (kPreserved: a record this node kept across a wipe, streamed to the peers again).
  // Precondition: `r` comes from a frame admit() accepted.
  ApplyResult applyRemote(const wire::RecordRef& r, Source source = Source::kPeer);
  // For anti-entropy records (same precondition): a tombstone older than what we already
  // collected is ignored (it is collectable everywhere; taking it back would make two nodes
  // re-teach it to each other after each collection).
  ApplyResult applyRepair(const wire::RecordRef& r);
  uint64_t framesRefused() const { return framesRefused_; }
  uint64_t recordsRefused() const { return recordsRefused_; }
  uint64_t lastHlc() { return keyspace_.clock().last(); }
  uint64_t wallMs() { return keyspace_.clock().wallMs(); }

  // A kSnapshot frame of about `budget` bytes from `cursor` ("" = start, which also carries the
  // clear marks); its extra field is the next cursor, "" after the last page.
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
    size_t differing = 0;       // segments that differ in all (may exceed what this round repairs)
    bool ourMarkNewer = false;  // our clear mark is newer than the peer's: send it
  };
  common::Result<RepairPlan> repairPlan(std::string_view answer) const;

  // Second level (keyspace_reconcile.h). We send summary(segments): the hashes of our records
  // there. The peer answers answerSummary(): its records of those segments whose hash we lack
  // (after its clear marks; at most kRepairBytesBudget of them) and the hashes of ours it lacks.
  // We apply its records, then send wantedRecords() of what it lacks and we still hold (a record
  // its newer copy just replaced is not sent). O(records in the segments) each, one walk.
  std::string summary(const Keyspace::SegmentSet& segments) const;
  common::Result<std::string> answerSummary(std::string_view body) const;  // BAD_SUMMARY
  struct Wanted {
    std::string frame;  // kRecords: our clear marks and the records; extra: no segments
    size_t records = 0;
    bool truncated = false;  // stopped at kRepairBytesBudget
  };
  Wanted wantedRecords(const Keyspace::SegmentSet& segments,
                       const std::vector<uint64_t>& wanted) const;

  // A kRecords frame: every clear mark plus our records of `segments`; the set travels in the
  // frame's extra field (so the peer answers with its records of the same segments).
  std::string segmentRecords(const Keyspace::SegmentSet& segments) const;
  static common::Result<Keyspace::SegmentSet> segmentsFromExtra(std::string_view extra);

  // Drops tombstones older than both `horizonHlc` and now - grace. Returns how many.
  size_t collectTombstones(uint64_t horizonHlc, uint64_t graceMs);
  size_t tombstoneCount() const { return keyspace_.tombstoneCount(); }
  // Tombstones with an hlc below this may have been collected here (0: none ever was).
  uint64_t collectedBelow() const { return collectedBelow_; }
  // Expired records below this hlc may be dropped (Keyspace::setExpiryHorizon; only raised).
  void setExpiryHorizon(uint64_t hlc) { keyspace_.setExpiryHorizon(hlc); }
  // A snapshot copied from a peer lacks the tombstones that peer collected: its horizon is ours.
  // It is below that peer's collection horizon, so it is an expiry horizon too (docs/ttl.md).
  void adoptCollectedBelow(uint64_t hlc) {
    collectedBelow_ = std::max(collectedBelow_, hlc);
    keyspace_.setExpiryHorizon(hlc);
  }

  // A kRecords frame of every record (tombstones and the clear marks included) with hlc >= floor:
  // what an evicted node keeps across its wipe. One O(n) walk. `skipped`: records left out
  // (older than the floor, or breaking the record rules: the frame is applied again after the
  // wipe and must pass them like any peer's).
  std::string recordsSince(uint64_t floorHlc, size_t* skipped) const;
  // Forgets the whole local state (Keyspace::reset, logged) and the collection horizon.
  void reset();

 private:
  Keyspace& keyspace_;
  WriteLog& log_;
  Limits limits_;
  uint64_t collectedBelow_ = 0;  // tombstones below this hlc were collected here
  uint64_t framesRefused_ = 0;   // peer frames refused by admit()
  uint64_t recordsRefused_ = 0;  // records in them that broke a rule
};

}  // namespace db

// See store_bridge.h.
#include "database/mesh/store_bridge.h"

#include <algorithm>

#include "database/mesh/wire.h"

namespace db {
namespace {

void addRecord(wire::FrameWriter& w, const RecordView& r) {
  w.add(r.tombstone ? Mutation::Kind::kDelete : Mutation::Kind::kPut, r.key,
        r.tombstone ? std::string_view() : r.value, r.hlc, r.origin, r.collection,
        r.tombstone ? 0 : r.expiresAtMs);
}

common::Status checkRef(const wire::RecordRef& r, const Limits& limits) {
  return checkRecord(r.kind, r.key, r.value, r.hlc, r.origin, limits, r.collection);
}

}  // namespace

common::Result<wire::FrameView> StoreBridge::admit(std::string_view bytes, wire::FrameType type) {
  auto f = wire::validateFrame(bytes, type);
  if (!f.ok()) {
    ++framesRefused_;
    return f.error();
  }
  // Every record is checked (not only up to the first bad one) so recordsRefused tells how much
  // of the frame was bad; the frame is refused whole either way.
  size_t index = 0, bad = 0;
  common::Error first;
  wire::forEachRecord(*f, [&](const wire::RecordRef& r) {
    auto st = checkRef(r, limits_);
    if (!st.ok() && bad++ == 0) {
      first.code = "INVALID_RECORD";
      const common::Error& e = st.error();
      first.message = e.code + (e.message.empty() ? "" : ": " + e.message) + " (record " +
                      std::to_string(index) + " of " + std::to_string(f->count) + ")";
    }
    ++index;
  });
  if (bad == 0) return f;
  ++framesRefused_;
  recordsRefused_ += bad;
  return first;
}

ApplyResult StoreBridge::applyRemote(const wire::RecordRef& r, Source source) {
  ApplyResult res =
      keyspace_.apply(r.kind, r.key, r.value, r.hlc, r.origin, r.collection, r.expiresAtMs);
  if (res == ApplyResult::kApplied) {
    log_.append(LogEntry{r.kind, r.key, r.value, r.hlc, r.origin, r.collection, r.expiresAtMs},
                source);
  }
  return res;
}

ApplyResult StoreBridge::applyRepair(const wire::RecordRef& r) {
  if (r.kind == Mutation::Kind::kDelete && r.hlc < collectedBelow_) return ApplyResult::kStale;
  // A collection's clear mark below the horizon was collected like a tombstone (Keyspace::
  // collectTombstones): taking it back would make two nodes re-teach it to each other.
  bool collectionMark = r.kind == Mutation::Kind::kClear && !r.collection.empty();
  if (collectionMark && r.hlc < collectedBelow_) return ApplyResult::kStale;
  return applyRemote(r);
}

void StoreBridge::reset() {
  keyspace_.reset();
  log_.reset();
  collectedBelow_ = 0;
}

common::Result<std::string> StoreBridge::snapshotPage(const std::string& cursor, size_t budget) {
  wire::FrameWriter w(wire::FrameType::kSnapshot);
  if (cursor.empty()) {
    for (const Mutation& mark : keyspace_.clearMarkMutations()) w.add(mark);
  }
  auto page = keyspace_.scanAll(cursor, SIZE_MAX, [&](const RecordView& r) {
    addRecord(w, r);
    return w.bytes() < budget;
  });
  if (!page.ok()) return page.error();
  w.setExtra(page->next);
  return w.finish();
}

std::string StoreBridge::digestSummary() const {
  std::string s;
  wire::putU64(s, keyspace_.rootHash());
  return s;
}

common::Result<std::string> StoreBridge::answerDigest(std::string_view summary) const {
  if (summary.size() != 8) return common::Error{"BAD_DIGEST", "summary must be 8 bytes"};
  if (wire::getU64(summary.data()) == keyspace_.rootHash()) return std::string("=");
  return keyspace_.encodeDigest();
}

common::Result<StoreBridge::RepairPlan> StoreBridge::repairPlan(std::string_view answer) const {
  RepairPlan plan;
  if (answer == "=") return plan;
  auto theirs = Keyspace::decodeDigest(answer);
  if (!theirs.ok()) return theirs.error();
  plan.equal = theirs->root == keyspace_.rootHash();
  Keyspace::SegmentSet diff = Keyspace::diffSegments(keyspace_.segments(), theirs->segments);
  plan.differing = diff.count();
  plan.ourMarkNewer = keyspace_.clearMarkHlc() > theirs->clearHlc ||
                      (keyspace_.clearMarkHlc() == theirs->clearHlc &&
                       keyspace_.clearMarkOrigin() > theirs->clearOrigin);
  // Repair a bounded share per round, starting at a rotating offset so every segment gets its
  // turn even when many differ.
  size_t perSegment = keyspace_.engine().size() / Keyspace::kSegments + 1;
  size_t cap =
      std::clamp(kRepairRecordBudget / perSegment, kMinRepairSegments, Keyspace::kSegments);
  size_t offset = plan.differing > cap ? keyspace_.rootHash() % Keyspace::kSegments : 0;
  size_t taken = 0;
  for (size_t n = 0; n < Keyspace::kSegments && taken < cap; ++n) {
    size_t i = (offset + n) % Keyspace::kSegments;
    if (diff.test(i)) {
      plan.segments.set(i);
      ++taken;
    }
  }
  return plan;
}

std::string StoreBridge::segmentRecords(const Keyspace::SegmentSet& segments) const {
  wire::FrameWriter w(wire::FrameType::kRecords);
  std::string extra(Keyspace::kSegments / 8, '\0');
  for (size_t i = 0; i < Keyspace::kSegments; ++i) {
    if (segments.test(i)) extra[i / 8] = static_cast<char>(extra[i / 8] | (1 << (i % 8)));
  }
  w.setExtra(extra);
  for (const Mutation& mark : keyspace_.clearMarkMutations()) w.add(mark);
  if (segments.any()) {
    auto page = keyspace_.scanSegments(segments, "", SIZE_MAX, [&](const RecordView& r) {
      addRecord(w, r);
      return true;
    });
    (void)page;  // a fresh walk from "" cannot have a bad cursor
  }
  return w.finish();
}

namespace {

uint64_t hashOf(const RecordView& r) {
  return Keyspace::recordHash(r.key, r.hlc, r.origin, r.tombstone, r.collection);
}

std::string noSegments() {
  return std::string(Keyspace::kSegments / 8, '\0');
}

}  // namespace

std::string StoreBridge::summary(const Keyspace::SegmentSet& segments) const {
  std::vector<uint64_t> hashes;
  if (segments.any()) {
    auto page = keyspace_.scanSegments(segments, "", SIZE_MAX, [&](const RecordView& r) {
      hashes.push_back(hashOf(r));
      return true;
    });
    (void)page;  // a fresh walk from "" cannot have a bad cursor
  }
  reconcile::sortUnique(hashes);
  return reconcile::encodeSummary(segments, hashes);
}

common::Result<std::string> StoreBridge::answerSummary(std::string_view body) const {
  auto theirs = reconcile::decodeSummary(body);
  if (!theirs.ok()) return theirs.error();
  const std::vector<uint64_t>& have = theirs->hashes;
  std::vector<bool> matched(have.size(), false);
  wire::FrameWriter w(wire::FrameType::kRecords);
  w.setExtra(noSegments());
  for (const Mutation& mark : keyspace_.clearMarkMutations()) w.add(mark);
  bool truncated = false;
  if (theirs->segments.any()) {
    auto page = keyspace_.scanSegments(theirs->segments, "", SIZE_MAX, [&](const RecordView& r) {
      uint64_t h = hashOf(r);
      auto it = std::lower_bound(have.begin(), have.end(), h);
      if (it != have.end() && *it == h) {
        matched[static_cast<size_t>(it - have.begin())] = true;
      } else if (w.bytes() < kRepairBytesBudget) {
        addRecord(w, r);
      } else {
        truncated = true;
      }
      return true;
    });
    (void)page;
  }
  std::vector<uint64_t> wanted;
  for (size_t i = 0; i < have.size(); ++i) {
    if (!matched[i]) wanted.push_back(have[i]);
  }
  return reconcile::encodeAnswer(truncated, wanted, w.finish());
}

StoreBridge::Wanted StoreBridge::wantedRecords(const Keyspace::SegmentSet& segments,
                                               const std::vector<uint64_t>& wanted) const {
  Wanted out;
  wire::FrameWriter w(wire::FrameType::kRecords);
  w.setExtra(noSegments());
  for (const Mutation& mark : keyspace_.clearMarkMutations()) w.add(mark);
  if (!wanted.empty() && segments.any()) {
    auto page = keyspace_.scanSegments(segments, "", SIZE_MAX, [&](const RecordView& r) {
      if (!std::binary_search(wanted.begin(), wanted.end(), hashOf(r))) return true;
      if (w.bytes() >= kRepairBytesBudget) {
        out.truncated = true;
        return false;
      }
      addRecord(w, r);
      ++out.records;
      return true;
    });
    (void)page;
  }
  out.frame = w.finish();
  return out;
}

std::string StoreBridge::recordsSince(uint64_t floorHlc, size_t* skipped) const {
  wire::FrameWriter w(wire::FrameType::kRecords);
  size_t left = 0;
  for (const Mutation& mark : keyspace_.clearMarkMutations()) {
    if (mark.hlc < floorHlc) continue;
    if (checkRecord(mark.kind, mark.key, mark.value, mark.hlc, mark.origin, limits_,
                    mark.collection)
            .ok()) {
      w.add(mark);
    } else {
      ++left;
    }
  }
  auto page = keyspace_.scanAll("", SIZE_MAX, [&](const RecordView& r) {
    bool valid = checkRecord(r.tombstone ? Mutation::Kind::kDelete : Mutation::Kind::kPut, r.key,
                             r.tombstone ? std::string_view() : r.value, r.hlc, r.origin, limits_,
                             r.collection)
                     .ok();
    if (r.hlc >= floorHlc && valid) {
      addRecord(w, r);
    } else {
      ++left;
    }
    return true;
  });
  if (skipped != nullptr) *skipped = left;
  (void)page;  // a fresh walk from "" cannot have a bad cursor
  return w.finish();
}

common::Result<Keyspace::SegmentSet> StoreBridge::segmentsFromExtra(std::string_view extra) {
  Keyspace::SegmentSet s;
  if (extra.size() != Keyspace::kSegments / 8) return common::Error{"BAD_SEGMENTS", ""};
  for (size_t i = 0; i < Keyspace::kSegments; ++i) {
    if (static_cast<uint8_t>(extra[i / 8]) & (1 << (i % 8))) s.set(i);
  }
  return s;
}

size_t StoreBridge::collectTombstones(uint64_t horizonHlc, uint64_t graceMs) {
  uint64_t now = keyspace_.clock().wallMs();
  if (now <= graceMs) return 0;
  uint64_t below = std::min(horizonHlc, Hlc::pack(now - graceMs, 0));
  collectedBelow_ = std::max(collectedBelow_, below);
  return keyspace_.collectTombstones(below);
}

}  // namespace db

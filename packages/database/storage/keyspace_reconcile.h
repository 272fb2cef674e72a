// The second level of anti-entropy (docs/mesh.md, "Anti-entropy"): for the digest segments that
// differ, the side starting a round sends a *summary*, the sorted 8-byte Keyspace::recordHash of
// each of its records in those segments; the peer answers with its records whose hash is not in
// the summary (the records frame travels opaque here: the mesh admits it) and the list of the
// summary's hashes it lacks (*wanted*), which the starter then sends. So a round moves 8 bytes
// per compared record plus the records that differ, not whole segments. Pure codecs, no I/O.
// Called by db::StoreBridge on the loop thread; everything decoded here comes from a peer.
// The one thing to get right: each message has exactly one encoding (hash lists strictly
// ascending, exact lengths, flags 0 or 1), checked before anything is used.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"
#include "database/storage/keyspace.h"

namespace db::reconcile {

// "MKS1" | segment bitmap (Keyspace::kSegments / 8 bytes) | count u32 | count x hash u64,
// strictly ascending. Little endian.
struct Summary {
  Keyspace::SegmentSet segments;
  std::vector<uint64_t> hashes;  // strictly ascending
};
// Precondition: `hashes` strictly ascending (sortUnique() makes them so).
std::string encodeSummary(const Keyspace::SegmentSet& segments,
                          const std::vector<uint64_t>& hashes);
common::Result<Summary> decodeSummary(std::string_view bytes);  // BAD_SUMMARY

// "MKA1" | flags u8 (1: the peer stopped adding records at its byte budget) | count u32 |
// count x wanted hash u64, strictly ascending | the peer's records frame (the rest, opaque).
struct Answer {
  bool truncated = false;
  std::vector<uint64_t> wanted;  // strictly ascending
  std::string_view frame;        // a view into the decoded bytes
};
std::string encodeAnswer(bool truncated, const std::vector<uint64_t>& wanted,
                         std::string_view frame);
common::Result<Answer> decodeAnswer(std::string_view bytes);  // BAD_ANSWER

// Sorts and drops duplicates (two records with one 64-bit hash: only in theory).
void sortUnique(std::vector<uint64_t>& hashes);

}  // namespace db::reconcile

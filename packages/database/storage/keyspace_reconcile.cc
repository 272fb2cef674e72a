// See keyspace_reconcile.h. Sizes are checked against the announced counts before any
// allocation, so a hostile count cannot make us reserve memory the bytes do not back.
#include "database/storage/keyspace_reconcile.h"

#include <algorithm>
#include <cstring>

namespace db::reconcile {
namespace {

constexpr char kSummaryMagic[4] = {'M', 'K', 'S', '1'};
constexpr char kAnswerMagic[4] = {'M', 'K', 'A', '1'};
constexpr size_t kBitmapBytes = Keyspace::kSegments / 8;

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t getU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t getU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void putHashes(std::string& out, const std::vector<uint64_t>& hashes) {
  putU32(out, static_cast<uint32_t>(hashes.size()));
  for (uint64_t h : hashes) putU64(out, h);
}

// Reads `count` strictly ascending hashes at p. False when they are not ascending.
bool getHashes(const char* p, size_t count, std::vector<uint64_t>& out) {
  out.resize(count);
  for (size_t i = 0; i < count; ++i) {
    out[i] = getU64(p + 8 * i);
    if (i > 0 && out[i] <= out[i - 1]) return false;
  }
  return true;
}

}  // namespace

void sortUnique(std::vector<uint64_t>& hashes) {
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
}

std::string encodeSummary(const Keyspace::SegmentSet& segments,
                          const std::vector<uint64_t>& hashes) {
  std::string out(kSummaryMagic, 4);
  out.reserve(4 + kBitmapBytes + 4 + 8 * hashes.size());
  size_t bitmapAt = out.size();
  out.append(kBitmapBytes, '\0');
  for (size_t i = 0; i < Keyspace::kSegments; ++i) {
    if (segments.test(i))
      out[bitmapAt + i / 8] = static_cast<char>(out[bitmapAt + i / 8] | (1 << (i % 8)));
  }
  putHashes(out, hashes);
  return out;
}

common::Result<Summary> decodeSummary(std::string_view b) {
  auto bad = [](const char* why) { return common::Error{"BAD_SUMMARY", why}; };
  constexpr size_t kFixed = 4 + kBitmapBytes + 4;
  if (b.size() < kFixed) return bad("truncated");
  if (std::memcmp(b.data(), kSummaryMagic, 4) != 0) return bad("magic");
  Summary s;
  const char* bitmap = b.data() + 4;
  for (size_t i = 0; i < Keyspace::kSegments; ++i) {
    if ((static_cast<unsigned char>(bitmap[i / 8]) >> (i % 8) & 1) != 0) s.segments.set(i);
  }
  size_t count = getU32(b.data() + 4 + kBitmapBytes);
  size_t body = b.size() - kFixed;
  if (body / 8 < count) return bad("truncated hashes");
  if (body != 8 * count) return bad("trailing bytes");
  if (!getHashes(b.data() + kFixed, count, s.hashes)) return bad("hashes not strictly ascending");
  return s;
}

std::string encodeAnswer(bool truncated, const std::vector<uint64_t>& wanted,
                         std::string_view frame) {
  std::string out(kAnswerMagic, 4);
  out.reserve(4 + 1 + 4 + 8 * wanted.size() + frame.size());
  out.push_back(truncated ? 1 : 0);
  putHashes(out, wanted);
  out.append(frame);
  return out;
}

common::Result<Answer> decodeAnswer(std::string_view b) {
  auto bad = [](const char* why) { return common::Error{"BAD_ANSWER", why}; };
  constexpr size_t kFixed = 4 + 1 + 4;
  if (b.size() < kFixed) return bad("truncated");
  if (std::memcmp(b.data(), kAnswerMagic, 4) != 0) return bad("magic");
  uint8_t flags = static_cast<uint8_t>(b[4]);
  if (flags > 1) return bad("unknown flags");
  Answer a;
  a.truncated = flags == 1;
  size_t count = getU32(b.data() + 5);
  if ((b.size() - kFixed) / 8 < count) return bad("truncated hashes");
  if (!getHashes(b.data() + kFixed, count, a.wanted)) return bad("hashes not strictly ascending");
  a.frame = b.substr(kFixed + 8 * count);
  return a;
}

}  // namespace db::reconcile

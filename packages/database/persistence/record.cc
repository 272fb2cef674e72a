// See record.h.
#include "database/persistence/record.h"

#include <xxhash.h>

#include <algorithm>

#include "common/core/bytes.h"

namespace db::persistence {
namespace {

namespace bytes = common::bytes;

uint64_t checksum(const char* body, uint32_t len) {
  return XXH3_64bits_withSeed(body, len, len);
}

bool onlyZeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '\0'; });
}

// Decodes a body whose checksum matched; false when its lengths do not add up.
bool decodeBody(const char* p, uint32_t len, LogRecord& r) {
  if (len < kRecordFixedBodyBytes) return false;
  auto kindByte = static_cast<uint8_t>(p[0]);
  bool hasCollection = (kindByte & kCollectionFlag) != 0;
  bool hasExpiry = (kindByte & kExpiryFlag) != 0;
  uint8_t kind = kindByte & static_cast<uint8_t>(~(kCollectionFlag | kExpiryFlag));
  if (kind > static_cast<uint8_t>(RecordKind::kReset)) return false;
  if (hasCollection && kind == static_cast<uint8_t>(RecordKind::kReset)) return false;
  r.kind = static_cast<RecordKind>(kind);
  r.expiresAtMs = 0;
  if (hasExpiry) {
    // Only a put expires, and no expiry is spelled without the flag.
    if (r.kind != RecordKind::kPut || len < kRecordFixedBodyBytes + 8) return false;
    r.expiresAtMs = bytes::getU64(p + 1);
    if (r.expiresAtMs == 0) return false;
    p += 8;  // the rest is laid out as in a record without an expiry
    len -= 8;
  }
  r.hlc = bytes::getU64(p + 1);
  size_t originLen = bytes::getU16(p + 9);
  size_t keyLen = bytes::getU16(p + 11);
  size_t valueLen = bytes::getU32(p + 13);
  size_t used = kRecordFixedBodyBytes + originLen + keyLen + valueLen;
  // The rest of the body is the collection: present (non-empty) exactly when flagged.
  if (used > len || (used < len) != hasCollection) return false;
  const char* q = p + kRecordFixedBodyBytes;
  r.origin = {q, originLen};
  r.key = {q + originLen, keyLen};
  r.value = {q + originLen + keyLen, valueLen};
  r.collection = {p + used, len - used};
  return true;
}

}  // namespace

size_t encodedSize(std::string_view key, std::string_view value, std::string_view origin,
                   std::string_view collection, uint64_t expiresAtMs) {
  return kRecordHeaderBytes + kRecordFixedBodyBytes + (expiresAtMs == 0 ? 0 : 8) + key.size() +
         value.size() + origin.size() + collection.size();
}

void encodeRecord(std::string& out, RecordKind kind, std::string_view key, std::string_view value,
                  uint64_t hlc, std::string_view origin, std::string_view collection,
                  uint64_t expiresAtMs) {
  if (kind != RecordKind::kPut) expiresAtMs = 0;  // only a value expires
  size_t start = out.size();
  auto len = static_cast<uint32_t>(kRecordFixedBodyBytes + (expiresAtMs == 0 ? 0 : 8) +
                                   origin.size() + key.size() + value.size() + collection.size());
  out.reserve(start + kRecordHeaderBytes + len);
  bytes::putU32(out, len);
  bytes::putU64(out, 0);  // checksum, filled in below
  auto kindByte = static_cast<uint8_t>(kind) | (collection.empty() ? 0 : kCollectionFlag) |
                  (expiresAtMs == 0 ? 0 : kExpiryFlag);
  out.push_back(static_cast<char>(kindByte));
  if (expiresAtMs != 0) bytes::putU64(out, expiresAtMs);
  bytes::putU64(out, hlc);
  bytes::putU16(out, static_cast<uint16_t>(origin.size()));
  bytes::putU16(out, static_cast<uint16_t>(key.size()));
  bytes::putU32(out, static_cast<uint32_t>(value.size()));
  out.append(origin).append(key).append(value).append(collection);
  uint64_t sum = checksum(out.data() + start + kRecordHeaderBytes, len);
  for (size_t i = 0; i < 8; ++i) out[start + 4 + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
}

const char* toString(ScanOutcome::State s) {
  switch (s) {
    case ScanOutcome::State::kClean:
      return "clean";
    case ScanOutcome::State::kTorn:
      return "torn tail";
    case ScanOutcome::State::kDamaged:
      return "damaged";
  }
  return "?";
}

size_t estimateRecords(std::string_view b) {
  size_t off = 0, n = 0;
  while (off < kEstimateSampleBytes && b.size() - off >= kRecordHeaderBytes) {
    uint32_t len = bytes::getU32(b.data() + off);
    if (len < kRecordFixedBodyBytes || len > kMaxRecordBodyBytes) break;
    off += kRecordHeaderBytes + len;
    ++n;
  }
  if (n == 0) return 0;
  // Every record takes at least its fixed part and one key byte: the bound on a wild sample.
  size_t most = b.size() / (kRecordHeaderBytes + kRecordFixedBodyBytes + 1);
  return std::min(most, static_cast<size_t>(static_cast<double>(b.size()) * n / off));
}

ScanOutcome scanRecords(std::string_view b, absl::FunctionRef<bool(const LogRecord&)> visit) {
  ScanOutcome out;
  size_t off = 0;
  while (off < b.size()) {
    size_t left = b.size() - off;
    out.goodEnd = off;
    if (left < kRecordHeaderBytes) {  // a header cut short can only be the end
      out.state = ScanOutcome::State::kTorn;
      return out;
    }
    uint32_t len = bytes::getU32(b.data() + off);
    uint64_t sum = bytes::getU64(b.data() + off + 4);
    size_t end = off + kRecordHeaderBytes + len;
    LogRecord r;
    bool valid = len <= kMaxRecordBodyBytes && end <= b.size() &&
                 checksum(b.data() + off + kRecordHeaderBytes, len) == sum &&
                 decodeBody(b.data() + off + kRecordHeaderBytes, len, r);
    if (!valid) {
      // Torn: the record runs past the end or ends exactly there, or only zeros follow (a file
      // system that extended the file but never wrote the data). A torn write leaves a length
      // field whole or absent, so a length above the maximum is damage, not a tear; a length
      // damaged into running past the end cannot be told from a tear (the last MiB only).
      bool last = len <= kMaxRecordBodyBytes && end >= b.size();
      bool torn = last || onlyZeros(b.substr(off));
      out.state = torn ? ScanOutcome::State::kTorn : ScanOutcome::State::kDamaged;
      return out;
    }
    ++out.records;
    off = end;
    out.goodEnd = off;
    if (!visit(r)) return out;
  }
  out.goodEnd = b.size();
  out.state = ScanOutcome::State::kClean;
  return out;
}

}  // namespace db::persistence

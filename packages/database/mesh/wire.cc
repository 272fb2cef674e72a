// See wire.h. Encoding appends to one std::string per frame (no per-record
// allocation); decoding first checks the frame's envelope and checksum, then
// parses every record into a vector, and only then returns: callers apply a
// frame only after it decoded completely.
#include "database/mesh/wire.h"

#include <xxhash.h>

#include <cstring>

namespace db::wire {
namespace {

constexpr char kMagic[4] = {'M', 'K', 'V', '1'};

void putU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}

uint32_t getU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

common::Error err(const char* code, std::string msg = {}) {
  return common::Error{code, std::move(msg)};
}

}  // namespace

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool getVarint(const char*& p, const char* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 70 && p < end; shift += 7) {
    uint8_t b = static_cast<uint8_t>(*p++);
    if (shift == 63 && b > 1) return false;  // would overflow 64 bits
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    // A last byte of 0 after the first is a longer spelling of a shorter varint: refused, so a
    // frame has one encoding (the fuzz target re-encodes what it decodes).
    if ((b & 0x80) == 0) return b != 0 || shift == 0;
  }
  return false;
}

void putU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

uint64_t getU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

FrameWriter::FrameWriter(FrameType type) : type_(type) {}

void FrameWriter::add(const Mutation& m) {
  add(m.kind, m.key, m.value, m.hlc, m.origin, m.collection, m.expiresAtMs);
}

void FrameWriter::add(Mutation::Kind kind, std::string_view key, std::string_view value,
                      uint64_t hlc, std::string_view origin, std::string_view collection,
                      uint64_t expiresAtMs) {
  if (kind != Mutation::Kind::kPut) expiresAtMs = 0;  // only a value expires
  uint8_t kindByte = static_cast<uint8_t>(kind) | (collection.empty() ? 0 : kCollectionFlag) |
                     (expiresAtMs == 0 ? 0 : kExpiryFlag);
  records_.push_back(static_cast<char>(kindByte));
  if (expiresAtMs != 0) putU64(records_, expiresAtMs);
  putU64(records_, hlc);
  putVarint(records_, origin.size());
  records_.append(origin);
  putVarint(records_, key.size());
  records_.append(key);
  putVarint(records_, value.size());
  records_.append(value);
  if (!collection.empty()) {
    putVarint(records_, collection.size());
    records_.append(collection);
  }
  ++count_;
}

std::string FrameWriter::finish() {
  std::string out;
  out.reserve(kHeaderBytes + 10 + extra_.size() + records_.size() + kTrailerBytes);
  out.append(kMagic, 4);
  out.push_back(1);  // version
  out.push_back(static_cast<char>(type_));
  out.push_back(0);  // flags
  out.push_back(0);
  putU64(out, seq_);
  putU32(out, count_);
  size_t lenAt = out.size();
  putU32(out, 0);  // payload length, patched below
  size_t payloadStart = out.size();
  putVarint(out, extra_.size());
  out.append(extra_);
  out.append(records_);
  uint32_t payloadLen = static_cast<uint32_t>(out.size() - payloadStart);
  for (int i = 0; i < 4; ++i) out[lenAt + i] = static_cast<char>((payloadLen >> (8 * i)) & 0xff);
  putU64(out, XXH3_64bits(out.data(), out.size()));
  seq_ = 0;
  count_ = 0;
  extra_.clear();
  records_.clear();
  return out;
}

namespace {

bool getView(const char*& p, const char* end, size_t limit, std::string_view& out) {
  uint64_t n = 0;
  if (!getVarint(p, end, n)) return false;
  if (n > limit || n > static_cast<uint64_t>(end - p)) return false;
  out = std::string_view(p, n);
  p += n;
  return true;
}

// Parses one record at p (advancing it). Returns the error detail, or nullptr when well-formed.
const char* parseRecord(const char*& q, const char* end, RecordRef& r) {
  if (end - q < 9) return "short record";
  auto kindByte = static_cast<uint8_t>(*q++);
  bool hasCollection = (kindByte & kCollectionFlag) != 0;
  bool hasExpiry = (kindByte & kExpiryFlag) != 0;
  uint8_t kind = kindByte & static_cast<uint8_t>(~(kCollectionFlag | kExpiryFlag));
  if (kind > static_cast<uint8_t>(Mutation::Kind::kClear)) return "kind";
  r.kind = static_cast<Mutation::Kind>(kind);
  r.expiresAtMs = 0;
  if (hasExpiry) {
    if (r.kind != Mutation::Kind::kPut) return "expiry on a non-put";
    if (end - q < 16) return "short record";
    r.expiresAtMs = getU64(q);
    q += 8;
    // No expiry is spelled without the flag: one encoding per record.
    if (r.expiresAtMs == 0) return "zero expiry";
  }
  r.hlc = getU64(q);
  q += 8;
  if (!getView(q, end, kMaxOriginBytes, r.origin)) return "origin";
  if (!getView(q, end, kMaxKeyBytes, r.key)) return "key";
  if (!getView(q, end, kMaxValueBytes, r.value)) return "value";
  r.collection = {};
  if (hasCollection) {
    if (!getView(q, end, kMaxCollectionBytes, r.collection)) return "collection";
    // The default collection is spelled without the flag: one encoding per record.
    if (r.collection.empty()) return "empty collection";
  }
  bool isClear = r.kind == Mutation::Kind::kClear;
  if (isClear != r.key.empty()) return "key presence";
  if (r.kind != Mutation::Kind::kPut && !r.value.empty()) return "value";
  return nullptr;
}

}  // namespace

common::Result<FrameView> validateFrame(std::string_view bytes, FrameType expected) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) return err("TRUNCATED", "frame too short");
  const char* p = bytes.data();
  if (std::memcmp(p, kMagic, 4) != 0) return err("BAD_MAGIC");
  if (static_cast<uint8_t>(p[4]) != 1) return err("BAD_VERSION", std::to_string(p[4]));
  if (static_cast<uint8_t>(p[5]) != static_cast<uint8_t>(expected)) return err("BAD_TYPE");
  // No flag is defined yet: a frame that sets one (or the reserved bytes) means something this
  // version cannot read, and ignoring it would give one frame several encodings.
  if (p[6] != 0 || p[7] != 0) return err("BAD_FLAGS", "flags and reserved bytes must be 0");
  uint64_t seq = getU64(p + 8);
  uint32_t count = getU32(p + 16);
  uint32_t payloadLen = getU32(p + 20);
  size_t total = kHeaderBytes + static_cast<size_t>(payloadLen) + kTrailerBytes;
  if (bytes.size() < total) return err("TRUNCATED", "payload shorter than announced");
  if (bytes.size() > total) return err("TRAILING_BYTES");
  uint64_t sum = getU64(p + kHeaderBytes + payloadLen);
  if (XXH3_64bits(p, kHeaderBytes + payloadLen) != sum) return err("BAD_CHECKSUM");

  FrameView f;
  f.type = expected;
  f.seq = seq;
  f.count = count;
  const char* q = p + kHeaderBytes;
  const char* end = q + payloadLen;
  if (!getView(q, end, kMaxExtraBytes, f.extra)) return err("BAD_RECORD", "extra");
  // Each record takes at least 12 bytes: refuse absurd counts before walking.
  if (count > static_cast<uint64_t>(end - q) / 12 + 1) return err("BAD_RECORD", "count");
  f.records = std::string_view(q, end - q);
  RecordRef r;
  for (uint32_t i = 0; i < count; ++i) {
    if (const char* why = parseRecord(q, end, r)) return err("BAD_RECORD", why);
  }
  if (q != end) return err("BAD_RECORD", "bytes after the last record");
  return f;
}

void forEachRecord(const FrameView& f, const std::function<void(const RecordRef&)>& fn) {
  const char* q = f.records.data();
  const char* end = q + f.records.size();
  RecordRef r;
  for (uint32_t i = 0; i < f.count; ++i) {
    if (parseRecord(q, end, r) != nullptr) return;  // validated: cannot happen
    fn(r);
  }
}

common::Result<Frame> decodeFrame(std::string_view bytes, FrameType expected) {
  auto v = validateFrame(bytes, expected);
  if (!v.ok()) return v.error();
  Frame f;
  f.type = expected;
  f.seq = v->seq;
  f.extra.assign(v->extra);
  f.records.reserve(v->count);
  forEachRecord(*v, [&](const RecordRef& r) {
    f.records.push_back(Mutation{r.kind, std::string(r.key), std::string(r.value), r.hlc,
                                 std::string(r.origin), std::string(r.collection), r.expiresAtMs});
  });
  return f;
}

}  // namespace db::wire

// sealRecords(): for the persistence fuzz targets (log_record, recovery). Rewrites fuzzer bytes in
// place into a run of well-formed records of persistence/record.h: each record's length is cut to
// fit what is left, its three field lengths are made to add up, and its checksum is computed, so
// the fuzzer reaches the decoding of bodies instead of stopping at the first checksum. The kind
// byte and the hlc are left as the fuzzer wrote them (an unknown kind stays invalid), and
// whatever is too short to hold a record, or only zeros, stays as a garbage tail. Well-formed
// records (lengths that add up) pass through unchanged but for their checksum. The one thing to get
// right: a sealed input is still just bytes: the properties are checked the same way on sealed and
// raw inputs.
#pragma once

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "database/persistence/record.h"

namespace fuzz {

inline void putLe(std::string& b, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

inline uint64_t getLe(const std::string& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(b[at + i])} << (8 * i);
  return v;
}

inline void sealRecords(std::string& b) {
  using db::persistence::kRecordFixedBodyBytes;
  using db::persistence::kRecordHeaderBytes;
  size_t off = 0;
  while (b.size() - off >= kRecordHeaderBytes + kRecordFixedBodyBytes &&
         b.find_first_not_of('\0', off) != std::string::npos) {
    size_t room = b.size() - off - kRecordHeaderBytes;
    size_t len = getLe(b, off, 4) % (room + 1);
    if (len < kRecordFixedBodyBytes) len = kRecordFixedBodyBytes + len % (room - 16);
    len = std::min(len, db::persistence::kMaxRecordBodyBytes);
    size_t body = off + kRecordHeaderBytes;
    size_t free = len - kRecordFixedBodyBytes;
    size_t origin = getLe(b, body + 9, 2) % (free + 1);
    size_t key = getLe(b, body + 11, 2) % (free - origin + 1);
    putLe(b, off, len, 4);
    putLe(b, body + 9, origin, 2);
    putLe(b, body + 11, key, 2);
    putLe(b, body + 13, free - origin - key, 4);
    putLe(b, off + 4, XXH3_64bits_withSeed(b.data() + body, len, len), 8);
    off = body + len;
  }
}

}  // namespace fuzz

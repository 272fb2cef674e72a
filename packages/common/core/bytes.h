// Little-endian fixed-width integers in byte buffers: the one home of put/get helpers for the
// binary formats (the mesh's wire frames and the node's log and snapshot files may use it).
// Header-only, pure functions, any thread. The one thing to get right: get*() reads exactly
// N bytes from `p` without bounds checks, so the caller checks the length first.
#pragma once

#include <cstdint>
#include <string>

namespace common::bytes {

template <typename T>
inline void putLE(std::string& out, T v) {
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, sizeof(T));
}

template <typename T>
inline T getLE(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

inline void putU16(std::string& out, uint16_t v) {
  putLE(out, v);
}
inline void putU32(std::string& out, uint32_t v) {
  putLE(out, v);
}
inline void putU64(std::string& out, uint64_t v) {
  putLE(out, v);
}
inline uint16_t getU16(const char* p) {
  return getLE<uint16_t>(p);
}
inline uint32_t getU32(const char* p) {
  return getLE<uint32_t>(p);
}
inline uint64_t getU64(const char* p) {
  return getLE<uint64_t>(p);
}

}  // namespace common::bytes

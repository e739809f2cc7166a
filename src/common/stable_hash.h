#pragma once

// StableHash64: a 64-bit hash of bytes that is the same on every build, platform and run
// (FNV-1a followed by the MurmurHash3 finalizer, so that strings differing only in their last
// characters still spread over all bits). Use it where a hash is persisted or must agree across
// processes: schedule phases, jitter, identifiers. Not for security (use a keyed MAC for that).
// Thread-safety: a pure function.

#include <cstdint>
#include <string_view>

namespace pharos {

inline uint64_t StableHash64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a offset basis
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;  // FNV-1a prime
  }
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

}  // namespace pharos

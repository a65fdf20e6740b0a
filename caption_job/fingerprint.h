// Fingerprints for the caption job's manifest: a 64-bit FNV-1a hash (not cryptographic; it
// detects accidental changes such as a different prompt, list or tokenizer), and a file's
// identity from the filesystem (canonical path, size, modification time).
#pragma once

#include <cstdint>
#include <string>

namespace pg {

// FNV-1a 64 of `data`, continuing from `hash` (start with kFnvOffset).
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
uint64_t Fnv1a64(const void* data, size_t size, uint64_t hash = kFnvOffset);
inline uint64_t Fnv1a64(const std::string& s, uint64_t hash = kFnvOffset) {
  return Fnv1a64(s.data(), s.size(), hash);
}

// 16 lower-case hex digits.
std::string HexU64(uint64_t value);

// FNV-1a 64 of the file's bytes, as hex. Throws pg::Error naming `path` if it cannot be read.
std::string HashFileContents(const std::string& path);

struct FileIdentity {
  std::string canonical_path;  // absolute, symlinks resolved
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// Throws pg::Error naming `what` and `path` if the file does not exist or is not a regular file.
FileIdentity IdentifyFile(const std::string& path, const std::string& what);

}  // namespace pg

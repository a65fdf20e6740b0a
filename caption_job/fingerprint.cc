#include "caption_job/fingerprint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/check.h"

namespace pg {

uint64_t Fnv1a64(const void* data, size_t size, uint64_t hash) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string HexU64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string HashFileContents(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  PG_CHECK(f != nullptr, "cannot read '" << path << "': " << std::strerror(errno));
  uint64_t h = kFnvOffset;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) h = Fnv1a64(buf, n, h);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  PG_CHECK(!failed, "error while reading '" << path << "'");
  return HexU64(h);
}

FileIdentity IdentifyFile(const std::string& path, const std::string& what) {
  struct stat st;
  PG_CHECK(::stat(path.c_str(), &st) == 0, what << " '" << path << "': " << std::strerror(errno));
  PG_CHECK(S_ISREG(st.st_mode), what << " '" << path << "' is not a regular file");
  FileIdentity id;
  std::error_code ec;
  id.canonical_path = std::filesystem::canonical(path, ec).string();
  PG_CHECK(!ec, what << " '" << path << "': cannot resolve the path: " << ec.message());
  id.size = static_cast<int64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return id;
}

}  // namespace pg

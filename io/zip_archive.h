// A minimal read-only zip reader (what numpy's savez/savez_compressed write): the central
// directory (classic and zip64), stored (0) and deflated (8) members, read one member at a
// time as a stream with pread, so multi-GB archives never sit in memory. Everything malformed
// is a pg::Error naming the archive and the member.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pg {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;          // 0 stored, 8 deflated
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;            // uncompressed
  uint64_t local_offset = 0;    // local file header
  uint64_t data_offset = 0;     // first byte of the member's (compressed) data
};

class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  uint64_t file_size() const { return file_size_; }
  // Reads exactly n bytes at `offset` or throws naming `what`.
  void ReadAt(uint64_t offset, void* dst, size_t n, const std::string& what) const;

 private:
  void ParseCentralDirectory();
  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
};

// Sequential reader of one member's uncompressed bytes.
class ZipMemberStream {
 public:
  ZipMemberStream(const ZipArchive& zip, const ZipEntry& entry);
  ~ZipMemberStream();
  ZipMemberStream(const ZipMemberStream&) = delete;
  ZipMemberStream& operator=(const ZipMemberStream&) = delete;

  // Reads exactly n bytes or throws (truncated or corrupt member).
  void Read(void* dst, size_t n);
  uint64_t position() const { return produced_; }
  // Throws unless every byte was read and the CRC-32 matches the directory's.
  void VerifyEnd();

 private:
  struct Inflater;
  void Refill();
  const ZipArchive& zip_;
  const ZipEntry& entry_;
  uint64_t produced_ = 0;       // uncompressed bytes handed out
  uint64_t consumed_ = 0;       // compressed bytes read from the file
  unsigned long crc_ = 0;
  std::vector<unsigned char> in_;
  std::unique_ptr<Inflater> inflater_;
};

}  // namespace pg

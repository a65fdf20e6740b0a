// Writes small tar archives in memory with libarchive for the tar-reader and shard tests.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pg::test {

struct TarEntry {
  std::string name;
  std::string data;
  mode_t type = AE_IFREG;  // AE_IFDIR, AE_IFLNK, ...
};

// A ustar/pax (gzip: gzip-compressed) archive of `entries`, in order.
inline std::string MakeTar(const std::vector<TarEntry>& entries, bool gzip = false) {
  std::vector<char> buf(size_t{1} << 22);
  size_t used = 0;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open_memory(a, buf.data(), buf.size(), &used) != ARCHIVE_OK)
    throw std::runtime_error("archive_write_open_memory");
  for (const TarEntry& e : entries) {
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.name.c_str());
    archive_entry_set_filetype(en, e.type);
    archive_entry_set_perm(en, 0644);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(en, "target");
    archive_entry_set_size(en, e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
    archive_write_header(a, en);
    if (e.type == AE_IFREG && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

}  // namespace pg::test

// Reading the members of a tar archive (a WebDataset / img2dataset shard) into memory with
// libarchive: plain tar (ustar, pax, GNU) and gzip-compressed tar. Only regular-file members
// are returned, in archive order; directories, links and other entries are listed as skipped.
//
// Reading never throws for a bad archive: damage (a missing or unreadable file, a truncated
// or corrupt archive, a member over the size limit) is reported in the result, so that the
// members read before it can still be used:
//   TarContents t = ReadTarFile("data/00000.tar", {});
//   for (const TarMember& m : t.members) ...   // m.error set for a member whose data is bad
//   if (!t.damage.empty()) ...                 // reading stopped early; says why
// A truncation that falls exactly on a member boundary is indistinguishable from the end of
// the archive (tar's end-of-archive blocks are optional to libarchive) and is not reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pg {

struct TarReadOptions {
  int64_t max_member_bytes = int64_t{256} << 20;  // larger members are not read (error set)
  int64_t max_total_bytes = int64_t{16} << 30;    // member bytes held in memory, all together
  int64_t max_members = int64_t{1} << 22;         // entries of any kind
};

struct TarMember {
  std::string name;   // the path stored in the archive, as stored
  int64_t size = 0;   // from the header
  std::string data;   // the member's bytes (empty when error is set)
  std::string error;  // why the data could not be read ("" when ok); names archive and member
};

struct TarContents {
  std::vector<TarMember> members;     // regular files, archive order
  std::vector<std::string> skipped;   // "name: why" for entries that are not regular files
  std::string damage;                 // "" if read to the end; else why reading stopped (names the archive)
};

// `path` names the archive in every message.
TarContents ReadTarFile(const std::string& path, const TarReadOptions& options);
// The same from memory; `name` is used in messages.
TarContents ReadTarBuffer(const void* data, size_t size, const std::string& name, const TarReadOptions& options);

}  // namespace pg

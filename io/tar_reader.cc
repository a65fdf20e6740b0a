#include "io/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <sstream>

namespace pg {
namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

std::string ArchiveError(struct archive* a) {
  const char* s = archive_error_string(a);
  return s != nullptr ? s : "unknown libarchive error";
}

// Plain and gzip-compressed tar. Filters that libarchive would run as an external program
// (ARCHIVE_WARN) are not wanted; gzip is built into Debian's libarchive (zlib).
ArchivePtr NewTarReader() {
  ArchivePtr a(archive_read_new(), archive_read_free);
  if (a) {
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
  }
  return a;
}

std::string FileTypeName(mode_t type) {
  switch (type) {
    case AE_IFDIR: return "directory";
    case AE_IFLNK: return "symbolic link";
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "FIFO";
    case AE_IFSOCK: return "socket";
    default: return "entry of unknown type";
  }
}

// Reads the current member's data into m->data (m->size bytes expected). Returns false when
// the archive cannot be read further (m->error says why).
bool ReadMemberData(struct archive* a, const std::string& archive_name, TarMember* m) {
  m->data.resize(static_cast<size_t>(m->size));
  size_t got = 0;
  while (got < m->data.size()) {
    const la_ssize_t n = archive_read_data(a, &m->data[got], m->data.size() - got);
    if (n < 0) {
      m->error = "shard '" + archive_name + "' member '" + m->name + "': cannot read its data after " +
                 std::to_string(got) + " of " + std::to_string(m->size) + " bytes: " + ArchiveError(a);
      m->data.clear();
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < m->data.size()) {
    m->error = "shard '" + archive_name + "' member '" + m->name + "': truncated: " + std::to_string(got) +
               " of " + std::to_string(m->size) + " bytes";
    m->data.clear();
    return false;
  }
  return true;
}

// The loop shared by the file and the buffer readers; `a` is opened.
TarContents ReadAll(struct archive* a, const std::string& name, const TarReadOptions& o) {
  TarContents t;
  int64_t total = 0, entries = 0;
  for (;;) {
    struct archive_entry* e = nullptr;
    const int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {  // FAILED / FATAL / RETRY: the archive cannot be read further
      std::ostringstream os;
      os << "shard '" << name << "': unreadable after " << t.members.size() << " member(s)";
      if (!t.members.empty()) os << " (the last one '" << t.members.back().name << "')";
      os << ": " << ArchiveError(a);
      t.damage = os.str();
      break;
    }
    if (++entries > o.max_members) {
      t.damage = "shard '" + name + "': more than " + std::to_string(o.max_members) + " entries";
      break;
    }
    const char* path = archive_entry_pathname(e);
    const std::string member = path != nullptr ? path : "";
    const mode_t type = archive_entry_filetype(e);
    if (type != AE_IFREG || archive_entry_hardlink(e) != nullptr) {
      t.skipped.push_back(member + ": " + (type == AE_IFREG ? std::string("hard link") : FileTypeName(type)));
      continue;
    }
    TarMember m;
    m.name = member;
    m.size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (m.size < 0 || m.size > o.max_member_bytes) {
      m.error = "shard '" + name + "' member '" + member + "': " + std::to_string(m.size) +
                " bytes, more than the limit of " + std::to_string(o.max_member_bytes);
      t.members.push_back(std::move(m));
      if (archive_read_data_skip(a) != ARCHIVE_OK) {
        t.damage = "shard '" + name + "': cannot skip member '" + member + "': " + ArchiveError(a);
        break;
      }
      continue;
    }
    if (total + m.size > o.max_total_bytes) {
      t.damage = "shard '" + name + "': its members hold more than " + std::to_string(o.max_total_bytes) +
                 " bytes (the limit on one shard in memory); stopped before member '" + member + "'";
      break;
    }
    const bool ok = ReadMemberData(a, name, &m);
    total += static_cast<int64_t>(m.data.size());
    t.members.push_back(std::move(m));
    if (!ok) {
      t.damage = "shard '" + name + "': truncated or corrupt in member " + std::to_string(t.members.size()) +
                 " ('" + member + "'); the members after it cannot be read: " + ArchiveError(a);
      break;
    }
  }
  return t;
}

}  // namespace

TarContents ReadTarFile(const std::string& path, const TarReadOptions& options) {
  ArchivePtr a = NewTarReader();
  if (!a) return TarContents{{}, {}, "shard '" + path + "': cannot create a libarchive reader"};
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
    return TarContents{{}, {}, "shard '" + path + "': cannot open: " + ArchiveError(a.get())};
  return ReadAll(a.get(), path, options);
}

TarContents ReadTarBuffer(const void* data, size_t size, const std::string& name, const TarReadOptions& options) {
  ArchivePtr a = NewTarReader();
  if (!a) return TarContents{{}, {}, "shard '" + name + "': cannot create a libarchive reader"};
  if (archive_read_open_memory(a.get(), data, size) != ARCHIVE_OK)
    return TarContents{{}, {}, "shard '" + name + "': cannot open: " + ArchiveError(a.get())};
  return ReadAll(a.get(), name, options);
}

}  // namespace pg

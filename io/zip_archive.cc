#include "io/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/check.h"

namespace pg {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr uint64_t kMaxCentralDirectory = 256ull << 20;

uint16_t U16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t U32(const unsigned char* p) { return U16(p) | (static_cast<uint32_t>(U16(p + 2)) << 16); }
uint64_t U64(const unsigned char* p) { return U32(p) | (static_cast<uint64_t>(U32(p + 4)) << 32); }

}  // namespace

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PG_CHECK(fd_ >= 0, "zip '" << path << "': cannot open (" << std::strerror(errno) << ")");
  struct stat st;
  PG_CHECK(fstat(fd_, &st) == 0 && S_ISREG(st.st_mode), "zip '" << path << "': not a regular file");
  file_size_ = static_cast<uint64_t>(st.st_size);
  try {
    ParseCentralDirectory();
  } catch (...) {
    close(fd_);
    fd_ = -1;
    throw;
  }
}

ZipArchive::~ZipArchive() {
  if (fd_ >= 0) close(fd_);
}

void ZipArchive::ReadAt(uint64_t offset, void* dst, size_t n, const std::string& what) const {
  PG_CHECK(offset <= file_size_ && n <= file_size_ - offset,
           "zip '" << path_ << "': " << what << " at byte " << offset << " (+" << n << ") lies beyond the end of the file ("
                   << file_size_ << " bytes); truncated file?");
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const ssize_t got = pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    PG_CHECK(got > 0, "zip '" << path_ << "': read error in " << what << " at byte " << offset << " ("
                              << (got < 0 ? std::strerror(errno) : "unexpected end of file") << ")");
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

void ZipArchive::ParseCentralDirectory() {
  const std::string& f = path_;
  PG_CHECK(file_size_ >= 22, "zip '" << f << "': " << file_size_ << " bytes is too small to be a zip archive");
  // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
  const uint64_t tail_len = std::min<uint64_t>(file_size_, 22 + 65535);
  std::vector<unsigned char> tail(tail_len);
  ReadAt(file_size_ - tail_len, tail.data(), tail_len, "end of central directory");
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(tail_len) - 22; i >= 0; --i) {
    if (U32(&tail[i]) == kEocdSig && i + 22 + U16(&tail[i + 20]) <= static_cast<int64_t>(tail_len)) {
      eocd = i;
      break;
    }
  }
  PG_CHECK(eocd >= 0, "zip '" << f << "': no end-of-central-directory record; not a zip/npz file or truncated");
  const unsigned char* e = &tail[eocd];
  const uint64_t eocd_pos = file_size_ - tail_len + static_cast<uint64_t>(eocd);
  PG_CHECK(U16(e + 4) == 0 || U16(e + 4) == 0xffff, "zip '" << f << "': multi-disk archives are not supported");
  uint64_t count = U16(e + 10), cd_size = U32(e + 12), cd_offset = U32(e + 16);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    PG_CHECK(eocd_pos >= 20, "zip '" << f << "': zip64 locator missing");
    unsigned char loc[20];
    ReadAt(eocd_pos - 20, loc, 20, "zip64 locator");
    PG_CHECK(U32(loc) == kZip64LocatorSig, "zip '" << f << "': zip64 end-of-central-directory locator missing");
    unsigned char z[56];
    ReadAt(U64(loc + 8), z, 56, "zip64 end of central directory");
    PG_CHECK(U32(z) == kZip64EocdSig, "zip '" << f << "': bad zip64 end-of-central-directory signature");
    count = U64(z + 32);
    cd_size = U64(z + 40);
    cd_offset = U64(z + 48);
  }
  PG_CHECK(cd_offset <= file_size_ && cd_size <= file_size_ - cd_offset && cd_size <= kMaxCentralDirectory,
           "zip '" << f << "': central directory (offset " << cd_offset << ", " << cd_size
                   << " bytes) lies outside the file (" << file_size_ << " bytes); truncated file?");
  PG_CHECK(count <= cd_size / 46, "zip '" << f << "': central directory claims " << count << " members in "
                                          << cd_size << " bytes");
  std::vector<unsigned char> cd(cd_size);
  ReadAt(cd_offset, cd.data(), cd_size, "central directory");
  size_t pos = 0;
  for (uint64_t k = 0; k < count; ++k) {
    PG_CHECK(pos + 46 <= cd.size() && U32(&cd[pos]) == kCentralSig,
             "zip '" << f << "': central directory entry " << k << " is corrupt");
    const unsigned char* h = &cd[pos];
    const uint16_t flags = U16(h + 8), name_len = U16(h + 28), extra_len = U16(h + 30), comment_len = U16(h + 32);
    PG_CHECK(pos + 46 + name_len + extra_len + comment_len <= cd.size(),
             "zip '" << f << "': central directory entry " << k << " overruns the directory");
    ZipEntry z;
    z.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    z.method = U16(h + 10);
    z.crc32 = U32(h + 16);
    z.compressed_size = U32(h + 20);
    z.size = U32(h + 24);
    z.local_offset = U32(h + 42);
    // zip64 extended information: the 0xffffffff fields follow, in this order.
    const unsigned char* x = h + 46 + name_len;
    for (size_t xp = 0; xp + 4 <= extra_len;) {
      const uint16_t id = U16(x + xp), len = U16(x + xp + 2);
      PG_CHECK(xp + 4 + len <= extra_len, "zip '" << f << "': member '" << z.name << "': corrupt extra field");
      if (id == 0x0001) {
        const unsigned char* v = x + xp + 4;
        size_t vp = 0;
        auto next = [&](uint64_t* field) {
          PG_CHECK(vp + 8 <= len, "zip '" << f << "': member '" << z.name << "': short zip64 extra field");
          *field = U64(v + vp);
          vp += 8;
        };
        if (z.size == 0xffffffffu) next(&z.size);
        if (z.compressed_size == 0xffffffffu) next(&z.compressed_size);
        if (z.local_offset == 0xffffffffu) next(&z.local_offset);
      }
      xp += 4 + len;
    }
    pos += 46 + name_len + extra_len + comment_len;
    PG_CHECK(!(flags & 1), "zip '" << f << "': member '" << z.name << "' is encrypted");
    PG_CHECK(z.method == 0 || z.method == 8, "zip '" << f << "': member '" << z.name << "' uses compression method "
                                                     << z.method << "; only stored (0) and deflated (8) are supported");
    PG_CHECK(z.method != 0 || z.compressed_size == z.size,
             "zip '" << f << "': stored member '" << z.name << "' has different compressed and plain sizes");
    unsigned char local[30];
    ReadAt(z.local_offset, local, 30, "local header of member '" + z.name + "'");
    PG_CHECK(U32(local) == kLocalSig, "zip '" << f << "': member '" << z.name << "': bad local header signature");
    z.data_offset = z.local_offset + 30 + U16(local + 26) + U16(local + 28);
    PG_CHECK(z.data_offset <= file_size_ && z.compressed_size <= file_size_ - z.data_offset,
             "zip '" << f << "': member '" << z.name << "' is truncated (its data ends at byte "
                     << z.data_offset + z.compressed_size << "; the file has " << file_size_ << ")");
    entries_.push_back(std::move(z));
  }
}

struct ZipMemberStream::Inflater {
  z_stream zs;
  bool ended = false;
};

ZipMemberStream::ZipMemberStream(const ZipArchive& zip, const ZipEntry& entry)
    : zip_(zip), entry_(entry), crc_(crc32(0L, Z_NULL, 0)) {
  if (entry.method == 8) {
    inflater_ = std::make_unique<Inflater>();
    std::memset(&inflater_->zs, 0, sizeof(z_stream));
    PG_CHECK(inflateInit2(&inflater_->zs, -MAX_WBITS) == Z_OK,
             "zip '" << zip.path() << "': cannot start inflating member '" << entry.name << "'");
  }
}

ZipMemberStream::~ZipMemberStream() {
  if (inflater_) inflateEnd(&inflater_->zs);
}

void ZipMemberStream::Refill() {
  const uint64_t left = entry_.compressed_size - consumed_;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(left, 1 << 20));
  in_.resize(n);
  zip_.ReadAt(entry_.data_offset + consumed_, in_.data(), n, "member '" + entry_.name + "'");
  consumed_ += n;
  inflater_->zs.next_in = in_.data();
  inflater_->zs.avail_in = static_cast<uInt>(n);
}

void ZipMemberStream::Read(void* dst, size_t n) {
  const std::string where = "zip '" + zip_.path() + "': member '" + entry_.name + "'";
  PG_CHECK(n <= entry_.size - produced_, where << ": read past its end (" << entry_.size << " bytes)");
  auto* out = static_cast<unsigned char*>(dst);
  if (!inflater_) {
    zip_.ReadAt(entry_.data_offset + produced_, out, n, "member '" + entry_.name + "'");
  } else {
    z_stream& zs = inflater_->zs;
    size_t done = 0;
    while (done < n) {
      PG_CHECK(!inflater_->ended, where << " is truncated (compressed stream ended after " << produced_ + done
                                       << " of " << entry_.size << " bytes)");
      if (zs.avail_in == 0) {
        PG_CHECK(consumed_ < entry_.compressed_size, where << " is truncated (compressed data ran out after "
                                                           << produced_ + done << " of " << entry_.size << " bytes)");
        Refill();
      }
      const size_t want = std::min<size_t>(n - done, 1u << 30);
      zs.next_out = out + done;
      zs.avail_out = static_cast<uInt>(want);
      const int rc = inflate(&zs, Z_NO_FLUSH);
      PG_CHECK(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR,
               where << " is corrupt (inflate: " << (zs.msg ? zs.msg : "error " + std::to_string(rc)) << ")");
      PG_CHECK(rc != Z_BUF_ERROR || zs.avail_in == 0, where << " is corrupt (inflate made no progress)");
      done += want - zs.avail_out;
      if (rc == Z_STREAM_END) inflater_->ended = true;
    }
  }
  crc_ = crc32_z(crc_, out, n);
  produced_ += n;
}

void ZipMemberStream::VerifyEnd() {
  const std::string where = "zip '" + zip_.path() + "': member '" + entry_.name + "'";
  PG_CHECK(produced_ == entry_.size, where << ": only " << produced_ << " of " << entry_.size << " bytes were read");
  PG_CHECK(crc_ == entry_.crc32, where << " is corrupt (CRC-32 mismatch)");
}

}  // namespace pg

#include "caption_job/durable_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/check.h"

namespace pg {

void WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    PG_CHECK(n >= 0, "cannot write '" << path << "': " << std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

void SyncFile(int fd, const std::string& path) {
  PG_CHECK(::fsync(fd) == 0, "cannot fsync '" << path << "': " << std::strerror(errno));
}

void FsyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // some filesystems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

void WriteFileAtomically(const std::string& path, const std::string& content) {
  WriteFileAtomically(path, [&](int fd, const std::string& tmp) { WriteAll(fd, content.data(), content.size(), tmp); });
}

void WriteFileAtomically(const std::string& path,
                         const std::function<void(int fd, const std::string& tmp_path)>& write) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PG_CHECK(fd >= 0, "cannot create '" << tmp << "': " << std::strerror(errno));
  try {
    write(fd, tmp);
    SyncFile(fd, tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  PG_CHECK(::rename(tmp.c_str(), path.c_str()) == 0,
           "cannot rename '" << tmp << "' to '" << path << "': " << std::strerror(errno));
  FsyncDirectoryOf(path);
}

std::string ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PG_CHECK(fd >= 0, "cannot open '" << path << "': " << std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      PG_THROW("cannot read '" << path << "': " << std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace pg

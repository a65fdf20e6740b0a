#include "caption_job/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/check.h"

namespace pg {

FileLock::FileLock(const std::string& path, const std::string& holder, const std::string& hint, bool wait) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  PG_CHECK(fd_ >= 0, "cannot open the lock file '" << path << "': " << std::strerror(errno));
  int r;
  while ((r = ::flock(fd_, wait ? LOCK_EX : LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (r != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    PG_CHECK(err != EWOULDBLOCK, holder << " (it holds " << path << "); " << hint);
    PG_THROW("cannot lock '" << path << "': " << std::strerror(err));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace pg

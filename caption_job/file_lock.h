// FileLock: an exclusive flock(2) on a file for the object's lifetime, the one lock of the
// caption jobs' output directories (OUT.parts/lock of a loose-file job, the per-shard and manifest
// locks of a tar-shard job). The kernel releases it when the descriptor closes, also when the
// process is killed, so a crashed job never leaves a stale lock behind.
#pragma once

#include <string>

namespace pg {

class FileLock {
 public:
  // Creates `path` if needed and locks it. Without `wait`, a lock held by another process throws
  // pg::Error "<holder> (it holds <path>); <hint>"; with `wait`, blocks until it is free.
  // Interrupted waits (EINTR) are retried; other failures throw naming the path.
  FileLock(const std::string& path, const std::string& holder, const std::string& hint, bool wait = false);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace pg

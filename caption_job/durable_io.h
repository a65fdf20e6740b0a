// Small POSIX helpers for files that must survive a crash: complete writes, fsync, atomic
// replacement. Every error names the file.
#pragma once

#include <functional>
#include <string>

namespace pg {

// write(2) until all `size` bytes are written (retrying EINTR); throws naming `path`.
void WriteAll(int fd, const char* data, size_t size, const std::string& path);

// fsync(2); throws naming `path`.
void SyncFile(int fd, const std::string& path);

// Best effort fsync of the directory holding `path` (makes a create/rename durable).
void FsyncDirectoryOf(const std::string& path);

// Writes `content` to `path` atomically: path.tmp, fsync, rename over `path`, fsync of the
// directory. A reader sees the old file or the complete new one, never a mix.
void WriteFileAtomically(const std::string& path, const std::string& content);

// The same, with the content streamed by `write(fd, tmp_path)` (e.g. in pieces via WriteAll).
void WriteFileAtomically(const std::string& path,
                         const std::function<void(int fd, const std::string& tmp_path)>& write);

// The whole file as bytes; throws naming `path`.
std::string ReadWholeFile(const std::string& path);

}  // namespace pg

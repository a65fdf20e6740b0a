// A per-process scratch file for fuzz targets whose reader only takes a path (zip/npz,
// safetensors, HDF5). Each input overwrites the file; it lives under $PG_FUZZ_TMPDIR, else
// /dev/shm (RAM, no disk wear), else $TMPDIR or /tmp, is named after the pid (so -fork/-jobs
// workers never share it) and is removed at exit. ReadAsFile runs one reader on one input.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/check.h"

namespace pg::fuzz {

class ScratchFile {
 public:
  // suffix: e.g. ".npz" (readers that dispatch on the extension see the right one).
  explicit ScratchFile(const std::string& suffix) {
    path_ = Dir() + "/pgfuzz_" + std::to_string(getpid()) + suffix;
  }
  ~ScratchFile() { unlink(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the file's contents with data[0, size). Aborts if the scratch dir is unusable
  // (a harness failure, not a finding in the code under test).
  const std::string& Write(const uint8_t* data, size_t size) {
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) Die("open");
    for (size_t done = 0; done < size;) {
      const ssize_t n = write(fd, data + done, size - done);
      if (n <= 0) Die("write");
      done += static_cast<size_t>(n);
    }
    close(fd);
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  static std::string Dir() {
    if (const char* d = std::getenv("PG_FUZZ_TMPDIR"); d && *d) return d;
    if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
    if (const char* d = std::getenv("TMPDIR"); d && *d) return d;
    return "/tmp";
  }
  [[noreturn]] void Die(const char* what) const {
    std::perror(("fuzz scratch file " + path_ + ": " + what).c_str());
    std::abort();
  }
  std::string path_;
};

// Writes the input to `file`, then runs read(path). pg::Error (the input rejected with a
// message) is the one expected outcome and ends the input; anything else reaches libFuzzer.
template <typename ReadFn>
void ReadAsFile(ScratchFile& file, const uint8_t* data, size_t size, ReadFn&& read) {
  const std::string& path = file.Write(data, size);
  try {
    read(path);
  } catch (const Error&) {
  }
}

}  // namespace pg::fuzz

#include "runtime/cpu/host_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "runtime/check.h"

namespace pg::cpu {

namespace {

// PG_CPU_HUGE_PAGES=0 turns the advice off (for measuring its effect, and an escape hatch).
bool HugePagesWanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("PG_CPU_HUGE_PAGES");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return wanted;
}

}  // namespace

std::shared_ptr<char> AllocHostBuffer(size_t bytes, bool zero, bool huge) {
  if (!huge || bytes < kHugePageMinBytes || !HugePagesWanted()) {
    return std::shared_ptr<char>(zero ? new char[bytes]() : new char[bytes], std::default_delete<char[]>());
  }
  const size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* p = nullptr;
  PG_CHECK(posix_memalign(&p, kHugePageBytes, rounded) == 0,
           "out of host memory: cannot allocate " << rounded << " bytes for a weight tensor");
  // Advice only: refused (EINVAL) where THP is compiled out; the memory is usable either way.
  (void)madvise(p, rounded, MADV_HUGEPAGE);
  if (zero) std::memset(p, 0, bytes);
  return std::shared_ptr<char>(static_cast<char*>(p), [](char* q) { std::free(q); });
}

}  // namespace pg::cpu

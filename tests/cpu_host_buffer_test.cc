// runtime/cpu/host_buffer.h: weight buffers of 64 MiB and more are 2 MiB aligned, zero-filled when
// asked, fully usable, and (where the kernel's THP mode is not "never") backed by huge pages
// after they are touched, as /proc/self/smaps reports for their range.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/cpu/host_buffer.h"

namespace pg::cpu {
namespace {

// AnonHugePages (KiB) of the smaps mapping that holds address p, or -1 if not found.
long AnonHugeKibAt(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  const auto a = reinterpret_cast<uintptr_t>(p);
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = lo <= a && a < hi;
      continue;
    }
    long kib = 0;
    if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kib) == 1) return kib;
  }
  return -1;
}

std::string ThpMode() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(CpuHostBuffer, LargeWeightsAreAlignedZeroedAndOnHugePages) {
  const size_t bytes = kHugePageMinBytes + 12345;  // not a multiple of the huge page size
  std::shared_ptr<char> buf = AllocHostBuffer(bytes, /*zero=*/true, /*huge=*/true);
  ASSERT_NE(buf.get(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.get()) % kHugePageBytes, 0u) << "weight buffer not 2 MiB aligned";
  size_t nonzero = 0;
  for (size_t i = 0; i < bytes; i += 61) nonzero += buf.get()[i] != 0;
  EXPECT_EQ(nonzero, 0u) << "zero=true buffer has nonzero bytes";
  std::memset(buf.get(), 0x5a, bytes);  // every byte writable
  EXPECT_EQ(buf.get()[bytes - 1], 0x5a);
  const std::string mode = ThpMode();
  if (mode.empty() || mode.find("[never]") != std::string::npos)
    GTEST_SKIP() << "transparent huge pages are off here ('" << mode << "'): only alignment and contents checked";
  const long kib = AnonHugeKibAt(buf.get());
  std::printf("[host buffer] THP mode '%s': AnonHugePages of the buffer's mapping %ld KiB\n",
              mode.substr(0, mode.find('\n')).c_str(), kib);
  EXPECT_GE(kib, 2048) << "a touched 64 MiB weight buffer has no huge page (madvise(MADV_HUGEPAGE) missing?)";
}

TEST(CpuHostBuffer, SmallAndNonWeightBuffersAreOrdinary) {
  std::shared_ptr<char> small = AllocHostBuffer(1000, /*zero=*/true, /*huge=*/true);
  std::shared_ptr<char> act = AllocHostBuffer(kHugePageMinBytes, /*zero=*/true, /*huge=*/false);
  std::shared_ptr<char> mid = AllocHostBuffer(kHugePageMinBytes - 1, /*zero=*/false, /*huge=*/true);
  std::memset(mid.get(), 1, kHugePageMinBytes - 1);
  EXPECT_EQ(AnonHugeKibAt(mid.get()), 0) << "a weight under 64 MiB went on huge pages (rounding waste)";
  for (size_t i = 0; i < 1000; ++i) ASSERT_EQ(small.get()[i], 0) << "byte " << i;
  for (size_t i = 0; i < kHugePageMinBytes; i += 4096) ASSERT_EQ(act.get()[i], 0) << "byte " << i;
}

}  // namespace
}  // namespace pg::cpu

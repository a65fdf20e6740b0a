// Host memory for the CPU backend's tensors. Weight matrices of 64 MiB and more are placed on
// transparent huge pages (2 MiB aligned, madvise(MADV_HUGEPAGE); Debian's default THP mode is
// "madvise", so without the advice they get 4 KiB pages): a decode step streams every weight once,
// and with 4 KiB pages a column block of a wide matrix (the 3B decoder's gate|up, [2048, 32768]
// fp32: rows 128 KiB apart) touches a new page, a TLB miss and a stopped prefetch stream, every
// few KiB (`paligemma bench --kernels`, docs/BENCHMARKS.md). The rounding to whole 2 MiB pages
// costs at most 2 MiB per such tensor, under 1/32 of it (with a 2 MiB threshold the mid model's
// many 2-4 MiB matrices raised the peak RSS from 1.01x to 1.09x the weight bytes). Where THP is "never" the advice is refused and the buffer
// is an ordinary one. PG_CPU_HUGE_PAGES=0 in the environment turns the advice off.
#pragma once

#include <cstddef>
#include <memory>

namespace pg::cpu {

constexpr size_t kHugePageBytes = size_t{2} << 20;
constexpr size_t kHugePageMinBytes = 32 * kHugePageBytes;  // 64 MiB

// A buffer of `bytes` (zero-filled when `zero`); `huge`: on huge pages when bytes >= 64 MiB.
std::shared_ptr<char> AllocHostBuffer(size_t bytes, bool zero, bool huge);

}  // namespace pg::cpu

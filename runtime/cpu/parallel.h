// The CPU backend's threads: one OpenMP team of `threads` (BackendOptions::threads, `--threads`)
// runs every op, GEMMs included (OpenBLAS itself is kept at one thread, so the two never compete
// for the same cores). ParallelFor splits [0, n) into contiguous chunks, one per thread.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace pg::cpu {

// Runs fn(begin, end) on contiguous chunks of [0, n) over `threads` threads (inline when one
// thread or a small n is enough). `grain`: the smallest chunk worth a thread.
template <typename Fn>
void ParallelFor(int threads, int64_t n, int64_t grain, Fn&& fn) {
  const int64_t want = std::min<int64_t>(threads, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  if (want <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(want))
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (end > begin) fn(begin, end);
  }
}

}  // namespace pg::cpu

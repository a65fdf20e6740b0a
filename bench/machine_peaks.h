// The machine's measured peaks for the efficiency figures of docs/BENCHMARKS.md: GEMM GFLOP/s of
// the CPU backend's own MatMul (fp32 weights: OpenBLAS sgemm; bf16 weights: oneDNN) on a
// prefill-shaped problem, and memory read bandwidth (a threaded sum over a buffer far larger than
// the caches), all on `threads` threads. `paligemma bench --peaks` prints them.
#pragma once

#include <string>

namespace pg {

struct MachinePeaks {
  double gemm_f32_gflops = 0;   // [2048, 2048] x [2048, 4096]
  double gemm_bf16_gflops = 0;  // same shape, bf16 weights (native bf16 dot products or widened: bf16_kind)
  double mem_read_gbps = 0;     // 1 GiB read, best of 3
  std::string ToText() const;
};

MachinePeaks MeasureMachinePeaks(int threads);

}  // namespace pg

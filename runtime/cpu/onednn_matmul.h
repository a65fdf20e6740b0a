// bf16 GEMMs on the CPU through oneDNN (Debian libdnnl-dev, built on OpenMP like this backend):
// out[M, N] (f32) = bf16(x)[M, K] @ W (bf16, [K, N] or [N, K] when trans_w), fp32 accumulation,
// on the AVX512-BF16 / AMX kernels oneDNN picks at run time for the CPU it runs on. Primitives are
// created once per (M, N, K, layout, epilogue) and cached; a.bias and a.gelu become oneDNN's
// matmul bias and an eltwise_gelu_tanh post-op (applied to the fp32 accumulator in the kernel). Debian's OpenBLAS (0.3.21) is built without
// bf16 (no cblas_sbgemm), so oneDNN is the library for bf16 here (docs/BENCHMARKS.md).
#pragma once

#include <cstdint>

namespace pg::cpu {

struct GemmArgs;

// True when oneDNN reports a CPU ISA with native bf16 dot products (avx512_core_bf16 or AMX):
// without it oneDNN would emulate bf16 (slower than fp32), so bf16 weights go through the widening
// kernels of runtime/cpu/bf16_widen_gemm.h instead.
bool CpuHasNativeBf16();

// a.w: bf16 words. Runs on `threads` OpenMP threads.
void OneDnnBf16Gemm(const GemmArgs& a, int threads);

}  // namespace pg::cpu

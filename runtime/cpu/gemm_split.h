// How the CPU backend's fp32 GEMM out[M, N] = x[M, K] @ W[K, N] is split over its threads
// (runtime/cpu/gemm.cc): each thread makes one single-threaded OpenBLAS sgemm call on its block.
//
// sgemm packs its operands before the kernel runs: W (B) once per call, x (A) once per call and
// per GEMM_R-wide slice of W's columns (thousands of columns, so once here). So over all threads:
//   rows    (each thread: a block of x's rows, all of W):  packs threads * K*N + M*K elements;
//   columns (each thread: a 16-aligned block of W's columns, all of x):  K*N + threads * M*K.
// Columns pack less exactly when N > M (the wide GEMMs of prefill: the ViT's qkv and fc1, the
// decoder's gate|up) and are the only useful split when x has few rows (decode).
//
// Either split gives bit-identical results to one unsplit call, provided block edges fall on
// multiples of 16 (gemm.cc): every element of out is then the same dot product over the same K,
// blocked the same way (OpenBLAS picks its K blocks from K alone) and through the same kernel path.
// Unaligned row blocks were not: a 3-thread split of 200 rows changed 6-8 of 14,000 elements.
#pragma once

#include <cstdint>

namespace pg::cpu {

enum class GemmSplit { kRows, kColumns };

// Rows need >= kGemmMinRowsPerThread rows per thread (else columns: decode-sized x); columns need
// >= kGemmMinColumnsPerThread columns per thread to be chosen for a tall x.
constexpr int64_t kGemmMinRowsPerThread = 32;
constexpr int64_t kGemmMinColumnsPerThread = 64;

// Elements packed by the sgemm calls of a split (the formulas above).
int64_t GemmPackedElements(GemmSplit split, int64_t M, int64_t N, int64_t K, int threads);

// The split of an fp32 GEMM [M, K] x [K, N] over `threads` (>= 1).
GemmSplit ChooseGemmSplit(int64_t M, int64_t N, int64_t K, int threads);

}  // namespace pg::cpu

// How the CPU backend's fp32 GEMM out[M, N] = x[M, K] @ W[K, N] is split over its threads
// (runtime/cpu/gemm.cc): each thread makes one single-threaded OpenBLAS sgemm call on its block,
// either a block of x's rows (all of W) or a 16-aligned block of W's columns (all of x).
//
// The rule: rows when each thread gets >= 32 rows (prefill), else columns (decode: every thread
// streams its share of the weights). A column split of wide prefill GEMMs (N > M) packs fewer
// bytes (sgemm packs W once per call and x once per call: rows pack threads*K*N + M*K elements,
// columns K*N + threads*M*K), but it measured no faster (docs/BENCHMARKS.md, "GEMM split"):
// ViT fc1/qkv 2-5% faster, the decoder's gate|up 3% slower, end to end no gain. So the rule stays;
// `paligemma bench --kernels` times both splits on the prefill shapes for a re-measurement.
//
// With OpenBLAS's AVX-512 sgemm kernels (core SkylakeX / Cooperlake) either split gives
// bit-identical results to one unsplit call, provided block edges fall on multiples of 16
// (gemm.cc): every element of out is then the same dot product over the same K, blocked the same
// way and through the same kernel path (unaligned row blocks were not: a 3-thread split of 200 rows
// changed 6-8 of 14,000 elements). OpenBLAS's Haswell / Zen kernels (AVX2 CPUs) round some
// elements of a split call differently whatever the alignment (up to 5e-7 of the largest output at
// K = 700): results then depend on the thread count in the last bits (tests/cpu_gemm_split_test.cc).
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/cpu/parallel.h"

namespace pg::cpu {

enum class GemmSplit { kRows, kColumns };

// Rows need >= kGemmMinRowsPerThread rows per thread (else columns); a column block is at least
// kGemmMinColumnsPerThread columns (else fewer threads).
constexpr int64_t kGemmMinRowsPerThread = 32;
constexpr int64_t kGemmMinColumnsPerThread = 64;

// The split of an fp32 GEMM [M, K] x [K, N] over `threads` (>= 1).
GemmSplit ChooseGemmSplit(int64_t M, int64_t N, int64_t K, int threads);

// Runs block(m0, m1, n0, n1) on each thread's share of out[M, N]: rows or columns as `split` says,
// block edges on multiples of 16 (see above), one block per thread.
template <typename Fn>
void ForEachGemmBlock(int threads, int64_t M, int64_t N, GemmSplit split, Fn&& block) {
  auto edge = [](int64_t i, int64_t n) { return i == 0 || i == n ? i : std::min((i + 15) / 16 * 16, n); };
  if (split == GemmSplit::kRows) {
    ParallelFor(threads, M, kGemmMinRowsPerThread,
                [&](int64_t m0, int64_t m1) { block(edge(m0, M), edge(m1, M), int64_t{0}, N); });
  } else {
    ParallelFor(threads, N, kGemmMinColumnsPerThread,
                [&](int64_t n0, int64_t n1) { block(int64_t{0}, M, edge(n0, N), edge(n1, N)); });
  }
}

}  // namespace pg::cpu

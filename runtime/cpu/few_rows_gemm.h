// GEMMs with few rows of x (decode: one row per sequence in the batch), out[M, N] = x[M, K] @ W
// with W fp32 or bf16, [K, N] or [N, K] (trans_w), and the bias / GELU epilogue. Decode reads every
// weight once per step, so it is bound by memory: OpenBLAS's sgemm packs W into a buffer before
// its kernel (a write and a second read of every weight) and reached about half the machine's
// read bandwidth on the decode shapes. Here the threads split W's columns and stream them:
//  - W [K, N], one or two rows of x: W's rows streamed in place, 4 at a time, into out's run in L1;
//  - W [K, N], more rows: 16 rows at a time over a run of contiguous columns, copied (bf16: widened)
//    into a small packed fp32 panel that stays in L2 (W's own rows are a power of two apart, which
//    maps a column block read down K onto a few cache sets), the rows of x passing over it in
//    3 x 32 register tiles (AVX2 FMA);
//  - W [N, K] (the tied LM head): each row of W is contiguous; 4 rows of W x 2 rows of x per tile,
//    K in 8-lane steps, a horizontal sum at the end.
// x, the accumulation and out are fp32. Every element of out is one thread's dot product over K in
// a fixed order, whatever the thread count (bit-identical results for 1, 2, ... threads).
// Without AVX2 + FMA (checked at run time) a portable scalar loop computes the same products.
#pragma once

#include "runtime/cpu/gemm.h"

namespace pg::cpu {

void FewRowsGemm(const GemmArgs& a, int threads);

// Where it beats the alternative (measured on a Zen 3 VM, 2 threads, `paligemma bench --kernels`;
// docs/BENCHMARKS.md): fp32 W [K, N] up to 4 rows (1.7x OpenBLAS at 1 row, even at 8: there the
// FMAs, not the bytes, set the time), fp32 W^T (the LM head) up to 16 rows (2x at 8: OpenBLAS's
// transposed packing is slow), bf16 up to 32 rows (against widened panels + sgemm).
constexpr int64_t kFewRowsMaxF32 = 4, kFewRowsMaxF32TransW = 16, kFewRowsMaxBf16 = 32;
inline bool FewRowsGemmPays(const GemmArgs& a) {
  if (a.K == 0) return false;
  return a.M <= (a.w_bf16 ? kFewRowsMaxBf16 : a.trans_w ? kFewRowsMaxF32TransW : kFewRowsMaxF32);
}

// Whether the AVX2 + FMA kernels run here (else the scalar loops).
bool FewRowsGemmHasAvx2();

}  // namespace pg::cpu

// The CPU backend's GEMMs over its own threads: out[M, N] = x[M, K] @ W, where W is [K, N]
// row-major, or [N, K] when trans_w (x @ W^T: the tied LM head). W is fp32 (cblas_sgemm) or
// bf16 (cblas_sbgemm, after rounding x to bf16 to nearest even; fp32 accumulation). The work is
// split into one block per thread, by rows of x when M is large (prefill) and by columns of W
// otherwise (decode: every thread streams its share of the weights), each block one
// single-threaded OpenBLAS call.
#pragma once

#include <cstdint>

namespace pg::cpu {

struct GemmArgs {
  const float* x = nullptr;  // [M, K]
  const void* w = nullptr;   // [K, N] or [N, K] (trans_w), fp32 or bf16 words
  bool w_bf16 = false;
  bool trans_w = false;
  float* out = nullptr;      // [M, N]
  int64_t M = 0, N = 0, K = 0;
};

void Gemm(const GemmArgs& a, int threads);

// OpenBLAS's bf16 GEMM computes correctly on this CPU (checked once against sgemm on a small
// problem); false means the bf16 path falls back to converting weights to fp32 per call.
bool Bf16GemmWorks();

}  // namespace pg::cpu

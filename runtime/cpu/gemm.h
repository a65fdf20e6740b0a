// The CPU backend's GEMMs over its own threads: out[M, N] = x[M, K] @ W, where W is [K, N]
// row-major, or [N, K] when trans_w (x @ W^T: the tied LM head). W is fp32 (OpenBLAS sgemm) or
// bf16 (oneDNN matmul after rounding x to bf16 to nearest even; fp32 accumulation; see
// runtime/cpu/onednn_matmul.h). fp32 work is split into one block per thread, by rows of x when M
// is large (prefill) and by columns of W otherwise (decode: every thread streams its share of the
// weights), each block one single-threaded OpenBLAS call (runtime/cpu/gemm_split.h).
//
// Epilogue (bias, GELU-tanh): fp32 blocks add the bias and apply GELU to their own block of out
// right after its sgemm, while it is in cache, on the thread that computed it (no separate pass
// over out, no extra fork/join); bit-identical to MatMul, then AddRowBroadcast, then GeluTanh.
// bf16 GEMMs take them as oneDNN's matmul bias and eltwise_gelu_tanh post-op (fused in the kernel).
#pragma once

#include <cstdint>

#include "runtime/cpu/gemm_split.h"

namespace pg::cpu {

struct GemmArgs {
  const float* x = nullptr;  // [M, K]
  const void* w = nullptr;   // [K, N] or [N, K] (trans_w), fp32 or bf16 words
  bool w_bf16 = false;
  bool trans_w = false;
  float* out = nullptr;      // [M, N]
  int64_t M = 0, N = 0, K = 0;
  const float* bias = nullptr;  // [N] or null: out += bias (each row)
  bool gelu = false;            // then out = gelu_tanh(out)
};

void Gemm(const GemmArgs& a, int threads);

// Gemm with the fp32 split forced (Gemm uses ChooseGemmSplit); for `paligemma bench --kernels`,
// which times both splits. bf16 weights ignore `split` (oneDNN splits them itself).
void GemmWithSplit(const GemmArgs& a, int threads, GemmSplit split);

// bf16 weights are worth it here: the CPU has native bf16 dot products (oneDNN's ISA check).
// Without them the backend keeps weights in fp32.
bool Bf16GemmWorks();

}  // namespace pg::cpu

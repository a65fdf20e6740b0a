// The CPU backend's GEMMs over its own threads: out[M, N] = x[M, K] @ W, where W is [K, N]
// row-major, or [N, K] when trans_w (x @ W^T: the tied LM head). W is fp32 (OpenBLAS sgemm) or
// bf16: on a CPU with bf16 dot products a oneDNN matmul after rounding x to bf16 to nearest even
// (fp32 accumulation; runtime/cpu/onednn_matmul.h), elsewhere W widened to fp32 on the way to
// fp32 FMAs, x unrounded (runtime/cpu/bf16_widen_gemm.h). fp32 work is split into one block per thread, by rows of x when M
// is large (prefill) and by columns of W otherwise (decode: every thread streams its share of the
// weights), each block one single-threaded OpenBLAS call (runtime/cpu/gemm_split.h).
//
// Epilogue (bias, GELU-tanh): fp32 blocks add the bias and apply GELU to their own block of out
// right after its sgemm, while it is in cache, on the thread that computed it (no separate pass
// over out, no extra fork/join); bit-identical to MatMul, then AddRowBroadcast, then GeluTanh.
// Native bf16 GEMMs take them as oneDNN's matmul bias and eltwise_gelu_tanh post-op (fused in the
// kernel); widened ones run the fp32 epilogue on each finished block.
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

// fp32 decode shapes (few rows of x) go to runtime/cpu/few_rows_gemm.h where it pays.
void Gemm(const GemmArgs& a, int threads);

// Gemm with the fp32 split forced (Gemm uses ChooseGemmSplit); for `paligemma bench --kernels`,
// which times both splits. bf16 weights ignore `split` (they choose their own).
void GemmWithSplit(const GemmArgs& a, int threads, GemmSplit split);

// Which bf16 GEMM runs here: oneDNN's native bf16 dot products (the CPU has avx512_core_bf16 or
// AMX) or the widening kernels (any other CPU). PG_CPU_BF16=widen forces the widening kernels
// (to compare both on one machine; auto or unset: by the CPU); read once.
enum class Bf16GemmKind { kNative, kWidened };
Bf16GemmKind Bf16GemmKindHere();
const char* Bf16GemmKindName(Bf16GemmKind k);

}  // namespace pg::cpu

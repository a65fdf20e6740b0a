// bf16 weights on CPUs without bf16 dot products (AVX2, or AVX-512 without AVX512_BF16; where
// oneDNN reports no native bf16 ISA): W stays bf16 in memory (half the bytes of fp32, like
// gemma.cpp's compressed weights) and is widened to fp32 on its way to fp32 FMAs. x, the
// accumulation and out stay fp32 (x is not rounded to bf16, unlike the native oneDNN path).
//
//   out[M, N] = x[M, K] @ W    W: bf16 [K, N], or [N, K] when trans_w (the tied LM head)
//
// Two ways, by the number of rows:
//  - few rows (decode): runtime/cpu/few_rows_gemm.h, which reads W's bf16 words once and widens them
//    in a small packed panel. Decode is bound by the weight bytes it reads: half of fp32's.
//  - panels (many rows: prefill, ViT): W is widened one [kc, nc] panel at a time into a shared
//    fp32 scratch (all threads convert), then every thread runs one single-threaded OpenBLAS sgemm
//    on its rows of x against the panel, accumulating over K panels (beta = 1 after the first).
//    The widening costs kc*nc conversions against M*kc*nc FMAs: nothing at prefill sizes.
// The epilogue (bias, GELU-tanh) runs on each finished block of out on the thread that wrote it.
#pragma once

#include <cstdint>

#include "runtime/cpu/gemm.h"

namespace pg::cpu {

enum class Bf16WidenPath { kAuto, kDirect, kPanels };

// a.w_bf16 must be set. `path` forces one way (tests and `bench --kernels`); kAuto picks by M
// (FewRowsGemmPays).
void Bf16WidenGemm(const GemmArgs& a, int threads, Bf16WidenPath path = Bf16WidenPath::kAuto);

}  // namespace pg::cpu

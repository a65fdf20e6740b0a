#include "runtime/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/cpu/bf16_widen_gemm.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/cpu/few_rows_gemm.h"
#include "runtime/cpu/onednn_matmul.h"
#include "runtime/cpu/parallel.h"
#include "runtime/check.h"

namespace pg::cpu {
namespace {

// One block: rows [m0, m1) x columns [n0, n1) of out.
void Block(const GemmArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t M = m1 - m0, N = n1 - n0, K = a.K;
  if (M <= 0 || N <= 0) return;
  const float* x = a.x + m0 * K;
  float* out = a.out + m0 * a.N + n0;
  const CBLAS_TRANSPOSE tb = a.trans_w ? CblasTrans : CblasNoTrans;
  const int64_t ldb = a.trans_w ? K : a.N;
  const int64_t w_offset = a.trans_w ? n0 * K : n0;  // first column n0 of W (or row n0 of W^T)
  if (!a.w_bf16) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, M, N, K, 1.f, x, K, static_cast<const float*>(a.w) + w_offset, ldb,
                0.f, out, a.N);
    // The epilogue on this block while it is in cache: out[m0:m1, n0:n1] (+bias[n0:n1], gelu).
    if (a.bias || a.gelu) BiasGeluRows(out, M, N, a.N, a.bias ? a.bias + n0 : nullptr, a.gelu);
    return;
  }
  PG_THROW("internal: bf16 weights go through OneDnnBf16Gemm or Bf16WidenGemm as one call");
}

}  // namespace

void Gemm(const GemmArgs& a, int threads) {
  if (!a.w_bf16 && FewRowsGemmPays(a)) return FewRowsGemm(a, threads);  // decode (runtime/cpu/few_rows_gemm.h)
  GemmWithSplit(a, threads, ChooseGemmSplit(a.M, a.N, a.K, threads));
}

void GemmWithSplit(const GemmArgs& a, int threads, GemmSplit split) {
  if (a.M == 0 || a.N == 0) return;
  if (a.K == 0) {
    std::fill(a.out, a.out + a.M * a.N, 0.f);
    if (a.bias || a.gelu) BiasGeluRows(a.out, a.M, a.N, a.N, a.bias, a.gelu);
    return;
  }
  if (a.w_bf16) {  // both split the work over the threads themselves
    return Bf16GemmKindHere() == Bf16GemmKind::kNative ? OneDnnBf16Gemm(a, threads) : Bf16WidenGemm(a, threads);
  }
  // Rows or columns (Gemm: ChooseGemmSplit, runtime/cpu/gemm_split.h). Block edges on multiples of
  // 16 (one AVX-512 vector of columns; sgemm's row unroll), so that every element meets the same
  // kernel path as in one unsplit call: bit-identical results for any thread count with OpenBLAS's
  // AVX-512 kernels (its AVX2 kernels differ in the last bits, gemm_split.h).
  ForEachGemmBlock(threads, a.M, a.N, split,
                   [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) { Block(a, m0, m1, n0, n1); });
}

Bf16GemmKind Bf16GemmKindHere() {
  static const Bf16GemmKind kind = [] {
    const char* force = std::getenv("PG_CPU_BF16");
    if (force && std::string(force) == "widen") return Bf16GemmKind::kWidened;
    PG_CHECK(!force || !*force || std::string(force) == "auto", "PG_CPU_BF16=" << force << ": expected widen or auto");
    return CpuHasNativeBf16() ? Bf16GemmKind::kNative : Bf16GemmKind::kWidened;
  }();
  return kind;
}

const char* Bf16GemmKindName(Bf16GemmKind k) {
  return k == Bf16GemmKind::kNative ? "native (oneDNN bf16 dot products)" : "widened (bf16 weights, fp32 FMAs)";
}

}  // namespace pg::cpu

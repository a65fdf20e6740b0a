#include "runtime/cpu/bf16_widen_gemm.h"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "runtime/check.h"
#include "runtime/cpu/avx2_weights.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/cpu/few_rows_gemm.h"
#include "runtime/cpu/parallel.h"
#include "runtime/dtype.h"

namespace pg::cpu {
namespace {

// A panel holds at most kPanelElements fp32 values (16 MiB: fits the L3 of the machines measured),
// all of K up to kPanelMaxK, so that most prefill GEMMs are one or two sgemm calls per thread
// (each call packs its rows of x again and a K split re-reads out).
constexpr int64_t kPanelElements = int64_t{4} << 20, kPanelMaxK = 4096;

PG_AVX2 void WidenRowAvx2(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, Load8(src + i));
  for (; i < n; ++i) dst[i] = Bf16ToF32(src[i]);
}

void WidenRow(const uint16_t* src, float* dst, int64_t n, bool avx2) {
  if (avx2) return WidenRowAvx2(src, dst, n);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToF32(src[i]);
}

void Panels(const GemmArgs& a, int threads) {
  const bool avx2 = FewRowsGemmHasAvx2();
  const uint16_t* w = static_cast<const uint16_t*>(a.w);
  const int64_t kc = std::min(a.K, kPanelMaxK);
  const int64_t nc = std::min(a.N, std::max<int64_t>(64, kPanelElements / kc / 64 * 64));
  thread_local std::vector<float> scratch;  // the calling thread's; grows once to its largest panel
  if (static_cast<int64_t>(scratch.size()) < kc * nc) scratch.resize(static_cast<size_t>(kc * nc));
  float* panel = scratch.data();
  const GemmSplit split = ChooseGemmSplit(a.M, a.N, a.K, threads);
  for (int64_t n0 = 0; n0 < a.N; n0 += nc) {
    const int64_t nb = std::min(nc, a.N - n0);
    for (int64_t k0 = 0; k0 < a.K; k0 += kc) {
      const int64_t kb = std::min(kc, a.K - k0);
      const bool last = k0 + kb == a.K;
      // panel: [kb, nb] (W[k0:, n0:]) or, for W^T, [nb, kb] (W[n0:, k0:]); row-major, packed.
      const int64_t rows = a.trans_w ? nb : kb, cols = a.trans_w ? kb : nb;
      ParallelFor(threads, rows, std::max<int64_t>(1, 16384 / cols), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const uint16_t* src = a.trans_w ? w + (n0 + r) * a.K + k0 : w + (k0 + r) * a.N + n0;
          WidenRow(src, panel + r * cols, cols, avx2);
        }
      });
      auto block = [&](int64_t m0, int64_t m1, int64_t j0, int64_t j1) {  // out[m0:m1, n0+j0 : n0+j1]
        if (m1 <= m0 || j1 <= j0) return;
        float* out = a.out + m0 * a.N + n0 + j0;
        const float* pw = a.trans_w ? panel + j0 * kb : panel + j0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, a.trans_w ? CblasTrans : CblasNoTrans, m1 - m0, j1 - j0, kb, 1.f,
                    a.x + m0 * a.K + k0, a.K, pw, a.trans_w ? kb : nb, k0 == 0 ? 0.f : 1.f, out, a.N);
        if (last && (a.bias || a.gelu))
          BiasGeluRows(out, m1 - m0, j1 - j0, a.N, a.bias ? a.bias + n0 + j0 : nullptr, a.gelu);
      };
      ForEachGemmBlock(threads, a.M, nb, split, block);
    }
  }
}

}  // namespace

void Bf16WidenGemm(const GemmArgs& a, int threads, Bf16WidenPath path) {
  PG_CHECK(a.w_bf16, "internal: Bf16WidenGemm takes bf16 weights");
  if (a.M == 0 || a.N == 0) return;
  if (path == Bf16WidenPath::kAuto) path = FewRowsGemmPays(a) ? Bf16WidenPath::kDirect : Bf16WidenPath::kPanels;
  if (path == Bf16WidenPath::kDirect) return FewRowsGemm(a, threads);
  Panels(a, threads);
}

}  // namespace pg::cpu

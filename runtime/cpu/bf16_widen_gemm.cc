#include "runtime/cpu/bf16_widen_gemm.h"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <new>
#include <vector>

#include "runtime/check.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/cpu/parallel.h"
#include "runtime/dtype.h"

namespace pg::cpu {
namespace {

// 64-byte aligned storage for the packed panels (aligned AVX loads).
template <typename T>
struct AlignedAlloc {
  using value_type = T;
  AlignedAlloc() = default;
  template <typename U>
  AlignedAlloc(const AlignedAlloc<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const AlignedAlloc&) const { return true; }
  bool operator!=(const AlignedAlloc&) const { return false; }
};

// ---- direct kernel: out[M, n0:n1] = x[M, K] @ W[:, n0:n1], W read as bf16 words ----------------

#define PG_AVX2 __attribute__((target("avx2,fma")))
// The tiles' loops over their register blocks, unrolled so that the accumulators live in registers.
#define PG_UNROLL _Pragma("GCC unroll 16")

// 8 bf16 words -> 8 f32 (a bf16 is the upper half of an f32).
PG_AVX2 inline __m256 Widen8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

PG_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// W [K, N] (ldw = N). A column block read straight down K steps N*2 bytes per k: a power of two
// for most shapes, which maps every row to the same few cache sets (thrashing L1 and L2 on each
// pass) and starts a new page every few rows (where the hardware prefetchers stop); measured ~4x
// slower. So W is read the way it lies: kKnRows rows at a time, each over a run of up to kKnCols
// contiguous columns (4 KiB of bf16, the next row prefetched line by line), widened into a packed
// fp32 panel (rows padded by 16 floats off the power of two; 128 KiB: stays in L2), then every
// pair of rows of x passes over the panel, 32 columns at a time, accumulating into out.
constexpr int64_t kKnRows = 16, kKnCols = 2048, kKnLd = kKnCols + 16;

// acc[R][V] over kb rows of the panel (ld kKnLd): out = (out if accumulate) + x @ panel.
template <int R, int V>
PG_AVX2 inline void KnTile(const float* x, int64_t ldx, int64_t kb, const float* panel, float* out, int64_t ldo,
                           bool accumulate) {
  __m256 acc[R][V];
  PG_UNROLL for (int r = 0; r < R; ++r)
    PG_UNROLL for (int v = 0; v < V; ++v) acc[r][v] = accumulate ? _mm256_loadu_ps(out + r * ldo + 8 * v) : _mm256_setzero_ps();
  for (int64_t k = 0; k < kb; ++k, panel += kKnLd) {
    __m256 xb[R];
    PG_UNROLL for (int r = 0; r < R; ++r) xb[r] = _mm256_broadcast_ss(x + r * ldx + k);
    PG_UNROLL for (int v = 0; v < V; ++v) {
      const __m256 wv = _mm256_load_ps(panel + 8 * v);
      PG_UNROLL for (int r = 0; r < R; ++r) acc[r][v] = _mm256_fmadd_ps(xb[r], wv, acc[r][v]);
    }
  }
  PG_UNROLL for (int r = 0; r < R; ++r)
    PG_UNROLL for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + r * ldo + 8 * v, acc[r][v]);
}

// Columns [0, 8V) of out (and of the panel) for all M rows.
template <int V>
PG_AVX2 void KnRows(const float* x, int64_t M, int64_t K, int64_t kb, const float* panel, float* out, int64_t ldo,
                    bool accumulate) {
  int64_t m = 0;
  for (; m + 3 <= M; m += 3) KnTile<3, V>(x + m * K, K, kb, panel, out + m * ldo, ldo, accumulate);
  if (M - m == 2) KnTile<2, V>(x + m * K, K, kb, panel, out + m * ldo, ldo, accumulate);
  if (M - m == 1) KnTile<1, V>(x + m * K, K, kb, panel, out + m * ldo, ldo, accumulate);
}

PG_AVX2 void DirectKnAvx2(const float* x, int64_t M, int64_t K, const uint16_t* w, int64_t ldw, float* out,
                          int64_t ldo, int64_t n0, int64_t n1) {
  thread_local std::vector<float, AlignedAlloc<float>> panel_buf(kKnRows * kKnLd);  // this worker's, once
  float* panel = panel_buf.data();
  const int64_t vec_end = n0 + (n1 - n0) / 8 * 8;  // whole vectors here; the last columns below
  for (int64_t c0 = n0; c0 < vec_end; c0 += kKnCols) {
    const int64_t cols = std::min(kKnCols, vec_end - c0);
    for (int64_t k0 = 0; k0 < K; k0 += kKnRows) {
      const int64_t kb = std::min(kKnRows, K - k0);
      const uint16_t* src = w + k0 * ldw + c0;
      for (int64_t r = 0; r < kb; ++r, src += ldw) {
        const uint16_t* next = r + 1 < kb ? src + ldw : src + kKnRows * ldw;  // the next row to widen
        for (int64_t c = 0; c < cols; c += 8) {
          if (c % 32 == 0) _mm_prefetch(reinterpret_cast<const char*>(next + c), _MM_HINT_T0);
          _mm256_store_ps(panel + r * kKnLd + c, Widen8(src + c));
        }
      }
      // While x passes over this panel, the next panel's rows come in (a line of each per 32
      // columns): its widening then reads cache, and memory streams during the FMAs.
      const bool last_rows = k0 + kb >= K;
      const uint16_t* next = last_rows ? w + c0 + kKnCols : w + (k0 + kb) * ldw + c0;
      const int64_t next_rows = last_rows ? (c0 + kKnCols < vec_end ? std::min(kKnRows, K) : 0) : std::min(kKnRows, K - k0 - kb);
      const float* xk = x + k0;
      float* o = out + c0;
      int64_t c = 0;
      for (; c + 32 <= cols; c += 32) {
        for (int64_t r = 0; r < next_rows; ++r)
          _mm_prefetch(reinterpret_cast<const char*>(next + r * ldw + c), _MM_HINT_T0);
        KnRows<4>(xk, M, K, kb, panel + c, o + c, ldo, k0 > 0);
      }
      for (; c < cols; c += 8) KnRows<1>(xk, M, K, kb, panel + c, o + c, ldo, k0 > 0);
    }
  }
  for (int64_t n = vec_end; n < n1; ++n)
    for (int64_t m = 0; m < M; ++m) {
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += x[m * K + k] * Bf16ToF32(w[k * ldw + n]);
      out[m * ldo + n] = s;
    }
}

// W [N, K] (trans_w): out[m, n] = x[m, :] . W[n, :]; RN rows of W x RM rows of x per tile, K in
// steps of 8 (fp32 lanes), then a horizontal sum and the K % 8 tail.
template <int RN, int RM>
PG_AVX2 inline void NkTile(const float* x, int64_t K, const uint16_t* w, float* out, int64_t ldo) {
  __m256 acc[RN][RM];
  PG_UNROLL for (int i = 0; i < RN; ++i)
    PG_UNROLL for (int j = 0; j < RM; ++j) acc[i][j] = _mm256_setzero_ps();
  const int64_t k8 = K / 8 * 8;
  for (int64_t k = 0; k < k8; k += 8) {
    __m256 xv[RM];
    PG_UNROLL for (int j = 0; j < RM; ++j) xv[j] = _mm256_loadu_ps(x + j * K + k);
    PG_UNROLL for (int i = 0; i < RN; ++i) {
      const __m256 wv = Widen8(w + i * K + k);
      PG_UNROLL for (int j = 0; j < RM; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  PG_UNROLL for (int i = 0; i < RN; ++i)
    PG_UNROLL for (int j = 0; j < RM; ++j) {
      float s = HorizontalSum(acc[i][j]);
      for (int64_t k = k8; k < K; ++k) s += x[j * K + k] * Bf16ToF32(w[i * K + k]);
      out[j * ldo + i] = s;
    }
}

template <int RN>
PG_AVX2 void NkRows(const float* x, int64_t M, int64_t K, const uint16_t* w, float* out, int64_t ldo) {
  int64_t m = 0;
  for (; m + 2 <= M; m += 2) NkTile<RN, 2>(x + m * K, K, w, out + m * ldo, ldo);
  if (m < M) NkTile<RN, 1>(x + m * K, K, w, out + m * ldo, ldo);
}

PG_AVX2 void DirectNkAvx2(const float* x, int64_t M, int64_t K, const uint16_t* w, float* out, int64_t ldo,
                          int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) NkRows<4>(x, M, K, w + n * K, out + n, ldo);
  for (; n < n1; ++n) NkRows<1>(x, M, K, w + n * K, out + n, ldo);
}

// The same products without AVX2 (any x86-64; also what the kernels are tested against).
void DirectScalar(const GemmArgs& a, int64_t n0, int64_t n1) {
  const uint16_t* w = static_cast<const uint16_t*>(a.w);
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      float s = 0.f;
      for (int64_t k = 0; k < a.K; ++k)
        s += a.x[m * a.K + k] * Bf16ToF32(a.trans_w ? w[n * a.K + k] : w[k * a.N + n]);
      a.out[m * a.N + n] = s;
    }
}

void Direct(const GemmArgs& a, int threads) {
  const bool avx2 = Bf16WidenHasAvx2();
  const uint16_t* w = static_cast<const uint16_t*>(a.w);
  // Column blocks of 32 (one 64-byte line of bf16 W per k): each thread streams its share of W.
  const int64_t blocks = (a.N + 31) / 32;
  ParallelFor(threads, blocks, std::max<int64_t>(1, kGemmMinColumnsPerThread / 32), [&](int64_t b0, int64_t b1) {
    const int64_t n0 = b0 * 32, n1 = std::min(a.N, b1 * 32);
    if (!avx2) {
      DirectScalar(a, n0, n1);
    } else if (a.trans_w) {
      DirectNkAvx2(a.x, a.M, a.K, w, a.out, a.N, n0, n1);
    } else {
      DirectKnAvx2(a.x, a.M, a.K, w, a.N, a.out, a.N, n0, n1);
    }
    if (a.bias || a.gelu) BiasGeluRows(a.out + n0, a.M, n1 - n0, a.N, a.bias ? a.bias + n0 : nullptr, a.gelu);
  });
}

// ---- panels: widen W one [kc, nc] panel at a time, then fp32 sgemm ------------------------------

// A panel holds at most kPanelElements fp32 values (16 MiB: fits the L3 of the machines measured),
// all of K up to kPanelMaxK, so that most prefill GEMMs are one or two sgemm calls per thread
// (each call packs its rows of x again and a K split re-reads out).
constexpr int64_t kPanelElements = int64_t{4} << 20, kPanelMaxK = 4096;

PG_AVX2 void WidenRowAvx2(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, Widen8(src + i));
  for (; i < n; ++i) dst[i] = Bf16ToF32(src[i]);
}

void WidenRow(const uint16_t* src, float* dst, int64_t n, bool avx2) {
  if (avx2) return WidenRowAvx2(src, dst, n);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToF32(src[i]);
}

void Panels(const GemmArgs& a, int threads) {
  const bool avx2 = Bf16WidenHasAvx2();
  const uint16_t* w = static_cast<const uint16_t*>(a.w);
  const int64_t kc = std::min(a.K, kPanelMaxK);
  const int64_t nc = std::min(a.N, std::max<int64_t>(64, kPanelElements / kc / 64 * 64));
  thread_local std::vector<float> scratch;  // the calling thread's; grows once to its largest panel
  if (static_cast<int64_t>(scratch.size()) < kc * nc) scratch.resize(static_cast<size_t>(kc * nc));
  float* panel = scratch.data();
  const GemmSplit split = ChooseGemmSplit(a.M, a.N, a.K, threads);
  auto aligned = [](int64_t i, int64_t n) { return i == 0 || i == n ? i : std::min((i + 15) / 16 * 16, n); };
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
      if (split == GemmSplit::kRows) {
        ParallelFor(threads, a.M, kGemmMinRowsPerThread,
                    [&](int64_t m0, int64_t m1) { block(aligned(m0, a.M), aligned(m1, a.M), 0, nb); });
      } else {
        ParallelFor(threads, nb, kGemmMinColumnsPerThread,
                    [&](int64_t j0, int64_t j1) { block(0, a.M, aligned(j0, nb), aligned(j1, nb)); });
      }
    }
  }
}

}  // namespace

bool Bf16WidenHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

void Bf16WidenGemm(const GemmArgs& a, int threads, Bf16WidenPath path) {
  PG_CHECK(a.w_bf16, "internal: Bf16WidenGemm takes bf16 weights");
  if (a.M == 0 || a.N == 0) return;
  if (path == Bf16WidenPath::kAuto) path = a.M <= kBf16WidenDirectMaxRows ? Bf16WidenPath::kDirect : Bf16WidenPath::kPanels;
  if (path == Bf16WidenPath::kDirect) return Direct(a, threads);
  Panels(a, threads);
}

}  // namespace pg::cpu

#include "runtime/cpu/few_rows_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "runtime/cpu/avx2_weights.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/cpu/parallel.h"
#include "runtime/dtype.h"

namespace pg::cpu {
namespace {

inline float AsF32(float v) { return v; }
inline float AsF32(uint16_t v) { return Bf16ToF32(v); }

// One AVX vector of floats: a std::vector of these is 32-byte aligned (aligned AVX loads).
struct alignas(32) Vec8 {
  float v[8];
};

// The tiles' loops over their register blocks, unrolled so that the accumulators live in registers.
#define PG_UNROLL _Pragma("GCC unroll 16")

PG_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// W [K, N] (ldw = N). A column block read straight down K steps N*4 (or *2) bytes per k: a power of two
// for most shapes, which maps every row to the same few cache sets (thrashing L1 and L2 on each
// pass) and starts a new page every few rows (where the hardware prefetchers stop); measured ~4x
// slower. So W is read the way it lies: kKnRows rows at a time, each over a run of up to kKnCols
// contiguous columns (8 / 4 KiB, the next row prefetched line by line), copied or widened into a packed
// fp32 panel (rows padded by 16 floats off the power of two; 128 KiB: stays in L2), then each
// group of 3 rows of x passes over the panel, 32 columns at a time, accumulating into out.
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

// One or two rows of x (batch-1 / batch-2 decode): each weight is used once or twice, so a packed
// panel only costs a pass. W is streamed the way it lies instead: 4 rows of W at a time (4
// sequential streams) over a run of kStreamCols columns, out's run (in L1) loaded, given the 4
// products per row of x and stored back.
constexpr int64_t kStreamCols = 4096;

template <int R, typename T>
PG_AVX2 void KnStream(const float* x, int64_t K, const T* w, int64_t ldw, float* out, int64_t ldo, int64_t cols) {
  for (int64_t k = 0; k < K; k += 4) {
    const int64_t kr = std::min<int64_t>(4, K - k);
    __m256 xb[R][4];
    PG_UNROLL for (int r = 0; r < R; ++r)
      PG_UNROLL for (int i = 0; i < 4; ++i) xb[r][i] = _mm256_set1_ps(i < kr ? x[r * K + k + i] : 0.f);
    const T* w0 = w + k * ldw;
    // rows past K read row k instead (times 0): no access beyond W
    const T* w1 = kr > 1 ? w0 + ldw : w0;
    const T* w2 = kr > 2 ? w0 + 2 * ldw : w0;
    const T* w3 = kr > 3 ? w0 + 3 * ldw : w0;
    const T* next = k + 8 <= K ? w0 + 4 * ldw : w0;  // the next 4 rows, prefetched a line at a time
    for (int64_t c = 0; c < cols; c += 8) {
      if (c % (64 / sizeof(T)) == 0) {
        PG_UNROLL for (int i = 0; i < 4; ++i) _mm_prefetch(reinterpret_cast<const char*>(next + i * ldw + c), _MM_HINT_T0);
      }
      const __m256 a = Load8(w0 + c), b = Load8(w1 + c), d = Load8(w2 + c), e = Load8(w3 + c);
      PG_UNROLL for (int r = 0; r < R; ++r) {
        __m256 acc = k == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(out + r * ldo + c);
        acc = _mm256_fmadd_ps(xb[r][0], a, acc);
        acc = _mm256_fmadd_ps(xb[r][1], b, acc);
        acc = _mm256_fmadd_ps(xb[r][2], d, acc);
        acc = _mm256_fmadd_ps(xb[r][3], e, acc);
        _mm256_storeu_ps(out + r * ldo + c, acc);
      }
    }
  }
}

// Columns [n0, n1) (whole vectors) of out for 3 or more rows of x: packed panels, 3 x 32 tiles.
template <typename T>
PG_AVX2 void KnPanels(const float* x, int64_t M, int64_t K, const T* w, int64_t ldw, float* out, int64_t ldo,
                      int64_t n0, int64_t n1) {
  thread_local std::vector<Vec8> panel_buf(kKnRows * kKnLd / 8);  // this worker's, once
  float* panel = panel_buf.data()->v;
  for (int64_t c0 = n0; c0 < n1; c0 += kKnCols) {
    const int64_t cols = std::min(kKnCols, n1 - c0);
    for (int64_t k0 = 0; k0 < K; k0 += kKnRows) {
      const int64_t kb = std::min(kKnRows, K - k0);
      const T* src = w + k0 * ldw + c0;
      for (int64_t r = 0; r < kb; ++r, src += ldw) {
        const T* next = r + 1 < kb ? src + ldw : src + kKnRows * ldw;  // the next row to pack
        for (int64_t c = 0; c < cols; c += 8) {
          if (c % (64 / sizeof(T)) == 0) _mm_prefetch(reinterpret_cast<const char*>(next + c), _MM_HINT_T0);
          _mm256_store_ps(panel + r * kKnLd + c, Load8(src + c));
        }
      }
      const float* xk = x + k0;
      float* o = out + c0;
      int64_t c = 0;
      for (; c + 32 <= cols; c += 32) KnRows<4>(xk, M, K, kb, panel + c, o + c, ldo, k0 > 0);
      for (; c < cols; c += 8) KnRows<1>(xk, M, K, kb, panel + c, o + c, ldo, k0 > 0);
    }
  }
}

template <typename T>
PG_AVX2 void DirectKnAvx2(const float* x, int64_t M, int64_t K, const T* w, int64_t ldw, float* out,
                          int64_t ldo, int64_t n0, int64_t n1) {
  const int64_t vec_end = n0 + (n1 - n0) / 8 * 8;  // whole vectors here; the last columns below
  if (M > 2) {
    KnPanels(x, M, K, w, ldw, out, ldo, n0, vec_end);
  } else {
    for (int64_t c0 = n0; c0 < vec_end; c0 += kStreamCols) {
      const int64_t cols = std::min(kStreamCols, vec_end - c0);
      if (M == 2) KnStream<2>(x, K, w + c0, ldw, out + c0, ldo, cols);
      if (M == 1) KnStream<1>(x, K, w + c0, ldw, out + c0, ldo, cols);
    }
  }
  for (int64_t n = vec_end; n < n1; ++n)
    for (int64_t m = 0; m < M; ++m) {
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += x[m * K + k] * AsF32(w[k * ldw + n]);
      out[m * ldo + n] = s;
    }
}

// W [N, K] (trans_w): out[m, n] = x[m, :] . W[n, :]; RN rows of W x RM rows of x per tile, K in
// steps of 8 (fp32 lanes), then a horizontal sum and the K % 8 tail.
template <int RN, int RM, typename T>
PG_AVX2 inline void NkTile(const float* x, int64_t K, const T* w, float* out, int64_t ldo) {
  __m256 acc[RN][RM];
  PG_UNROLL for (int i = 0; i < RN; ++i)
    PG_UNROLL for (int j = 0; j < RM; ++j) acc[i][j] = _mm256_setzero_ps();
  const int64_t k8 = K / 8 * 8;
  for (int64_t k = 0; k < k8; k += 8) {
    __m256 xv[RM];
    PG_UNROLL for (int j = 0; j < RM; ++j) xv[j] = _mm256_loadu_ps(x + j * K + k);
    PG_UNROLL for (int i = 0; i < RN; ++i) {
      const __m256 wv = Load8(w + i * K + k);
      PG_UNROLL for (int j = 0; j < RM; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  PG_UNROLL for (int i = 0; i < RN; ++i)
    PG_UNROLL for (int j = 0; j < RM; ++j) {
      float s = HorizontalSum(acc[i][j]);
      for (int64_t k = k8; k < K; ++k) s += x[j * K + k] * AsF32(w[i * K + k]);
      out[j * ldo + i] = s;
    }
}

template <int RN, typename T>
PG_AVX2 void NkRows(const float* x, int64_t M, int64_t K, const T* w, float* out, int64_t ldo) {
  int64_t m = 0;
  for (; m + 2 <= M; m += 2) NkTile<RN, 2, T>(x + m * K, K, w, out + m * ldo, ldo);
  if (m < M) NkTile<RN, 1, T>(x + m * K, K, w, out + m * ldo, ldo);
}

template <typename T>
PG_AVX2 void DirectNkAvx2(const float* x, int64_t M, int64_t K, const T* w, float* out, int64_t ldo,
                          int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) NkRows<4, T>(x, M, K, w + n * K, out + n, ldo);
  for (; n < n1; ++n) NkRows<1, T>(x, M, K, w + n * K, out + n, ldo);
}

// The same products without AVX2 (any x86-64).
template <typename T>
void DirectScalar(const GemmArgs& a, const T* w, int64_t n0, int64_t n1) {
  for (int64_t m = 0; m < a.M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      float s = 0.f;
      for (int64_t k = 0; k < a.K; ++k) s += a.x[m * a.K + k] * AsF32(a.trans_w ? w[n * a.K + k] : w[k * a.N + n]);
      a.out[m * a.N + n] = s;
    }
}

template <typename T>
void Direct(const GemmArgs& a, const T* w, int threads) {
  const bool avx2 = FewRowsGemmHasAvx2();
  // Column blocks of 32 (one 64-byte line of bf16 W per k): each thread streams its share of W.
  const int64_t blocks = (a.N + 31) / 32;
  ParallelFor(threads, blocks, std::max<int64_t>(1, kGemmMinColumnsPerThread / 32), [&](int64_t b0, int64_t b1) {
    const int64_t n0 = b0 * 32, n1 = std::min(a.N, b1 * 32);
    if (!avx2) {
      DirectScalar(a, w, n0, n1);
    } else if (a.trans_w) {
      DirectNkAvx2(a.x, a.M, a.K, w, a.out, a.N, n0, n1);
    } else {
      DirectKnAvx2(a.x, a.M, a.K, w, a.N, a.out, a.N, n0, n1);
    }
    if (a.bias || a.gelu) BiasGeluRows(a.out + n0, a.M, n1 - n0, a.N, a.bias ? a.bias + n0 : nullptr, a.gelu);
  });
}

}  // namespace

bool FewRowsGemmHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

void FewRowsGemm(const GemmArgs& a, int threads) {
  if (a.M == 0 || a.N == 0) return;
  if (a.w_bf16) return Direct(a, static_cast<const uint16_t*>(a.w), threads);
  Direct(a, static_cast<const float*>(a.w), threads);
}

}  // namespace pg::cpu

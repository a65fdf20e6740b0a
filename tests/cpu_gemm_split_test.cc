// The fp32 GEMM split (runtime/cpu/gemm_split.h): which split the rule picks at its boundary,
// and that every split (rows, 16-aligned columns, chosen or forced) gives the results of one
// unsplit sgemm call (the backend at 1 thread), with and without the fused bias / GELU epilogue,
// for both layouts of W: bit-identical on OpenBLAS's AVX-512 sgemm kernels (where that was
// established), within a few ulps of the dot products elsewhere (OpenBLAS's Haswell / Zen kernels
// round some elements of a split call differently: measured up to 5.2e-7 of the largest output at K = 700).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <cblas.h>

#include "runtime/backend.h"
#include "runtime/cpu/gemm.h"
#include "runtime/cpu/gemm_split.h"

namespace pg {
namespace {

using cpu::ChooseGemmSplit;
using cpu::GemmSplit;

TEST(CpuGemmSplit, RowsForTallXColumnsForDecode) {
  // Decode-sized x (< 32 rows per thread): columns, whatever N.
  EXPECT_EQ(ChooseGemmSplit(8, 2048, 2048, 2), GemmSplit::kColumns);
  EXPECT_EQ(ChooseGemmSplit(63, 16, 8, 2), GemmSplit::kColumns);
  EXPECT_EQ(ChooseGemmSplit(95, 300, 8, 3), GemmSplit::kColumns);
  // Tall x: rows, wide or not (a column split of wide prefill GEMMs measured no faster).
  EXPECT_EQ(ChooseGemmSplit(64, 16, 8, 2), GemmSplit::kRows);
  EXPECT_EQ(ChooseGemmSplit(96, 300, 8, 3), GemmSplit::kRows);
  EXPECT_EQ(ChooseGemmSplit(1568, 3072, 768, 2), GemmSplit::kRows);   // ViT fc1
  EXPECT_EQ(ChooseGemmSplit(2112, 8192, 1024, 2), GemmSplit::kRows);  // decoder gate|up
  EXPECT_EQ(ChooseGemmSplit(1568, 768, 3072, 2), GemmSplit::kRows);   // ViT fc2
  EXPECT_EQ(ChooseGemmSplit(1, 16384, 1024, 1), GemmSplit::kColumns);
}

// OpenBLAS's sgemm kernels for which a 16-aligned split is bit-identical to one call.
bool SplitsAreBitIdentical() {
  const std::string core = openblas_get_corename();
  for (const char* c : {"SkylakeX", "Cooperlake", "SapphireRapids"})
    if (core == c) return true;
  return false;
}

// Elements of `got` that differ from `one` in their bits, and the largest difference relative to
// the largest |one| (the dot products' scale).
struct Difference {
  int64_t elements = 0;
  double relative = 0;
};
Difference Compare(const std::vector<float>& one, const std::vector<float>& got) {
  Difference d;
  double scale = 0, worst = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    d.elements += std::memcmp(&one[i], &got[i], sizeof(float)) != 0;
    scale = std::max(scale, static_cast<double>(std::fabs(one[i])));
    worst = std::max(worst, std::fabs(static_cast<double>(one[i]) - got[i]));
  }
  d.relative = worst / std::max(scale, 1e-30);
  return d;
}

// Bit-identical where the kernels give that, else a few ulps of the outputs' scale (a wrong block
// edge or a skipped epilogue is off by O(1)).
void ExpectSameAsOneCall(const std::vector<float>& one, const std::vector<float>& got, const std::string& what) {
  const Difference d = Compare(one, got);
  if (SplitsAreBitIdentical()) {
    EXPECT_EQ(d.elements, 0) << what << ": elements that differ of " << one.size() << " (OpenBLAS core "
                             << openblas_get_corename() << ")";
  } else {
    EXPECT_LE(d.relative, 2e-6) << what << ": " << d.elements << " of " << one.size() << " differ (OpenBLAS core "
                                << openblas_get_corename() << ")";
  }
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct Shape {
  int64_t M, K, N;
};

enum class Op { kMatMul, kBias, kBiasGelu, kTransB };

// out: [M, N] of x [M, K] @ w (w: [K, N], or [N, K] for kTransB) at `threads`.
std::vector<float> GemmAt(int threads, const Shape& s, Op op) {
  BackendOptions o;
  o.threads = threads;
  auto be = MakeBackend("cpu", o);
  const auto xv = Random(s.M * s.K, 7), wv = Random(s.K * s.N, 8), bv = Random(s.N, 9);
  Tensor x = be->Upload("x", {s.M, s.K}, xv.data()), b = be->Upload("b", {s.N}, bv.data()),
         out = be->Alloc("out", {s.M, s.N});
  if (op == Op::kTransB) {
    Tensor wt = be->UploadWeight("wt", {s.N, s.K}, wv.data());
    be->MatMulTransB(x, wt, out);
  } else {
    Tensor w = be->UploadWeight("w", {s.K, s.N}, wv.data());
    if (op == Op::kBiasGelu) be->MatMulGelu(x, w, b, out);
    else be->MatMul(x, w, op == Op::kBias ? &b : nullptr, out);
  }
  std::vector<float> h(out.numel());
  be->Download(out, h.data());
  return h;
}

TEST(CpuGemmSplit, EverySplitIsBitIdenticalToOneCall) {
  // K = 700 spans several of OpenBLAS's K blocks; N not a multiple of 16 leaves a ragged last block.
  const Shape shapes[] = {{200, 48, 70},    // rows, uneven at 3 threads
                          {80, 40, 300},    // rows at 2 threads, columns at 3
                          {130, 24, 131},   // rows
                          {80, 700, 517},   // long K: rows at 2 threads, columns at 3
                          {300, 700, 100},  // rows, long K
                          {5, 64, 200}};    // decode-sized: columns
  for (const Shape& s : shapes)
    for (Op op : {Op::kMatMul, Op::kBias, Op::kBiasGelu, Op::kTransB}) {
      const auto one = GemmAt(1, s, op);
      for (int threads : {2, 3}) {
        const auto got = GemmAt(threads, s, op);
        const GemmSplit split = ChooseGemmSplit(s.M, s.N, s.K, threads);
        ExpectSameAsOneCall(one, got, "M=" + std::to_string(s.M) + " K=" + std::to_string(s.K) + " N=" +
                                          std::to_string(s.N) + " op " + std::to_string(static_cast<int>(op)) +
                                          " threads " + std::to_string(threads) + " split " +
                                          (split == GemmSplit::kRows ? "rows" : "columns"));
      }
    }
}

// Both splits forced (cpu::GemmWithSplit) on shapes where Gemm picks each: the same bits as one call.
TEST(CpuGemmSplit, BothForcedSplitsAreBitIdenticalToOneCall) {
  auto be = MakeBackend("cpu", BackendOptions{});  // keeps OpenBLAS at one thread (runtime/cpu_backend.cc)
  const Shape shapes[] = {{200, 48, 70}, {96, 700, 517}, {64, 33, 130}};
  for (const Shape& s : shapes) {
    const auto xv = Random(s.M * s.K, 7), wv = Random(s.K * s.N, 8), bv = Random(s.N, 9);
    std::vector<float> one(s.M * s.N), got(s.M * s.N);
    cpu::GemmArgs a{xv.data(), wv.data(), false, false, one.data(), s.M, s.N, s.K, bv.data(), true};
    cpu::GemmWithSplit(a, 1, GemmSplit::kRows);
    a.out = got.data();
    for (GemmSplit split : {GemmSplit::kRows, GemmSplit::kColumns})
      for (int threads : {2, 3}) {
        std::fill(got.begin(), got.end(), -1.f);
        cpu::GemmWithSplit(a, threads, split);
        ExpectSameAsOneCall(one, got, "M=" + std::to_string(s.M) + " K=" + std::to_string(s.K) + " N=" +
                                          std::to_string(s.N) + " threads " + std::to_string(threads) + " split " +
                                          (split == GemmSplit::kRows ? "rows" : "columns"));
      }
  }
}

}  // namespace
}  // namespace pg

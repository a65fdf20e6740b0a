// The CPU GEMM epilogue (runtime/cpu/gemm.h): MatMul with a bias and MatMulGelu add the bias and
// apply GELU-tanh inside the GEMM (fp32: on each thread's block after its sgemm; bf16: oneDNN's
// bias and eltwise post-op). Checked against the separate ops on the same backend:
//   fp32: bit-identical to MatMul (no bias), then AddRowBroadcast, then GeluTanh;
//   bf16: the same GEMM, so only the GELU implementation (oneDNN's vs the backend's polynomial,
//         each within ~1e-6 of tanh) and the order of the fp32 bias add differ.
// Shapes cover both fp32 splits (rows: M >= 32 per thread; columns: decode-sized M, N not a
// multiple of the 16-column blocks) at 1 and 2 threads, and a bias-less GELU-free MatMul.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "runtime/backend.h"
#include "runtime/cpu/gemm.h"

namespace pg {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

struct Shape {
  int64_t M, K, N;
};

// out: [M, N] from fused (MatMulGelu / MatMul with bias) or from the separate ops.
std::vector<float> MatMulOut(Backend& be, const Shape& s, bool gelu, bool fused) {
  const auto xv = Random(s.M * s.K, 1, 1.f), wv = Random(s.K * s.N, 2, 1.f / std::sqrt(float(s.K)));
  std::vector<float> bv(s.N);
  for (int64_t n = 0; n < s.N; ++n) bv[n] = 0.25f * static_cast<float>(n % 13) - 1.5f;  // distinct per column
  Tensor x = be.Upload("x", {s.M, s.K}, xv.data()), w = be.UploadWeight("w", {s.K, s.N}, wv.data()),
         b = be.Upload("b", {s.N}, bv.data()), out = be.Alloc("out", {s.M, s.N});
  if (fused && gelu) {
    be.MatMulGelu(x, w, b, out);
  } else if (fused) {
    be.MatMul(x, w, &b, out);
  } else {
    be.MatMul(x, w, nullptr, out);
    be.AddRowBroadcast(out, b);
    if (gelu) be.GeluTanh(out);
  }
  std::vector<float> h(out.numel());
  be.Download(out, h.data());
  return h;
}

const Shape kShapes[] = {{96, 64, 80}, {8, 64, 200}, {1, 32, 35}, {70, 48, 17}};

std::string Name(const Shape& s, int threads, bool gelu) {
  return "M=" + std::to_string(s.M) + " K=" + std::to_string(s.K) + " N=" + std::to_string(s.N) +
         " threads=" + std::to_string(threads) + (gelu ? " gelu" : " bias only");
}

TEST(CpuGemmEpilogue, Fp32IsBitIdenticalToTheSeparateOps) {
  for (int threads : {1, 2}) {
    BackendOptions o;
    o.threads = threads;
    auto be = MakeBackend("cpu", o);
    for (const Shape& s : kShapes)
      for (bool gelu : {false, true}) {
        const auto ref = MatMulOut(*be, s, gelu, false), got = MatMulOut(*be, s, gelu, true);
        int64_t differ = 0;
        for (size_t i = 0; i < ref.size(); ++i) differ += ref[i] != got[i];
        EXPECT_EQ(differ, 0) << Name(s, threads, gelu) << ": elements that differ of " << ref.size();
      }
  }
}

TEST(CpuGemmEpilogue, Bf16MatchesTheSeparateOps) {
  std::printf("[bf16 epilogue] bf16 GEMMs here: %s\n", cpu::Bf16GemmKindName(cpu::Bf16GemmKindHere()));
  for (int threads : {1, 2}) {
    BackendOptions o;
    o.threads = threads;
    o.weight_dtype = DType::kBF16;
    auto be = MakeBackend("cpu", o);
    for (const Shape& s : kShapes)
      for (bool gelu : {false, true}) {
        const auto ref = MatMulOut(*be, s, gelu, false), got = MatMulOut(*be, s, gelu, true);
        double worst = 0, scale = 1;
        for (size_t i = 0; i < ref.size(); ++i) {
          worst = std::max(worst, double(std::fabs(ref[i] - got[i])));
          scale = std::max(scale, double(std::fabs(ref[i])));
        }
        // fp32 rounding of the bias add (~6e-8 relative) plus two GELU-tanh approximations each
        // within ~2e-7 of tanh (times |x|/2): 1e-5 of the largest output leaves room for both, and
        // a missing or misplaced bias (0.25 steps) or a missing GELU is orders of magnitude above.
        EXPECT_LE(worst, 1e-5 * scale) << Name(s, threads, gelu);
        std::printf("[bf16 epilogue] %s: max |fused - separate| %.3g (largest output %.3g)\n",
                    Name(s, threads, gelu).c_str(), worst, scale);
      }
  }
}

}  // namespace
}  // namespace pg

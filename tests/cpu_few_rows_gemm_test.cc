// The few-rows (decode) GEMM kernels (runtime/cpu/few_rows_gemm.h) with fp32 and bf16 weights, and
// bf16 weights widened to fp32 both ways (runtime/cpu/bf16_widen_gemm.h: few rows, panels + sgemm),
// both layouts of W, with and without the bias / GELU epilogue, 1 and 2 threads, against a
// double-precision reference on the same weights (the fp32 weights hold the bf16 values) and x. Shapes cover every
// tail of the kernels: M odd (the 2-row tiles), N not a multiple of 32 / 8 / 4 (the column blocks),
// K not a multiple of 8 (the transposed kernel's lanes), and several [512, 2048] panels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu/bf16_widen_gemm.h"
#include "runtime/cpu/few_rows_gemm.h"
#include "runtime/dtype.h"

namespace pg {
namespace {

using cpu::Bf16WidenPath;

struct Shape {
  int64_t M, N, K;
};

struct Case {
  std::vector<float> x;        // [M, K]
  std::vector<uint16_t> w;     // [K, N] or [N, K]
  std::vector<float> wf;       // the same values as fp32
  std::vector<float> bias;     // [N]
};

Case Make(const Shape& s, bool trans_w, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  Case c;
  c.x.resize(s.M * s.K);
  c.w.resize(s.K * s.N);
  c.bias.resize(s.N);
  for (auto& v : c.x) v = n(rng);
  for (auto& v : c.w) v = F32ToBf16(0.1f * n(rng));
  for (auto& v : c.bias) v = n(rng);
  for (uint16_t v : c.w) c.wf.push_back(Bf16ToF32(v));
  return c;
}

double GeluTanh(double v) { return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }

// out[m, n] and the scale of its rounding error: sum_k |x w|.
void Reference(const Shape& s, const Case& c, bool trans_w, bool bias, bool gelu, std::vector<double>* out,
               std::vector<double>* abs_sum) {
  out->assign(s.M * s.N, 0);
  abs_sum->assign(s.M * s.N, 0);
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < s.K; ++k) {
        const double p = double(c.x[m * s.K + k]) * Bf16ToF32(trans_w ? c.w[n * s.K + k] : c.w[k * s.N + n]);
        acc += p;
        mag += std::fabs(p);
      }
      if (bias) acc += c.bias[n], mag += std::fabs(c.bias[n]);
      (*out)[m * s.N + n] = gelu ? GeluTanh(acc) : acc;
      (*abs_sum)[m * s.N + n] = mag;
    }
}

TEST(CpuFewRowsGemm, Fp32AndBf16AndThePanelsMatchADoubleReference) {
  std::printf("[bf16 widen] AVX2 kernels here: %s\n", cpu::FewRowsGemmHasAvx2() ? "yes" : "no (scalar loops)");
  const Shape shapes[] = {{1, 1, 1},     {1, 7, 5},      {3, 33, 9},    {2, 100, 64},  {5, 67, 130},
                          {8, 256, 1024}, {16, 300, 77}, {17, 40, 31},  {40, 2100, 1100}, {70, 64, 16}};
  uint32_t seed = 1;
  for (const Shape& s : shapes)
    for (bool trans_w : {false, true})
      for (int flags = 0; flags < 3; ++flags) {  // none, bias, bias + GELU
        const bool bias = flags >= 1, gelu = flags == 2;
        const Case c = Make(s, trans_w, seed++);
        std::vector<double> ref, mag;
        Reference(s, c, trans_w, bias, gelu, &ref, &mag);
        // 0-2: bf16 through Bf16WidenGemm (few rows, panels, auto); 3: fp32 through FewRowsGemm;
        // 4: fp32 through Gemm (few rows or OpenBLAS, as it chooses).
        for (int way = 0; way < 5; ++way)
          for (int threads : {1, 2}) {
            std::vector<float> out(s.M * s.N, std::nanf(""));
            const bool bf16 = way < 3;
            cpu::GemmArgs a{c.x.data(), bf16 ? static_cast<const void*>(c.w.data()) : c.wf.data(), bf16, trans_w,
                            out.data(), s.M, s.N, s.K};
            a.bias = bias ? c.bias.data() : nullptr;
            a.gelu = gelu;
            const Bf16WidenPath paths[] = {Bf16WidenPath::kDirect, Bf16WidenPath::kPanels, Bf16WidenPath::kAuto};
            if (bf16) cpu::Bf16WidenGemm(a, threads, paths[way]);
            if (way == 3) cpu::FewRowsGemm(a, threads);
            if (way == 4) cpu::Gemm(a, threads);
            int64_t bad = 0, first = -1;
            for (int64_t i = 0; i < s.M * s.N; ++i) {
              // fp32 accumulation of K products: within ~K ulps of sum |x w| (a loose 4e-7 * K bound,
              // far below one dropped or doubled product, a wrong column or a missing bias).
              const double tol = 4e-7 * (s.K + 2) * (mag[i] + 1e-30) + 1e-6;
              if (!(std::fabs(out[i] - ref[i]) <= tol)) {
                if (first < 0) first = i;
                ++bad;
              }
            }
            EXPECT_EQ(bad, 0) << "M " << s.M << " N " << s.N << " K " << s.K << (trans_w ? " W^T" : " W")
                              << (bias ? " +bias" : "") << (gelu ? " +gelu" : "") << " way " << way
                              << " threads " << threads << ": first bad element " << first << " got "
                              << (first >= 0 ? out[first] : 0) << " want " << (first >= 0 ? ref[first] : 0);
          }
      }
}

// Every element of out is one thread's dot product in a fixed order (few_rows_gemm.h): the same
// bits whatever the number of threads.
TEST(CpuFewRowsGemm, BitIdenticalForAnyThreadCount) {
  const Shape s{7, 1000, 300};
  for (bool trans_w : {false, true})
    for (bool bf16 : {false, true}) {
      const Case c = Make(s, trans_w, 99);
      std::vector<float> ref;
      for (int threads : {1, 2, 3, 5}) {
        std::vector<float> out(s.M * s.N);
        cpu::GemmArgs a{c.x.data(), bf16 ? static_cast<const void*>(c.w.data()) : c.wf.data(), bf16, trans_w,
                        out.data(), s.M, s.N, s.K};
        cpu::FewRowsGemm(a, threads);
        if (ref.empty()) ref = out;
        EXPECT_EQ(0, std::memcmp(ref.data(), out.data(), out.size() * sizeof(float)))
            << (bf16 ? "bf16" : "fp32") << (trans_w ? " W^T" : " W") << " at " << threads << " threads";
      }
    }
}

}  // namespace
}  // namespace pg

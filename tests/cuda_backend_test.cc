// CudaBackend against CpuBackend (STYLE rule 12): every op runs on both backends on the same
// random inputs (odd sizes) and the results are compared element by element; the worst element
// is always printed. Compiles without CUDA: the GPU tests skip with the reason when
// CudaDeviceAvailable() says no (build without CUDA, no driver, no device, wrong arch).
// On a GPU machine set PG_REQUIRE_CUDA=1 to turn that skip into a failure.
//
// Tolerances (docs/CUDA_BACKEND.md), eps = 2^-23 (fp32):
//  - bf16 GEMMs (MatMul, MatMulTransB): the flash-attention rule. err(CUDA vs CPU fp32) must be
//    <= 2 x err(CPU on bf16-rounded inputs vs CPU fp32) + 16 eps max|ref|.
//  - fp32 ops that round once per element on both sides (Add, AddRowBroadcast, AddBatchBroadcast,
//    Scale, Embed, WriteCache, CopyRows, Upload/Download): bit exact; the bf16 KV cache holds
//    exactly the f32 values rounded to bf16 (AllocKvCache, SplitQkvRopeToCache).
//  - other fp32 ops: a forward-error bound C * eps * M_i per element, M_i the magnitude of the
//    terms that make element i (written next to each test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "cuda_vs_cpu.h"
#include "runtime/backend.h"
#include "runtime/cuda_backend.h"

namespace pg {
namespace {

// Runs everywhere: availability and the factory agree, and the reason is given.
TEST(CudaBackendAvailability, FactoryAgreesWithProbe) {
  std::string why;
  const bool available = CudaDeviceAvailable(&why);
  std::printf("CudaDeviceAvailable: %s%s\n", available ? "yes" : "no: ", why.c_str());
  if (available) {
    EXPECT_TRUE(why.empty());
    EXPECT_EQ(MakeBackend("cuda")->name(), "cuda");
  } else {
    EXPECT_FALSE(why.empty());
    EXPECT_THROW(MakeBackend("cuda"), Error);
    EXPECT_FALSE(RequireCuda()) << "PG_REQUIRE_CUDA is set but CUDA is unavailable: " << why;
  }
  auto cpu = MakeBackend("cpu");
  EXPECT_THROW(CudaBackendStream(*cpu), Error);
}

TEST_F(CudaVsCpu, MemoryOpsRoundTrip) {
  auto v = Random(3 * 5 * 7, 1);
  Tensor a = cuda_->Upload("a3d", {3, 5, 7}, v.data()), b = cuda_->Upload("b1d", {105}, v.data());
  Tensor w = cuda_->UploadWeight("w2d", {15, 7}, v.data());
  Tensor x2 = cuda_->Upload("x2d", {15, 7}, v.data());
  Tensor bias = cuda_->UploadWeight("bias1d", {105}, v.data());
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(b.dtype, DType::kF32);
  EXPECT_EQ(w.dtype, DType::kBF16);     // 2-D weights are bf16
  EXPECT_EQ(x2.dtype, DType::kF32);     // Upload (activations, image tokens) stays f32 at any rank
  EXPECT_EQ(bias.dtype, DType::kF32);   // 1-D weights (norm scales, biases) stay f32
  EXPECT_EQ(a.device, Device::kCuda);
  ExpectExact("Upload/Download f32 3-D", v, Host(*cuda_, a));
  ExpectExact("Upload/Download f32 1-D", v, Host(*cuda_, b));
  ExpectExact("UploadWeight/Download bf16 2-D (round to nearest even)", Bf16Rounded(v), Host(*cuda_, w));
  ExpectExact("Upload/Download f32 2-D", v, Host(*cuda_, x2));
  ExpectExact("UploadWeight/Download f32 1-D", v, Host(*cuda_, bias));
  Tensor z = cuda_->Alloc("z", {4, 9, 3});
  EXPECT_EQ(z.dtype, DType::kF32);
  ExpectExact("Alloc is zero-filled", std::vector<float>(108, 0.f), Host(*cuda_, z));
  cuda_->Zero(a);
  ExpectExact("Zero", std::vector<float>(105, 0.f), Host(*cuda_, a));
  // CopyRows f32 -> f32 and bf16 -> f32, viewed as [*, 7].
  Tensor src = cuda_->Upload("src", {15, 1, 7}, v.data()).Reshaped({15, 7});
  Tensor dst = cuda_->Upload("dst", {4, 1, 7}, Random(28, 2).data()).Reshaped({4, 7});
  cuda_->CopyRows(src, 9, dst, 1, 3);
  cuda_->CopyRows(w, 2, dst, 0, 1);
  std::vector<float> expect = Random(28, 2);
  std::copy(v.begin() + 9 * 7, v.begin() + 12 * 7, expect.begin() + 7);
  for (int c = 0; c < 7; ++c) expect[c] = RoundToBf16(v[2 * 7 + c]);
  ExpectExact("CopyRows f32 and bf16 -> f32", expect, Host(*cuda_, dst));
}

// MatMul (+ bias) and MatMulTransB: bf16 operands, fp32 accumulation. Sizes: odd, a ViT-like K
// of 1152 and a Gemma-like K of 2048; x as an f32 activation (rounded by the GEMM) and as a
// bf16 2-D upload.
TEST_F(CudaVsCpu, MatMulFollowsTheBf16Rule) {
  struct Size { int64_t M, K, N; };
  for (const Size s : {Size{1, 7, 5}, Size{39, 129, 67}, Size{33, 1152, 257}, Size{5, 2048, 1001}}) {
    const std::string tag = std::to_string(s.M) + "x" + std::to_string(s.K) + "x" + std::to_string(s.N);
    auto x = Random(s.M * s.K, 10), w = Random(s.K * s.N, 11, 0.05f), bias = Random(s.N, 12);
    auto run = [&](Backend& be, const std::vector<float>& xv, const std::vector<float>& wv, bool x2d) {
      // x2d: x as a bf16 operand (UploadWeight of a 2-D tensor), used in place by the GEMM.
      Tensor xt = x2d ? be.UploadWeight("x", {s.M, s.K}, xv.data()) : be.Upload("x", {1, s.M, s.K}, xv.data());
      Tensor wt = be.UploadWeight("w", {s.K, s.N}, wv.data()), bt = be.UploadWeight("b", {s.N}, bias.data());
      Tensor out = be.Alloc("out", {s.M, s.N});
      be.MatMul(xt, wt, &bt, out);
      return Host(be, out);
    };
    const auto ref = run(*cpu_, x, w, false), ref_bf16 = run(*cpu_, Bf16Rounded(x), Bf16Rounded(w), false);
    ExpectBf16Rule("MatMul f32 x " + tag, ref, ref_bf16, run(*cuda_, x, w, false));
    ExpectBf16Rule("MatMul bf16 x " + tag, ref, ref_bf16, run(*cuda_, x, w, true));

    // MatMulTransB: out[M, N] = x[M, K] @ w[N, K]^T (the logits against the tied embedding).
    auto run_t = [&](Backend& be, const std::vector<float>& xv, const std::vector<float>& wv) {
      Tensor xt = be.Upload("x", {1, s.M, s.K}, xv.data()), wt = be.UploadWeight("emb", {s.N, s.K}, wv.data());
      Tensor out = be.Alloc("logits", {s.M, s.N});
      be.MatMulTransB(xt, wt, out);
      return Host(be, out);
    };
    ExpectBf16Rule("MatMulTransB " + tag, run_t(*cpu_, x, w), run_t(*cpu_, Bf16Rounded(x), Bf16Rounded(w)),
                   run_t(*cuda_, x, w));
  }
}

// MatMulGelu: on the CUDA backend bit-identical to MatMul (+ bias) then GeluTanh (the same GEMM,
// the same f32 sum and GELU in one pass); against the CPU the bf16 rule on the output plus the
// CPU FastTanh's bound 2^-22 x 0.5 |pre-activation|.
TEST_F(CudaVsCpu, MatMulGelu) {
  const int64_t M = 37, K = 129, N = 301;
  const auto x = Random(M * K, 90), w = Random(K * N, 91, 0.1f), bias = Random(N, 92);
  auto run = [&](Backend& be, const std::vector<float>& xv, const std::vector<float>& wv, bool fused) {
    Tensor xt = be.Upload("x", {1, M, K}, xv.data()), wt = be.UploadWeight("w_fc1", {K, N}, wv.data());
    Tensor bt = be.UploadWeight("b_fc1", {N}, bias.data()), out = be.Alloc("mlp_hidden", {1, M, N});
    if (fused) be.MatMulGelu(xt, wt, bt, out);
    if (!fused) {
      be.MatMul(xt, wt, &bt, out);
      be.GeluTanh(out);
    }
    return Host(be, out);
  };
  const auto got = run(*cuda_, x, w, true);
  ExpectExact("MatMulGelu vs MatMul + GeluTanh on CUDA", run(*cuda_, x, w, false), got);
  const auto ref = run(*cpu_, x, w, true), ref_bf16 = run(*cpu_, Bf16Rounded(x), Bf16Rounded(w), true);
  const double err_ref = MaxDiff(ref_bf16, ref);
  double pre_max = 0;  // max |x w + b|: FastTanh's absolute error scales with it
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = bias[n];
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[m * K + k]) * w[k * N + n];
      pre_max = std::max(pre_max, std::fabs(acc));
    }
  const double tol = 2 * err_ref + 16 * kEps * MaxAbs(ref) + 0.5 * pre_max / (1 << 22);
  std::printf("[MatMulGelu] CPU on bf16-rounded inputs: max err %.3g -> tol %.3g\n", err_ref, tol);
  ExpectClose("MatMulGelu vs CPU", ref, got, std::vector<double>(ref.size(), tol));
}

TEST_F(CudaVsCpu, ExactElementwiseOps) {
  const int64_t B = 3, R = 11, N = 37;
  auto x = Random(B * R * N, 20), y = Random(B * R * N, 21), row = Random(N, 22), table = Random(R * N, 23);
  auto run = [&](Backend& be) {
    Tensor xt = be.Upload("x", {B, R, N}, x.data()), yt = be.Upload("y", {B, R, N}, y.data());
    Tensor rt = be.Upload("row", {N}, row.data());
    Tensor tt = be.UploadWeight("pos_embedding", {R, N}, Bf16Rounded(table).data());  // bf16 on CUDA, exact
    be.Add(xt, yt);
    be.AddRowBroadcast(xt, rt);
    be.AddBatchBroadcast(xt, tt);
    be.Scale(xt, 0.37f);
    return Host(be, xt);
  };
  ExpectExact("Add, AddRowBroadcast, AddBatchBroadcast (bf16 table), Scale", run(*cpu_), run(*cuda_));
}

// GeluTanh, SoftCap, GeGlu against an exact (double) reference: tanhf is within 2 ulp and the rest
// rounds a few times: tol_i = 16 eps (|x_i| + |ref_i|); GeGlu: |gelu(g)| <= |g|, so
// tol_i = 32 eps |g_i| |u_i| + 8 eps |ref_i|. Against the CPU backend the tolerance adds the CPU's
// documented error: its branch-free tanh (runtime/cpu/vector_math.h FastTanh) is exact to 2e-7
// ABSOLUTE (< 2^-22), which near 0 is far above 16 eps |x| (SoftCap of x = 1e-3: 2e-3 relative).
TEST_F(CudaVsCpu, GeluSoftCapGeGlu) {
  const int64_t M = 37, N = 1001, F = 37;
  const float cap = 30.f;
  auto x = Random(M * N, 30, 3.f), logits = Random(M * N, 31, 40.f), gu = Random(3 * 9 * 2 * F, 32, 2.f);
  auto run = [&](Backend& be, int which) {
    Tensor t = be.Upload("t", {1, M, N}, (which == 0 ? x : logits).data());
    if (which == 0) be.GeluTanh(t);
    if (which == 1) be.SoftCap(t, cap);
    if (which == 2) {
      Tensor g = be.Upload("gate_up", {3, 9, 2 * F}, gu.data()), out = be.Alloc("act", {3, 9, F});
      be.GeGlu(g, out);
      return Host(be, out);
    }
    return Host(be, t);
  };
  auto gelu = [](double v) { return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); };
  const double kCpuTanh = 1.0 / (1 << 22);  // FastTanh's absolute error bound (2e-7 documented)
  for (int which = 0; which < 3; ++which) {
    const auto cpu = run(*cpu_, which), got = run(*cuda_, which);
    std::vector<float> exact(cpu.size());
    std::vector<double> tol(cpu.size()), tol_cpu(cpu.size());
    for (size_t i = 0; i < cpu.size(); ++i) {
      if (which < 2) {
        const double in = (which == 0 ? x : logits)[i];
        exact[i] = static_cast<float>(which == 0 ? gelu(in) : std::tanh(in / cap) * cap);
        tol[i] = 16 * kEps * (std::fabs(in) + std::fabs(exact[i]));
        tol_cpu[i] = tol[i] + (which == 0 ? 0.5 * std::fabs(in) : cap) * kCpuTanh;
      } else {
        const size_t m = i / F, f = i % F;
        const double g = gu[m * 2 * F + f], u = gu[m * 2 * F + F + f];
        exact[i] = static_cast<float>(gelu(g) * u);
        tol[i] = 32 * kEps * std::fabs(g) * std::fabs(u) + 8 * kEps * std::fabs(exact[i]);
        tol_cpu[i] = tol[i] + 0.5 * std::fabs(g) * std::fabs(u) * kCpuTanh;
      }
    }
    const std::string name = which == 0 ? "GeluTanh" : which == 1 ? "SoftCap(30)" : "GeGlu";
    ExpectClose(name + " vs exact", exact, got, tol);
    ExpectClose(name + " vs CPU", cpu, got, tol_cpu);
  }
}

// Norms over N columns: fp32 block sums vs the CPU's double sums. With C = 4 (4 + log2 N):
// RmsNorm tol_i = C eps |ref_i|; LayerNorm tol_i = C eps ((|x_i| + mean|x|) inv |g_i| + |b_i|).
TEST_F(CudaVsCpu, Norms) {
  for (const int64_t N : {7, 1152, 4099}) {
    const int64_t M = 3 * 11;
    auto x = Random(M * N, 40, 2.f, 3.f), g = Random(N, 41, 0.5f), b = Random(N, 42);
    auto run = [&](Backend& be, bool layer, bool in_place) {
      Tensor xt = be.Upload("x", {3, 11, N}, x.data()), gt = be.Upload("g", {N}, g.data());
      Tensor bt = be.Upload("b", {N}, b.data()), out = be.Alloc("out", {3, 11, N});
      Tensor& dst = in_place ? xt : out;
      if (layer) be.LayerNorm(xt, gt, bt, 1e-6f, dst);
      if (!layer) be.RmsNorm(xt, gt, 1e-6f, dst);
      return Host(be, dst);
    };
    const double C = 4 * (4 + std::log2(static_cast<double>(N)));
    for (bool layer : {false, true}) {
      const auto ref = run(*cpu_, layer, false);
      std::vector<double> tol(ref.size());
      NormTolerance(x, g, b, M, N, C, layer, ref, 0, tol);
      const std::string name = std::string(layer ? "LayerNorm" : "RmsNorm") + " N=" + std::to_string(N);
      ExpectClose(name, ref, run(*cuda_, layer, false), tol);
      ExpectClose(name + " in place", ref, run(*cuda_, layer, true), tol);
    }
  }
}

// AddRmsNorm: the residual x + y rounds once per element on both sides (exact); the normed
// output has the RmsNorm tolerance C eps |ref_i|, C = 4 (4 + log2 N).
TEST_F(CudaVsCpu, AddRmsNorm) {
  for (const int64_t N : {7, 2048, 4099}) {
    const int64_t M = 13;
    const auto x = Random(M * N, 80, 2.f, 1.f), y = Random(M * N, 81, 3.f), g = Random(N, 82, 0.5f);
    auto run = [&](Backend& be) {
      Tensor xt = be.Upload("x", {M, 1, N}, x.data()), yt = be.Upload("y", {M, 1, N}, y.data());
      Tensor gt = be.Upload("g", {N}, g.data()), out = be.Alloc("out", {M, N});
      be.AddRmsNorm(xt, yt, gt, 1e-6f, out);
      std::vector<float> r = Host(be, xt), o = Host(be, out);
      r.insert(r.end(), o.begin(), o.end());
      return r;  // [x + y | normed]
    };
    const auto ref = run(*cpu_);
    const double C = 4 * (4 + std::log2(static_cast<double>(N)));
    std::vector<double> tol(ref.size(), 0.0);
    for (size_t i = M * N; i < ref.size(); ++i) tol[i] = C * kEps * std::fabs(ref[i]) + 1e-30;
    ExpectClose("AddRmsNorm N=" + std::to_string(N), ref, run(*cuda_), tol);
  }
  Tensor a = cuda_->Alloc("a", {2, 8}), b = cuda_->Alloc("b", {2, 8}), g = cuda_->Alloc("g", {8});
  EXPECT_THROW(cuda_->AddRmsNorm(a, b, g, 1e-6f, a), Error);  // output aliases x
}

// SplitQkvRope: both sides compute inv_freq and the fp32 angle identically on the host / in one
// multiply; cosf/sinf differ by <= 3 ulp, so each rotated pair is within 8 eps (|x1| + |x2|);
// v (and everything without positions) is a copy: exact.
TEST_F(CudaVsCpu, SplitQkvRope) {
  struct Shape { int64_t B, T, heads, kv_heads, hd; };
  for (const Shape s : {Shape{2, 7, 3, 1, 256}, Shape{1, 5, 2, 2, 6}, Shape{3, 1, 8, 2, 128}}) {
    const int64_t W = (s.heads + 2 * s.kv_heads) * s.hd;
    auto x = Random(s.B * s.T * W, 50);
    std::vector<int> pos(s.B * s.T);
    std::mt19937 rng(51);
    for (int& p : pos) p = static_cast<int>(rng() % 8192);
    auto run = [&](Backend& be, bool rope) {
      Tensor in = be.Upload("qkv", {s.B, s.T, W}, x.data());
      Tensor q = be.Alloc("q", {s.B, s.T, s.heads, s.hd}), k = be.Alloc("k", {s.B, s.T, s.kv_heads, s.hd}),
             v = be.Alloc("v", {s.B, s.T, s.kv_heads, s.hd});
      be.SplitQkvRope(in, rope ? pos : std::vector<int>{}, 10000.f, q, k, v);
      std::vector<float> out = Host(be, q), hk = Host(be, k), hv = Host(be, v);
      out.insert(out.end(), hk.begin(), hk.end());
      out.insert(out.end(), hv.begin(), hv.end());
      return out;  // [q | k | v] flattened
    };
    ExpectExact("SplitQkv (no rope) hd=" + std::to_string(s.hd), run(*cpu_, false), run(*cuda_, false));
    const auto ref = run(*cpu_, true);
    // Tolerance from the unrotated values: the pair partner of element d is d +- hd/2 of its head.
    const auto plain = run(*cpu_, false);
    std::vector<double> tol(ref.size());
    const int64_t half = s.hd / 2, rotated = s.B * s.T * (s.heads + s.kv_heads) * s.hd;
    for (size_t i = 0; i < ref.size(); ++i) {
      const int64_t d = static_cast<int64_t>(i) % s.hd, base = static_cast<int64_t>(i) - d,
                    pair = d < half ? d + half : d - half;
      tol[i] = static_cast<int64_t>(i) >= rotated ? 0.0 : 8 * kEps * (std::fabs(plain[i]) + std::fabs(plain[base + pair]));
    }
    ExpectClose("SplitQkvRope hd=" + std::to_string(s.hd), ref, run(*cuda_, true), tol);
  }
}

// TopK: exact (a selection, no arithmetic), over odd sizes and ties, k = 1 and k > 1, NaN first.
TEST_F(CudaVsCpu, TopK) {
  struct Shape { int64_t rows, V; int k; };
  for (const Shape s : {Shape{3, 1000, 1}, Shape{2, 4099, 5}, Shape{5, 257, 40}, Shape{1, 7, 7}}) {
    auto x = Random(s.rows * s.V, 70);
    for (size_t i = 0; i < x.size(); i += 7) x[i] = x[i / 7 * 7 % 5];  // repeated values: ties
    if (s.rows > 1) x[s.V + 3] = std::nanf("");
    auto run = [&](Backend& be) {
      Tensor t = be.Upload("logits", {s.rows, s.V}, x.data());
      std::vector<float> val(s.rows * s.k);
      std::vector<int> id(s.rows * s.k);
      be.TopK(t, s.k, val.data(), id.data());
      std::vector<float> out(id.begin(), id.end());
      return out;
    };
    ExpectExact("TopK V=" + std::to_string(s.V) + " k=" + std::to_string(s.k), run(*cpu_), run(*cuda_));
  }
}

// RowLogSumExp: fp32 block sums on CUDA vs fp64 on the CPU, large offsets and -inf entries.
TEST_F(CudaVsCpu, RowLogSumExp) {
  struct Shape { int64_t rows, V; };
  for (const Shape s : {Shape{3, 1000}, Shape{2, 4099}, Shape{1, 7}}) {
    auto x = Random(s.rows * s.V, 71);
    for (int64_t i = 0; i < s.V; ++i) x[i] = x[i] * 30.f + 500.f;  // row 0: large logits
    x[s.V - 1] = -INFINITY;
    auto run = [&](Backend& be) {
      Tensor t = be.Upload("logits", {s.rows, s.V}, x.data());
      std::vector<float> lse(s.rows);
      be.RowLogSumExp(t, lse.data());
      return lse;
    };
    const std::vector<float> ref = run(*cpu_);
    std::vector<double> tol(ref.size());
    for (size_t i = 0; i < ref.size(); ++i) tol[i] = 8 * kEps * (std::fabs(ref[i]) + std::log(double(s.V)));
    ExpectClose("RowLogSumExp V=" + std::to_string(s.V), ref, run(*cuda_), tol);
  }
}

TEST_F(CudaVsCpu, EmbedAndWriteCache) {
  const int64_t rows = 97, D = 65;
  auto table = Bf16Rounded(Random(rows * D, 60));  // bf16 on CUDA: exact on both sides
  const std::vector<int> ids = {100, 196, 5, 150, 197, 99, 123, 100, 0};
  const float scale = RoundToBf16(std::sqrt(65.f));
  auto embed = [&](Backend& be) {
    Tensor t = be.UploadWeight("embedding", {rows, D}, table.data()), out = be.Alloc("out", {3, 3, D});
    be.Embed(t, ids, 100, scale, out);
    return Host(be, out);
  };
  ExpectExact("Embed (rows 100..196 of the vocabulary)", embed(*cpu_), embed(*cuda_));
  // The bf16 read path with the rounding done by UploadWeight: CUDA on the raw f32 table (stored
  // as bf16) equals the CPU on the table rounded to bf16.
  const auto raw = Random(rows * D, 63);
  Tensor ct = cuda_->UploadWeight("embedding_raw", {rows, D}, raw.data()), cout = cuda_->Alloc("out", {3, 3, D});
  EXPECT_EQ(ct.dtype, DType::kBF16);
  cuda_->Embed(ct, ids, 100, scale, cout);
  Tensor rt = cpu_->Upload("embedding_rounded", {rows, D}, Bf16Rounded(raw).data()), rout = cpu_->Alloc("out", {3, 3, D});
  cpu_->Embed(rt, ids, 100, scale, rout);
  ExpectExact("Embed bf16 table rounded by UploadWeight", Host(*cpu_, rout), Host(*cuda_, cout));

  const int64_t B = 3, T = 5, KH = 2, hd = 9, S = 12;
  auto fresh = Random(B * T * KH * hd, 61), old = Random(B * S * KH * hd, 62);
  auto write = [&](Backend& be) {
    Tensor f = be.Upload("k_new", {B, T, KH, hd}, fresh.data()), c = be.Upload("cache", {B, S, KH, hd}, old.data());
    AttentionMask m;
    m.q_start = {0, 4, 7};
    be.WriteCache(f, m, {5, 2, 0}, c);
    // The same rows again into permuted cache rows (the continuous batcher's slots).
    m.slot = {2, 0, 1};
    m.q_start = {1, 0, 3};
    be.WriteCache(f, m, {3, 5, 2}, c);
    return Host(be, c);
  };
  ExpectExact("WriteCache", write(*cpu_), write(*cuda_));
}

// Attention. Per (b, t, h), with A = scale * max_s sum_d |q_d k_sd| and Vmax = max |v| of its kv
// head, the fp32 bound: the scores differ by <= (hd + 32) eps A (sequential vs tree sums), exp
// adds 2 eps A, the softmax sums (S / 8 + 16) eps; softmax is 2-Lipschitz in the scores, so
// tol = 2 eps Vmax ((hd + 34) A + S / 8 + 16). That is the whole tolerance of the decode kernel
// (T == 1, fp32 throughout). The prefill path (T > 1) runs its two GEMMs on bf16 operands
// (u = 2^-9, round to nearest even): add the flash-attention rule for q, k, v rounded to bf16
// (2 x the error of the CPU on bf16-rounded inputs) and 2 u Vmax for the probabilities rounded
// to bf16 before the second GEMM.
TEST_F(CudaVsCpu, AttentionMasksSoftcapAndGqa) {
  struct Case {
    std::string name;
    int64_t B, T, S, H, KH, hd;
    AttentionMask mask;
    float softcap;
  };
  std::vector<Case> cases = {
      {"prefill prefix-LM MQA hd256", 2, 37, 41, 8, 1, 256, {{0, 0}, {37, 30}, {20, 30}, 0}, 0.f},
      {"Gemma2 local window+softcap", 2, 6, 50, 4, 2, 128, {{30, 40}, {36, 45}, {33, 10}, 7}, 50.f},
      {"decode GQA hd72 window", 3, 1, 300, 6, 2, 72, {{299, 150, 0}, {300, 151, 0}, {260, 100, 0}, 64}, 0.f},
      {"ViT bidirectional hd72", 2, 53, 53, 3, 3, 72, {{0, 0}, {53, 53}, {53, 53}, 0}, 0.f},
      {"tiny odd hd3", 1, 5, 9, 2, 1, 3, {{2}, {7}, {4}, 2}, 2.f},
      // Live rows of a 4-row cache (the continuous batcher's decode): sequence b reads row slot[b].
      {"decode slots MQA hd64", 2, 1, 40, 4, 1, 64, {{30, 12}, {31, 13}, {20, 10}, 0, {3, 1}}, 0.f},
      // 16 query heads on one kv head (two blocks per group), a long cache split over many
      // blocks (flash-decoding), soft-cap; sequence 1 queries from inside its prefix block.
      {"decode MQA16 long split softcap", 2, 1, 700, 16, 1, 256, {{649, 5}, {650, 12}, {300, 10}, 0}, 30.f},
      // Prefill of newcomers into cache rows 2 and 0 of 3, one of them padding-only (kv_len 0).
      {"prefill slots GQA padding", 3, 4, 20, 4, 2, 32, {{0, 3, 0}, {4, 7, 0}, {2, 7, 0}, 0, {2, 0, 1}}, 0.f},
  };
  // Each case twice: k, v in f32 tensors, and (bf16_cache) written into the CUDA backend's bf16
  // KV cache (AllocKvCache + WriteCache), compared with the CPU on k, v rounded to bf16.
  for (size_t run_index = 0; run_index < 2 * cases.size(); ++run_index) {
    const Case& c = cases[run_index / 2];
    const bool bf16_cache = run_index % 2 == 1;
    const int64_t R = c.mask.slot.empty() ? c.B : 4;  // cache rows
    const bool prefill = c.T > 1;
    auto q = Random(c.B * c.T * c.H * c.hd, 70), k = Random(R * c.S * c.KH * c.hd, 71),
         v = Random(R * c.S * c.KH * c.hd, 72);
    if (bf16_cache) {
      k = Bf16Rounded(k);
      v = Bf16Rounded(v);
    }
    AttentionParams p;
    p.scale = 1.f / std::sqrt(static_cast<float>(c.hd));
    p.softcap = c.softcap;
    // [R, S, KH, hd] host values -> a KV cache of `be` (bf16 on CUDA), through WriteCache.
    auto cache = [&](Backend& be, const std::string& name, const std::vector<float>& h) {
      Tensor fresh = be.Upload(name + "_fresh", {R, c.S, c.KH, c.hd}, h.data());
      Tensor t = be.AllocKvCache(name, {R, c.S, c.KH, c.hd});
      AttentionMask all;
      all.q_start.assign(R, 0);
      be.WriteCache(fresh, all, std::vector<int>(R, static_cast<int>(c.S)), t);
      return t;
    };
    auto run = [&](Backend& be, const std::vector<float>& hq, const std::vector<float>& hk, const std::vector<float>& hv) {
      const bool in_cache = bf16_cache && &be == cuda_.get();
      Tensor qt = be.Upload("q", {c.B, c.T, c.H, c.hd}, hq.data()),
             kt = in_cache ? cache(be, "k_cache", hk) : be.Upload("k", {R, c.S, c.KH, c.hd}, hk.data()),
             vt = in_cache ? cache(be, "v_cache", hv) : be.Upload("v", {R, c.S, c.KH, c.hd}, hv.data()),
             out = be.Alloc("out", {c.B, c.T, c.H, c.hd});
      if (in_cache) EXPECT_EQ(kt.dtype, DType::kBF16) << "the CUDA KV cache is bf16";
      be.Attention(qt, kt, vt, c.mask, p, out);
      return Host(be, out);
    };
    const auto ref = run(*cpu_, q, k, v);
    const double err_bf16 = prefill ? MaxDiff(run(*cpu_, Bf16Rounded(q), Bf16Rounded(k), Bf16Rounded(v)), ref) : 0.0;
    const double u_bf16 = 1.0 / (1 << 9);
    std::vector<double> tol(ref.size());
    for (int64_t b = 0; b < c.B; ++b)
      for (int64_t t = 0; t < c.T; ++t)
        for (int64_t h = 0; h < c.H; ++h) {
          const int64_t kh = h / (c.H / c.KH), row = ((b * c.T + t) * c.H + h) * c.hd;
          double A = 0, vmax = 0;
          const int64_t cb = c.mask.slot.empty() ? b : c.mask.slot[b];
          for (int64_t s = 0; s < c.S; ++s) {
            const int64_t kv = ((cb * c.S + s) * c.KH + kh) * c.hd;
            double dot = 0;
            for (int64_t d = 0; d < c.hd; ++d) {
              dot += std::fabs(q[row + d] * k[kv + d]);
              vmax = std::max(vmax, static_cast<double>(std::fabs(v[kv + d])));
            }
            A = std::max(A, p.scale * dot);
          }
          double t_row = 2 * kEps * vmax * ((c.hd + 34) * A + c.S / 8.0 + 16);
          if (prefill) t_row += 2 * err_bf16 + 2 * u_bf16 * vmax;
          std::fill(tol.begin() + row, tol.begin() + row + c.hd, t_row);
        }
    if (prefill) std::printf("[Attention %s] CPU on bf16-rounded q, k, v: max err %.3g\n", c.name.c_str(), err_bf16);
    ExpectClose("Attention " + c.name + (prefill ? " (prefill, bf16 GEMMs)" : " (decode)") +
                    (bf16_cache ? " on the bf16 KV cache" : ""),
                ref, run(*cuda_, q, k, v), tol);
  }
}

// The bf16 KV cache and SplitQkvRopeToCache (RoPE applied where K is written into the cache).
// Chain of exact checks: (1) AllocKvCache is 4-D bf16 and zero; (2) WriteCache into it equals the
// CPU's f32 WriteCache rounded to bf16; (3) the fused op equals CUDA's own SplitQkvRope +
// WriteCache x 2 bit for bit (q, and every cache entry, untouched ones included: slots, counts
// below T, permuted rows), on a bf16 and on an f32 cache; (4) on an f32 cache it matches the
// CPU's default (unfused) op within SplitQkvRope's rotation tolerance.
TEST_F(CudaVsCpu, KvCacheBf16AndFusedRopeWrite) {
  const int64_t B = 3, T = 4, H = 4, KH = 2, hd = 10, R = 4, S = 9, W = (H + 2 * KH) * hd;
  const auto qkv = Random(B * T * W, 80), old_k = Random(R * S * KH * hd, 81), old_v = Random(R * S * KH * hd, 82);
  AttentionMask m;
  m.slot = {2, 0, 3};
  m.q_start = {0, 5, 2};
  const std::vector<int> count = {4, 1, 0}, pos = {0, 1, 2, 3, 5, 6, 7, 8, 2, 3, 4, 5};
  Tensor z = cuda_->AllocKvCache("z", {R, S, KH, hd});
  EXPECT_EQ(z.dtype, DType::kBF16);
  ExpectExact("AllocKvCache is zero-filled", std::vector<float>(z.numel(), 0.f), Host(*cuda_, z));
  EXPECT_THROW(cuda_->AllocKvCache("flat", {R * S, KH * hd}), Error);
  // A cache of `be` holding `old` everywhere.
  auto filled = [&](Backend& be, const std::vector<float>& old, bool bf16) {
    Tensor c = bf16 ? be.AllocKvCache("cache", {R, S, KH, hd}) : be.Alloc("cache", {R, S, KH, hd});
    Tensor f = be.Upload("old", {R, S, KH, hd}, old.data());
    AttentionMask all;
    all.q_start.assign(R, 0);
    be.WriteCache(f, all, std::vector<int>(R, static_cast<int>(S)), c);
    return c;
  };
  ExpectExact("WriteCache into the bf16 cache = f32 values rounded", Bf16Rounded(old_k),
              Host(*cuda_, filled(*cuda_, old_k, true)));
  // Returns [q | k cache | v cache] after the op (fused, or the three unfused calls).
  auto run = [&](Backend& be, bool bf16, bool fused) {
    Tensor in = be.Upload("qkv", {B, T, W}, qkv.data());
    Tensor q = be.Alloc("q", {B, T, H, hd}), k = be.Alloc("k", {B, T, KH, hd}), v = be.Alloc("v", {B, T, KH, hd});
    Tensor kc = filled(be, old_k, bf16), vc = filled(be, old_v, bf16);
    if (fused) {
      be.SplitQkvRopeToCache(in, pos, 10000.f, m, count, q, k, v, kc, vc);
    } else {
      be.SplitQkvRope(in, pos, 10000.f, q, k, v);
      be.WriteCache(k, m, count, kc);
      be.WriteCache(v, m, count, vc);
    }
    std::vector<float> out = Host(be, q), hk = Host(be, kc), hv = Host(be, vc);
    out.insert(out.end(), hk.begin(), hk.end());
    out.insert(out.end(), hv.begin(), hv.end());
    return out;
  };
  const auto unfused_f32 = run(*cuda_, false, false);
  ExpectExact("SplitQkvRopeToCache f32 cache = SplitQkvRope + WriteCache", unfused_f32, run(*cuda_, false, true));
  ExpectExact("SplitQkvRopeToCache bf16 cache = SplitQkvRope + WriteCache", run(*cuda_, true, false),
              run(*cuda_, true, true));
  const size_t nq = B * T * H * hd;
  std::vector<float> rounded = unfused_f32;  // the bf16 cache holds the f32 results rounded
  for (size_t i = nq; i < rounded.size(); ++i) rounded[i] = RoundToBf16(rounded[i]);
  ExpectExact("SplitQkvRopeToCache bf16 cache = f32 cache rounded", rounded, run(*cuda_, true, true));
  // Against the CPU's default op: 8 eps (|x1| + |x2|) per rotated pair (as SplitQkvRope); the
  // pair's inputs bound |x1| + |x2| by sqrt(2) max |qkv|, so one bound for all is enough.
  const auto ref = run(*cpu_, false, true);
  const double tol = 8 * kEps * 2 * MaxAbs(qkv);
  ExpectClose("SplitQkvRopeToCache vs CPU (f32 cache)", ref, run(*cuda_, false, true),
              std::vector<double>(ref.size(), tol));
  // Bad caches: a 2-D bf16 weight is never written; the cache must hold the kv heads.
  std::vector<float> host(R * S * KH * hd, 1.f);
  Tensor weight = cuda_->UploadWeight("weight", {R * S, KH * hd}, host.data());
  Tensor fresh = cuda_->Alloc("fresh", {B, T, KH, hd});
  EXPECT_THROW(cuda_->WriteCache(fresh, m, count, weight), Error);
  Tensor in = cuda_->Upload("qkv", {B, T, W}, qkv.data());
  Tensor q = cuda_->Alloc("q", {B, T, H, hd}), k = cuda_->Alloc("k", {B, T, KH, hd}), v = cuda_->Alloc("v", {B, T, KH, hd});
  Tensor wrong = cuda_->AllocKvCache("wrong_heads", {R, S, KH + 1, hd}), good = cuda_->AllocKvCache("c", {R, S, KH, hd});
  EXPECT_THROW(cuda_->SplitQkvRopeToCache(in, pos, 10000.f, m, count, q, k, v, wrong, good), Error);
  EXPECT_THROW(cuda_->SplitQkvRopeToCache(in, pos, 10000.f, m, {4, 1, 9}, q, k, v, good, good), Error);
}

TEST_F(CudaVsCpu, RejectsWhatTheCpuRejectsAndBadTensors) {
  Tensor x = cuda_->Alloc("x", {2, 3}), w = cuda_->Alloc("w", {4, 5}), out = cuda_->Alloc("out", {2, 5});
  EXPECT_THROW(cuda_->MatMul(x, w, nullptr, out), Error);
  std::vector<float> host(6, 1.f);
  Tensor weight = cuda_->UploadWeight("weight", {2, 3}, host.data());  // bf16: read-only
  EXPECT_THROW(cuda_->GeluTanh(weight), Error);
  Tensor on_cpu = cpu_->Alloc("cpu_tensor", {2, 3});
  EXPECT_THROW(cuda_->Add(x, on_cpu), Error);
  Tensor q = cuda_->Alloc("q", {1, 1, 1, 257}), k = cuda_->Alloc("k", {1, 2, 1, 257}), o = cuda_->Alloc("o", {1, 1, 1, 257});
  AttentionMask m{{0}, {1}, {1}, 0};
  EXPECT_THROW(cuda_->Attention(q, k, k, m, AttentionParams{}, o), Error);  // head_dim > 256
  EXPECT_NE(CudaBackendStream(*cuda_), nullptr);
}

}  // namespace
}  // namespace pg

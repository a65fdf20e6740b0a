// bf16 activations on the CUDA backend (Backend::AllocActivation; docs/CUDA_BACKEND.md,
// "Precision"): every op the model runs with a bf16 input or output, against the CPU backend.
//
// Two checks per op, u = 2^-8 (one bf16 ulp relative to the value; round to nearest even is
// within half of it):
//  - consistency: CUDA with bf16 outputs = CUDA with f32 outputs on the same inputs, rounded to
//    bf16. The kernels compute in f32 and round once at the store, so this is bit exact for
//    every kernel; for the GEMMs (cuBLASLt, and the prefill attention's cuBLAS GEMMs), where a
//    GPU may pick another algorithm for another output type, within one bf16 ulp (u |v|).
//  - against the CPU (fp32, on the same bf16-valued inputs): the op's f32 tolerance of
//    tests/cuda_backend_test.cc plus the output rounding, u |ref_i|.
// A bf16 input holds exactly the values of its bf16-rounded f32 copy, so the CPU runs on those.
//
// Part of the cuda_backend_test program (not its own *_test.cc executable): linked into
// cuda_backend_test in a CUDA build and into the emulated cuda_backend_emu_test, its mutants and
// its ASan twin (tests/cuda_emu/tests.cmake).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_vs_cpu.h"
#include "runtime/backend.h"

namespace pg {
namespace {

constexpr double kBf16Ulp = 1.0 / (1 << 8);

// The CudaVsCpu fixture of tests/cuda_vs_cpu.h under its own suite name (the fixture is per
// translation unit; gtest wants one fixture type per suite).
using CudaVsCpuBf16 = CudaVsCpu;

// A tensor of `be` holding `v`: an activation (bf16 on CUDA, the values rounded) or f32.
Tensor Put(Backend& be, const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v, bool act) {
  Tensor t = act ? be.AllocActivation(name, std::move(shape)) : be.Alloc(name, std::move(shape));
  be.CopyFromHost(v.data(), t);
  return t;
}

Tensor Out(Backend& be, const std::string& name, std::vector<int64_t> shape, bool act) {
  return act ? be.AllocActivation(name, std::move(shape)) : be.Alloc(name, std::move(shape));
}

// got (bf16 outputs) against the f32-output run of the same op: rounded, within `ulps` bf16 ulps.
void ExpectRoundedOf(const std::string& what, const std::vector<float>& f32_run, const std::vector<float>& got,
                     double ulps) {
  std::vector<float> rounded = Bf16Rounded(f32_run);
  std::vector<double> tol(rounded.size());
  for (size_t i = 0; i < tol.size(); ++i) tol[i] = ulps * kBf16Ulp * std::fabs(f32_run[i]);
  ExpectClose(what + " (bf16 out = f32 out rounded)", rounded, got, tol);
}

// got (bf16 outputs) against the CPU: tol_i + u |ref_i|.
void ExpectNearCpu(const std::string& what, const std::vector<float>& ref, const std::vector<float>& got,
                   std::vector<double> tol) {
  for (size_t i = 0; i < tol.size(); ++i) tol[i] += kBf16Ulp * std::fabs(ref[i]);
  ExpectClose(what + " (bf16 out vs CPU)", ref, got, tol);
}

TEST_F(CudaVsCpuBf16, AllocActivationIsBf16AndHostCopiesRound) {
  const auto v = Random(5 * 7, 100);
  Tensor a = cuda_->AllocActivation("act", {5, 7});
  EXPECT_EQ(a.dtype, DType::kBF16);
  EXPECT_EQ(cpu_->AllocActivation("act", {5, 7}).dtype, DType::kF32);  // the CPU stays f32
  ExpectExact("AllocActivation is zero-filled", std::vector<float>(35, 0.f), Host(*cuda_, a));
  cuda_->CopyFromHost(v.data(), a);
  ExpectExact("CopyFromHost into bf16 rounds to nearest even", Bf16Rounded(v), Host(*cuda_, a));
  Tensor f = cuda_->Alloc("f", {5, 7}), b = cuda_->AllocActivation("b", {5, 7});
  cuda_->CopyRows(a, 1, f, 0, 2);  // bf16 -> f32
  cuda_->CopyFromHost(v.data(), f);
  cuda_->CopyRows(f, 2, b, 3, 2);  // f32 -> bf16
  std::vector<float> expect(35, 0.f);
  for (int i = 0; i < 14; ++i) expect[21 + i] = RoundToBf16(v[14 + i]);
  ExpectExact("CopyRows f32 -> bf16", expect, Host(*cuda_, b));
  // A weight stays read-only; a 2-D bf16 activation is writable.
  Tensor w = cuda_->UploadWeight("w", {7, 7}, Random(49, 101).data());
  EXPECT_THROW(cuda_->Scale(w, 2.f), Error);
  Tensor w_out = cuda_->UploadWeight("w_out", {5, 7}, v.data());
  EXPECT_THROW(cuda_->MatMul(a, w, nullptr, w_out), Error);
  EXPECT_NO_THROW(cuda_->MatMul(a, w, nullptr, b));
}

// MatMul (+ bias: CUBLASLT_EPILOGUE_BIAS), MatMulGelu (GELU_BIAS), MatMulTransB with a bf16 x
// and a bf16 out. cuBLASLt reads the bias in the output's type, so with a bf16 output the f32
// bias is rounded to bf16 first: both references (CUDA with an f32 output, the CPU) run on the
// bias rounded to bf16. Against the CPU: the flash-attention rule of MatMulFollowsTheBf16Rule
// (plus the CPU FastTanh's 2^-22 x 0.5 |pre-activation| for GELU) and the output rounding.
TEST_F(CudaVsCpuBf16, MatMulBf16Out) {
  struct Size { int64_t M, K, N; };
  for (const Size s : {Size{1, 7, 5}, Size{39, 129, 67}, Size{33, 1152, 257}}) {
    const std::string tag = std::to_string(s.M) + "x" + std::to_string(s.K) + "x" + std::to_string(s.N);
    const auto x = Bf16Rounded(Random(s.M * s.K, 110)), w = Random(s.K * s.N, 111, 0.05f);
    const auto bias = Bf16Rounded(Random(s.N, 112)), raw_bias = Random(s.N, 112);
    // kind 0: MatMul + bias, 1: MatMul, 2: MatMulGelu, 3: MatMulTransB (w read as [N, K])
    auto run = [&](Backend& be, const std::vector<float>& wv, int kind, bool act) {
      Tensor xt = Put(be, "x", {s.M, s.K}, x, act);
      const std::vector<float>& bias_used = act ? raw_bias : bias;  // bf16 out: the raw bias, rounded by the backend
      Tensor wt = kind == 3 ? be.UploadWeight("w", {s.N, s.K}, wv.data()) : be.UploadWeight("w", {s.K, s.N}, wv.data());
      Tensor bt = be.UploadWeight("b", {s.N}, bias_used.data()), out = Out(be, "out", {s.M, s.N}, act);
      if (kind == 0) be.MatMul(xt, wt, &bt, out);
      if (kind == 1) be.MatMul(xt, wt, nullptr, out);
      if (kind == 2) be.MatMulGelu(xt, wt, bt, out);
      if (kind == 3) be.MatMulTransB(xt, wt, out);
      return Host(be, out);
    };
    for (int kind = 0; kind < 4; ++kind) {
      const std::string name = std::string(kind == 0 ? "MatMul+bias " : kind == 1 ? "MatMul " : kind == 2 ? "MatMulGelu "
                                                                                                             : "MatMulTransB ") + tag;
      const auto got = run(*cuda_, w, kind, true);
      ExpectRoundedOf(name, run(*cuda_, w, kind, false), got, 1);
      const auto ref = run(*cpu_, w, kind, false), ref_bf16 = run(*cpu_, Bf16Rounded(w), kind, false);
      double tol = 2 * MaxDiff(ref_bf16, ref) + 16 * kEps * MaxAbs(ref);
      if (kind == 2) {  // the CPU FastTanh's absolute error 2^-22, times 0.5 max |x w + b|
        double pre_max = 0;
        for (int64_t m = 0; m < s.M; ++m)
          for (int64_t n = 0; n < s.N; ++n) {
            double acc = bias[n];
            for (int64_t k = 0; k < s.K; ++k) acc += static_cast<double>(x[m * s.K + k]) * w[k * s.N + n];
            pre_max = std::max(pre_max, std::fabs(acc));
          }
        tol += 0.5 * pre_max / (1 << 22);
      }
      ExpectNearCpu(name, ref, got, std::vector<double>(ref.size(), tol));
    }
  }
}

// A GEMM on row slices of activations (x from row 1 of a [5, 7] bf16 tensor: 14 bytes past its
// 256-byte aligned start; out from row 1 of [5, 5]: 10 bytes): cuBLASLt must be told the operands'
// real alignment (its heuristic assumes 256 bytes by default; the emulator faults a less aligned
// operand, as the real kernels may). Against the CPU on the same rows: the bf16 rule + rounding.
TEST_F(CudaVsCpuBf16, MatMulOnUnalignedRowSlices) {
  const auto x = Bf16Rounded(Random(5 * 7, 150)), w = Bf16Rounded(Random(7 * 5, 151)), bias = Bf16Rounded(Random(5, 152));
  auto run = [&](Backend& be) {
    Tensor xt = Put(be, "x", {5, 7}, x, true), out = be.AllocActivation("out", {5, 5});
    Tensor wt = be.UploadWeight("w", {7, 5}, w.data()), bt = be.UploadWeight("b", {5}, bias.data());
    Tensor o = out.RowSlice(1, 3);
    be.MatMul(xt.RowSlice(1, 3), wt, &bt, o);
    return Host(be, out);
  };
  const auto ref = run(*cpu_);
  ExpectNearCpu("MatMul on row slices", ref, run(*cuda_), std::vector<double>(ref.size(), 16 * kEps * MaxAbs(ref)));
}

// Elementwise ops on bf16 tensors (in place and outputs), the residual f32 += bf16, GeGlu,
// Embed into bf16: f32 arithmetic then one rounding, so against the CPU on the same values
// exact for the adds and Scale (one f32 rounding on both sides, then the same bf16 rounding)
// and for Embed; GELU / SoftCap / GeGlu within the f32 tolerance of GeluSoftCapGeGlu.
TEST_F(CudaVsCpuBf16, ElementwiseBf16) {
  const int64_t B = 3, R = 11, N = 37, F = 37;
  const auto x = Bf16Rounded(Random(B * R * N, 120)), y = Bf16Rounded(Random(B * R * N, 121));
  const auto row = Random(N, 122), gu = Bf16Rounded(Random(B * R * 2 * F, 123, 2.f));
  auto adds = [&](Backend& be, bool act) {
    Tensor xt = Put(be, "x", {B, R, N}, x, act), yt = Put(be, "y", {B, R, N}, y, true);
    Tensor rt = be.Upload("row", {N}, row.data()), res = Put(be, "residual", {B, R, N}, x, false);
    be.Add(xt, yt);
    be.AddRowBroadcast(xt, rt);
    be.Scale(xt, 0.37f);
    be.Add(res, xt);  // the residual stream (f32) += a bf16 block output
    std::vector<float> o = Host(be, xt), r = Host(be, res);
    o.insert(o.end(), r.begin(), r.end());
    return o;
  };
  // The CPU mirror of the bf16 run: each bf16 write rounded, on the CPU's f32 arithmetic.
  auto cpu_adds = [&]() {
    std::vector<float> o(x.size()), r(x);
    for (size_t i = 0; i < x.size(); ++i) {
      float v = RoundToBf16(x[i] + y[i]);
      v = RoundToBf16(v + row[i % N]);
      o[i] = RoundToBf16(v * 0.37f);
      r[i] += o[i];
    }
    o.insert(o.end(), r.begin(), r.end());
    return o;
  };
  ExpectExact("Add, AddRowBroadcast, Scale on bf16; f32 += bf16", cpu_adds(), adds(*cuda_, true));
  // (A chain of three ops rounds after each: cpu_adds mirrors that; no single-rounding check.)
  ExpectExact("Add, AddRowBroadcast, Scale on f32 (control)", adds(*cpu_, false), adds(*cuda_, false));

  auto gelu = [](double v) { return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); };
  const double kCpuTanh = 1.0 / (1 << 22);
  for (int which = 0; which < 3; ++which) {  // GeluTanh, SoftCap(3), GeGlu
    auto run = [&](Backend& be, bool act) {
      if (which == 2) {
        Tensor g = Put(be, "gate_up", {B, R, 2 * F}, gu, true), out = Out(be, "act", {B, R, F}, act);
        be.GeGlu(g, out);
        return Host(be, out);
      }
      Tensor t = Put(be, "t", {B, R, N}, x, act);
      if (which == 0) be.GeluTanh(t);
      if (which == 1) be.SoftCap(t, 3.f);
      return Host(be, t);
    };
    const auto got = run(*cuda_, true), ref = run(*cpu_, false);
    std::vector<double> tol(ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      if (which < 2) {
        tol[i] = 16 * kEps * (std::fabs(x[i]) + std::fabs(ref[i])) + (which == 0 ? 0.5 * std::fabs(x[i]) : 3.0) * kCpuTanh;
      } else {
        const size_t m = i / F, f = i % F;
        const double g = gu[m * 2 * F + f], u = gu[m * 2 * F + F + f];
        tol[i] = 32 * kEps * std::fabs(g * u) + 8 * kEps * std::fabs(gelu(g) * u) + 0.5 * std::fabs(g * u) * kCpuTanh;
      }
    }
    const std::string name = which == 0 ? "GeluTanh" : which == 1 ? "SoftCap(3)" : "GeGlu";
    ExpectRoundedOf(name, run(*cuda_, false), got, 0);
    ExpectNearCpu(name, ref, got, tol);
  }

  // Embed into a bf16 output: the table value times the scale, rounded once.
  const int64_t rows = 97, D = 65;
  const auto table = Bf16Rounded(Random(rows * D, 124));
  const std::vector<int> ids = {100, 196, 5, 150};
  auto embed = [&](Backend& be, bool act) {
    Tensor t = be.UploadWeight("embedding", {rows, D}, table.data()), out = Out(be, "emb", {4, D}, act);
    be.Embed(t, ids, 100, 8.06f, out);
    return Host(be, out);
  };
  ExpectExact("Embed into bf16", Bf16Rounded(embed(*cpu_, false)), embed(*cuda_, true));
}

// Norms writing bf16 (LayerNorm f32 x -> bf16 h; RmsNorm bf16 in place, the post-norms; AddRmsNorm
// f32 residual += bf16 block output -> bf16 h): the tolerance of tests/cuda_backend_test.cc Norms
// (C eps |ref|, LayerNorm C eps ((|x| + mean|x|) inv |g| + |b|), C = 4 (4 + log2 N)) plus the
// rounding. The residual written back by AddRmsNorm stays f32 and exact.
TEST_F(CudaVsCpuBf16, NormsBf16) {
  for (const int64_t N : {7, 1152}) {
    const int64_t M = 13;
    const auto x = Bf16Rounded(Random(M * N, 130, 2.f, 1.f)), y = Bf16Rounded(Random(M * N, 131, 3.f));
    const auto g = Random(N, 132, 0.5f), b = Random(N, 133);
    const double C = 4 * (4 + std::log2(static_cast<double>(N)));
    for (int which = 0; which < 3; ++which) {  // LayerNorm, RmsNorm in place, AddRmsNorm
      auto run = [&](Backend& be, bool act) {
        Tensor gt = be.Upload("g", {N}, g.data()), bt = be.Upload("b", {N}, b.data());
        Tensor h = Out(be, "h", {M, N}, act);
        if (which == 0) {
          Tensor xt = Put(be, "x", {M, N}, x, false);
          be.LayerNorm(xt, gt, bt, 1e-6f, h);
          return Host(be, h);
        }
        if (which == 1) {
          Tensor xt = Put(be, "block_out", {M, N}, x, act);
          be.RmsNorm(xt, gt, 1e-6f, xt);
          return Host(be, xt);
        }
        Tensor xt = Put(be, "x", {M, N}, x, false), yt = Put(be, "block_out", {M, N}, y, true);
        be.AddRmsNorm(xt, yt, gt, 1e-6f, h);
        std::vector<float> r = Host(be, xt), o = Host(be, h);
        r.insert(r.end(), o.begin(), o.end());
        return r;  // [x + y (f32) | normed]
      };
      const auto got = run(*cuda_, true), ref = run(*cpu_, false);
      const size_t off = which == 2 ? static_cast<size_t>(M * N) : 0;  // AddRmsNorm: the residual part is exact
      std::vector<double> tol(ref.size(), 0.0);
      NormTolerance(x, g, b, M, N, C, which == 0, ref, off, tol);
      const std::string name = std::string(which == 0 ? "LayerNorm" : which == 1 ? "RmsNorm in place" : "AddRmsNorm") +
                               " N=" + std::to_string(N);
      const auto f32_run = run(*cuda_, false);
      std::vector<float> ref_part(ref.begin() + off, ref.end()), got_part(got.begin() + off, got.end());
      ExpectRoundedOf(name, std::vector<float>(f32_run.begin() + off, f32_run.end()), got_part, 0);
      if (off) ExpectExact(name + " residual (f32)", std::vector<float>(ref.begin(), ref.begin() + off),
                           std::vector<float>(got.begin(), got.begin() + off));
      ExpectNearCpu(name, ref_part, got_part, std::vector<double>(tol.begin() + off, tol.end()));
    }
  }
}

// SplitQkvRope (the ViT: no positions; the decoder: RoPE) and Attention with bf16 q, k, v and a
// bf16 output: the consistency check (bit exact: the same kernels; the prefill GEMMs within one
// ulp), and against the CPU the SplitQkvRope bound 8 eps (|x1| + |x2|) plus the rounding.
TEST_F(CudaVsCpuBf16, RopeAndAttentionBf16) {
  const int64_t B = 2, T = 9, H = 4, KH = 2, hd = 64, W = (H + 2 * KH) * hd;
  const auto qkv = Bf16Rounded(Random(B * T * W, 140));
  std::vector<int> pos(B * T);
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int>(i * 37 % 500);
  auto split = [&](Backend& be, bool act, bool rope) {
    Tensor in = Put(be, "qkv", {B, T, W}, qkv, true);
    Tensor q = Out(be, "q", {B, T, H, hd}, act), k = Out(be, "k", {B, T, KH, hd}, act), v = Out(be, "v", {B, T, KH, hd}, act);
    be.SplitQkvRope(in, rope ? pos : std::vector<int>{}, 10000.f, q, k, v);
    std::vector<float> o = Host(be, q), hk = Host(be, k), hv = Host(be, v);
    o.insert(o.end(), hk.begin(), hk.end());
    o.insert(o.end(), hv.begin(), hv.end());
    return o;
  };
  ExpectExact("SplitQkv (no rope) bf16 -> bf16", split(*cpu_, false, false), split(*cuda_, true, false));
  const auto got = split(*cuda_, true, true), ref = split(*cpu_, false, true), plain = split(*cpu_, false, false);
  ExpectRoundedOf("SplitQkvRope", split(*cuda_, false, true), got, 0);
  std::vector<double> tol(ref.size());
  const int64_t half = hd / 2, rotated = B * T * (H + KH) * hd;
  for (size_t i = 0; i < ref.size(); ++i) {
    const int64_t d = static_cast<int64_t>(i) % hd, base = static_cast<int64_t>(i) - d, pair = d < half ? d + half : d - half;
    tol[i] = static_cast<int64_t>(i) >= rotated ? 0.0 : 8 * kEps * (std::fabs(plain[i]) + std::fabs(plain[base + pair]));
  }
  ExpectNearCpu("SplitQkvRope", ref, got, tol);

  // Attention on bf16 q, k, v (the ViT's activations) and on the bf16 KV cache with a bf16 q
  // (the decoder): decode (T = 1) and prefill (T > 1). Consistency only: the attention's
  // accuracy against the CPU is AttentionMasksSoftcapAndGqa's (its inputs here are bf16 values).
  for (const int64_t Tq : {int64_t{1}, T}) {
    const auto q = Bf16Rounded(Random(B * Tq * H * hd, 141)), k = Bf16Rounded(Random(B * T * KH * hd, 142)),
               v = Bf16Rounded(Random(B * T * KH * hd, 143));
    AttentionMask mask;
    mask.q_start = {static_cast<int>(T - Tq), 0};
    mask.kv_len = {static_cast<int>(T), static_cast<int>(Tq == 1 ? 5 : T)};
    mask.prefix_len = {4, 3};
    AttentionParams p;
    p.scale = 0.125f;
    auto run = [&](bool act) {
      Tensor qt = Put(*cuda_, "q", {B, Tq, H, hd}, q, act), kt = Put(*cuda_, "k", {B, T, KH, hd}, k, act),
             vt = Put(*cuda_, "v", {B, T, KH, hd}, v, act), out = Out(*cuda_, "attn", {B, Tq, H, hd}, act);
      cuda_->Attention(qt, kt, vt, mask, p, out);
      return Host(*cuda_, out);
    };
    ExpectRoundedOf(std::string("Attention bf16 q, k, v -> bf16 ") + (Tq == 1 ? "decode" : "prefill"), run(false),
                    run(true), Tq == 1 ? 0 : 1);
  }
}

}  // namespace
}  // namespace pg

// CpuBackend ops against naive references written independently here.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/backend.h"
#include "runtime/cpu/vector_math.h"

namespace pg {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<float> Host(Backend& be, const Tensor& t) {
  std::vector<float> h(t.numel());
  be.Download(t, h.data());
  return h;
}

TEST(CpuBackend, MatMulWithBiasMatchesNaive) {
  auto be = MakeBackend("cpu");
  const int M = 5, K = 7, N = 3;
  auto xv = Random(M * K, 1), wv = Random(K * N, 2), bv = Random(N, 3);
  Tensor x = be->Upload("x", {M, K}, xv.data()), w = be->Upload("w", {K, N}, wv.data()),
         b = be->Upload("b", {N}, bv.data()), out = be->Alloc("out", {M, N});
  be->MatMul(x, w, &b, out);
  auto o = Host(*be, out);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double ref = bv[n];
      for (int k = 0; k < K; ++k) ref += xv[m * K + k] * wv[k * N + n];
      EXPECT_NEAR(o[m * N + n], ref, 1e-5);
    }
  Tensor wt = be->Upload("wt", {N, K}, wv.data());  // reinterpret as [N, K]
  Tensor out2 = be->Alloc("out2", {M, N});
  be->MatMulTransB(x, wt, out2);
  auto o2 = Host(*be, out2);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double ref = 0;
      for (int k = 0; k < K; ++k) ref += xv[m * K + k] * wv[n * K + k];
      EXPECT_NEAR(o2[m * N + n], ref, 1e-5);
    }
}

// The CPU's activation precision is f32: AllocActivation is Alloc (the model's workspaces, and
// so every CPU result, are unchanged by the CUDA backend's bf16 activations).
TEST(CpuBackend, AllocActivationIsAnF32Alloc) {
  auto be = MakeBackend("cpu");
  Tensor a = be->AllocActivation("act", {3, 5});
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.device, Device::kCpu);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(a.f32()[i], 0.f);
}

TEST(CpuBackend, MatMulRejectsMismatchedShapes) {
  auto be = MakeBackend("cpu");
  Tensor x = be->Alloc("x", {2, 3}), w = be->Alloc("w", {4, 5}), out = be->Alloc("out", {2, 5});
  EXPECT_THROW(be->MatMul(x, w, nullptr, out), Error);
}

TEST(CpuBackend, RmsNormUsesOnePlusScale) {
  auto be = MakeBackend("cpu");
  std::vector<float> xv = {1, 2, 3, 4}, sv = {0, 1, -0.5f, 2};
  Tensor x = be->Upload("x", {1, 4}, xv.data()), s = be->Upload("s", {4}, sv.data()), o = be->Alloc("o", {1, 4});
  be->RmsNorm(x, s, 1e-6f, o);
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
  auto h = Host(*be, o);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(h[i], xv[i] / rms * (1 + sv[i]), 1e-6);
}

TEST(CpuBackend, LayerNormAndGeGlu) {
  auto be = MakeBackend("cpu");
  std::vector<float> xv = {1, 2, 3, 6}, g = {1, 2, 1, 1}, b = {0, 0, 1, 0};
  Tensor x = be->Upload("x", {1, 4}, xv.data()), gs = be->Upload("g", {4}, g.data()), bs = be->Upload("b", {4}, b.data());
  Tensor o = be->Alloc("o", {1, 4});
  be->LayerNorm(x, gs, bs, 1e-6f, o);
  const double mean = 3, var = (4 + 1 + 0 + 9) / 4.0;
  auto h = Host(*be, o);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(h[i], (xv[i] - mean) / std::sqrt(var + 1e-6) * g[i] + b[i], 1e-5);

  std::vector<float> gu = {0.5f, -1.f, 2.f, 3.f};  // gate = [0.5, -1], up = [2, 3]
  Tensor t = be->Upload("gu", {1, 4}, gu.data()), act = be->Alloc("act", {1, 2});
  be->GeGlu(t, act);
  auto gelu = [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); };
  auto a = Host(*be, act);
  EXPECT_NEAR(a[0], gelu(0.5) * 2, 1e-6);
  EXPECT_NEAR(a[1], gelu(-1) * 3, 1e-6);
}

// Rotates one head vector at `pos` through SplitQkvRope (q = k = the vector, H = KH = 1).
std::vector<float> Rotated(Backend& be, const std::vector<float>& x, int pos) {
  const int64_t hd = static_cast<int64_t>(x.size());
  std::vector<float> qkv = x;
  qkv.insert(qkv.end(), x.begin(), x.end());
  qkv.insert(qkv.end(), x.begin(), x.end());
  Tensor in = be.Upload("qkv", {1, 1, 3 * hd}, qkv.data());
  Tensor q = be.Alloc("q", {1, 1, 1, hd}), k = be.Alloc("k", {1, 1, 1, hd}), v = be.Alloc("v", {1, 1, 1, hd});
  be.SplitQkvRope(in, {pos}, 10000.f, q, k, v);
  EXPECT_EQ(Host(be, q), Host(be, k));
  EXPECT_EQ(Host(be, v), x) << "v is not rotated";
  return Host(be, q);
}

TEST(CpuBackend, RopeDependsOnlyOnRelativePosition) {
  auto be = MakeBackend("cpu");
  const int hd = 8;
  auto qv = Random(hd, 4), kv = Random(hd, 5);
  auto dot_at = [&](int pq, int pk) {
    auto a = Rotated(*be, qv, pq), b = Rotated(*be, kv, pk);
    double d = 0;
    for (int i = 0; i < hd; ++i) d += a[i] * b[i];
    return d;
  };
  EXPECT_NEAR(dot_at(7, 3), dot_at(104, 100), 1e-4);
  // Position 0 is the identity.
  auto a = Rotated(*be, qv, 0);
  for (int i = 0; i < hd; ++i) EXPECT_FLOAT_EQ(a[i], qv[i]);
  // The pair (i, i + hd/2) rotates by pos * base^(-2i/hd): i = 0 by pos radians.
  auto r = Rotated(*be, qv, 3);
  EXPECT_NEAR(r[0], qv[0] * std::cos(3.0) - qv[4] * std::sin(3.0), 1e-5);
  EXPECT_NEAR(r[4], qv[4] * std::cos(3.0) + qv[0] * std::sin(3.0), 1e-5);
}

// SplitQkvRope without positions: columns [q heads | k heads | v heads] of every row, copied.
TEST(CpuBackend, SplitQkvWithoutRopeSplitsColumns) {
  auto be = MakeBackend("cpu");
  const int rows = 3, H = 2, KH = 1, hd = 2, W = (H + 2 * KH) * hd;
  std::vector<float> in(rows * W);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
  Tensor qkv = be->Upload("qkv", {rows, W}, in.data());
  Tensor q = be->Alloc("q", {1, rows, H, hd}), k = be->Alloc("k", {1, rows, KH, hd}), v = be->Alloc("v", {1, rows, KH, hd});
  be->SplitQkvRope(qkv, {}, 0.f, q, k, v);
  auto hq = Host(*be, q), hk = Host(*be, k), hv = Host(*be, v);
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < H * hd; ++j) EXPECT_EQ(hq[r * H * hd + j], in[r * W + j]);
    for (int j = 0; j < KH * hd; ++j) {
      EXPECT_EQ(hk[r * KH * hd + j], in[r * W + H * hd + j]);
      EXPECT_EQ(hv[r * KH * hd + j], in[r * W + (H + KH) * hd + j]);
    }
  }
  Tensor bad = be->Alloc("bad", {rows, W - 1});
  EXPECT_THROW(be->SplitQkvRope(bad, {}, 0.f, q, k, v), Error);
}

// Attention against a naive softmax over an explicitly built visibility matrix.
TEST(CpuBackend, AttentionPrefixCausalWindowAndPadding) {
  auto be = MakeBackend("cpu");
  const int B = 2, T = 5, S = 6, H = 4, KH = 2, hd = 3;
  auto qv = Random(B * T * H * hd, 6), kv = Random(B * S * KH * hd, 7), vv = Random(B * S * KH * hd, 8);
  Tensor q = be->Upload("q", {B, T, H, hd}, qv.data()), k = be->Upload("k", {B, S, KH, hd}, kv.data()),
         v = be->Upload("v", {B, S, KH, hd}, vv.data()), out = be->Alloc("out", {B, T, H, hd});
  AttentionMask m;
  m.q_start = {0, 1};
  m.kv_len = {4, 6};      // sequence 0: queries 4 (slot 4) is padding
  m.prefix_len = {4, 2};  // sequence 0: query 3 sees key 0 through the prefix block despite the window
  m.window = 3;
  AttentionParams p;
  p.scale = 0.7f;
  p.softcap = 2.f;
  be->Attention(q, k, v, m, p, out);
  auto o = Host(*be, out);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < H; ++h) {
        const int qs = m.q_start[b] + t, kh = h / (H / KH);
        std::vector<double> w(S, 0);
        double mx = -1e30, sum = 0;
        std::vector<bool> vis(S);
        for (int s = 0; s < S; ++s) {
          const bool prefix_block = s < m.prefix_len[b] && qs < m.prefix_len[b];
          vis[s] = qs < m.kv_len[b] && s < m.kv_len[b] && (prefix_block || (s <= qs && qs - s < m.window));
          if (!vis[s]) continue;
          double d = 0;
          for (int i = 0; i < hd; ++i) d += qv[((b * T + t) * H + h) * hd + i] * kv[((b * S + s) * KH + kh) * hd + i];
          w[s] = std::tanh(d * p.scale / p.softcap) * p.softcap;
          mx = std::max(mx, w[s]);
        }
        for (int s = 0; s < S; ++s) sum += vis[s] ? std::exp(w[s] - mx) : 0;
        for (int i = 0; i < hd; ++i) {
          double ref = 0;
          for (int s = 0; s < S; ++s)
            if (vis[s]) ref += std::exp(w[s] - mx) / sum * vv[((b * S + s) * KH + kh) * hd + i];
          EXPECT_NEAR(o[((b * T + t) * H + h) * hd + i], ref, 1e-5) << "b" << b << " t" << t << " h" << h;
        }
      }
}

TEST(CpuBackend, VocabParallelEmbedZeroesForeignRows) {
  auto be = MakeBackend("cpu");
  std::vector<float> table = {1, 2, 3, 4, 5, 6};  // rows 10, 11, 12 of a sharded table, D = 2
  Tensor t = be->Upload("table", {3, 2}, table.data()), out = be->Alloc("out", {3, 2});
  be->Embed(t, {11, 3, 12}, 10, 2.f, out);
  auto o = Host(*be, out);
  EXPECT_EQ(o, (std::vector<float>{6, 8, 0, 0, 10, 12}));
}

TEST(CpuBackend, WriteCachePlacesRowsAtSlots) {
  auto be = MakeBackend("cpu");
  std::vector<float> fresh = {1, 2, 3, 4};  // [B=2, T=2, 1, 1]
  Tensor f = be->Upload("fresh", {2, 2, 1, 1}, fresh.data()), cache = be->Alloc("cache", {2, 4, 1, 1});
  AttentionMask m;
  m.q_start = {1, 2};
  be->WriteCache(f, m, {2, 1}, cache);
  EXPECT_EQ(Host(*be, cache), (std::vector<float>{0, 1, 2, 0, 0, 0, 3, 0}));
  m.q_start = {3, 0};
  EXPECT_THROW(be->WriteCache(f, m, {2, 1}, cache), Error);
  // Cache rows by slot: sequence 0 -> row 2, sequence 1 -> row 0 of a 3-row cache.
  Tensor big = be->Alloc("cache3", {3, 2, 1, 1});
  m.slot = {2, 0};
  m.q_start = {0, 1};
  be->WriteCache(f, m, {2, 1}, big);
  EXPECT_EQ(Host(*be, big), (std::vector<float>{0, 3, 0, 0, 1, 2}));
  m.slot = {3, 0};
  EXPECT_THROW(be->WriteCache(f, m, {2, 1}, big), Error);
}

// Attention with slots reads each sequence's own cache row: the same result as a cache that
// holds only those rows in batch order.
TEST(CpuBackend, AttentionReadsCacheRowsBySlot) {
  auto be = MakeBackend("cpu");
  const int S = 4, H = 2, KH = 1, hd = 2, rows = 3;
  auto kv = Random(rows * S * KH * hd, 11), vv = Random(rows * S * KH * hd, 12), qv = Random(2 * H * hd, 13);
  Tensor k = be->Upload("k", {rows, S, KH, hd}, kv.data()), v = be->Upload("v", {rows, S, KH, hd}, vv.data());
  Tensor q = be->Upload("q", {2, 1, H, hd}, qv.data()), out = be->Alloc("out", {2, 1, H, hd});
  AttentionMask m;
  m.slot = {2, 0};
  m.q_start = {3, 1};
  m.kv_len = {4, 2};
  m.prefix_len = {2, 1};
  be->Attention(q, k, v, m, AttentionParams{0.5f, 0.f}, out);
  // Reference: copy rows 2 and 0 into a 2-row cache and run without slots.
  std::vector<float> k2, v2;
  for (int r : {2, 0}) {
    k2.insert(k2.end(), kv.begin() + r * S * KH * hd, kv.begin() + (r + 1) * S * KH * hd);
    v2.insert(v2.end(), vv.begin() + r * S * KH * hd, vv.begin() + (r + 1) * S * KH * hd);
  }
  Tensor kk = be->Upload("k2", {2, S, KH, hd}, k2.data()), vk = be->Upload("v2", {2, S, KH, hd}, v2.data());
  Tensor ref = be->Alloc("ref", {2, 1, H, hd});
  m.slot.clear();
  be->Attention(q, kk, vk, m, AttentionParams{0.5f, 0.f}, ref);
  EXPECT_EQ(Host(*be, out), Host(*be, ref));
}

// TopK: (value desc, index asc); ties broken by the lower index; NaN and +inf ranked first.
TEST(CpuBackend, TopKOrdersByValueThenIndex) {
  auto be = MakeBackend("cpu");
  const float nan = std::nanf(""), inf = INFINITY;
  std::vector<float> x = {1, 3, 3, -inf, 2,  /* row 1 */ 0, nan, 5, inf, 5};
  Tensor t = be->Upload("logits", {2, 5}, x.data());
  std::vector<float> val(6);
  std::vector<int> id(6);
  be->TopK(t, 3, val.data(), id.data());
  EXPECT_EQ(std::vector<int>(id.begin(), id.begin() + 3), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(std::vector<float>(val.begin(), val.begin() + 3), (std::vector<float>{3, 3, 2}));
  EXPECT_EQ(std::vector<int>(id.begin() + 3, id.end()), (std::vector<int>{1, 3, 2}));  // column indices
  be->TopK(t, 1, val.data(), id.data());
  EXPECT_EQ(id[0], 1);
  EXPECT_EQ(id[1], 1);
  EXPECT_THROW(be->TopK(t, 6, val.data(), id.data()), Error);
}

// RowLogSumExp: log(sum exp) per row from the row max, against a direct fp64 sum; a shift by c
// shifts it by c (no overflow at large logits); NaN gives NaN, +inf gives +inf, -inf counts 0.
TEST(CpuBackend, RowLogSumExpIsStableAndExact) {
  BackendOptions o;
  o.threads = 2;
  auto be = MakeBackend("cpu", o);
  const int64_t B = 5, V = 1003;
  std::vector<float> x(B * V);
  for (int64_t i = 0; i < B * V; ++i) x[i] = static_cast<float>(std::sin(0.37 * i) * 12.0);
  for (int64_t i = 3 * V; i < 4 * V; ++i) x[i] += 1000.f;  // exp would overflow without the max
  x[4 * V + 7] = -INFINITY;
  Tensor t = be->Upload("logits", {B, V}, x.data());
  std::vector<float> lse(B);
  be->RowLogSumExp(t, lse.data());
  for (int64_t b = 0; b < B; ++b) {
    const double shift = b == 3 ? 1000.0 : 0.0;
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(x[b * V + v]) - shift);
    EXPECT_NEAR(lse[b], std::log(sum) + shift, 1e-5 * (std::fabs(std::log(sum)) + shift + 1)) << "row " << b;
  }
  std::vector<float> odd = {1, std::nanf(""), 2, /* row 1 */ 0, INFINITY, 1};
  Tensor odd_t = be->Upload("odd", {2, 3}, odd.data());
  be->RowLogSumExp(odd_t, lse.data());
  EXPECT_TRUE(std::isnan(lse[0]));
  EXPECT_EQ(lse[1], INFINITY);
}

// The threaded GEMM split (rows for tall x, 16-aligned column blocks otherwise) gives the naive
// product for every thread count, both layouts of W, and shapes that do not divide evenly.
TEST(CpuBackend, ThreadedMatMulMatchesNaiveForEveryShapeAndThreadCount) {
  struct Shape { int M, K, N; };
  for (int threads : {1, 2, 3}) {
    BackendOptions o;
    o.threads = threads;
    auto be = MakeBackend("cpu", o);
    for (const Shape s : {Shape{1, 33, 517}, Shape{7, 64, 130}, Shape{97, 31, 45}, Shape{200, 16, 3}}) {
      auto xv = Random(s.M * s.K, 21), wv = Random(s.K * s.N, 22);
      Tensor x = be->Upload("x", {s.M, s.K}, xv.data()), w = be->Upload("w", {s.K, s.N}, wv.data()),
             out = be->Alloc("out", {s.M, s.N}), wt = be->Upload("wt", {s.N, s.K}, wv.data()),
             out_t = be->Alloc("out_t", {s.M, s.N});
      be->MatMul(x, w, nullptr, out);
      be->MatMulTransB(x, wt, out_t);  // wt read as [N, K]
      auto o = Host(*be, out), ot = Host(*be, out_t);
      for (int m = 0; m < s.M; ++m)
        for (int n = 0; n < s.N; ++n) {
          double ref = 0, ref_t = 0;
          for (int k = 0; k < s.K; ++k) {
            ref += double(xv[m * s.K + k]) * wv[k * s.N + n];
            ref_t += double(xv[m * s.K + k]) * wv[n * s.K + k];
          }
          ASSERT_NEAR(o[m * s.N + n], ref, 1e-4) << "threads " << threads << " M " << s.M << " n " << n;
          ASSERT_NEAR(ot[m * s.N + n], ref_t, 1e-4) << "threads " << threads << " M " << s.M << " n " << n;
        }
    }
  }
}

// Attention over several threads (tasks = sequence x kv head x row block) equals one thread.
TEST(CpuBackend, ThreadedAttentionEqualsOneThread) {
  const int B = 3, T = 70, S = 80, H = 4, KH = 2, hd = 8;
  auto qv = Random(B * T * H * hd, 31), kv = Random(B * S * KH * hd, 32), vv = Random(B * S * KH * hd, 33);
  AttentionMask m;
  m.q_start = {0, 5, 9};
  m.kv_len = {70, 75, 60};  // sequence 2: the last queries are padding
  m.prefix_len = {20, 40, 9};
  m.window = 0;
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2, 3}) {
    BackendOptions o;
    o.threads = threads;
    auto be = MakeBackend("cpu", o);
    Tensor q = be->Upload("q", {B, T, H, hd}, qv.data()), k = be->Upload("k", {B, S, KH, hd}, kv.data()),
           v = be->Upload("v", {B, S, KH, hd}, vv.data()), out = be->Alloc("out", {B, T, H, hd});
    be->Attention(q, k, v, m, AttentionParams{0.35f, 0.f}, out);
    outs.push_back(Host(*be, out));
  }
  EXPECT_EQ(outs[0], outs[1]);
  EXPECT_EQ(outs[0], outs[2]);
}

// The vectorizable exp / tanh / GELU-tanh of runtime/cpu/vector_math.h against libm.
TEST(CpuVectorMath, ExpTanhGeluMatchLibm) {
  double exp_rel = 0, tanh_abs = 0, gelu_abs = 0;
  for (double x = -80; x <= 80; x += 0.0137) {
    const float f = static_cast<float>(x);
    exp_rel = std::max(exp_rel, std::fabs(cpu::FastExp(f) - std::exp(double(f))) / std::exp(double(f)));
    tanh_abs = std::max(tanh_abs, std::fabs(cpu::FastTanh(f) - std::tanh(double(f))));
    const double g = 0.5 * f * (1 + std::tanh(0.7978845608028654 * (f + 0.044715 * double(f) * f * f)));
    gelu_abs = std::max(gelu_abs, std::fabs(cpu::FastGeluTanh(f) - g) / std::max(1.0, std::fabs(g)));
  }
  EXPECT_LT(exp_rel, 1e-6);
  EXPECT_LT(tanh_abs, 1e-6);
  EXPECT_LT(gelu_abs, 1e-6);
  EXPECT_EQ(cpu::FastExp(-1000.f) < 1e-37f, true);
  EXPECT_FLOAT_EQ(cpu::FastTanh(1000.f), 1.f);
  EXPECT_FLOAT_EQ(cpu::FastTanh(-1000.f), -1.f);
}

TEST(Backend, UnknownAndUnavailableBackendsFailClearly) {
  EXPECT_THROW(MakeBackend("tpu"), Error);
}

}  // namespace
}  // namespace pg

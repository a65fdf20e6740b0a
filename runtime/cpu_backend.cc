#include "runtime/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/cpu/attention.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/cpu/gemm.h"
#include "runtime/cpu/host_buffer.h"
#include "runtime/cpu/norms.h"
#include "runtime/cpu/parallel.h"
#include "runtime/op_shapes.h"

namespace pg {
namespace {

using cpu::ParallelFor;

// Rows of a tensor viewed as a matrix [rows, cols] with cols = the last dim.
int64_t Rows(const Tensor& t) { return t.numel() / t.dim(-1); }

// Smallest elementwise chunk worth a thread.
constexpr int64_t kGrain = 16384;

// Element i of a read-only host tensor stored as f32 or bf16 (2-D weights with bf16 storage).
inline float At(const Tensor& t, int64_t i) {
  return t.dtype == DType::kF32 ? static_cast<const float*>(t.data)[i]
                                : Bf16ToF32(static_cast<const uint16_t*>(t.data)[i]);
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& o) : threads_(std::max(1, o.threads)) {
    openblas_set_num_threads(1);  // the backend's own threads split every GEMM (runtime/cpu/gemm.h)
    bf16_weights_ = o.weight_dtype == DType::kBF16;  // native or widened bf16 GEMMs (runtime/cpu/gemm.h)
  }
  std::string name() const override { return "cpu"; }

  Tensor Alloc(const std::string& name, std::vector<int64_t> shape) override {
    return NewTensor(name, std::move(shape), DType::kF32, /*zero=*/true);
  }

  Tensor Upload(const std::string& name, std::vector<int64_t> shape, const float* host) override {
    Tensor t = NewTensor(name, std::move(shape), DType::kF32, /*zero=*/false);
    std::memcpy(t.data, host, t.bytes());
    stats_.bytes_from_host += static_cast<int64_t>(t.bytes());
    return t;
  }

  // 2-D weight matrices in bf16 when asked (as the CUDA backend stores them), else f32.
  Tensor UploadWeight(const std::string& name, std::vector<int64_t> shape, const float* host) override {
    if (!bf16_weights_ || shape.size() != 2) {
      Tensor t = NewTensor(name, std::move(shape), DType::kF32, /*zero=*/false, /*weight=*/true);
      std::memcpy(t.data, host, t.bytes());
      stats_.bytes_from_host += static_cast<int64_t>(t.bytes());
      return t;
    }
    Tensor t = NewTensor(name, std::move(shape), DType::kBF16, /*zero=*/false, /*weight=*/true);
    uint16_t* words = static_cast<uint16_t*>(t.data);
    for (int64_t i = 0, n = t.numel(); i < n; ++i) words[i] = F32ToBf16(host[i]);
    stats_.bytes_from_host += t.numel() * static_cast<int64_t>(sizeof(float));
    return t;
  }

  // The weight's own storage, in the dtype UploadWeight would keep: the loader reads into it.
  Tensor StageWeight(const std::string& name, std::vector<int64_t> shape) override {
    const DType dtype = bf16_weights_ && shape.size() == 2 ? DType::kBF16 : DType::kF32;
    return NewTensor(name, std::move(shape), dtype, /*zero=*/false, /*weight=*/true);
  }
  Tensor FinishWeight(Tensor staged) override {
    stats_.bytes_from_host += static_cast<int64_t>(staged.bytes());
    return staged;
  }

  void Download(const Tensor& t, float* host) override {
    if (t.dtype == DType::kF32) {
      std::memcpy(host, t.data, t.bytes());
    } else {
      for (int64_t i = 0, n = t.numel(); i < n; ++i) host[i] = At(t, i);
    }
    stats_.bytes_to_host += static_cast<int64_t>(t.bytes());
  }
  void CopyFromHost(const float* host, Tensor& dst) override {
    std::memcpy(dst.f32(), host, dst.bytes());
    stats_.bytes_from_host += static_cast<int64_t>(dst.bytes());
  }
  void Zero(Tensor& t) override { std::memset(t.f32(), 0, t.bytes()); }

  void CopyRows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) override {
    const int64_t cols = src.dim(-1);
    PG_CHECK(dst.dim(-1) == cols, "CopyRows: '" << src.name << "' has " << cols << " columns, '" << dst.name
                                                << "' has " << dst.dim(-1));
    PG_CHECK(rows >= 0 && src_row >= 0 && src_row + rows <= Rows(src) && dst_row >= 0 && dst_row + rows <= Rows(dst),
             "CopyRows: rows out of range for '" << src.name << "' -> '" << dst.name << "'");
    float* to = dst.f32() + dst_row * cols;
    if (src.dtype == DType::kF32) {
      std::memcpy(to, src.f32() + src_row * cols, rows * cols * sizeof(float));
    } else {
      for (int64_t i = 0; i < rows * cols; ++i) to[i] = At(src, src_row * cols + i);
    }
  }

  // ---- linear algebra ---------------------------------------------------------------------
  // The bias of a GEMM with N output columns: N fp32 values.
  static const float* BiasOf(const Tensor& bias, int64_t N, const char* op) {
    PG_CHECK(bias.numel() == N && bias.dtype == DType::kF32,
             op << ": bias '" << bias.name << "' " << ShapeStr(bias.shape) << " for " << N << " output columns");
    return bias.f32();
  }

  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& out) override {
    // x: [M, K], w: [K, N], out: [M, N]; x and out may carry more dims ([B, T, heads, hd]) as long
    // as their element counts are M * K and M * N.
    const auto [M, N, K] = CheckMatMul(x, w, out);
    cpu::GemmArgs a{x.f32(), w.data, w.dtype == DType::kBF16, false, out.f32(), M, N, K};
    if (bias) a.bias = BiasOf(*bias, N, "MatMul");
    cpu::Gemm(a, threads_);  // the bias is the GEMM's epilogue (runtime/cpu/gemm.h)
  }

  // gelu_tanh(x @ w + bias) with the bias and GELU in the GEMM's epilogue (runtime/cpu/gemm.h).
  void MatMulGelu(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out) override {
    // x: [M, K], w: [K, N], bias: [N], out: [M, N]
    const auto [M, N, K] = CheckMatMul(x, w, out);
    cpu::GemmArgs a{x.f32(), w.data, w.dtype == DType::kBF16, false, out.f32(), M, N, K};
    a.bias = BiasOf(bias, N, "MatMulGelu");
    a.gelu = true;
    cpu::Gemm(a, threads_);
  }

  void MatMulTransB(const Tensor& x, const Tensor& w, Tensor& out) override {
    // x: [M, K], w: [N, K], out: [M, N]
    const int64_t N = w.dim(0), K = w.dim(-1), M = Rows(x);
    PG_CHECK(x.dim(-1) == K && out.dim(-1) == N && Rows(out) == M && w.numel() == N * K,
             "MatMulTransB: '" << x.name << "' " << ShapeStr(x.shape) << " x '" << w.name << "'^T "
                               << ShapeStr(w.shape) << " -> '" << out.name << "' " << ShapeStr(out.shape));
    cpu::Gemm({x.f32(), w.data, w.dtype == DType::kBF16, true, out.f32(), M, N, K}, threads_);
  }

  // ---- elementwise ------------------------------------------------------------------------
  void Add(Tensor& x, const Tensor& y) override {
    PG_CHECK(x.numel() == y.numel(), "Add: '" << x.name << "' " << ShapeStr(x.shape) << " vs '" << y.name << "' "
                                              << ShapeStr(y.shape));
    float* a = x.f32();
    const float* b = y.f32();
    ParallelFor(threads_, x.numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) a[i] += b[i];
    });
  }

  void AddRowBroadcast(Tensor& x, const Tensor& row) override {
    // x: [M, N] (any shape with M * N elements), row: [N]
    const int64_t N = row.numel();
    PG_CHECK(N > 0 && x.numel() % N == 0, "AddRowBroadcast: row '" << row.name << "' has " << N
                                                                   << " elements; '" << x.name << "' has "
                                                                   << x.numel());
    float* a = x.f32();
    const float* r = row.f32();
    ParallelFor(threads_, x.numel() / N, std::max<int64_t>(1, kGrain / N), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m)
        for (int64_t n = 0; n < N; ++n) a[m * N + n] += r[n];
    });
  }

  void AddBatchBroadcast(Tensor& x, const Tensor& table) override {
    // x: [B, R, N] += table: [R, N] (f32 or bf16)
    const int64_t per = table.numel();
    PG_CHECK(per > 0 && x.numel() % per == 0, "AddBatchBroadcast: '" << table.name << "' " << ShapeStr(table.shape)
                                                                     << " does not tile '" << x.name << "' "
                                                                     << ShapeStr(x.shape));
    float* a = x.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] += At(table, i % per);
  }

  void Scale(Tensor& x, float s) override {
    float* a = x.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] *= s;
  }

  void LayerNorm(const Tensor& x, const Tensor& scale, const Tensor& bias, float eps, Tensor& out) override {
    const int64_t N = x.dim(-1), M = Rows(x);
    PG_CHECK(scale.numel() == N && bias.numel() == N && out.numel() == x.numel(),
             "LayerNorm: '" << x.name << "' " << ShapeStr(x.shape) << " with scale '" << scale.name << "' "
                            << ShapeStr(scale.shape));
    const float* in = x.f32();
    const float* g = scale.f32();
    const float* b = bias.f32();
    float* o = out.f32();
    ParallelFor(threads_, M, std::max<int64_t>(1, kGrain / N), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const float* r = in + m * N;
        float sum = 0.f;
        for (int64_t n = 0; n < N; ++n) sum += r[n];
        const float mean = sum / static_cast<float>(N);
        float var = 0.f;
        for (int64_t n = 0; n < N; ++n) var += (r[n] - mean) * (r[n] - mean);
        const float inv = 1.f / std::sqrt(var / static_cast<float>(N) + eps);
        for (int64_t n = 0; n < N; ++n) o[m * N + n] = (r[n] - mean) * inv * g[n] + b[n];
      }
    });
  }

  void RmsNorm(const Tensor& x, const Tensor& scale, float eps, Tensor& out) override {
    const int64_t N = x.dim(-1), M = Rows(x);
    PG_CHECK(scale.numel() == N && out.numel() == x.numel(),
             "RmsNorm: '" << x.name << "' " << ShapeStr(x.shape) << " with scale '" << scale.name << "' "
                          << ShapeStr(scale.shape));
    const float* in = x.f32();
    const float* g = scale.f32();
    float* o = out.f32();
    ParallelFor(threads_, M, std::max<int64_t>(1, kGrain / N), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const float* r = in + m * N;
        float ss = 0.f;
        for (int64_t n = 0; n < N; ++n) ss += r[n] * r[n];
        const float inv = 1.f / std::sqrt(ss / static_cast<float>(N) + eps);
        for (int64_t n = 0; n < N; ++n) o[m * N + n] = r[n] * inv * (1.f + g[n]);
      }
    });
  }

  void AddRmsNorm(Tensor& x, const Tensor& y, const Tensor& scale, float eps, Tensor& out) override {
    // x, y, out: [M, N]; scale: [N]
    const int64_t N = x.dim(-1), M = Rows(x);
    CheckAddRmsNorm(x, y, scale, out);
    float* a = x.f32();
    const float* b = y.f32();
    const float* g = scale.f32();
    float* o = out.f32();
    ParallelFor(threads_, M, std::max<int64_t>(1, kGrain / N),
                [&](int64_t m0, int64_t m1) { cpu::AddRmsNormRows(a, b, g, o, m0, m1, N, eps); });
  }

  void GeluTanh(Tensor& x) override {
    float* a = x.f32();
    ParallelFor(threads_, x.numel(), kGrain, [&](int64_t i0, int64_t i1) { cpu::GeluTanhInPlace(a + i0, i1 - i0); });
  }

  void GeGlu(const Tensor& gate_up, Tensor& out) override {
    const int64_t F = out.dim(-1), M = Rows(out);
    PG_CHECK(gate_up.dim(-1) == 2 * F && Rows(gate_up) == M,
             "GeGlu: '" << gate_up.name << "' " << ShapeStr(gate_up.shape) << " -> '" << out.name << "' "
                        << ShapeStr(out.shape));
    const float* in = gate_up.f32();
    float* o = out.f32();
    ParallelFor(threads_, M, std::max<int64_t>(1, kGrain / F), [&](int64_t m0, int64_t m1) {
      cpu::GeGluRows(in + m0 * 2 * F, o + m0 * F, m1 - m0, F);
    });
  }

  void SoftCap(Tensor& x, float cap) override {
    PG_CHECK(cap > 0, "SoftCap: cap must be > 0, got " << cap << " for '" << x.name << "'");
    float* a = x.f32();
    ParallelFor(threads_, x.numel(), kGrain, [&](int64_t i0, int64_t i1) { cpu::SoftCapInPlace(a + i0, i1 - i0, cap); });
  }

  // ---- transformer pieces -----------------------------------------------------------------
  void SplitQkvRope(const Tensor& qkv, const std::vector<int>& positions, float base, Tensor& q, Tensor& k,
                    Tensor& v) override {
    // qkv: [rows, (H + 2 KH) * hd] -> q: [rows, H, hd], k/v: [rows, KH, hd]; q, k rotated at positions
    // (no structured bindings: the lambda below captures these, which C++17 clang rejects)
    const QkvDims dims = CheckSplitQkv(qkv, positions, q, k, v);
    const int64_t rows = dims.rows, H = dims.heads, KH = dims.kv_heads, hd = dims.head_dim;
    const int64_t half = hd / 2, width = (H + 2 * KH) * hd;
    const float* cs = positions.empty() ? nullptr : RopeTable(positions, base, hd);  // [rows, cos | sin]
    const float* in = qkv.f32();
    float *qo = q.f32(), *ko = k.f32(), *vo = v.f32();
    ParallelFor(threads_, rows, std::max<int64_t>(1, kGrain / width), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* row = in + r * width;
        if (!cs) {
          std::memcpy(qo + r * H * hd, row, H * hd * sizeof(float));
          std::memcpy(ko + r * KH * hd, row + H * hd, KH * hd * sizeof(float));
        } else {
          const float* c = cs + r * hd;
          const float* s = c + half;
          auto rotate = [&](const float* src, float* dst) {
            for (int64_t i = 0; i < half; ++i) {
              const float x1 = src[i], x2 = src[i + half];
              dst[i] = x1 * c[i] - x2 * s[i];
              dst[i + half] = x2 * c[i] + x1 * s[i];
            }
          };
          for (int64_t h = 0; h < H; ++h) rotate(row + h * hd, qo + (r * H + h) * hd);
          for (int64_t h = 0; h < KH; ++h) rotate(row + (H + h) * hd, ko + (r * KH + h) * hd);
        }
        std::memcpy(vo + r * KH * hd, row + (H + KH) * hd, KH * hd * sizeof(float));
      }
    });
  }

  void Embed(const Tensor& table, const std::vector<int>& ids, int64_t row_offset, float scale,
             Tensor& out) override {
    const int64_t rows = table.dim(0), D = table.dim(-1);
    PG_CHECK(out.dim(-1) == D && Rows(out) == static_cast<int64_t>(ids.size()),
             "Embed: '" << out.name << "' " << ShapeStr(out.shape) << " for " << ids.size() << " ids");
    float* o = out.f32();
    for (size_t m = 0; m < ids.size(); ++m) {
      const int64_t r = ids[m] - row_offset;
      if (r >= 0 && r < rows) {
        for (int64_t d = 0; d < D; ++d) o[m * D + d] = At(table, r * D + d) * scale;
      } else {
        std::memset(o + m * D, 0, D * sizeof(float));
      }
    }
  }

  void WriteCache(const Tensor& fresh, const AttentionMask& mask, const std::vector<int>& count,
                  Tensor& cache) override {
    // fresh: [B, T, kv_heads, head_dim], cache: [rows, S, kv_heads, head_dim]
    const int64_t B = fresh.dim(0), T = fresh.dim(1), row = fresh.dim(2) * fresh.dim(3), S = cache.dim(1);
    PG_CHECK(cache.dim(2) * cache.dim(3) == row && static_cast<int64_t>(mask.q_start.size()) == B &&
                 static_cast<int64_t>(count.size()) == B &&
                 (mask.slot.empty() || static_cast<int64_t>(mask.slot.size()) == B),
             "WriteCache: '" << fresh.name << "' " << ShapeStr(fresh.shape) << " into '" << cache.name << "' "
                             << ShapeStr(cache.shape) << " with " << mask.q_start.size() << " starts");
    for (int64_t b = 0; b < B; ++b) {
      const int64_t r = CacheRow(mask.slot, b, cache.dim(0), "WriteCache");
      PG_CHECK(count[b] >= 0 && count[b] <= T && mask.q_start[b] >= 0 && mask.q_start[b] + count[b] <= S,
               "WriteCache: sequence " << b << " needs slots up to " << mask.q_start[b] + count[b] << " but '"
                                       << cache.name << "' holds " << S);
      std::memcpy(cache.f32() + (r * S + mask.q_start[b]) * row, fresh.f32() + b * T * row,
                  count[b] * row * sizeof(float));
    }
  }

  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                 const AttentionParams& p, Tensor& out) override {
    // q: [B, T, heads, hd], k/v: [rows, S, kv_heads, hd], out: [B, T, heads, hd]
    PG_CHECK(q.rank() == 4, "Attention: '" << q.name << "' must be [batch, seq, heads, head_dim], got "
                                           << ShapeStr(q.shape));
    CheckShape(k, {-1, -1, -1, q.dim(3)});
    CheckShape(v, k.shape);
    CheckShape(out, q.shape);
    const int64_t B = q.dim(0), H = q.dim(2), S = k.dim(1), KH = k.dim(2);
    PG_CHECK(KH > 0 && H % KH == 0, "Attention: " << H << " query heads for " << KH << " kv heads");
    PG_CHECK(static_cast<int64_t>(mask.kv_len.size()) == B && mask.q_start.size() == mask.kv_len.size() &&
                 mask.prefix_len.size() == mask.kv_len.size() &&
                 (mask.slot.empty() || static_cast<int64_t>(mask.slot.size()) == B),
             "Attention: mask describes " << mask.kv_len.size() << " sequences for batch " << B);
    PG_CHECK(mask.window >= 0, "Attention: negative sliding window " << mask.window);
    for (int64_t b = 0; b < B; ++b) {
      PG_CHECK(mask.kv_len[b] <= S, "Attention: kv_len " << mask.kv_len[b] << " > cache size " << S);
      PG_CHECK(mask.q_start[b] >= 0, "Attention: q_start " << mask.q_start[b] << " < 0 for sequence " << b);
      CacheRow(mask.slot, b, k.dim(0), "Attention");
    }
    cpu::Attention(q, k, v, mask, p, out, threads_);
  }

  void TopK(const Tensor& logits, int k, float* values, int* ids) override {
    // logits: [B, V] -> values, ids: host [B, k], (value desc, index asc); NaN / +inf first
    const int64_t V = logits.dim(-1), B = Rows(logits);
    PG_CHECK(k >= 1 && k <= V, "TopK: k = " << k << " for rows of " << V << " in '" << logits.name << "'");
    ParallelFor(threads_, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<int> order;
      for (int64_t b = b0; b < b1; ++b) {
        const float* row = logits.f32() + b * V;
        const auto before = [row](int x, int y) {
          const float a = TopKKey(row[x]), c = TopKKey(row[y]);
          return a > c || (a == c && x < y);
        };
        if (k == 1) {
          int best = 0;
          for (int i = 1; i < V; ++i)
            if (before(i, best)) best = i;
          values[b] = row[best];
          ids[b] = best;
          continue;
        }
        order.resize(V);
        for (int i = 0; i < V; ++i) order[i] = i;
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int j = 0; j < k; ++j) {
          values[b * k + j] = row[order[j]];
          ids[b * k + j] = order[j];
        }
      }
    });
    stats_.bytes_to_host += B * k * static_cast<int64_t>(sizeof(float) + sizeof(int));
  }

  void RowLogSumExp(const Tensor& logits, float* lse) override {
    // logits: [B, V] -> lse: host [B]
    const int64_t V = logits.dim(-1), B = Rows(logits);
    PG_CHECK(V >= 1, "RowLogSumExp: empty rows in '" << logits.name << "'");
    ParallelFor(threads_, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const float* row = logits.f32() + b * V;
        float m = row[0];
        bool nan = false;
        for (int64_t i = 0; i < V; ++i) {
          nan |= std::isnan(row[i]);
          m = std::max(m, row[i]);
        }
        if (nan || std::isinf(m)) {
          lse[b] = nan ? std::numeric_limits<float>::quiet_NaN() : m;
          continue;
        }
        double sum = 0;
        for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(row[i] - m));
        lse[b] = static_cast<float>(m + std::log(sum));
      }
    });
    stats_.bytes_to_host += B * static_cast<int64_t>(sizeof(float));
  }

 private:
  // weight: a matrix the GEMMs stream (on huge pages when large, runtime/cpu/host_buffer.h).
  Tensor NewTensor(const std::string& name, std::vector<int64_t> shape, DType dtype, bool zero, bool weight = false) {
    ++stats_.allocations;
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.dtype = dtype;
    for (int64_t d : t.shape) PG_CHECK(d >= 0, "tensor '" << name << "': negative dim in " << ShapeStr(t.shape));
    const size_t bytes = std::max<size_t>(t.bytes(), 4);
    std::shared_ptr<char> buf = cpu::AllocHostBuffer(bytes, zero, weight);
    t.data = buf.get();
    t.storage = buf;
    return t;
  }

  // [rows, cos(hd/2) | sin(hd/2)] for the positions, kept while the positions repeat (every
  // layer of a step rotates at the same positions).
  const float* RopeTable(const std::vector<int>& positions, float base, int64_t hd) {
    if (positions != rope_positions_ || base != rope_base_ || hd != rope_hd_) {
      const std::vector<float> inv_freq = RopeInverseFrequencies(hd, base);
      const int64_t half = hd / 2;
      rope_table_.resize(positions.size() * hd);
      for (size_t r = 0; r < positions.size(); ++r)
        for (int64_t i = 0; i < half; ++i) {
          const float ang = static_cast<float>(positions[r]) * inv_freq[i];
          rope_table_[r * hd + i] = std::cos(ang);
          rope_table_[r * hd + half + i] = std::sin(ang);
        }
      rope_positions_ = positions;
      rope_base_ = base;
      rope_hd_ = hd;
    }
    return rope_table_.data();
  }

  // NaN ranks with +inf, above every finite value (TopK's contract).
  static float TopKKey(float v) { return std::isnan(v) ? std::numeric_limits<float>::infinity() : v; }

  int threads_;
  bool bf16_weights_ = false;
  std::vector<int> rope_positions_;
  float rope_base_ = 0.f;
  int64_t rope_hd_ = 0;
  std::vector<float> rope_table_;
};

}  // namespace

std::unique_ptr<Backend> MakeCpuBackend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace pg

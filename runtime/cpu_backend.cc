#include "runtime/cpu_backend.h"

#include "runtime/op_shapes.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace pg {
namespace {

// Rows of a tensor viewed as a matrix [rows, cols] with cols = the last dim.
int64_t Rows(const Tensor& t) { return t.numel() / t.dim(-1); }

float GeluTanhScalar(float x) {
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as jax.nn.gelu(approximate=True).
  const float kC = 0.7978845608028654f;
  return 0.5f * x * (1.f + std::tanh(kC * (x + 0.044715f * x * x * x)));
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& o) {
    if (o.threads > 0) openblas_set_num_threads(o.threads);
  }
  std::string name() const override { return "cpu"; }

  Tensor Alloc(const std::string& name, std::vector<int64_t> shape) override {
    ++stats_.allocations;
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    for (int64_t d : t.shape) PG_CHECK(d >= 0, "tensor '" << name << "': negative dim in " << ShapeStr(t.shape));
    auto buf = std::shared_ptr<float>(new float[std::max<int64_t>(t.numel(), 1)](), std::default_delete<float[]>());
    t.data = buf.get();
    t.storage = buf;
    return t;
  }

  Tensor Upload(const std::string& name, std::vector<int64_t> shape, const float* host) override {
    Tensor t = Alloc(name, std::move(shape));
    std::memcpy(t.data, host, t.bytes());
    stats_.bytes_from_host += static_cast<int64_t>(t.bytes());
    return t;
  }

  void Download(const Tensor& t, float* host) override {
    std::memcpy(host, t.f32(), t.bytes());
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
    PG_CHECK(src_row >= 0 && src_row + rows <= Rows(src) && dst_row >= 0 && dst_row + rows <= Rows(dst),
             "CopyRows: rows out of range for '" << src.name << "' -> '" << dst.name << "'");
    std::memcpy(dst.f32() + dst_row * cols, src.f32() + src_row * cols, rows * cols * sizeof(float));
  }

  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& out) override {
    // x: [M, K], w: [K, N], out: [M, N]; x and out may carry more dims ([B, T, heads, hd]) as long
    // as their element counts are M * K and M * N.
    const auto [M, N, K] = CheckMatMul(x, w, out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, x.f32(), K, w.f32(), N, 0.f, out.f32(), N);
    if (bias) AddRowBroadcast(out, *bias);
  }

  void MatMulTransB(const Tensor& x, const Tensor& w, Tensor& out) override {
    // x: [M, K], w: [N, K], out: [M, N]
    const int64_t N = w.dim(0), K = w.dim(-1), M = Rows(x);
    PG_CHECK(x.dim(-1) == K && out.dim(-1) == N && Rows(out) == M,
             "MatMulTransB: '" << x.name << "' " << ShapeStr(x.shape) << " x '" << w.name << "'^T "
                               << ShapeStr(w.shape) << " -> '" << out.name << "' " << ShapeStr(out.shape));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, x.f32(), K, w.f32(), K, 0.f, out.f32(), N);
  }

  void Add(Tensor& x, const Tensor& y) override {
    PG_CHECK(x.numel() == y.numel(), "Add: '" << x.name << "' " << ShapeStr(x.shape) << " vs '" << y.name << "' "
                                              << ShapeStr(y.shape));
    float* a = x.f32();
    const float* b = y.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] += b[i];
  }

  void AddRowBroadcast(Tensor& x, const Tensor& row) override {
    // x: [M, N] (any shape with M * N elements), row: [N]
    const int64_t N = row.numel();
    PG_CHECK(N > 0 && x.numel() % N == 0, "AddRowBroadcast: row '" << row.name << "' has " << N
                                                                   << " elements; '" << x.name << "' has "
                                                                   << x.numel());
    float* a = x.f32();
    const float* r = row.f32();
    for (int64_t m = 0, M = x.numel() / N; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) a[m * N + n] += r[n];
  }

  void AddBatchBroadcast(Tensor& x, const Tensor& table) override {
    const int64_t per = table.numel();
    PG_CHECK(per > 0 && x.numel() % per == 0, "AddBatchBroadcast: '" << table.name << "' " << ShapeStr(table.shape)
                                                                     << " does not tile '" << x.name << "' "
                                                                     << ShapeStr(x.shape));
    float* a = x.f32();
    const float* t = table.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] += t[i % per];
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
    for (int64_t m = 0; m < M; ++m) {
      const float* r = in + m * N;
      double mean = 0, var = 0;
      for (int64_t n = 0; n < N; ++n) mean += r[n];
      mean /= N;
      for (int64_t n = 0; n < N; ++n) var += (r[n] - mean) * (r[n] - mean);
      var /= N;
      const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
      for (int64_t n = 0; n < N; ++n) o[m * N + n] = (r[n] - static_cast<float>(mean)) * inv * g[n] + b[n];
    }
  }

  void RmsNorm(const Tensor& x, const Tensor& scale, float eps, Tensor& out) override {
    const int64_t N = x.dim(-1), M = Rows(x);
    PG_CHECK(scale.numel() == N && out.numel() == x.numel(),
             "RmsNorm: '" << x.name << "' " << ShapeStr(x.shape) << " with scale '" << scale.name << "' "
                          << ShapeStr(scale.shape));
    const float* in = x.f32();
    const float* g = scale.f32();
    float* o = out.f32();
    for (int64_t m = 0; m < M; ++m) {
      const float* r = in + m * N;
      double ss = 0;
      for (int64_t n = 0; n < N; ++n) ss += static_cast<double>(r[n]) * r[n];
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / N + eps));
      for (int64_t n = 0; n < N; ++n) o[m * N + n] = r[n] * inv * (1.f + g[n]);
    }
  }

  void GeluTanh(Tensor& x) override {
    float* a = x.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] = GeluTanhScalar(a[i]);
  }

  void GeGlu(const Tensor& gate_up, Tensor& out) override {
    const int64_t F = out.dim(-1), M = Rows(out);
    PG_CHECK(gate_up.dim(-1) == 2 * F && Rows(gate_up) == M,
             "GeGlu: '" << gate_up.name << "' " << ShapeStr(gate_up.shape) << " -> '" << out.name << "' "
                        << ShapeStr(out.shape));
    const float* in = gate_up.f32();
    float* o = out.f32();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t f = 0; f < F; ++f) o[m * F + f] = GeluTanhScalar(in[m * 2 * F + f]) * in[m * 2 * F + F + f];
  }

  void SoftCap(Tensor& x, float cap) override {
    float* a = x.f32();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) a[i] = std::tanh(a[i] / cap) * cap;
  }

  void SplitQkvRope(const Tensor& qkv, const std::vector<int>& positions, float base, Tensor& q, Tensor& k,
                    Tensor& v) override {
    // qkv: [rows, (H + 2 KH) * hd] -> q: [rows, H, hd], k/v: [rows, KH, hd]; q, k rotated at positions
    const auto [rows, H, KH, hd] = CheckSplitQkv(qkv, positions, q, k, v);
    const int64_t half = hd / 2, width = (H + 2 * KH) * hd;
    const std::vector<float> inv_freq = positions.empty() ? std::vector<float>{} : RopeInverseFrequencies(hd, base);
    std::vector<float> cs(hd);  // [cos | sin] of this row's angles
    const float* in = qkv.f32();
    float *qo = q.f32(), *ko = k.f32(), *vo = v.f32();
    auto rotate = [&](const float* src, float* dst) {
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = src[i], x2 = src[i + half];
        dst[i] = x1 * cs[i] - x2 * cs[half + i];
        dst[i + half] = x2 * cs[i] + x1 * cs[half + i];
      }
    };
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = in + r * width;
      if (positions.empty()) {
        std::memcpy(qo + r * H * hd, row, H * hd * sizeof(float));
        std::memcpy(ko + r * KH * hd, row + H * hd, KH * hd * sizeof(float));
      } else {
        for (int64_t i = 0; i < half; ++i) {
          const float ang = static_cast<float>(positions[r]) * inv_freq[i];
          cs[i] = std::cos(ang);
          cs[half + i] = std::sin(ang);
        }
        for (int64_t h = 0; h < H; ++h) rotate(row + h * hd, qo + (r * H + h) * hd);
        for (int64_t h = 0; h < KH; ++h) rotate(row + (H + h) * hd, ko + (r * KH + h) * hd);
      }
      std::memcpy(vo + r * KH * hd, row + (H + KH) * hd, KH * hd * sizeof(float));
    }
  }

  void Embed(const Tensor& table, const std::vector<int>& ids, int64_t row_offset, float scale,
             Tensor& out) override {
    const int64_t rows = table.dim(0), D = table.dim(-1);
    PG_CHECK(out.dim(-1) == D && Rows(out) == static_cast<int64_t>(ids.size()),
             "Embed: '" << out.name << "' " << ShapeStr(out.shape) << " for " << ids.size() << " ids");
    const float* t = table.f32();
    float* o = out.f32();
    for (size_t m = 0; m < ids.size(); ++m) {
      const int64_t r = ids[m] - row_offset;
      if (r >= 0 && r < rows) {
        for (int64_t d = 0; d < D; ++d) o[m * D + d] = t[r * D + d] * scale;
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
                 static_cast<int64_t>(count.size()) == B && (mask.slot.empty() || static_cast<int64_t>(mask.slot.size()) == B),
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
    // q: [B, T, heads, hd], k/v: [B, S, kv_heads, hd], out: [B, T, heads, hd]
    CheckShape(k, {-1, -1, -1, q.dim(3)});
    CheckShape(v, k.shape);
    CheckShape(out, q.shape);
    const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), hd = q.dim(3), S = k.dim(1), KH = k.dim(2);
    PG_CHECK(mask.slot.empty() || static_cast<int64_t>(mask.slot.size()) == B,
             "Attention: " << mask.slot.size() << " cache rows for batch " << B);
    PG_CHECK(H % KH == 0, "Attention: " << H << " query heads for " << KH << " kv heads");
    PG_CHECK(static_cast<int64_t>(mask.kv_len.size()) == B && mask.q_start.size() == mask.kv_len.size() &&
                 mask.prefix_len.size() == mask.kv_len.size(),
             "Attention: mask describes " << mask.kv_len.size() << " sequences for batch " << B);
    const int64_t group = H / KH;
    std::vector<float> scores(S);
    float* o = out.f32();
    for (int64_t b = 0; b < B; ++b) {
      PG_CHECK(mask.kv_len[b] <= S, "Attention: kv_len " << mask.kv_len[b] << " > cache size " << S);
      const int64_t cb = CacheRow(mask.slot, b, k.dim(0), "Attention");
      for (int64_t t = 0; t < T; ++t) {
        const int64_t qs = mask.q_start[b] + t;
        for (int64_t h = 0; h < H; ++h) {
          float* dst = o + ((b * T + t) * H + h) * hd;
          std::memset(dst, 0, hd * sizeof(float));
          if (qs >= mask.kv_len[b]) continue;  // padding query
          const float* qv = q.f32() + ((b * T + t) * H + h) * hd;
          const int64_t kh = h / group;
          float mx = -std::numeric_limits<float>::infinity();
          for (int64_t s = 0; s < mask.kv_len[b]; ++s) {
            const bool in_prefix = s < mask.prefix_len[b] && qs < mask.prefix_len[b];
            const bool visible = in_prefix || (s <= qs && (mask.window == 0 || qs - s < mask.window));
            if (!visible) {
              scores[s] = -std::numeric_limits<float>::infinity();
              continue;
            }
            const float* kv = k.f32() + ((cb * S + s) * KH + kh) * hd;
            float dot = 0;
            for (int64_t d = 0; d < hd; ++d) dot += qv[d] * kv[d];
            dot *= p.scale;
            if (p.softcap > 0) dot = std::tanh(dot / p.softcap) * p.softcap;
            scores[s] = dot;
            mx = std::max(mx, dot);
          }
          double sum = 0;
          for (int64_t s = 0; s < mask.kv_len[b]; ++s) {
            scores[s] = std::isinf(scores[s]) ? 0.f : std::exp(scores[s] - mx);
            sum += scores[s];
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t s = 0; s < mask.kv_len[b]; ++s) {
            if (scores[s] == 0.f) continue;
            const float w = scores[s] * inv;
            const float* vv = v.f32() + ((cb * S + s) * KH + kh) * hd;
            for (int64_t d = 0; d < hd; ++d) dst[d] += w * vv[d];
          }
        }
      }
    }
  }

  void TopK(const Tensor& logits, int k, float* values, int* ids) override {
    // logits: [B, V] -> values, ids: host [B, k], (value desc, index asc); NaN / +inf first
    const int64_t V = logits.dim(-1), B = Rows(logits);
    PG_CHECK(k >= 1 && k <= V, "TopK: k = " << k << " for rows of " << V << " in '" << logits.name << "'");
    std::vector<int> order(V);
    for (int64_t b = 0; b < B; ++b) {
      const float* row = logits.f32() + b * V;
      const auto before = [row](int x, int y) {
        const float a = TopKKey(row[x]), c = TopKKey(row[y]);
        return a > c || (a == c && x < y);
      };
      if (k == 1) {
        int best = 0;
        for (int i = 1; i < V; ++i)
          if (before(i, best)) best = i;
        order[0] = best;
      } else {
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      }
      for (int j = 0; j < k; ++j) {
        values[b * k + j] = row[order[j]];
        ids[b * k + j] = order[j];
      }
    }
    stats_.bytes_to_host += B * k * static_cast<int64_t>(sizeof(float) + sizeof(int));
  }

 private:
  // NaN ranks with +inf, above every finite value (TopK's contract).
  static float TopKKey(float v) { return std::isnan(v) ? std::numeric_limits<float>::infinity() : v; }
};

}  // namespace

std::unique_ptr<Backend> MakeCpuBackend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace pg

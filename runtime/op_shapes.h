// Shape contracts and constants shared by every Backend implementation, so the CPU reference
// and the CUDA backend accept exactly the same tensors and compute RoPE angles the same way.
#pragma once

#include <cmath>
#include <vector>

#include "runtime/tensor.h"

namespace pg {

struct MatMulDims {
  int64_t M, N, K;
};

// x: [M, K] (any shape with M * K elements), w: [K, N], out: [M, N] (any shape with M * N).
inline MatMulDims CheckMatMul(const Tensor& x, const Tensor& w, const Tensor& out) {
  PG_CHECK(w.rank() == 2, "MatMul: weight '" << w.name << "' must be 2-D, got " << ShapeStr(w.shape));
  const int64_t K = w.shape[0], N = w.shape[1];
  PG_CHECK(K > 0 && x.numel() % K == 0, "MatMul: '" << x.name << "' " << ShapeStr(x.shape) << " @ '" << w.name
                                                    << "' " << ShapeStr(w.shape) << ": inner dims differ");
  const int64_t M = x.numel() / K;
  PG_CHECK(out.numel() == M * N, "MatMul: output '" << out.name << "' has shape " << ShapeStr(out.shape)
                                                    << "; expected " << M << " x " << N << " elements");
  return {M, N, K};
}

struct QkvDims {
  int64_t rows, heads, kv_heads, head_dim;
};

// qkv: [B, T, (heads + 2 kv_heads) * head_dim] (or [B * T, ...]); q: [B, T, heads, head_dim];
// k, v: [B, T, kv_heads, head_dim]; positions: [B * T] or empty (no rotation).
inline QkvDims CheckSplitQkv(const Tensor& qkv, const std::vector<int>& positions, const Tensor& q, const Tensor& k,
                             const Tensor& v) {
  PG_CHECK(q.rank() == 4 && k.rank() == 4 && v.rank() == 4,
           "SplitQkvRope: '" << q.name << "', '" << k.name << "', '" << v.name
                             << "' must be [batch, seq, heads, head_dim]");
  CheckShape(v, k.shape);
  const int64_t rows = q.shape[0] * q.shape[1], H = q.shape[2], KH = k.shape[2], hd = q.shape[3];
  PG_CHECK(k.shape[0] * k.shape[1] == rows && k.shape[3] == hd && hd % 2 == 0,
           "SplitQkvRope: '" << q.name << "' " << ShapeStr(q.shape) << " vs '" << k.name << "' " << ShapeStr(k.shape));
  PG_CHECK(qkv.dim(-1) == (H + 2 * KH) * hd && qkv.numel() == rows * (H + 2 * KH) * hd,
           "SplitQkvRope: '" << qkv.name << "' " << ShapeStr(qkv.shape) << " is not [" << rows << ", (" << H
                             << " + 2 x " << KH << ") x " << hd << "]");
  PG_CHECK(positions.empty() || static_cast<int64_t>(positions.size()) == rows,
           "SplitQkvRope: " << positions.size() << " positions for " << rows << " rows of '" << qkv.name << "'");
  return {rows, H, KH, hd};
}

// AddRmsNorm: x, y, out: [M, N] (same element count, out not x or y); scale: [N].
inline void CheckAddRmsNorm(const Tensor& x, const Tensor& y, const Tensor& scale, const Tensor& out) {
  const int64_t N = x.dim(-1);
  PG_CHECK(N > 0 && y.numel() == x.numel() && out.numel() == x.numel() && scale.numel() == N,
           "AddRmsNorm: '" << x.name << "' " << ShapeStr(x.shape) << " + '" << y.name << "' " << ShapeStr(y.shape)
                           << " -> '" << out.name << "' " << ShapeStr(out.shape) << " with scale '" << scale.name
                           << "' " << ShapeStr(scale.shape));
  PG_CHECK(out.data != x.data && out.data != y.data,
           "AddRmsNorm: output '" << out.name << "' must not alias '" << x.name << "' or '" << y.name << "'");
}

// The cache row of sequence b (AttentionMask::slot, identity when empty), range-checked.
inline int64_t CacheRow(const std::vector<int>& slot, int64_t b, int64_t cache_rows, const char* op) {
  const int64_t r = slot.empty() ? b : slot[b];
  PG_CHECK(r >= 0 && r < cache_rows, op << ": sequence " << b << " maps to cache row " << r << " of " << cache_rows);
  return r;
}

// As HF GemmaRotaryEmbedding: inv_freq[i] = 1 / base^(2i / head_dim) in fp32; angle = pos * inv_freq.
inline std::vector<float> RopeInverseFrequencies(int64_t head_dim, float base) {
  std::vector<float> inv_freq(head_dim / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i)
    inv_freq[i] = 1.f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(head_dim));
  return inv_freq;
}

}  // namespace pg

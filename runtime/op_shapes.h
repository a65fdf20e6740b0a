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

// x: [B, T, heads, head_dim] with B * T positions.
inline void CheckRope(const Tensor& x, const std::vector<int>& positions) {
  PG_CHECK(x.rank() == 4, "Rope: '" << x.name << "' must be [batch, seq, heads, head_dim], got " << ShapeStr(x.shape));
  PG_CHECK(static_cast<int64_t>(positions.size()) == x.shape[0] * x.shape[1],
           "Rope: " << positions.size() << " positions for '" << x.name << "' " << ShapeStr(x.shape));
}

// As HF GemmaRotaryEmbedding: inv_freq[i] = 1 / base^(2i / head_dim) in fp32; angle = pos * inv_freq.
inline std::vector<float> RopeInverseFrequencies(int64_t head_dim, float base) {
  std::vector<float> inv_freq(head_dim / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i)
    inv_freq[i] = 1.f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(head_dim));
  return inv_freq;
}

}  // namespace pg

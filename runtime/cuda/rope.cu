// Rotary position embedding (half-split, as HF GemmaRotaryEmbedding + rotate_half). The host
// computes inv_freq = 1 / base^(2i / head_dim) in fp32 exactly as CpuBackend does; the kernel
// forms angle = position * inv_freq[i] in fp32 and rotates the pair (i, i + head_dim / 2).
#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

// x: [rows, heads, head_dim]; one thread per (row, head, i < head_dim / 2).
__global__ void rope_kernel(RopeParams p) {
  const int64_t half = p.head_dim / 2, n = p.rows * p.heads * half;
  for (int64_t e = GridStart(); e < n; e += GridStride()) {
    const int64_t i = e % half, rh = e / half, r = rh / p.heads;
    const float angle = static_cast<float>(p.positions[r]) * p.inv_freq[i];
    const float c = cosf(angle), s = sinf(angle);
    float* v = p.x + rh * p.head_dim;
    const float x1 = v[i], x2 = v[i + half];
    v[i] = x1 * c - x2 * s;
    v[i + half] = x2 * c + x1 * s;
  }
}

}  // namespace

void LaunchRope(const RopeParams& p, cudaStream_t stream) {
  const int64_t n = p.rows * p.heads * (p.head_dim / 2);
  if (n > 0) rope_kernel<<<GridFor(n), kThreads, 0, stream>>>(p);
}

}  // namespace cuda
}  // namespace pg

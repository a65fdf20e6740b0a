// The split of the fused QKV projection and the rotary position embedding (half-split, as HF
// GemmaRotaryEmbedding + rotate_half), in one pass. The host computes inv_freq = 1 / base^(2i /
// head_dim) in fp32 exactly as CpuBackend does; the kernel forms angle = position * inv_freq[i]
// in fp32 and rotates the pair (i, i + head_dim / 2) of every q and k head; v is copied.
#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

// One thread per (row, head of q|k|v, i < head_dim / 2): it writes elements i and i + half.
__global__ void split_qkv_rope_kernel(SplitQkvRopeParams p) {
  const int64_t half = p.head_dim / 2, all_heads = p.heads + 2 * p.kv_heads;
  const int64_t n = p.rows * all_heads * half;
  for (int64_t e = GridStart(); e < n; e += GridStride()) {
    const int64_t i = e % half, rh = e / half, h = rh % all_heads, r = rh / all_heads;
    const int64_t src = (r * all_heads + h) * p.head_dim;
    float x1 = Load(p.qkv, src + i), x2 = Load(p.qkv, src + i + half);
    float* dst;
    if (h < p.heads) {
      dst = p.q + (r * p.heads + h) * p.head_dim;
    } else if (h < p.heads + p.kv_heads) {
      dst = p.k + (r * p.kv_heads + h - p.heads) * p.head_dim;
    } else {
      dst = p.v + (r * p.kv_heads + h - p.heads - p.kv_heads) * p.head_dim;
    }
    if (p.positions && h < p.heads + p.kv_heads) {
      const float angle = static_cast<float>(p.positions[r]) * p.inv_freq[i];
      const float c = cosf(angle), s = sinf(angle);
      const float r1 = x1 * c - x2 * s, r2 = x2 * c + x1 * s;
      x1 = r1;
      x2 = r2;
    }
    dst[i] = x1;
    dst[i + half] = x2;
  }
}

}  // namespace

void LaunchSplitQkvRope(const SplitQkvRopeParams& p, cudaStream_t stream) {
  const int64_t n = p.rows * (p.heads + 2 * p.kv_heads) * (p.head_dim / 2);
  if (n > 0) PG_LAUNCH(split_qkv_rope_kernel, GridFor(n), kThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

// The split of the fused QKV projection and the rotary position embedding (half-split, as HF
// GemmaRotaryEmbedding + rotate_half), in one pass. The host computes inv_freq = 1 / base^(2i /
// head_dim) in fp32 exactly as CpuBackend does; the kernel forms angle = position * inv_freq[i]
// in fp32 and rotates the pair (i, i + head_dim / 2) of every q and k head; v is copied.
// split_qkv_rope_cache_kernel (the decoder) writes k and v straight into the KV cache.
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
    MutView dst;
    int64_t at;
    if (h < p.heads) {
      dst = p.q;
      at = (r * p.heads + h) * p.head_dim;
    } else if (h < p.heads + p.kv_heads) {
      dst = p.k;
      at = (r * p.kv_heads + h - p.heads) * p.head_dim;
    } else {
      dst = p.v;
      at = (r * p.kv_heads + h - p.heads - p.kv_heads) * p.head_dim;
    }
    if (p.positions && h < p.heads + p.kv_heads) {
      const float angle = static_cast<float>(p.positions[r]) * p.inv_freq[i];
      const float c = cosf(angle), s = sinf(angle);
      const float r1 = x1 * c - x2 * s, r2 = x2 * c + x1 * s;
      x1 = r1;
      x2 = r2;
    }
    Store(dst, at + i, x1);
    Store(dst, at + i + half, x2);
  }
}

// The rotation of the pair (x1, x2) = (element i, element i + head_dim / 2) at `position`.
__device__ __forceinline__ void Rotate(float* x1, float* x2, int position, float inv_freq) {
  const float angle = static_cast<float>(position) * inv_freq;
  const float c = cosf(angle), s = sinf(angle);
  const float r1 = *x1 * c - *x2 * s, r2 = *x2 * c + *x1 * s;
  *x1 = r1;
  *x2 = r2;
}

// One thread per (row r = b * T + t, head of q|k|v, i < head_dim / 2), as split_qkv_rope_kernel;
// a k or v head goes straight to the cache (RoPE applied on the way), only for t < count[b].
__global__ void split_qkv_rope_cache_kernel(SplitQkvRopeCacheParams p) {
  const int64_t half = p.head_dim / 2, all_heads = p.heads + 2 * p.kv_heads;
  const int64_t n = p.B * p.T * all_heads * half;
  for (int64_t e = GridStart(); e < n; e += GridStride()) {
    const int64_t i = e % half, rh = e / half, h = rh % all_heads, r = rh / all_heads;
    const int64_t t = r % p.T, b = r / p.T;
    const int64_t src = (r * all_heads + h) * p.head_dim;
    float x1 = Load(p.qkv, src + i), x2 = Load(p.qkv, src + i + half);
    if (h < p.heads) {  // q: rotated into q [B, T, heads, head_dim]
      if (p.positions) Rotate(&x1, &x2, p.positions[r], p.inv_freq[i]);
      const int64_t at = (r * p.heads + h) * p.head_dim;
      Store(p.q, at + i, x1);
      Store(p.q, at + i + half, x2);
      continue;
    }
    if (t >= p.count[b]) continue;  // not this step's token of sequence b
    const bool is_k = h < p.heads + p.kv_heads;
    const int64_t kh = is_k ? h - p.heads : h - p.heads - p.kv_heads;
    if (is_k && p.positions) Rotate(&x1, &x2, p.positions[r], p.inv_freq[i]);
    const int64_t at = ((static_cast<int64_t>(p.slot[b]) * p.S + p.q_start[b] + t) * p.kv_heads + kh) * p.head_dim;
    const CacheView& cache = is_k ? p.k_cache : p.v_cache;
    Store(cache, at + i, x1);
    Store(cache, at + i + half, x2);
  }
}

}  // namespace

void LaunchSplitQkvRopeCache(const SplitQkvRopeCacheParams& p, cudaStream_t stream) {
  const int64_t n = p.B * p.T * (p.heads + 2 * p.kv_heads) * (p.head_dim / 2);
  if (n > 0) PG_LAUNCH(split_qkv_rope_cache_kernel, GridFor(n), kThreads, 0, stream)(p);
}

void LaunchSplitQkvRope(const SplitQkvRopeParams& p, cudaStream_t stream) {
  const int64_t n = p.rows * (p.heads + 2 * p.kv_heads) * (p.head_dim / 2);
  if (n > 0) PG_LAUNCH(split_qkv_rope_kernel, GridFor(n), kThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

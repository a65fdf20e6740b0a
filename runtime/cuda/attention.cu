// Masked multi-head attention over the KV cache (prefix-LM + causal + sliding window + padding,
// logit soft-capping, GQA/MQA), written for correctness first:
//  - one block per (batch, query, head); kAttnWarps warps split the key slots between them;
//  - each warp keeps an online softmax (running max m, running sum l, accumulator acc[head_dim]
//    in registers, head_dim <= 256), so memory use does not grow with the sequence;
//  - the warps' partial results are merged through shared memory at the end.
// All in fp32 (q, k, v and out are f32 tensors). Nothing of size T x S is ever stored.
#include <cmath>

#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

constexpr int kAttnWarps = 8;
constexpr int kPerLane = kAttentionMaxHeadDim / 32;  // head_dim values a lane accumulates

// The visibility rule of runtime/backend.h AttentionMask for query slot qs and key slot s.
__device__ __forceinline__ bool Visible(int s, int qs, int prefix, int window) {
  const bool prefix_block = s < prefix && qs < prefix;
  return prefix_block || (s <= qs && (window == 0 || qs - s < window));
}

// q: [B, T, H, hd], k/v: [rows, S, KH, hd] (sequence b at row slot[b]) -> out: [B, T, H, hd];
// block = (b * T + t) * H + h.
__global__ void __launch_bounds__(kAttnWarps * 32) attention_kernel(AttentionKernelParams p) {
  __shared__ float q_s[kAttentionMaxHeadDim];
  __shared__ float acc_s[kAttnWarps][kAttentionMaxHeadDim];
  __shared__ float m_s[kAttnWarps], l_s[kAttnWarps];
  const int64_t row = blockIdx.x;
  const int64_t h = row % p.H, bt = row / p.H, t = bt % p.T, b = bt / p.T;
  const int hd = static_cast<int>(p.head_dim);
  float* dst = p.out + row * hd;
  const int qs = p.q_start[b] + static_cast<int>(t), kv_len = p.kv_len[b], prefix = p.prefix_len[b];
  if (qs >= kv_len) {  // padding query: zero output (uniform over the block)
    for (int d = threadIdx.x; d < hd; d += blockDim.x) dst[d] = 0.f;
    return;
  }
  for (int d = threadIdx.x; d < hd; d += blockDim.x) q_s[d] = p.q[row * hd + d];
  __syncthreads();

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t kh = h / (p.H / p.KH);  // GQA / MQA: query head h reads kv head h / group
  // Key slots that can be visible: [lo, hi). Visible() still decides each one.
  const bool q_in_prefix = qs < prefix;
  const int lo = (q_in_prefix || p.window == 0) ? 0 : max(0, qs - p.window + 1);
  const int hi = min(kv_len, q_in_prefix ? max(prefix, qs + 1) : qs + 1);

  float m = -INFINITY, l = 0.f, acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) acc[i] = 0.f;
  for (int s = lo + warp; s < hi; s += kAttnWarps) {
    if (!Visible(s, qs, prefix, p.window)) continue;  // uniform over the warp
    const int64_t off = ((static_cast<int64_t>(p.slot[b]) * p.S + s) * p.KH + kh) * hd;
    float dot = 0.f;
    for (int d = lane; d < hd; d += 32) dot += q_s[d] * p.k[off + d];
    float score = WarpSum(dot) * p.scale;
    if (p.softcap > 0.f) score = tanhf(score / p.softcap) * p.softcap;
    const float m_new = fmaxf(m, score);
    const float corr = expf(m - m_new);  // 0 at the warp's first visible slot (m = -inf)
    const float w = expf(score - m_new);
    l = l * corr + w;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < hd) acc[i] = acc[i] * corr + w * p.v[off + d];
    }
    m = m_new;
  }

  // Merge the warps: out = sum_w acc_w * e^(m_w - M) / sum_w l_w * e^(m_w - M).
  if (lane == 0) {
    m_s[warp] = m;
    l_s[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) acc_s[warp][d] = acc[i];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) M = fmaxf(M, m_s[w]);
  if (M == -INFINITY) {  // no visible key (cannot happen for a valid mask): zero, not NaN
    for (int d = threadIdx.x; d < hd; d += blockDim.x) dst[d] = 0.f;
    return;
  }
  float f[kAttnWarps], L = 0.f;
#pragma unroll
  for (int w = 0; w < kAttnWarps; ++w) {
    f[w] = expf(m_s[w] - M);  // 0 for a warp that saw no visible slot
    L += l_s[w] * f[w];
  }
  const float inv = 1.f / L;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.f;
#pragma unroll
    for (int w = 0; w < kAttnWarps; ++w) o += acc_s[w][d] * f[w];
    dst[d] = o * inv;
  }
}

}  // namespace

void LaunchAttention(const AttentionKernelParams& p, cudaStream_t stream) {
  const int64_t blocks = p.B * p.T * p.H;
  if (blocks > 0 && p.head_dim > 0)
    PG_LAUNCH(attention_kernel, static_cast<unsigned>(blocks), kAttnWarps * 32, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

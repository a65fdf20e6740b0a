// Masked multi-head attention over the KV cache (prefix-LM + causal + sliding window + padding,
// logit soft-capping, GQA/MQA). Two paths (docs/CUDA_BACKEND.md, "Attention"):
//  - decode (one query per sequence): attention_decode_kernel. One block per (sequence, kv head,
//    split of the key range); its warps are the query heads of that kv head's group, so each
//    K/V tile is read from global memory once into shared memory and serves every query head
//    of the group (Gemma MQA: all 8). Each warp keeps an online softmax; with more than one
//    split (flash-decoding: few sequences, long caches) the partial (max, sum, accumulator)
//    triples are merged by attention_combine_kernel.
//  - prefill (several queries): q, k, v rounded to bf16 (attention_gather_kernel for the cache
//    rows), scores = q k^T and out = p v as strided-batched bf16 GEMMs on the tensor cores with
//    fp32 accumulation (runtime/cuda/cuda_backend_attention.cc); between them,
//    attention_softmax_kernel applies scale, soft-cap and the mask in fp32 and writes the
//    probabilities as bf16.
// q, k, v and out are f32 tensors; the decode path computes in fp32 throughout.
#include <cmath>

#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

constexpr int kPerLane = kAttentionMaxHeadDim / 32;  // head_dim values a lane accumulates

// The visibility rule of runtime/backend.h AttentionMask for query slot qs and key slot s.
__device__ __forceinline__ bool Visible(int s, int qs, int prefix, int window) {
  const bool prefix_block = s < prefix && qs < prefix;
  return prefix_block || (s <= qs && (window == 0 || qs - s < window));
}

// Key slots that can be visible to query slot qs: [lo, hi). Visible() still decides each one.
__device__ __forceinline__ void KeyRange(int qs, int kv_len, int prefix, int window, int* lo, int* hi) {
  const bool q_in_prefix = qs < prefix;
  *lo = (q_in_prefix || window == 0) ? 0 : max(0, qs - window + 1);
  *hi = min(kv_len, q_in_prefix ? max(prefix, qs + 1) : qs + 1);
}

__device__ __forceinline__ float Logit(float dot, float scale, float softcap) {
  const float score = dot * scale;
  return softcap > 0.f ? tanhf(score / softcap) * softcap : score;
}

// ---- decode -----------------------------------------------------------------------------------
// q: [B, T, H, hd], k/v: [rows, S, KH, hd] (sequence b at row slot[b]). Block index =
// (((b * T + t) * KH + kh) * chunks + c) * splits + sp; warp w serves query head
// h = kh * G + c * kAttentionDecodeWarps + w (G = H / KH). Writes out [B, T, H, hd] when
// splits == 1, else part_acc [B T H, splits, hd] and part_ml [B T H, splits, 2].
__global__ void __launch_bounds__(kAttentionDecodeWarps * 32) attention_decode_kernel(AttentionKernelParams p) {
  __shared__ float q_s[kAttentionDecodeWarps][kAttentionMaxHeadDim];
  __shared__ float k_s[kAttentionDecodeTile][kAttentionMaxHeadDim];
  __shared__ float v_s[kAttentionDecodeTile][kAttentionMaxHeadDim];
  const int64_t G = p.H / p.KH, chunks = (G + kAttentionDecodeWarps - 1) / kAttentionDecodeWarps;
  int64_t rest = blockIdx.x;
  const int sp = static_cast<int>(rest % p.splits);
  rest /= p.splits;
  const int64_t c = rest % chunks;
  rest /= chunks;
  const int64_t kh = rest % p.KH, bt = rest / p.KH, t = bt % p.T, b = bt / p.T;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, hd = static_cast<int>(p.head_dim);
  const int64_t g = c * kAttentionDecodeWarps + warp;
  const bool active = g < G;  // the last chunk of a group may have idle warps (they still load)
  const int64_t h = kh * G + g, row = bt * p.H + h;
  const int qs = p.q_start[b] + static_cast<int>(t), kv_len = p.kv_len[b], prefix = p.prefix_len[b];
  if (qs >= kv_len) {  // padding query (uniform over the block): zero output; combine does the same
    if (p.splits == 1 && active)
      for (int d = lane; d < hd; d += 32) Store(p.out, row * hd + d, 0.f);
    return;
  }
  if (active)
    for (int d = lane; d < hd; d += 32) q_s[warp][d] = Load(p.q, row * hd + d);
  int lo, hi;
  KeyRange(qs, kv_len, prefix, p.window, &lo, &hi);
  const int per = (hi - lo + p.splits - 1) / p.splits;
  const int s_begin = lo + sp * per, s_end = min(hi, s_begin + per);
  const int64_t base = static_cast<int64_t>(p.slot[b]) * p.S;

  float m = -INFINITY, l = 0.f, acc[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) acc[i] = 0.f;
  for (int s0 = s_begin; s0 < s_end; s0 += kAttentionDecodeTile) {
    const int n = min(kAttentionDecodeTile, s_end - s0);
    __syncthreads();  // q_s written / the previous tile consumed
    for (int i = threadIdx.x; i < n * hd; i += blockDim.x) {  // one read of the tile for all heads
      const int j = i / hd, d = i % hd;
      const int64_t off = ((base + s0 + j) * p.KH + kh) * hd + d;
      k_s[j][d] = Load(p.k, off);
      v_s[j][d] = Load(p.v, off);
    }
    __syncthreads();
    if (!active) continue;
    for (int j = 0; j < n; ++j) {
      if (!Visible(s0 + j, qs, prefix, p.window)) continue;  // uniform over the block
      float dot = 0.f;
      for (int d = lane; d < hd; d += 32) dot += q_s[warp][d] * k_s[j][d];
      const float score = Logit(WarpSum(dot), p.scale, p.softcap);
      const float m_new = fmaxf(m, score);
      const float corr = expf(m - m_new);  // 0 at the first visible slot (m = -inf)
      const float w = expf(score - m_new);
      l = l * corr + w;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < hd) acc[i] = acc[i] * corr + w * v_s[j][d];
      }
      m = m_new;
    }
  }
  if (!active) return;
  if (p.splits == 1) {
    const float inv = l > 0.f ? 1.f / l : 0.f;  // no visible key (invalid mask): zero, not NaN
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < hd) Store(p.out, row * hd + d, acc[i] * inv);
    }
    return;
  }
  const int64_t part = row * p.splits + sp;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) p.part_acc[part * hd + d] = acc[i];
  }
  if (lane == 0) {
    p.part_ml[2 * part] = m;
    p.part_ml[2 * part + 1] = l;
  }
}

// One block per (b, t, h) row: out = sum_i acc_i e^(m_i - M) / sum_i l_i e^(m_i - M).
__global__ void attention_combine_kernel(AttentionKernelParams p) {
  const int64_t row = blockIdx.x, bt = row / p.H, t = bt % p.T, b = bt / p.T;
  const int hd = static_cast<int>(p.head_dim);
  const int64_t dst = row * hd;
  const bool padding = p.q_start[b] + static_cast<int>(t) >= p.kv_len[b];
  const float* ml = p.part_ml + row * p.splits * 2;
  float M = -INFINITY;
  for (int i = 0; i < p.splits && !padding; ++i) M = fmaxf(M, ml[2 * i]);
  if (M == -INFINITY) {  // padding query, or no visible key
    for (int d = threadIdx.x; d < hd; d += blockDim.x) Store(p.out, dst + d, 0.f);
    return;
  }
  float L = 0.f;
  for (int i = 0; i < p.splits; ++i) L += ml[2 * i + 1] * expf(ml[2 * i] - M);  // 0 for an empty split
  const float inv = 1.f / L;
  const float* acc = p.part_acc + row * p.splits * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.f;
    for (int i = 0; i < p.splits; ++i) o += acc[i * hd + d] * expf(ml[2 * i] - M);
    Store(p.out, dst + d, o * inv);
  }
}

// ---- prefill softmax --------------------------------------------------------------------------
__device__ __forceinline__ float BlockMax(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = -INFINITY;
  for (int w = 0; w < warps; ++w) r = fmaxf(r, scratch[w]);
  __syncthreads();
  return r;
}

// scores / probs: [B, H, T, ld]; block = row (b, h, t). Three passes over the row (max, sum,
// write), each recomputing the masked, capped logit from scores (the row stays in L1 / L2).
__global__ void attention_softmax_kernel(AttentionSoftmaxParams p) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x, t = row % p.T, b = row / (p.T * p.H);
  const int qs = p.q_start[b] + static_cast<int>(t), n = p.kv_len[b], prefix = p.prefix_len[b];
  const float* r = p.scores + row * p.ld;
  __nv_bfloat16* out = static_cast<__nv_bfloat16*>(p.probs) + row * p.ld;
  if (qs >= n) {  // padding query (uniform over the block)
    for (int s = threadIdx.x; s < n; s += blockDim.x) out[s] = __float2bfloat16_rn(0.f);
    return;
  }
  float mx = -INFINITY;
  for (int s = threadIdx.x; s < n; s += blockDim.x)
    if (Visible(s, qs, prefix, p.window)) mx = fmaxf(mx, Logit(r[s], p.scale, p.softcap));
  const float M = BlockMax(mx, scratch);
  float sum = 0.f;
  for (int s = threadIdx.x; s < n; s += blockDim.x)
    if (Visible(s, qs, prefix, p.window)) sum += expf(Logit(r[s], p.scale, p.softcap) - M);
  const float L = BlockSum(sum, scratch);
  const float inv = L > 0.f ? 1.f / L : 0.f;
  for (int s = threadIdx.x; s < n; s += blockDim.x) {
    const float e = Visible(s, qs, prefix, p.window) ? expf(Logit(r[s], p.scale, p.softcap) - M) : 0.f;
    out[s] = __float2bfloat16_rn(e * inv);
  }
}

__global__ void attention_gather_kernel(AttentionGatherParams p) {
  const int64_t row = p.KH * p.head_dim, n = p.B * p.ld * row;
  __nv_bfloat16* kv = static_cast<__nv_bfloat16*>(p.kv);
  for (int64_t i = GridStart(); i < n; i += GridStride()) {
    const int64_t e = i % row, s = (i / row) % p.ld, b = i / (row * p.ld);
    if (s >= p.kv_len[b]) continue;
    const int64_t src = (p.slot[b] * p.S + s) * row + e;
    kv[i] = __float2bfloat16_rn(Load(p.k, src));  // exact when the cache is bf16
    kv[n + i] = __float2bfloat16_rn(Load(p.v, src));
  }
}

}  // namespace

void LaunchAttentionDecode(const AttentionKernelParams& p, cudaStream_t stream) {
  const int64_t G = p.H / p.KH, warps = G < kAttentionDecodeWarps ? G : kAttentionDecodeWarps;
  const int64_t chunks = (G + kAttentionDecodeWarps - 1) / kAttentionDecodeWarps;
  const int64_t blocks = p.B * p.T * p.KH * chunks * p.splits;
  if (blocks == 0 || p.head_dim == 0) return;
  PG_LAUNCH(attention_decode_kernel, static_cast<unsigned>(blocks), static_cast<unsigned>(warps * 32), 0,
            stream)(p);
  if (p.splits > 1)
    PG_LAUNCH(attention_combine_kernel, static_cast<unsigned>(p.B * p.T * p.H), 128, 0, stream)(p);
}

void LaunchAttentionGather(const AttentionGatherParams& p, cudaStream_t stream) {
  const int64_t n = p.B * p.ld * p.KH * p.head_dim;
  if (n > 0) PG_LAUNCH(attention_gather_kernel, GridFor(n), kThreads, 0, stream)(p);
}

void LaunchAttentionSoftmax(const AttentionSoftmaxParams& p, cudaStream_t stream) {
  const int64_t rows = p.B * p.H * p.T;
  if (rows > 0) PG_LAUNCH(attention_softmax_kernel, static_cast<unsigned>(rows), 128, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

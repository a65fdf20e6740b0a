// CudaBackend::Attention: the checks of CpuBackend, then one of two paths (docs/CUDA_BACKEND.md,
// "Attention"):
//  - one query per sequence (decode): attention_decode_kernel (runtime/cuda/attention.cu), one
//    K/V read per kv head for all its query heads, the key range split over enough blocks to
//    fill the GPU when the batch is small (flash-decoding), merged by a combine kernel;
//  - several queries (prefill, the ViT): q (used in place when bf16, else rounded) and the
//    visible cache rows as bf16 operands, then per
//    sequence scores = q k^T as strided-batched bf16 GEMMs on the tensor cores (fp32
//    accumulation), attention_softmax_kernel (scale, soft-cap, mask, softmax in fp32, probabilities
//    written as bf16), then out = p v, again batched bf16 GEMMs (out f32 or bf16, as the tensor).
#include <algorithm>
#include <climits>
#include <cstdint>

#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/gemm.h"
#include "runtime/op_shapes.h"

namespace pg {
namespace cuda {
namespace {

constexpr int64_t kTargetBlocks = 2 * 132;  // two blocks per SM of an H100 / H200 (132 SMs)
constexpr int64_t kMinKeysPerSplit = 2 * kAttentionDecodeTile;
constexpr int64_t kMaxSplits = 64;

}  // namespace

// Splits of the key range per decode query: enough blocks for kTargetBlocks, each split at
// least kMinKeysPerSplit keys of `max_keys` (the cache length S, not the current key counts, so
// the launch stays the same from step to step: CUDA graphs), at most kMaxSplits. Splits past the
// visible keys are empty and write neutral partials (max -inf, sum 0).
int DecodeAttentionSplits(int64_t blocks_per_split, int64_t max_keys) {
  const int64_t want = (kTargetBlocks + blocks_per_split - 1) / std::max<int64_t>(1, blocks_per_split);
  const int64_t most = std::max<int64_t>(1, max_keys / kMinKeysPerSplit);
  return static_cast<int>(std::clamp<int64_t>(std::min(want, most), 1, kMaxSplits));
}

void CudaBackend::Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                            const AttentionParams& p, Tensor& out) {
  // q: [B, T, heads, hd], k/v: [rows, S, kv_heads, hd], out: [B, T, heads, hd]
  PG_CHECK(q.rank() == 4, "Attention: '" << q.name << "' must be [batch, seq, heads, head_dim], got "
                                         << ShapeStr(q.shape));
  CheckShape(k, {-1, -1, -1, q.dim(3)});
  CheckShape(v, k.shape);
  CheckShape(out, q.shape);
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), hd = q.dim(3), S = k.dim(1), KH = k.dim(2);
  PG_CHECK(mask.slot.empty() || static_cast<int64_t>(mask.slot.size()) == B,
           "Attention: " << mask.slot.size() << " cache rows for batch " << B);
  PG_CHECK(KH > 0 && H % KH == 0, "Attention: " << H << " query heads for " << KH << " kv heads");
  PG_CHECK(hd <= kAttentionMaxHeadDim, "Attention: head_dim " << hd << " of '" << q.name << "' exceeds the CUDA "
                                                              << "kernel's limit of " << kAttentionMaxHeadDim);
  PG_CHECK(B * T * H <= INT_MAX, "Attention: " << B * T * H << " (batch, query, head) rows exceed one grid");
  PG_CHECK(static_cast<int64_t>(mask.kv_len.size()) == B && mask.q_start.size() == mask.kv_len.size() &&
               mask.prefix_len.size() == mask.kv_len.size(),
           "Attention: mask describes " << mask.kv_len.size() << " sequences for batch " << B);
  for (int64_t b = 0; b < B; ++b) {
    PG_CHECK(mask.kv_len[b] >= 0 && mask.kv_len[b] <= S,
             "Attention: kv_len " << mask.kv_len[b] << " outside [0, cache size " << S << "]");
    PG_CHECK(mask.q_start[b] >= 0, "Attention: q_start " << mask.q_start[b] << " < 0 for sequence " << b);
  }
  PG_CHECK(mask.window >= 0, "Attention: negative sliding window " << mask.window);
  std::vector<int> slot(B);
  for (int64_t b = 0; b < B; ++b) slot[b] = static_cast<int>(CacheRow(mask.slot, b, k.dim(0), "Attention"));
  std::vector<int> meta(mask.q_start);  // [q_start | kv_len | prefix_len | slot]
  meta.insert(meta.end(), mask.kv_len.begin(), mask.kv_len.end());
  meta.insert(meta.end(), mask.prefix_len.begin(), mask.prefix_len.end());
  meta.insert(meta.end(), slot.begin(), slot.end());
  AttentionKernelParams kp{};
  kp.q = In(q, "Attention");
  kp.k = In(k, "Attention");  // the KV cache: f32, or bf16 from AllocKvCache
  kp.v = In(v, "Attention");
  kp.out = Out(out, "Attention");
  const int* d = Ints(mask_meta_, meta, "Attention");
  kp.q_start = d;
  kp.kv_len = d + B;
  kp.prefix_len = d + 2 * B;
  kp.slot = d + 3 * B;
  kp.B = B;
  kp.T = T;
  kp.H = H;
  kp.S = S;
  kp.KH = KH;
  kp.head_dim = hd;
  kp.window = mask.window;
  kp.scale = p.scale;
  kp.softcap = p.softcap;
  if (T == 1)
    AttentionDecode(kp, mask);
  else
    AttentionPrefill(kp, mask.kv_len, slot);
  Launched("Attention");
}

void CudaBackend::AttentionDecode(AttentionKernelParams& kp, const AttentionMask& mask) {
  // The split count depends on the cache length S only, not on the mask's key counts (device
  // metadata): a decode step's launches are the same at every position (CUDA graphs).
  const int64_t max_keys = kp.S;
  const int64_t G = kp.H / kp.KH, chunks = (G + kAttentionDecodeWarps - 1) / kAttentionDecodeWarps;
  kp.splits = DecodeAttentionSplits(kp.B * kp.T * kp.KH * chunks, max_keys);
  if (kp.splits > 1) {
    const size_t rows = static_cast<size_t>(kp.B * kp.T * kp.H) * kp.splits;
    float* part = static_cast<float*>(
        attn_scratch_.Reserve(*ctx_, rows * (kp.head_dim + 2) * sizeof(float), "Attention"));
    kp.part_acc = part;
    kp.part_ml = part + rows * kp.head_dim;
  }
  LaunchAttentionDecode(kp, ctx_->stream());
}

void CudaBackend::AttentionPrefill(const AttentionKernelParams& kp, const std::vector<int>& kv_len,
                                   const std::vector<int>& slot) {
  const int64_t B = kp.B, T = kp.T, H = kp.H, KH = kp.KH, hd = kp.head_dim, G = H / KH;
  if (B == 0 || T == 0 || H == 0 || hd == 0) return;
  // Key columns per score row: the longest sequence, rounded up to 16-byte bf16 rows.
  const int64_t ld = std::max<int64_t>(8, (*std::max_element(kv_len.begin(), kv_len.end()) + 7) / 8 * 8);
  // One scratch: scores f32 [B, H, T, ld] | probs bf16 [B, H, T, ld] | q bf16 [B, T, H, hd] |
  // k, v bf16 [2, B, ld, KH, hd], each part 256-byte aligned.
  auto align = [](size_t bytes) { return (bytes + 255) / 256 * 256; };
  const size_t n_scores = static_cast<size_t>(B * H * T * ld), n_q = static_cast<size_t>(B * T * H * hd),
               n_kv = static_cast<size_t>(B * ld * KH * hd);
  const size_t off_probs = align(n_scores * 4), off_q = off_probs + align(n_scores * 2), off_kv = off_q + align(n_q * 2);
  char* base = static_cast<char*>(attn_scratch_.Reserve(*ctx_, off_kv + 2 * n_kv * 2, "Attention"));
  float* scores = reinterpret_cast<float*>(base);
  uint16_t* probs = reinterpret_cast<uint16_t*>(base + off_probs);
  const uint16_t* q16 = static_cast<const uint16_t*>(kp.q.data);  // a bf16 q is a GEMM operand as it is
  uint16_t* k16 = reinterpret_cast<uint16_t*>(base + off_kv);
  uint16_t* v16 = k16 + n_kv;
  if (!kp.q.bf16) {  // an f32 q: rounded to bf16 first
    uint16_t* q_round = reinterpret_cast<uint16_t*>(base + off_q);
    LaunchConvert({kp.q, q_round, true, static_cast<int64_t>(n_q)}, ctx_->stream());
    q16 = q_round;
  }
  const size_t out_size = kp.out.bf16 ? 2 : 4;
  auto out_at = [&](int64_t i) { return MutView{static_cast<char*>(kp.out.data) + i * out_size, kp.out.bf16}; };
  LaunchAttentionGather({kp.k, kp.v, k16, kp.kv_len, kp.slot, B, kp.S, KH, hd, ld}, ctx_->stream());
  // Per sequence, min(G, KH) batched GEMMs: by kv head (batched over its G query heads, the K/V
  // operand shared: stride 0) when G > KH (MQA), else by query head within the group (batched
  // over the KH kv heads). Query head h = kh * G + g in both.
  const bool by_kv_head = G > KH;
  const int64_t calls = by_kv_head ? KH : G, count = by_kv_head ? G : KH;
  const int64_t h_step = by_kv_head ? 1 : G, kh_step = by_kv_head ? 0 : 1;
  // pass 0: scores[b, h, t, s] = q[b, t, h] . k[b, s, kh]; pass 1: out[b, t, h] = sum_s p[b, h, t, s] v[b, s, kh]
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = kv_len[b];
      if (n == 0) {  // every query of b is padding
        if (pass == 1)
          CUDA_CHECK(GatedMemsetAsync(out_at(b * T * H * hd).data, 0, T * H * hd * out_size, ctx_->stream()),
                     "Attention");
        continue;
      }
      for (int64_t c = 0; c < calls; ++c) {
        const int64_t h0 = by_kv_head ? c * G : c, kh0 = by_kv_head ? c : 0;
        const int64_t kv_off = (b * ld * KH + kh0) * hd, p_off = (b * H + h0) * T * ld;
        BatchedGemmBf16 g;
        if (pass == 0)  // column-major C[s, t] = K[s, :] . Q[t, :]: m = n keys, n = T queries, k = hd
          g = {true, n, T, hd, k16 + kv_off, KH * hd, kh_step * hd, q16 + (b * T * H + h0) * hd, H * hd,
               h_step * hd, MutView{scores + p_off, false}, ld, h_step * T * ld, count, "Attention"};
        else  // column-major C[d, t] = sum_s V[s, d] P[t, s]: m = hd, n = T, k = n keys
          g = {false, hd, T, n, v16 + kv_off, KH * hd, kh_step * hd, probs + p_off, ld, h_step * T * ld,
               out_at((b * T * H + h0) * hd), H * hd, h_step * hd, count, "Attention"};
        LaunchGemmBf16Batched(g, cublas_, ctx_->stream());
      }
    }
    if (pass == 0)
      LaunchAttentionSoftmax({scores, probs, kp.q_start, kp.kv_len, kp.prefix_len, B, H, T, ld, kp.window, kp.scale,
                              kp.softcap},
                             ctx_->stream());
  }
}

}  // namespace cuda
}  // namespace pg

#include "caption_job/device_batch.h"

#include <algorithm>
#include <sstream>

#include "engine/model_session.h"
#include "models/gemma.h"
#include "runtime/cuda_backend.h"

namespace pg {
namespace {

// Prefill attention scratch of `batch` sequences of T queries over T keys with H query heads,
// KH kv heads of hd (CudaBackend::AttentionPrefill: ld = T rounded up to 8).
int64_t PrefillScratchBytes(int64_t batch, int64_t T, int64_t H, int64_t KH, int64_t hd) {
  const int64_t ld = (T + 7) / 8 * 8;
  return batch * (H * T * ld * (4 + 2) + T * H * hd * 2 + 2 * ld * KH * hd * 2);
}

}  // namespace

int64_t EstimateCudaCaptionBytes(const ModelConfig& c, const RankShapes& r, int64_t slots, int max_new_tokens) {
  const CaptionMemoryEstimate host = EstimateCaptionMemory(c, r, slots, max_new_tokens, 0);
  const int64_t kv_bf16 = host.kv_cache / 2;  // 4-byte elements in the CPU estimate
  const TextConfig& t = c.text;
  const VisionConfig& v = c.vision;
  const int64_t T = std::max(1, c.max_seq_len - max_new_tokens), Np = v.num_patches();
  const int64_t attention = std::max(PrefillScratchBytes(slots, T, r.heads_local, r.kv_heads_local, t.head_dim),
                                     PrefillScratchBytes(slots, Np, v.num_heads, v.num_heads, v.head_dim()));
  const int64_t rows = std::max<int64_t>({4096, T, slots});  // the decoder workspace's rows
  const int64_t gemm_x = 2 * std::max({rows * std::max<int64_t>({t.width, r.d_ff_local, r.heads_local * t.head_dim}),
                                       slots * Np * std::max<int64_t>(v.mlp_dim, v.width)});
  constexpr int64_t kCublasWorkspace = int64_t{32} << 20;
  const int64_t image_tokens = 2 * slots * Np * t.width * static_cast<int64_t>(sizeof(float));
  return kv_bf16 + host.decoder_workspace + host.vit_workspace + attention + gemm_x + kCublasWorkspace + image_tokens;
}

int64_t CudaCaptionBatchFor(const ModelConfig& c, const RankShapes& r, int64_t free_bytes, int max_new_tokens) {
  const auto budget = static_cast<int64_t>(kDeviceMemoryFraction * static_cast<double>(free_bytes));
  int64_t lo = 0, hi = kMaxAutoCaptionBatch;  // the estimate grows with the slots
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (EstimateCudaCaptionBytes(c, r, mid, max_new_tokens) <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

int ResolveCaptionBatch(int batch_flag, int max_new_tokens, ModelSession& s, std::string* how) {
  how->clear();
  if (batch_flag > 0) return batch_flag;
  Backend& be = s.model->backend();
  int64_t mine = kCpuDefaultCaptionBatch;
  std::ostringstream os;
  if (be.name() == "cuda") {
    const GemmaWeights& w = s.model->decoder().weights();
    const RankShapes r{w.heads_local, w.kv_heads_local, w.d_ff_local, static_cast<int>(w.embedding.dim(0))};
    const DeviceMemoryInfo m = CudaBackendMemory(be);
    mine = CudaCaptionBatchFor(s.model->config(), r, m.free_bytes, max_new_tokens);
    os << "sized from CUDA device memory: " << FormatBytes(m.free_bytes) << " free of " << FormatBytes(m.total_bytes)
       << " after the weights (rank " << s.world->config().world_rank << "), "
       << FormatBytes(EstimateCudaCaptionBytes(s.model->config(), r, std::max<int64_t>(1, mine), max_new_tokens))
       << " estimated for " << mine << " slots (at most " << kDeviceMemoryFraction * 100 << "% of free, "
       << kMaxAutoCaptionBatch << " slots)";
  } else {
    os << "the " << be.name() << " backend's default";
  }
  const int64_t agreed = s.world->world().AllReduceMinInt64(mine);
  PG_CHECK(agreed >= 1, "caption: --batch not given and not even one KV-cache slot fits in the free device memory of "
                            << "some rank (this rank: " << os.str() << "); free device memory or pass --batch");
  if (agreed < mine) os << "; the smallest over the ranks: " << agreed;
  *how = os.str();
  return static_cast<int>(agreed);
}

}  // namespace pg

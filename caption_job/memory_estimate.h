// What `caption --batch N` allocates on one rank, estimated before anything is allocated, and
// the check that refuses a batch that does not fit (issue 15, item 1). The sizes mirror what the
// engine reserves (kept in step by tests/caption_memory_test.cc):
//   KV cache          2 x layers x slots x capacity x kv_heads_local x head_dim x 4 bytes
//                     (models/kv_cache.cc; capacity = max_seq_len, as ContinuousBatcher sizes it
//                     when no prompt limit is given)
//   decoder workspace rows x (4 D + (H + 2 KH) hd + (H + 2 KH) hd + 3 F) + slots x (D + vocab_local)
//                     floats, rows = max(4096, max_seq_len - max_new_tokens, slots)
//                     (GemmaDecoder::Reserve, ContinuousBatcher)
//   ViT workspace     for up to `slots` images at once (VitWorkspace::Reserve + host patches)
//   prefetched images min(prefetch capacity, images) x S x S x 3 floats (ImagePrefetcher)
// Weights are not included: they are loaded before the check, so MemAvailable already
// excludes them.
#pragma once

#include <cstdint>
#include <string>

#include "models/model_config.h"

namespace pg {

struct RankShapes {  // this rank's share of the decoder (GemmaWeights)
  int heads_local = 0, kv_heads_local = 0, d_ff_local = 0, vocab_local = 0;
};

struct CaptionMemoryEstimate {
  int64_t slots = 0;
  int64_t capacity = 0;  // KV rows per slot
  int64_t kv_cache = 0, decoder_workspace = 0, vit_workspace = 0, prefetched_images = 0;  // bytes
  int64_t total() const { return kv_cache + decoder_workspace + vit_workspace + prefetched_images; }
};

CaptionMemoryEstimate EstimateCaptionMemory(const ModelConfig& c, const RankShapes& r, int64_t slots,
                                            int max_new_tokens, int64_t prefetch_images);

// The slots a replica uses: --batch, but never more than the images it has to caption (and at
// least 1, as the batcher needs one).
int64_t CaptionSlots(int64_t batch, int64_t pending_images);

// MemAvailable from /proc/meminfo in bytes, or -1 if unknown. PG_DEBUG_MEM_AVAILABLE_BYTES
// overrides it (tests).
int64_t HostMemAvailableBytes();

// Throws pg::Error naming --batch, the estimate (and its parts) and the largest batch that fits
// when `estimate.total()` exceeds `available_bytes` (per rank: the host's MemAvailable divided by
// the ranks on the host). No check when available_bytes < 0 (unknown).
void CheckCaptionMemoryFits(const CaptionMemoryEstimate& estimate, int64_t available_bytes, int batch_flag,
                            const ModelConfig& c, const RankShapes& r, int max_new_tokens,
                            int64_t prefetch_images);

std::string FormatBytes(int64_t bytes);  // "1.50 GiB", "12.0 MiB", "512 B"

}  // namespace pg

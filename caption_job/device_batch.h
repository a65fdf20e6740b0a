// The caption batch (KV-cache slots per replica) when --batch is not given (issue 18, item 3):
// the CPU backend keeps 16; on CUDA it is the most slots whose device memory fits in 90% of the
// device's free memory, measured after the weights are loaded (cudaMemGetInfo), capped at 512.
// Device bytes for `slots` (EstimateCudaCaptionBytes), reusing EstimateCaptionMemory:
//   KV cache            as the CPU's, at 2 bytes per element (the CUDA cache is bf16)
//   decoder workspace   as the CPU's (f32 activations)
//   ViT workspace       as the CPU's (f32; its host copy of the patches counted too: a bound)
//   attention scratch   prefill of `slots` newcomers at once, the larger of the decoder's and the
//                       ViT's: scores f32 + probabilities bf16 [slots, H, T, T] plus bf16 q, K, V
//                       (runtime/cuda/cuda_backend_attention.cc), T = max_seq_len - max_new_tokens
//   GEMM input scratch  the largest activation rounded to bf16 (CudaBackend::AsBf16)
//   cuBLAS workspace    32 MiB
//   image tokens        f32 [Np, D] per sequence, kept on the device from the ViT to the prefill
//                       (tensor_parallel/image_token_broadcast.h): at most `slots` waiting plus the
//                       rest of one admission batch being prefilled, so 2 x slots
// Prefetched images live in host memory and are not counted.
#pragma once

#include <cstdint>
#include <string>

#include "caption_job/memory_estimate.h"
#include "models/model_config.h"

namespace pg {

struct ModelSession;

constexpr int kCpuDefaultCaptionBatch = 16;
constexpr int64_t kMaxAutoCaptionBatch = 512;
constexpr double kDeviceMemoryFraction = 0.9;

int64_t EstimateCudaCaptionBytes(const ModelConfig& c, const RankShapes& r, int64_t slots, int max_new_tokens);

// The most slots in [1, kMaxAutoCaptionBatch] with EstimateCudaCaptionBytes <= fraction x
// free_bytes; 0 when not even one fits.
int64_t CudaCaptionBatchFor(const ModelConfig& c, const RankShapes& r, int64_t free_bytes, int max_new_tokens);

// --batch when given (batch_flag > 0); otherwise the default above for this session's backend,
// the smallest over all ranks (collective over the world). *how says how it was chosen (for the
// job's log line; empty when the flag was given). Throws on every rank when not even one slot
// fits on some rank's device.
int ResolveCaptionBatch(int batch_flag, int max_new_tokens, ModelSession& s, std::string* how);

}  // namespace pg

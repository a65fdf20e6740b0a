// The caption batch default on CUDA (caption_job/device_batch.h): the device-memory estimate
// reuses the CPU estimate with a bf16 KV cache plus the CUDA scratch, and the batch is the most
// slots that fit in 90% of the free device memory. The free memory itself (cudaMemGetInfo) is
// checked under the emulation: tests/cuda_emu/device_memory_emu_test.cc.
#include "caption_job/device_batch.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "models/model_config.h"

namespace pg {
namespace {

ModelConfig Paligemma3b() {
  return ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/paligemma-3b-pt-224.json");
}

RankShapes Tp1(const ModelConfig& c) {
  return {c.text.num_heads, c.text.num_kv_heads, c.text.mlp_dim, c.text.vocab_size};
}

TEST(CaptionDeviceBatch, EstimateHasTheBf16KvCacheAndTheCudaScratch) {
  const ModelConfig c = Paligemma3b();
  const RankShapes r = Tp1(c);
  const CaptionMemoryEstimate cpu = EstimateCaptionMemory(c, r, 64, 40, 0);
  const int64_t cuda = EstimateCudaCaptionBytes(c, r, 64, 40);
  const int64_t kv_bf16 = int64_t{2} * c.text.depth * 64 * c.max_seq_len * c.text.num_kv_heads * c.text.head_dim * 2;
  const int64_t rest = cpu.decoder_workspace + cpu.vit_workspace;
  // At least the bf16 cache, the f32 workspaces and cuBLAS's 32 MiB; the f32 cache it is not.
  EXPECT_GE(cuda, kv_bf16 + rest + (int64_t{32} << 20));
  // The attention scratch per image is a few MiB (docs/CUDA_BACKEND.md: ~4.6 MB decoder, ~8.1 MB
  // ViT per image): the whole scratch beyond cache and workspaces stays under 64 x 64 MiB.
  EXPECT_LT(cuda - kv_bf16 - rest, int64_t{64} * (int64_t{64} << 20));
  EXPECT_LT(EstimateCudaCaptionBytes(c, r, 63, 40), cuda);  // grows with the slots
}

TEST(CaptionDeviceBatch, BatchIsTheMostSlotsInNinetyPercentOfFree) {
  const ModelConfig c = Paligemma3b();
  const RankShapes r = Tp1(c);
  for (int64_t slots : {1, 37, 200}) {
    const int64_t need = EstimateCudaCaptionBytes(c, r, slots, 40);
    // Free memory whose 90% is just `need` (+ rounding slack), and just below it.
    const int64_t enough = static_cast<int64_t>(need / kDeviceMemoryFraction) + 2;
    const int64_t short_of = static_cast<int64_t>((need - 1) / kDeviceMemoryFraction);
    EXPECT_EQ(CudaCaptionBatchFor(c, r, enough, 40), slots);
    EXPECT_EQ(CudaCaptionBatchFor(c, r, short_of, 40), slots - 1);
  }
  EXPECT_EQ(CudaCaptionBatchFor(c, r, 0, 40), 0);                                   // nothing free
  EXPECT_EQ(CudaCaptionBatchFor(c, r, int64_t{1} << 50, 40), kMaxAutoCaptionBatch);  // capped
  // An H100 after the 3B weights (~74 GiB free): far more than the CPU's 16.
  const int64_t h100 = CudaCaptionBatchFor(c, r, int64_t{74} << 30, 40);
  std::printf("[caption device batch] 3B, tp 1, 74 GiB free: %lld slots\n", static_cast<long long>(h100));
  EXPECT_GT(h100, 4 * kCpuDefaultCaptionBatch);
}

}  // namespace
}  // namespace pg

// CudaBackendMemory (cudaMemGetInfo on the backend's device) under the emulation, whose free
// memory is PG_CUDA_EMU_MEMORY_BYTES minus the live device allocations, and the caption batch
// default computed from it (caption_job/device_batch.h) as ResolveCaptionBatch does.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "caption_job/device_batch.h"
#include "models/model_config.h"
#include "runtime/backend.h"
#include "runtime/check.h"
#include "runtime/cuda_backend.h"

namespace pg {
namespace {

TEST(CudaDeviceMemory, FreeMemoryFollowsAllocationsAndSizesTheBatch) {
  setenv("PG_CUDA_EMU_MEMORY_BYTES", std::to_string(int64_t{24} << 30).c_str(), 1);
  auto be = MakeBackend("cuda");
  const DeviceMemoryInfo before = CudaBackendMemory(*be);
  EXPECT_EQ(before.total_bytes, int64_t{24} << 30);
  EXPECT_LT(before.free_bytes, before.total_bytes);  // the backend's cuBLAS workspace is allocated
  {
    Tensor weights = be->Alloc("weights", {int64_t{1} << 28});  // 1 GiB of f32
    const DeviceMemoryInfo after = CudaBackendMemory(*be);
    EXPECT_EQ(before.free_bytes - after.free_bytes, int64_t{1} << 30);
    const ModelConfig c = ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/paligemma-3b-pt-224.json");
    const RankShapes r{c.text.num_heads, c.text.num_kv_heads, c.text.mlp_dim, c.text.vocab_size};
    const int64_t with_weights = CudaCaptionBatchFor(c, r, after.free_bytes, 40);
    const int64_t without = CudaCaptionBatchFor(c, r, before.free_bytes, 40);
    std::printf("[device memory] 24 GiB device: %lld slots, %lld with 1 GiB more allocated\n",
                static_cast<long long>(without), static_cast<long long>(with_weights));
    EXPECT_GE(with_weights, 1);
    EXPECT_LT(with_weights, without);
    EXPECT_LE(EstimateCudaCaptionBytes(c, r, with_weights, 40), kDeviceMemoryFraction * after.free_bytes);
  }
  EXPECT_EQ(CudaBackendMemory(*be).free_bytes, before.free_bytes);  // freed
  auto cpu = MakeBackend("cpu");
  EXPECT_THROW(CudaBackendMemory(*cpu), Error);
  unsetenv("PG_CUDA_EMU_MEMORY_BYTES");
}

}  // namespace
}  // namespace pg

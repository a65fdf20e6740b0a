// Row normalisations of the CUDA backend: LayerNorm (SigLIP), Gemma's RMSNorm (1 + scale) and the
// residual add fused with the RMSNorm after it (AddRmsNorm).
// One block per row; two passes over the row with fp32 block sums (CpuBackend sums in double;
// the difference is a few fp32 ulps, see docs/CUDA_BACKEND.md). `out` may alias `x`: each
// thread reads and writes the same columns, and the reads finish before the last block sum.
#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

// x: [rows, cols] -> out = (x - mean) / sqrt(var + eps) * scale + bias
__global__ void layer_norm_kernel(LayerNormParams p) {
  __shared__ float scratch[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * p.cols;
  float sum = 0.f;
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) sum += Load(p.x, base + c);
  const float mean = BlockSum(sum, scratch) / static_cast<float>(p.cols);
  float sq = 0.f;
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) {
    const float d = Load(p.x, base + c) - mean;
    sq += d * d;
  }
  const float var = BlockSum(sq, scratch) / static_cast<float>(p.cols);
  const float inv = 1.f / sqrtf(var + p.eps);
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x)
    Store(p.out, base + c, (Load(p.x, base + c) - mean) * inv * Load(p.scale, c) + Load(p.bias, c));
}

// x: [rows, cols] -> out = x / sqrt(mean(x^2) + eps) * (1 + scale)
__global__ void rms_norm_kernel(RmsNormParams p) {
  __shared__ float scratch[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * p.cols;
  float sq = 0.f;
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) {
    const float v = Load(p.x, base + c);
    sq += v * v;
  }
  const float ms = BlockSum(sq, scratch) / static_cast<float>(p.cols);
  const float inv = 1.f / sqrtf(ms + p.eps);
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x)
    Store(p.out, base + c, Load(p.x, base + c) * inv * (1.f + Load(p.scale, c)));
}

// x: [rows, cols] += y, then out = x / sqrt(mean(x^2) + eps) * (1 + scale): one read of x and y,
// one write of x and out (each thread re-reads only the columns it wrote).
__global__ void add_rms_norm_kernel(AddRmsNormParams p) {
  __shared__ float scratch[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * p.cols;
  float sq = 0.f;
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x) {
    Store(p.x, base + c, Load(p.x, base + c) + Load(p.y, base + c));
    const float v = Load(p.x, base + c);  // the stored residual (rounded when x is bf16)
    sq += v * v;
  }
  const float ms = BlockSum(sq, scratch) / static_cast<float>(p.cols);
  const float inv = 1.f / sqrtf(ms + p.eps);
  for (int64_t c = threadIdx.x; c < p.cols; c += blockDim.x)
    Store(p.out, base + c, Load(p.x, base + c) * inv * (1.f + Load(p.scale, c)));
}

}  // namespace

void LaunchAddRmsNorm(const AddRmsNormParams& p, cudaStream_t stream) {
  if (p.rows > 0 && p.cols > 0)
    PG_LAUNCH(add_rms_norm_kernel, static_cast<unsigned>(p.rows), kThreads, 0, stream)(p);
}

void LaunchLayerNorm(const LayerNormParams& p, cudaStream_t stream) {
  if (p.rows > 0 && p.cols > 0) PG_LAUNCH(layer_norm_kernel, static_cast<unsigned>(p.rows), kThreads, 0, stream)(p);
}

void LaunchRmsNorm(const RmsNormParams& p, cudaStream_t stream) {
  if (p.rows > 0 && p.cols > 0) PG_LAUNCH(rms_norm_kernel, static_cast<unsigned>(p.rows), kThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

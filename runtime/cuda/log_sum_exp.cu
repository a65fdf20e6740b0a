// Per-row log-sum-exp of the logits (the --scores op): a sampled token's log-probability is its
// logit minus this, and under tensor parallelism each rank's value over its vocabulary shard
// combines as log(sum_r exp(lse_r)). Only [rows] floats leave the device.
#include <cfloat>

#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

// Max of `v` over the block (blockDim.x = kThreads), returned to every thread.
__device__ float BlockMax(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride)
      shared[threadIdx.x] = fmaxf(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  const float m = shared[0];
  __syncthreads();
  return m;
}

__global__ void __launch_bounds__(kThreads) row_log_sum_exp_kernel(LogSumExpParams p) {
  __shared__ float shared[kThreads];
  const float* row = p.logits + static_cast<int64_t>(blockIdx.x) * p.V;
  float m = -INFINITY, nans = 0.f;
  for (int64_t c = threadIdx.x; c < p.V; c += blockDim.x) {
    const float v = row[c];
    if (isnan(v)) nans += 1.f;
    m = fmaxf(m, v);
  }
  m = BlockMax(m, shared);
  nans = BlockSum(nans, shared);
  if (nans > 0.f || isinf(m)) {
    if (threadIdx.x == 0) p.lse[blockIdx.x] = nans > 0.f ? NAN : m;
    return;
  }
  float sum = 0.f;
  for (int64_t c = threadIdx.x; c < p.V; c += blockDim.x) sum += expf(row[c] - m);
  sum = BlockSum(sum, shared);
  if (threadIdx.x == 0) p.lse[blockIdx.x] = m + logf(sum);
}

}  // namespace

void LaunchRowLogSumExp(const LogSumExpParams& p, cudaStream_t stream) {
  if (p.rows > 0) PG_LAUNCH(row_log_sum_exp_kernel, static_cast<unsigned>(p.rows), kThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

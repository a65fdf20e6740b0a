// Device helpers shared by the CUDA backend's .cu files (include from .cu files only):
// loads through a ConstView, warp / block sums, and the grid size of a grid-stride loop.
#pragma once

#if !defined(__CUDACC__) && !defined(PG_CUDA_EMU)
#error "runtime/cuda/device_util.h is for .cu files"
#endif

#include <cuda_bf16.h>

#include <cstdint>

#include "runtime/cuda/kernels.h"
#include "runtime/cuda/step_graph.h"

namespace pg {
namespace cuda {

// PG_LAUNCH(kernel, grid, block, smem, stream)(params) is kernel<<<grid, block, smem, stream>>>(params)
// under nvcc; in the CPU emulation (tests/cuda_emu/, where the .cu files are compiled as C++)
// it runs the kernel block by block with the threads of a block as fibers. Either way through
// the CUDA-graph gate of runtime/cuda/step_graph.h (a replayed step enqueues nothing).
#define PG_LAUNCH(kernel, grid, block, smem, stream) \
  ::pg::cuda::MakeGatedLaunch(kernel, grid, block, smem, stream, #kernel)

constexpr int kThreads = 256;  // threads per block of the elementwise and row kernels

__device__ __forceinline__ float Load(const ConstView& v, int64_t i) {
  return v.bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(v.data)[i])
                : static_cast<const float*>(v.data)[i];
}

__device__ __forceinline__ float Load(const MutView& v, int64_t i) {
  return v.bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(v.data)[i])
                : static_cast<const float*>(v.data)[i];
}

// Stores v into an output array (bf16: round to nearest even).
__device__ __forceinline__ void Store(const MutView& c, int64_t i, float v) {
  if (c.bf16)
    static_cast<__nv_bfloat16*>(c.data)[i] = __float2bfloat16_rn(v);
  else
    static_cast<float*>(c.data)[i] = v;
}

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of `v` over the block (blockDim.x a multiple of 32, at most 1024), returned to every
// thread. `scratch` holds 32 floats of shared memory; it may be reused after the call.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = WarpSum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < warps ? scratch[lane] : 0.f;
    w = WarpSum(w);
    if (lane == 0) scratch[0] = w;
  }
  __syncthreads();
  const float total = scratch[0];
  __syncthreads();
  return total;
}

// Blocks for a grid-stride loop over n elements.
inline unsigned GridFor(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < (1 << 20) ? blocks : (1 << 20));
}

// First index and stride of a grid-stride loop.
__device__ __forceinline__ int64_t GridStart() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t GridStride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

}  // namespace cuda
}  // namespace pg

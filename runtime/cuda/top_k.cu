// Per-row top-k of the logits (the sampling op: k = 1 for greedy, top_k when sampling), so the
// logits never leave the device: only [rows, k] (value, index) pairs do.
//
// Order: (value desc, index asc) with NaN ranked as +inf: a strict total order. Pass j picks the
// best element strictly after pick j - 1 in that order, a block-wide arg-max reduction, so no
// set of already-picked indices is kept and ties resolve exactly as the CPU's partial_sort.
#include <cfloat>

#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

constexpr int kTopKThreads = 256;

__device__ __forceinline__ float Key(float v) { return isnan(v) ? INFINITY : v; }

// (a, ia) before (b, ib) in the total order.
__device__ __forceinline__ bool Before(float a, int ia, float b, int ib) { return a > b || (a == b && ia < ib); }

__global__ void __launch_bounds__(kTopKThreads) top_k_kernel(TopKParams p) {
  __shared__ float best_v[kTopKThreads];
  __shared__ int best_i[kTopKThreads];
  const float* row = p.logits + static_cast<int64_t>(blockIdx.x) * p.V;
  float prev_v = INFINITY;
  int prev_i = -1;  // nothing picked yet: every element is "after" (+inf, -1) except NaN/+inf with index < -1 (none)
  for (int j = 0; j < p.k; ++j) {
    float bv = -INFINITY;
    int bi = -1;
    for (int64_t c = threadIdx.x; c < p.V; c += blockDim.x) {
      const float v = Key(row[c]);
      const int ci = static_cast<int>(c);
      if (!Before(prev_v, prev_i, v, ci)) continue;  // not strictly after the previous pick
      if (bi < 0 || Before(v, ci, bv, bi)) {
        bv = v;
        bi = ci;
      }
    }
    best_v[threadIdx.x] = bv;
    best_i[threadIdx.x] = bi;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (static_cast<int>(threadIdx.x) < stride) {
        const float ov = best_v[threadIdx.x + stride];
        const int oi = best_i[threadIdx.x + stride];
        if (oi >= 0 && (best_i[threadIdx.x] < 0 || Before(ov, oi, best_v[threadIdx.x], best_i[threadIdx.x]))) {
          best_v[threadIdx.x] = ov;
          best_i[threadIdx.x] = oi;
        }
      }
      __syncthreads();
    }
    prev_v = best_v[0];
    prev_i = best_i[0];
    if (threadIdx.x == 0) {
      const int64_t o = static_cast<int64_t>(blockIdx.x) * p.k + j;
      p.values[o] = row[prev_i];  // the stored value (NaN stays NaN for the host's check)
      p.ids[o] = prev_i;
    }
    __syncthreads();  // best_v / best_i are rewritten by the next pass
  }
}

}  // namespace

void LaunchTopK(const TopKParams& p, cudaStream_t stream) {
  if (p.rows > 0 && p.k > 0) PG_LAUNCH(top_k_kernel, static_cast<unsigned>(p.rows), kTopKThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

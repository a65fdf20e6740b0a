// Elementwise kernels of the CUDA backend: Add, AddRowBroadcast / AddBatchBroadcast (one tiled
// add), Scale, GeluTanh, GeGlu, SoftCap, and the f32 <-> bf16 conversion used by the GEMM
// wrapper (f32 inputs) and CopyRows. All arithmetic in f32, as CpuBackend (runtime/cpu_backend.cc);
// each array f32 or bf16 (read widened, written rounded to nearest even).
// (MatMulGelu's bias + GELU is the GEMM's cuBLASLt epilogue, runtime/cuda/gemm.cc.)
#include <cuda_bf16.h>

#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as jax.nn.gelu(approximate=True).
__device__ __forceinline__ float GeluTanh(float x) {
  const float kC = 0.7978845608028654f;
  return 0.5f * x * (1.f + tanhf(kC * (x + 0.044715f * x * x * x)));
}

__global__ void add_kernel(AddParams p) {
  for (int64_t i = GridStart(); i < p.n; i += GridStride()) Store(p.x, i, Load(p.x, i) + Load(p.y, i));
}

__global__ void add_tiled_kernel(AddTiledParams p) {
  for (int64_t i = GridStart(); i < p.n; i += GridStride()) Store(p.x, i, Load(p.x, i) + Load(p.tile, i % p.period));
}

__global__ void scale_kernel(ScaleParams p) {
  for (int64_t i = GridStart(); i < p.n; i += GridStride()) Store(p.x, i, Load(p.x, i) * p.s);
}

__global__ void gelu_tanh_kernel(GeluTanhParams p) {
  for (int64_t i = GridStart(); i < p.n; i += GridStride()) Store(p.x, i, GeluTanh(Load(p.x, i)));
}

// gate_up: [rows, 2F] -> out: [rows, F]
__global__ void geglu_kernel(GeGluParams p) {
  const int64_t n = p.rows * p.F;
  for (int64_t i = GridStart(); i < n; i += GridStride()) {
    const int64_t m = i / p.F, f = i % p.F;
    const float gate = Load(p.gate_up, m * 2 * p.F + f), up = Load(p.gate_up, m * 2 * p.F + p.F + f);
    Store(p.out, i, GeluTanh(gate) * up);
  }
}

__global__ void softcap_kernel(SoftCapParams p) {
  for (int64_t i = GridStart(); i < p.n; i += GridStride()) Store(p.x, i, tanhf(Load(p.x, i) / p.cap) * p.cap);
}

__global__ void convert_kernel(ConvertParams p) {
  for (int64_t i = GridStart(); i < p.n; i += GridStride()) {
    const float v = Load(p.src, i);
    if (p.dst_bf16) {
      static_cast<__nv_bfloat16*>(p.dst)[i] = __float2bfloat16_rn(v);
    } else {
      static_cast<float*>(p.dst)[i] = v;
    }
  }
}

}  // namespace

cudaError_t ProbeKernelImage() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, add_kernel);
}

void LaunchAdd(const AddParams& p, cudaStream_t stream) {
  if (p.n > 0) PG_LAUNCH(add_kernel, GridFor(p.n), kThreads, 0, stream)(p);
}

void LaunchAddTiled(const AddTiledParams& p, cudaStream_t stream) {
  if (p.n > 0) PG_LAUNCH(add_tiled_kernel, GridFor(p.n), kThreads, 0, stream)(p);
}

void LaunchScale(const ScaleParams& p, cudaStream_t stream) {
  if (p.n > 0) PG_LAUNCH(scale_kernel, GridFor(p.n), kThreads, 0, stream)(p);
}

void LaunchGeluTanh(const GeluTanhParams& p, cudaStream_t stream) {
  if (p.n > 0) PG_LAUNCH(gelu_tanh_kernel, GridFor(p.n), kThreads, 0, stream)(p);
}

void LaunchGeGlu(const GeGluParams& p, cudaStream_t stream) {
  if (p.rows * p.F > 0) PG_LAUNCH(geglu_kernel, GridFor(p.rows * p.F), kThreads, 0, stream)(p);
}

void LaunchSoftCap(const SoftCapParams& p, cudaStream_t stream) {
  if (p.n > 0) PG_LAUNCH(softcap_kernel, GridFor(p.n), kThreads, 0, stream)(p);
}

void LaunchConvert(const ConvertParams& p, cudaStream_t stream) {
  if (p.n > 0) PG_LAUNCH(convert_kernel, GridFor(p.n), kThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

// The CUDA backend's GEMM: bf16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F), f32 output,
// through cublasGemmEx on the backend's stream. Row-major shapes, as runtime/backend.h.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace pg {
namespace cuda {

// out[M, N] = x[M, K] @ w, where w is [K, N] (trans_w = false, MatMul) or [N, K]
// (trans_w = true, MatMulTransB). x and w are device bf16, out is device f32.
struct GemmParams {
  const void* x_bf16;
  const void* w_bf16;
  bool trans_w;
  float* out;
  int64_t M, N, K;
  const char* op;  // names the backend op in errors
};
// `handle` must already be bound to `stream` (cublasSetStream, then cublasSetWorkspace).
void LaunchGemmBf16(const GemmParams& p, cublasHandle_t handle, cudaStream_t stream);

}  // namespace cuda
}  // namespace pg

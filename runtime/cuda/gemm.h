// The CUDA backend's GEMM: bf16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F), f32 output,
// through cublasGemmEx on the backend's stream. Row-major shapes, as runtime/backend.h.
// Also the attention's batched bf16 GEMMs (column-major, as cuBLAS).
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

// `count` column-major GEMMs C_i[m, n] = op(A_i)[m, k] B_i[k, n] with bf16 A, B (tensor cores),
// fp32 accumulation and f32 C (cublasGemmStridedBatchedEx, CUBLAS_COMPUTE_32F): X_i = X + i *
// stride_x elements. The attention's prefill GEMMs (runtime/cuda/cuda_backend_attention.cc).
struct BatchedGemmBf16 {
  bool trans_a;
  int64_t m, n, k;
  const void* a;  // bf16
  int64_t lda, stride_a;
  const void* b;  // bf16
  int64_t ldb, stride_b;
  float* c;
  int64_t ldc, stride_c;
  int64_t count;
  const char* op;
};
void LaunchGemmBf16Batched(const BatchedGemmBf16& g, cublasHandle_t handle, cudaStream_t stream);

}  // namespace cuda
}  // namespace pg

// The CUDA backend's GEMMs: bf16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F), output f32 or
// bf16. MatMul / MatMulGelu / MatMulTransB go through cublasLtMatmul on the backend's stream,
// with the bias (and bias + GELU) applied in the GEMM's epilogue; the attention's batched GEMMs
// through cublasGemmStridedBatchedEx. Row-major shapes, as runtime/backend.h.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {

// What the GEMM's epilogue applies to acc = x w before the one rounding to out's type.
enum class GemmEpilogue {
  kNone,      // out = acc
  kBias,      // out = acc + bias[n]                 (CUBLASLT_EPILOGUE_BIAS)
  kGeluBias,  // out = gelu_tanh(acc + bias[n])     (CUBLASLT_EPILOGUE_GELU_BIAS; tanh approximation)
};

// out[M, N] = epilogue(x[M, K] @ w), where w is [K, N] (trans_w = false, MatMul) or [N, K]
// (trans_w = true, MatMulTransB). x and w are device bf16; out is f32 or bf16; bias is [N] of
// out's type (cuBLASLt's bias type is D's type), or null for kNone.
struct GemmParams {
  const void* x_bf16;
  const void* w_bf16;
  bool trans_w;
  MutView out;
  const void* bias;
  GemmEpilogue epilogue;
  int64_t M, N, K;
  const char* op;  // names the backend op in errors
};
// cuBLASLt matmul on `stream`, with `workspace` (device, `workspace_bytes`) for its kernels.
void LaunchGemmLt(const GemmParams& p, cublasLtHandle_t handle, void* workspace, size_t workspace_bytes,
                  cudaStream_t stream);

// `count` column-major GEMMs C_i[m, n] = op(A_i)[m, k] B_i[k, n] with bf16 A, B (tensor cores),
// fp32 accumulation and f32 or bf16 C (cublasGemmStridedBatchedEx, CUBLAS_COMPUTE_32F): X_i = X + i *
// stride_x elements. The attention's prefill GEMMs (runtime/cuda/cuda_backend_attention.cc).
struct BatchedGemmBf16 {
  bool trans_a;
  int64_t m, n, k;
  const void* a;  // bf16
  int64_t lda, stride_a;
  const void* b;  // bf16
  int64_t ldb, stride_b;
  MutView c;
  int64_t ldc, stride_c;
  int64_t count;
  const char* op;
};
void LaunchGemmBf16Batched(const BatchedGemmBf16& g, cublasHandle_t handle, cudaStream_t stream);

}  // namespace cuda
}  // namespace pg

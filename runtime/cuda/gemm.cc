#include "runtime/cuda/gemm.h"

#include <climits>

#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/step_graph.h"

namespace pg {
namespace cuda {

void LaunchGemmBf16(const GemmParams& p, cublasHandle_t handle, cudaStream_t stream) {
  if (p.M == 0 || p.N == 0) return;
  PG_CHECK(p.M <= INT_MAX && p.N <= INT_MAX && p.K <= INT_MAX,
           "CudaBackend::" << p.op << ": GEMM " << p.M << " x " << p.N << " x " << p.K
                           << " exceeds cuBLAS's 32-bit sizes");
  // The handle is bound to `stream` once, at backend creation: cublasSetStream here would reset
  // the workspace set with cublasSetWorkspace back to cuBLAS's default pool.
  cudaStream_t bound = nullptr;
  CUBLAS_CHECK(cublasGetStream(handle, &bound), p.op);
  PG_CHECK(bound == stream, "CudaBackend::" << p.op << ": the cuBLAS handle is bound to another stream");
  if (ActiveStep(stream) &&  // the CUDA-graph gate (step_graph.h)
      !Admit(stream, LaunchSignature().Add(handle).Add(p.trans_w).Add(p.M).Add(p.N).Add(p.K).Add(p.w_bf16)
                         .Add(p.x_bf16).Add(p.out), "cublasGemmEx"))
    return;
  const float alpha = 1.f, beta = 0.f;
  const int M = static_cast<int>(p.M), N = static_cast<int>(p.N), K = static_cast<int>(p.K);
  // cuBLAS is column-major: row-major out[M, N] = x w is column-major out^T[N, M] = w^T x^T, where
  // row-major x [M, K] reads as column-major x^T [K, M] (ld K) and row-major w [K, N] as w^T [N, K]
  // (ld N); a row-major w [N, K] reads as column-major [K, N] (ld K) and is transposed (OP_T).
  if (!p.trans_w) {
    CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &alpha, p.w_bf16, CUDA_R_16BF, N,
                              p.x_bf16, CUDA_R_16BF, K, &beta, p.out, CUDA_R_32F, N, CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 p.op);
  } else {
    CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, p.w_bf16, CUDA_R_16BF, K,
                              p.x_bf16, CUDA_R_16BF, K, &beta, p.out, CUDA_R_32F, N, CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 p.op);
  }
}

void LaunchGemmBf16Batched(const BatchedGemmBf16& g, cublasHandle_t handle, cudaStream_t stream) {
  if (g.m == 0 || g.n == 0 || g.count == 0) return;
  for (const int64_t v : {g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.count})
    PG_CHECK(v <= INT_MAX, "CudaBackend::" << g.op << ": batched GEMM " << g.count << " x (" << g.m << " x " << g.n
                                           << " x " << g.k << ") exceeds cuBLAS's 32-bit sizes");
  cudaStream_t bound = nullptr;
  CUBLAS_CHECK(cublasGetStream(handle, &bound), g.op);
  PG_CHECK(bound == stream, "CudaBackend::" << g.op << ": the cuBLAS handle is bound to another stream");
  if (ActiveStep(stream) &&  // the CUDA-graph gate (step_graph.h)
      !Admit(stream, LaunchSignature().Add(handle).Add(g.trans_a).Add(g.m).Add(g.n).Add(g.k).Add(g.a).Add(g.lda)
                         .Add(g.stride_a).Add(g.b).Add(g.ldb).Add(g.stride_b).Add(g.c).Add(g.ldc).Add(g.stride_c)
                         .Add(g.count), "cublasGemmStridedBatchedEx"))
    return;
  const float alpha = 1.f, beta = 0.f;
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N,
                                          static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), &alpha,
                                          g.a, CUDA_R_16BF, static_cast<int>(g.lda), g.stride_a, g.b, CUDA_R_16BF,
                                          static_cast<int>(g.ldb), g.stride_b, &beta, g.c, CUDA_R_32F,
                                          static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.count),
                                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               g.op);
}

}  // namespace cuda
}  // namespace pg

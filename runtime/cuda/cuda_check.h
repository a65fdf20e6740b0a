// Error checks for the CUDA backend (STYLE rule 10): a failing CUDA runtime or cuBLAS call throws
// pg::Error naming the op that issued it, the call, and the library's error name and string.
//
//   CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), "Download");
//   CUBLAS_CHECK(cublasGemmEx(...), "MatMul");
// `op` may be a stream expression: CUDA_CHECK(cudaSetDevice(d), "MakeCudaBackend (device " << d << ")").
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "runtime/check.h"

#define CUDA_CHECK(expr, op)                                                                         \
  do {                                                                                               \
    const cudaError_t pg_cuda_err_ = (expr);                                                         \
    if (pg_cuda_err_ != cudaSuccess)                                                                 \
      PG_THROW("CudaBackend::" << op << ": " << cudaGetErrorName(pg_cuda_err_) << " ("            \
                               << cudaGetErrorString(pg_cuda_err_) << ") from " << #expr);          \
  } while (0)

#define CUBLAS_CHECK(expr, op)                                                                       \
  do {                                                                                               \
    const cublasStatus_t pg_cublas_st_ = (expr);                                                     \
    if (pg_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                                      \
      PG_THROW("CudaBackend::" << op << ": " << cublasGetStatusName(pg_cublas_st_) << " ("        \
                               << cublasGetStatusString(pg_cublas_st_) << ") from " << #expr);      \
  } while (0)

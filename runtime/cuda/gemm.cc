#include "runtime/cuda/gemm.h"

#include <climits>
#include <cstdint>

#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/step_graph.h"

namespace pg {
namespace cuda {

namespace {

// RAII for the cuBLASLt descriptors of one call.
struct LtCall {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtCall() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    for (cublasLtMatrixLayout_t l : {a, b, d})
      if (l) cublasLtMatrixLayoutDestroy(l);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

// The largest power of two up to 256 that divides p's address: cuBLASLt's heuristic assumes 256-byte
// aligned operands unless told otherwise (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES, default
// 256), and a row slice of an activation is less aligned.
uint32_t AlignmentOf(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

cublasLtEpilogue_t LtEpilogue(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kBias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::kGeluBias: return CUBLASLT_EPILOGUE_GELU_BIAS;
    default: return CUBLASLT_EPILOGUE_DEFAULT;
  }
}

}  // namespace

void LaunchGemmLt(const GemmParams& p, cublasLtHandle_t handle, void* workspace, size_t workspace_bytes,
                  cudaStream_t stream) {
  if (p.M == 0 || p.N == 0) return;
  PG_CHECK(p.M <= INT_MAX && p.N <= INT_MAX && p.K <= INT_MAX,
           "CudaBackend::" << p.op << ": GEMM " << p.M << " x " << p.N << " x " << p.K
                           << " exceeds cuBLAS's 32-bit sizes");
  PG_CHECK((p.epilogue == GemmEpilogue::kNone) == (p.bias == nullptr),
           "CudaBackend::" << p.op << ": a bias epilogue needs a bias (and only it)");
  if (ActiveStep(stream) &&  // the CUDA-graph gate (step_graph.h): in a replayed step, compare only
      !Admit(stream, LaunchSignature().Add(handle).Add(p.trans_w).Add(p.M).Add(p.N).Add(p.K).Add(p.w_bf16)
                         .Add(p.x_bf16).Add(p.out.data).Add(p.out.bf16).Add(p.bias).Add(p.epilogue)
                         .Add(workspace).Add(workspace_bytes), "cublasLtMatmul"))
    return;
  // cuBLAS is column-major: row-major out[M, N] = x w is column-major D[N, M] = op(A) B with
  // B = x read as column-major [K, M] (ld K) and A = w: row-major [K, N] read as column-major
  // [N, K] (ld N, OP_N), or row-major [N, K] read as column-major [K, N] (ld K, OP_T). The bias
  // is a vector over D's rows, i.e. over out's columns N, broadcast over the M rows.
  const uint64_t M = static_cast<uint64_t>(p.M), N = static_cast<uint64_t>(p.N), K = static_cast<uint64_t>(p.K);
  const cudaDataType_t out_type = p.out.bf16 ? CUDA_R_16BF : CUDA_R_32F;
  LtCall c;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&c.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), p.op);
  const int32_t trans_a = p.trans_w ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  const uint32_t epilogue = LtEpilogue(p.epilogue);
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(c.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a), p.op);
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(c.desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b), p.op);
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(c.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), p.op);
  if (p.bias)
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(c.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof p.bias),
                 p.op);
  if (p.trans_w)
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c.a, CUDA_R_16BF, K, N, static_cast<int64_t>(K)), p.op);
  else
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c.a, CUDA_R_16BF, N, K, static_cast<int64_t>(N)), p.op);
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c.b, CUDA_R_16BF, K, M, static_cast<int64_t>(K)), p.op);
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c.d, out_type, N, M, static_cast<int64_t>(N)), p.op);
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&c.pref), p.op);
  const uint64_t ws = workspace_bytes;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(c.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
               p.op);
  const uint32_t align_a = AlignmentOf(p.w_bf16), align_b = AlignmentOf(p.x_bf16), align_d = AlignmentOf(p.out.data);
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(c.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                    sizeof align_a),
               p.op);
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(c.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                                    sizeof align_b),
               p.op);
  for (const auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(c.pref, attr, &align_d, sizeof align_d), p.op);
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, c.desc, c.a, c.b, c.d, c.d, c.pref, 1, &heuristic, &found), p.op);
  PG_CHECK(found > 0, "CudaBackend::" << p.op << ": cuBLASLt has no algorithm for " << p.M << " x " << p.N << " x "
                                      << p.K << " (bf16 -> " << (p.out.bf16 ? "bf16" : "f32") << ", epilogue "
                                      << epilogue << ")");
  const float alpha = 1.f, beta = 0.f;
  CUBLAS_CHECK(cublasLtMatmul(handle, c.desc, &alpha, p.w_bf16, c.a, p.x_bf16, c.b, &beta, p.out.data, c.d,
                              p.out.data, c.d, &heuristic.algo, workspace, workspace_bytes, stream),
               p.op);
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
                                          static_cast<int>(g.ldb), g.stride_b, &beta, g.c.data,
                                          g.c.bf16 ? CUDA_R_16BF : CUDA_R_32F,
                                          static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.count),
                                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               g.op);
}

}  // namespace cuda
}  // namespace pg

// CPU emulation of the cuBLASLt subset of tests/cuda_emu/include/cublasLt.h: descriptors hold
// what was set; cublasLtMatmul checks everything a real call would reject or fault on (types,
// layouts against the op's m x n x k, leading dimensions, operands, bias and workspace inside
// device allocations, the stream) and runs a reference GEMM with fp32 accumulation, the epilogue
// in fp32 and one rounding of D to its type. Errors print "[cuda-emu] ..." and set
// cudaGetLastError, as the rest of the emulation does.
#include <cuda_bf16.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "cublasLt.h"
#include "emu_internal.h"
#include "graph_emu.h"

struct PgEmuLt {
  int live = 1;
};
struct PgEmuLtMatmulDesc {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  int32_t bias_type = -1;  // -1: D's type
};
struct PgEmuLtLayout {
  cudaDataType type;
  uint64_t rows, cols;
  int64_t ld;
};
struct PgEmuLtPreference {
  uint64_t max_workspace = 0;
  uint32_t min_align[4] = {256, 256, 256, 256};  // A, B, C, D (cublasLt.h's default)
};

namespace {

cublasStatus_t Reject(cublasStatus_t status, const std::string& why) {
  pgemu::RecordError(cudaErrorInvalidValue, "cublasLt: " + why);
  return status;
}

size_t Bytes(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }

float LoadAs(const void* p, cudaDataType t, size_t i) {
  return t == CUDA_R_32F ? static_cast<const float*>(p)[i]
                         : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): cuBLASLt's GELU epilogue is this tanh
// approximation (the one Gemma / SigLIP use, gelu_pytorch_tanh).
float GeluTanh(float x) {
  const float kC = 0.7978845608028654f;
  return 0.5f * x * (1.f + std::tanh(kC * (x + 0.044715f * x * x * x)));
}

template <class T>
bool SetFrom(T* field, const void* buf, size_t size) {
  if (!buf || size != sizeof(T)) return false;
  std::memcpy(field, buf, sizeof(T));
  return true;
}

// A layout read as `rows x cols` column-major: the right extents, ld >= rows, inside a device
// allocation.
bool CheckLayout(const char* name, const PgEmuLtLayout* l, const void* p, uint64_t rows, uint64_t cols) {
  if (!l) return Reject(CUBLAS_STATUS_INVALID_VALUE, std::string("null layout for ") + name), false;
  if (l->rows != rows || l->cols != cols) {
    Reject(CUBLAS_STATUS_INVALID_VALUE, std::string("layout ") + name + " is " + std::to_string(l->rows) + " x " +
                                            std::to_string(l->cols) + "; the op needs " + std::to_string(rows) +
                                            " x " + std::to_string(cols));
    return false;
  }
  if (l->ld < static_cast<int64_t>(rows > 0 ? rows : 1)) {
    Reject(CUBLAS_STATUS_INVALID_VALUE, std::string("ld") + name + " = " + std::to_string(l->ld) + " < " +
                                            std::to_string(rows) + " rows");
    return false;
  }
  const size_t bytes = ((cols - 1) * static_cast<size_t>(l->ld) + rows) * Bytes(l->type);
  if (!pgemu::IsDeviceRange(p, bytes)) {
    pgemu::RecordError(cudaErrorIllegalAddress, std::string("cublasLtMatmul: operand ") + name + " " +
                                                    std::to_string(rows) + " x " + std::to_string(cols) + " at " +
                                                    pgemu::DescribeRange(p, bytes));
    return false;
  }
  return true;
}

}  // namespace

cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) {
  *h = new PgEmuLt;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute, cudaDataType_t scale) {
  *d = new PgEmuLtMatmulDesc{compute, scale};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                                              const void* buf, size_t size) {
  if (!d) return CUBLAS_STATUS_NOT_INITIALIZED;
  bool ok = false;
  int32_t op = 0;
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
    case CUBLASLT_MATMUL_DESC_TRANSB:
      ok = SetFrom(&op, buf, size) && (op == CUBLAS_OP_N || op == CUBLAS_OP_T);
      if (ok) (attr == CUBLASLT_MATMUL_DESC_TRANSA ? d->trans_a : d->trans_b) = static_cast<cublasOperation_t>(op);
      break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      ok = SetFrom(&d->epilogue, buf, size) &&
           (d->epilogue == CUBLASLT_EPILOGUE_DEFAULT || d->epilogue == CUBLASLT_EPILOGUE_BIAS ||
            d->epilogue == CUBLASLT_EPILOGUE_GELU || d->epilogue == CUBLASLT_EPILOGUE_GELU_BIAS);
      break;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: ok = SetFrom(&d->bias, buf, size); break;
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: ok = SetFrom(&d->bias_type, buf, size); break;
  }
  return ok ? CUBLAS_STATUS_SUCCESS
            : Reject(CUBLAS_STATUS_INVALID_VALUE, "cublasLtMatmulDescSetAttribute " + std::to_string(attr) +
                                                      ": wrong size or value not emulated");
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType type, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
  *l = new PgEmuLtLayout{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  *p = new PgEmuLtPreference;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                                                    size_t size) {
  if (!p) return CUBLAS_STATUS_NOT_INITIALIZED;
  bool ok = false;
  if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
    ok = SetFrom(&p->max_workspace, buf, size);
  } else if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES) {
    uint32_t& a = p->min_align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES];
    ok = SetFrom(&a, buf, size) && a > 0 && (a & (a - 1)) == 0;
  }
  if (!ok) return Reject(CUBLAS_STATUS_INVALID_VALUE, "cublasLtMatmulPreferenceSetAttribute " + std::to_string(attr) +
                                                          ": wrong size or value not emulated");
  return CUBLAS_STATUS_SUCCESS;
}
// One "algorithm" (the reference GEMM), needing no workspace; it remembers the operand alignments
// the preference allowed (cublasLtMatmul checks the pointers against them).
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t pref,
                                              int requested, cublasLtMatmulHeuristicResult_t results[],
                                              int* returned) {
  if (!h || !d || !a || !b || !c || !dl || !pref || !results || !returned) return CUBLAS_STATUS_INVALID_VALUE;
  if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  std::memset(&results[0], 0, sizeof(results[0]));
  for (int i = 0; i < 4; ++i) results[0].algo.data[i] = pref->min_align[i];
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t ad, const void* B, cublasLtMatrixLayout_t bd, const void* beta,
                              const void* C, cublasLtMatrixLayout_t cd, void* D, cublasLtMatrixLayout_t dd,
                              const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspace_bytes,
                              cudaStream_t stream) {
  if (!h || !d) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (pgemu::CheckLiveStream(stream, "cublasLtMatmul") != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
  if (!ad || !bd || !cd || !dd || !algo) return Reject(CUBLAS_STATUS_INVALID_VALUE, "cublasLtMatmul: null descriptor");
  if (d->compute != CUBLAS_COMPUTE_32F || d->scale != CUDA_R_32F || ad->type != CUDA_R_16BF ||
      bd->type != CUDA_R_16BF || (dd->type != CUDA_R_32F && dd->type != CUDA_R_16BF) || cd->type != dd->type)
    return Reject(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmul: type combination not emulated (bf16 A, B; C = D "
                                               "bf16 or f32; fp32 compute and scale)");
  const char* names[4] = {"A", "B", "C", "D"};
  const void* ptrs[4] = {A, B, C, D};
  for (int i = 0; i < 4; ++i) {
    const uint64_t align = algo->data[i] ? algo->data[i] : 256;
    if (reinterpret_cast<uintptr_t>(ptrs[i]) % align != 0) {
      pgemu::RecordError(cudaErrorMisalignedAddress,
                         std::string("cublasLtMatmul: operand ") + names[i] + " is not " + std::to_string(align) +
                             "-byte aligned as the algorithm assumes (set CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_" +
                             names[i] + "_BYTES)");
      return CUBLAS_STATUS_EXECUTION_FAILED;
    }
  }
  if (workspace_bytes > 0 && !pgemu::IsDeviceRange(workspace, workspace_bytes))
    return Reject(CUBLAS_STATUS_INVALID_VALUE, "cublasLtMatmul: workspace is not device memory");
  if (pgemu::IsCapturing(stream)) {
    // A node of the graph, like the real one: it keeps its own copy of the descriptors (the
    // caller may destroy them after the call) and of alpha / beta (host pointers read now).
    struct Node {
      PgEmuLtMatmulDesc d;
      PgEmuLtLayout a, b, c, dl;
      cublasLtMatmulAlgo_t algo;
      float alpha, beta;
    };
    auto node = std::make_shared<Node>(Node{*d, *ad, *bd, *cd, *dd, *algo, *static_cast<const float*>(alpha),
                                            *static_cast<const float*>(beta)});
    pgemu::CaptureNode(stream, [=]() {
      cublasLtMatmul(h, &node->d, &node->alpha, A, &node->a, B, &node->b, &node->beta, C, &node->c, D, &node->dl,
                     &node->algo, workspace, workspace_bytes, stream);
    });
    return CUBLAS_STATUS_SUCCESS;
  }
  const bool a_t = d->trans_a == CUBLAS_OP_T, b_t = d->trans_b == CUBLAS_OP_T;
  // D is m x n; op(A) m x k; op(B) k x n.
  const uint64_t m = dd->rows, n = dd->cols, k = a_t ? ad->rows : ad->cols;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  if ((k > 0 && (!CheckLayout("A", ad, A, a_t ? k : m, a_t ? m : k) || !CheckLayout("B", bd, B, b_t ? n : k, b_t ? k : n))) ||
      !CheckLayout("D", dd, D, m, n) || (be != 0.f && !CheckLayout("C", cd, C, m, n)))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (be != 0.f && (cd->ld != dd->ld || C != D))
    return Reject(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmul: only C = D (in place) is emulated");
  const bool bias = d->epilogue == CUBLASLT_EPILOGUE_BIAS || d->epilogue == CUBLASLT_EPILOGUE_GELU_BIAS;
  const bool gelu = d->epilogue == CUBLASLT_EPILOGUE_GELU || d->epilogue == CUBLASLT_EPILOGUE_GELU_BIAS;
  const cudaDataType bias_type = d->bias_type < 0 ? dd->type : static_cast<cudaDataType>(d->bias_type);
  if (bias) {
    if (bias_type != dd->type)
      return Reject(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmul: bias type differs from D's (not supported for "
                                                 "bf16 inputs with fp32 compute)");
    if (!d->bias || !pgemu::IsDeviceRange(d->bias, m * Bytes(bias_type))) {
      pgemu::RecordError(cudaErrorIllegalAddress, "cublasLtMatmul: bias of " + std::to_string(m) + " at " +
                                                      pgemu::DescribeRange(d->bias, m * Bytes(bias_type)));
      return CUBLAS_STATUS_INVALID_VALUE;
    }
  }
  for (uint64_t j = 0; j < n; ++j)
    for (uint64_t r = 0; r < m; ++r) {
      float acc = 0.f;  // fp32 accumulation, as CUBLAS_COMPUTE_32F
      for (uint64_t l = 0; l < k; ++l)
        acc += LoadAs(A, ad->type, a_t ? l + r * ad->ld : r + l * ad->ld) *
               LoadAs(B, bd->type, b_t ? j + l * bd->ld : l + j * bd->ld);
      const size_t at = r + j * static_cast<size_t>(dd->ld);
      float v = al * acc;
      if (be != 0.f) v += be * LoadAs(C, cd->type, at);
      if (bias) v += LoadAs(d->bias, bias_type, r);  // a vector of D's rows, broadcast over columns
      if (gelu) v = GeluTanh(v);
      if (dd->type == CUDA_R_32F)
        static_cast<float*>(D)[at] = v;
      else
        static_cast<__nv_bfloat16*>(D)[at] = __float2bfloat16_rn(v);
    }
  return CUBLAS_STATUS_SUCCESS;
}

// CudaBackend: the Backend interface (runtime/backend.h) on one CUDA device. Precision:
//  - Alloc: f32 (the residual stream, logits); AllocActivation: bf16 (the model's intermediate
//    activations); AllocKvCache: bf16.
//  - UploadWeight of a 2-D tensor stores bf16 (round to nearest even): the weight matrices used by
//    MatMul / MatMulTransB / Embed; read-only (IsWeight). Other ranks (norm scales, biases) are f32.
//  - MatMul / MatMulGelu / MatMulTransB: bf16 x bf16 -> fp32 accumulation -> the bias (+ GELU) in
//    cuBLASLt's epilogue -> out in out's dtype (cublasLtMatmul); an f32 x is rounded to bf16 into
//    a scratch buffer first, a bf16 x is used in place.
//  - Every other op computes in fp32, reading bf16 or f32 inputs and writing its output's dtype
//    (bf16: round to nearest even).
// See docs/CUDA_BACKEND.md. Ops enqueue on one stream and return; Download synchronises.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/cuda/cuda_context.h"
#include "runtime/cuda/gemm.h"
#include "runtime/cuda/kernels.h"
#include "runtime/cuda/step_graph.h"

namespace pg {
namespace cuda {

constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;  // cuBLAS's recommendation for Hopper

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda"; }
  cudaStream_t stream() const { return ctx_->stream(); }
  int device() const { return ctx_->device(); }

  // ---- memory (cuda_backend.cc) ----
  Tensor Alloc(const std::string& name, std::vector<int64_t> shape) override;
  Tensor AllocActivation(const std::string& name, std::vector<int64_t> shape) override;
  Tensor Upload(const std::string& name, std::vector<int64_t> shape, const float* host) override;
  Tensor UploadWeight(const std::string& name, std::vector<int64_t> shape, const float* host) override;
  Tensor UploadAs(const std::string& name, std::vector<int64_t> shape, const float* host, DType dtype,
                  bool weight = false);
  void Download(const Tensor& t, float* host) override;
  void CopyFromHost(const float* host, Tensor& dst) override;
  void Zero(Tensor& t) override;
  void CopyRows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) override;

  // ---- compute (cuda_backend_ops.cc) ----
  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& out) override;
  void MatMulGelu(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out) override;
  void MatMulTransB(const Tensor& x, const Tensor& w, Tensor& out) override;
  void Add(Tensor& x, const Tensor& y) override;
  void AddRowBroadcast(Tensor& x, const Tensor& row) override;
  void AddBatchBroadcast(Tensor& x, const Tensor& table) override;
  void Scale(Tensor& x, float s) override;
  void LayerNorm(const Tensor& x, const Tensor& scale, const Tensor& bias, float eps, Tensor& out) override;
  void RmsNorm(const Tensor& x, const Tensor& scale, float eps, Tensor& out) override;
  void AddRmsNorm(Tensor& x, const Tensor& y, const Tensor& scale, float eps, Tensor& out) override;
  void GeluTanh(Tensor& x) override;
  void GeGlu(const Tensor& gate_up, Tensor& out) override;
  void SoftCap(Tensor& x, float cap) override;
  void SplitQkvRope(const Tensor& qkv, const std::vector<int>& positions, float base, Tensor& q, Tensor& k,
                    Tensor& v) override;
  void Embed(const Tensor& table, const std::vector<int>& ids, int64_t row_offset, float scale,
             Tensor& out) override;
  // ---- the KV cache (cuda_backend_cache.cc): bf16, written with RoPE applied on the way ----
  Tensor AllocKvCache(const std::string& name, std::vector<int64_t> shape) override;
  void WriteCache(const Tensor& fresh, const AttentionMask& mask, const std::vector<int>& count,
                  Tensor& cache) override;
  void SplitQkvRopeToCache(const Tensor& qkv, const std::vector<int>& positions, float base, const AttentionMask& mask,
                           const std::vector<int>& count, Tensor& q, Tensor& k, Tensor& v, Tensor& k_cache,
                           Tensor& v_cache) override;
  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                 const AttentionParams& params, Tensor& out) override;
  void TopK(const Tensor& logits, int k, float* values, int* ids) override;
  void RowLogSumExp(const Tensor& logits, float* lse) override;
  // ---- CUDA graphs for the decode step (step_graph.h; PG_CUDA_GRAPHS=0 turns them off) ----
  void RunStep(const StepKey& key, const std::function<void()>& forward) override { graphs_->Run(key, forward); }
  const StepGraphStats& graph_stats() const { return graphs_->stats(); }

 private:
  // A device tensor of `dtype` (contents undefined) whose storage frees itself on the stream.
  // weight: read-only afterwards (IsWeight).
  Tensor NewTensor(const std::string& name, std::vector<int64_t> shape, DType dtype, const char* op,
                   bool weight = false);
  // `t` as device bf16: its own data when bf16, else rounded into `scratch`.
  const void* AsBf16(const Tensor& t, DeviceScratch& scratch, const char* op);
  // Device copy of small host metadata, through `mirror`.
  const int* Ints(DeviceMirror& mirror, const std::vector<int>& host, const char* op);
  // Device [slot | q_start | count] of a cache write of fresh [B, T, ...] into cache (checked).
  const int* CacheWriteMeta(int64_t B, int64_t T, const AttentionMask& mask, const std::vector<int>& count,
                            const Tensor& cache, const char* op);
  // RoPE's inv_freq [head_dim / 2] on the device.
  const float* InverseFrequencies(int64_t head_dim, float base, const char* op);
  // out[M, N] = epilogue(x w (+ bias)): cuBLASLt, x rounded to bf16 first when f32, the bias
  // converted to out's dtype when it differs (cuBLASLt's bias type is the output's).
  void Gemm(const Tensor& x, const Tensor& w, bool trans_w, const Tensor* bias, GemmEpilogue epilogue, Tensor& out,
            int64_t M, int64_t N, int64_t K, const char* op);
  // After a launch: surfaces launch errors; with PG_CUDA_SYNC=1 (or a debug build) also waits
  // for the op, so an asynchronous fault is reported by the op that caused it.
  void Launched(const char* op);
  // The two Attention paths (cuda_backend_attention.cc); kp carries the checked shapes and mask.
  void AttentionDecode(AttentionKernelParams& kp, const AttentionMask& mask);
  void AttentionPrefill(const AttentionKernelParams& kp, const std::vector<int>& kv_len, const std::vector<int>& slot);
  void Release() noexcept;  // frees the handle and scratch buffers (destructor, failed constructor)

  std::shared_ptr<CudaContext> ctx_;
  cublasHandle_t cublas_ = nullptr;
  cublasLtHandle_t cublas_lt_ = nullptr;
  DeviceScratch cublas_workspace_, gemm_x_, gemm_w_, gemm_bias_, top_k_;
  void* workspace_ = nullptr;  // cublas_workspace_'s memory: cuBLAS's and cuBLASLt's workspace
  DeviceScratch attn_scratch_;  // prefill scores [B, H, T, ld] or decode partials
  DeviceMirror positions_, inv_freq_, ids_, cache_meta_, mask_meta_;
  bool sync_each_op_ = false;
  std::unique_ptr<StepGraphs> graphs_;
};

// Key-range splits per decode attention query (flash-decoding) for a launch of
// `blocks_per_split` blocks and at most `max_keys` visible keys per query.
int DecodeAttentionSplits(int64_t blocks_per_split, int64_t max_keys);

// ---- checks shared by the op files ----------------------------------------------------------
int64_t Rows(const Tensor& t);  // numel / dim(-1): the rows of t viewed as [rows, cols]
void CheckOnDevice(const Tensor& t, const char* op);
ConstView In(const Tensor& t, const char* op);   // a read-only input, f32 or bf16
MutView Out(Tensor& t, const char* op);          // an output / in-place tensor: f32 or bf16, not a weight
// The storage deleter of UploadWeight's tensors: its type marks them read-only.
struct WeightFree {
  std::shared_ptr<CudaContext> ctx;
  void operator()(void* p) const { ctx->Free(p); }
};
bool IsWeight(const Tensor& t);
CacheView CacheOut(Tensor& t, const char* op);   // a KV cache: f32, or bf16 and 4-D (AllocKvCache)
const float* InF32(const Tensor& t, const char* op);  // an input the kernel reads as f32 only

}  // namespace cuda
}  // namespace pg

// Backend: the one interface the model code computes through. CpuBackend (fp32, OpenBLAS)
// is the reference; CudaBackend (bf16 weights and activations, fp32 accumulation, cuBLASLt) implements the same
// ops. Every op documents its shapes; implementations check them at entry.
//
// Row-major throughout. A "matrix" [M, K] is any tensor whose leading dims multiply to M.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/tensor.h"

namespace pg {

// Which keys a query may attend to, per sequence b of the batch (prefix-LM + KV cache):
// query t of sequence b sits at cache slot q = q_start[b] + t; key slot s < kv_len[b] is visible iff
//   (s <= q and (window == 0 or q - s < window))      causal, within the sliding window
//   or (s < prefix_len[b] and q < prefix_len[b])       the bidirectional prefix block
// (Hugging Face Gemma 2: the sliding window does not apply inside the prefix block).
// Queries with slot >= kv_len[b] are padding: their output is zero.
// Sequence b of the batch reads and writes cache row slot[b] (the continuous batcher's KV slot;
// empty = row b), so a step computes only the live sequences of a larger cache.
struct AttentionMask {
  std::vector<int> q_start;     // [batch]
  std::vector<int> kv_len;      // [batch] valid cache slots after this step
  std::vector<int> prefix_len;  // [batch] bidirectional prefix (image + prompt)
  int window = 0;               // sliding window (Gemma 2 local layers), 0 = off
  std::vector<int> slot;        // [batch] cache row of sequence b; empty = b
};

struct AttentionParams {
  float scale = 1.f;    // applied to q.k
  float softcap = 0.f;  // tanh(l / cap) * cap before masking, 0 = off
};

// What crossed the host boundary and what was allocated, for the allocation-free-step test and
// the host-traffic figures of docs/BENCHMARKS.md.
struct BackendStats {
  int64_t allocations = 0;    // Alloc / Upload / UploadWeight calls
  int64_t bytes_to_host = 0;  // Download + TopK + RowLogSumExp results
  int64_t bytes_from_host = 0;  // Upload / CopyFromHost payloads
};

// One step of the generation loop as RunStep sees it: what the launch configuration of its ops
// depends on besides device data (the CUDA backend keeps one CUDA graph per key).
struct StepKey {
  int64_t batch = 0;         // sequences in the step
  int64_t tokens = 1;        // tokens per sequence (decode: 1)
  int64_t cache_len = 0;     // S of the KV cache
  bool collectives = false;  // forward() calls a Communicator (TP > 1): the CUDA backend runs it eagerly
  bool operator<(const StepKey& o) const {
    return std::tie(batch, tokens, cache_len, collectives) < std::tie(o.batch, o.tokens, o.cache_len, o.collectives);
  }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- memory ----------------------------------------------------------------
  virtual Tensor Alloc(const std::string& name, std::vector<int64_t> shape) = 0;  // zero-filled, f32
  // An intermediate activation (a norm's output, q/k/v, the attention output, an MLP hidden,
  // a projection's output), zero-filled, in this backend's activation precision: CpuBackend f32
  // (Alloc, unchanged), CudaBackend bf16. The residual stream, logits and anything read on the
  // host for sampling stay Alloc (f32). Every op accepts either dtype wherever an activation may
  // go, computes in f32 and rounds once when it writes a bf16 tensor.
  virtual Tensor AllocActivation(const std::string& name, std::vector<int64_t> shape) {
    return Alloc(name, std::move(shape));
  }
  virtual Tensor Upload(const std::string& name, std::vector<int64_t> shape, const float* host) = 0;
  // A model weight: the backend may store it in its weight precision (CUDA: 2-D matrices as bf16).
  virtual Tensor UploadWeight(const std::string& name, std::vector<int64_t> shape, const float* host) {
    return Upload(name, std::move(shape), host);
  }
  // A weight written in place (the loader): StageWeight returns host memory for a weight of
  // `shape` (data, C order, in the returned dtype) that the caller fills before FinishWeight
  // makes it this backend's tensor. CpuBackend hands out the weight's own storage in the dtype
  // UploadWeight would keep (bf16 2-D matrices under weight_dtype bf16), so loading makes no
  // host copy; the default (runtime/backend_weights.cc) stages f32 and calls UploadWeight.
  virtual Tensor StageWeight(const std::string& name, std::vector<int64_t> shape);
  virtual Tensor FinishWeight(Tensor staged);
  virtual void Download(const Tensor& t, float* host) = 0;
  // dst = host[0, dst.numel()) (into an existing, preallocated tensor).
  virtual void CopyFromHost(const float* host, Tensor& dst) = 0;
  virtual void Zero(Tensor& t) = 0;
  // dst rows [dst_row, dst_row + rows) = src rows [src_row, ...); both viewed as [*, cols].
  virtual void CopyRows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) = 0;

  // ---- linear algebra ---------------------------------------------------------
  // out[M, N] = x[M, K] @ w[K, N] (+ bias[N]).
  virtual void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& out) = 0;
  // out[M, N] = gelu_tanh(x[M, K] @ w[K, N] + bias[N])   (the ViT's fc1). The default is the
  // two ops; the CUDA backend applies bias and GELU in the GEMM's cuBLASLt epilogue.
  virtual void MatMulGelu(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out) {
    MatMul(x, w, &bias, out);
    GeluTanh(out);
  }
  // out[M, N] = x[M, K] @ w[N, K]^T   (logits against the tied embedding table).
  virtual void MatMulTransB(const Tensor& x, const Tensor& w, Tensor& out) = 0;

  // ---- elementwise / norms ----------------------------------------------------
  virtual void Add(Tensor& x, const Tensor& y) = 0;                    // x += y, same numel
  virtual void AddRowBroadcast(Tensor& x, const Tensor& row) = 0;      // x[M, N] += row[N]
  // x[B, R, N] += table[R, N] (the ViT position embedding).
  virtual void AddBatchBroadcast(Tensor& x, const Tensor& table) = 0;
  virtual void Scale(Tensor& x, float s) = 0;
  // out = (x - mean) / sqrt(var + eps) * scale + bias over the last dim.
  virtual void LayerNorm(const Tensor& x, const Tensor& scale, const Tensor& bias, float eps, Tensor& out) = 0;
  // Gemma RMSNorm: out = x / sqrt(mean(x^2) + eps) * (1 + scale) over the last dim.
  virtual void RmsNorm(const Tensor& x, const Tensor& scale, float eps, Tensor& out) = 0;
  // The residual add and the next RMSNorm in one pass: x += y, then out = RmsNorm(x, scale).
  // x, y, out: [M, N] (out must not alias x or y); scale: [N]. The default is the two ops.
  virtual void AddRmsNorm(Tensor& x, const Tensor& y, const Tensor& scale, float eps, Tensor& out) {
    Add(x, y);
    RmsNorm(x, scale, eps, out);
  }
  virtual void GeluTanh(Tensor& x) = 0;  // in place
  // gate_up[M, 2F] = [gate | up] -> out[M, F] = gelu_tanh(gate) * up.
  virtual void GeGlu(const Tensor& gate_up, Tensor& out) = 0;
  virtual void SoftCap(Tensor& x, float cap) = 0;  // x = tanh(x / cap) * cap

  // ---- transformer pieces -----------------------------------------------------
  // out[M, D] = table[ids[m] - row_offset] * scale for ids inside this table's rows
  // [row_offset, row_offset + rows), zero otherwise (vocab-parallel embedding).
  virtual void Embed(const Tensor& table, const std::vector<int>& ids, int64_t row_offset, float scale,
                     Tensor& out) = 0;
  // qkv[B, T, (heads + 2 kv_heads) * head_dim] (one fused projection, columns [q | k | v]) ->
  // q[B, T, heads, head_dim], k/v[B, T, kv_heads, head_dim]; q and k rotated (half-split RoPE)
  // at positions[B * T] when positions is not empty (the ViT passes none).
  virtual void SplitQkvRope(const Tensor& qkv, const std::vector<int>& positions, float base, Tensor& q, Tensor& k,
                            Tensor& v) = 0;
  // Writes new[B, T, kv_heads, head_dim] into cache[rows, S, kv_heads, head_dim]: sequence b's token
  // t < count[b] goes to row mask.slot[b] (b if empty), slot mask.q_start[b] + t.
  virtual void WriteCache(const Tensor& fresh, const AttentionMask& mask, const std::vector<int>& count,
                          Tensor& cache) = 0;
  // A KV cache [rows, S, kv_heads, head_dim], zero-filled, in this backend's cache precision
  // (CPU: f32; CUDA: bf16, half the decode attention's bytes). Only WriteCache and
  // SplitQkvRopeToCache write it; Attention reads it; Download widens it to f32.
  virtual Tensor AllocKvCache(const std::string& name, std::vector<int64_t> shape) {
    return Alloc(name, std::move(shape));
  }
  // SplitQkvRope, then WriteCache of k into k_cache and of v into v_cache (the decoder's three
  // calls, one launch on CUDA: RoPE applied where K is written into the cache). q as
  // SplitQkvRope; k, v [B, T, kv_heads, head_dim] are scratch whose contents are unspecified
  // afterwards (the default fills them; a fused backend need not touch them).
  virtual void SplitQkvRopeToCache(const Tensor& qkv, const std::vector<int>& positions, float base,
                                   const AttentionMask& mask, const std::vector<int>& count, Tensor& q, Tensor& k,
                                   Tensor& v, Tensor& k_cache, Tensor& v_cache) {
    SplitQkvRope(qkv, positions, base, q, k, v);
    WriteCache(k, mask, count, k_cache);
    WriteCache(v, mask, count, v_cache);
  }
  // q[B, T, heads, head_dim], k/v[rows, S, kv_heads, head_dim] -> out[B, T, heads, head_dim];
  // sequence b reads cache row mask.slot[b] (b if empty). Query head h uses kv head
  // h / (heads / kv_heads).
  virtual void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                         const AttentionParams& params, Tensor& out) = 0;

  // ---- sampling -----------------------------------------------------------------------
  // logits[B, V] -> per row its k largest values and their column indices, in the order
  // (value desc, index asc), into host values[B * k] / ids[B * k]. NaN and +inf rank above
  // every finite value (so a broken row surfaces in its first entry). k <= V.
  virtual void TopK(const Tensor& logits, int k, float* values, int* ids) = 0;
  // logits[B, V] -> host lse[B] = log(sum_v exp(logits[b, v])), from the row max (fp32 sums,
  // fp64 on the CPU): a token's log-probability is its logit minus this (--scores). A row with
  // NaN gives NaN; +inf gives +inf.
  virtual void RowLogSumExp(const Tensor& logits, float* lse) = 0;

  // ---- steps ------------------------------------------------------------------------
  // Runs forward(), the ops of one decode step (embedding .. logits; nothing that reads results
  // on the host). The CUDA backend captures it as a CUDA graph per key and replays the graph on
  // later steps whose launches are identical (docs/CUDA_BACKEND.md, "CUDA graphs"); forward()
  // may therefore run more than once per step and must only enqueue backend ops.
  virtual void RunStep(const StepKey& key, const std::function<void()>& forward) {
    (void)key;
    forward();
  }

  const BackendStats& stats() const { return stats_; }

 protected:
  BackendStats stats_;
};

struct BackendOptions {
  int threads = 1;  // CPU: threads per rank for every op (GEMMs included)
  int device = 0;   // CUDA device ordinal
  // CPU: how UploadWeight stores 2-D weight matrices: kF32, or kBF16 (bf16 GEMMs with fp32
  // accumulation, half the weight memory and bandwidth; falls back to fp32 storage when the
  // CPU's bf16 GEMM is unavailable). CUDA always stores them as bf16.
  DType weight_dtype = DType::kF32;
};

// The one factory that knows the backends: "cpu" or "cuda". A build without CUDA
// throws a clear error for "cuda".
std::unique_ptr<Backend> MakeBackend(const std::string& name, const BackendOptions& options = {});

}  // namespace pg

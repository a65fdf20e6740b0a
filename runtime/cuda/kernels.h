// Host-side declarations of the CUDA backend's kernels: one parameter struct and one
// LaunchFoo(params, stream) per op (STYLE rule 2: foo_kernel -> LaunchFoo -> CudaBackend::Foo).
// The kernels live in one .cu per op family: elementwise.cu, norms.cu, rope.cu, attention.cu,
// embedding_cache.cu. Launchers enqueue on `stream` and return at once; they check nothing
// but the launch itself (CudaBackend::Foo checks shapes and dtypes first).
//
// Storage: every array is f32 or bf16 (docs/CUDA_BACKEND.md, "Precision"). Read-only inputs are
// a ConstView, outputs and tensors updated in place a MutView; kernels widen bf16 to f32 on load,
// compute in f32 and round to nearest even on a bf16 store.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace pg {
namespace cuda {

// A read-only device array of f32 or bf16 values, read as f32.
struct ConstView {
  const void* data = nullptr;
  bool bf16 = false;
};

// A device array a kernel writes (an output, or a tensor updated in place): f32, or bf16 (values
// rounded to nearest even on store): activations from AllocActivation, the KV cache.
struct MutView {
  void* data = nullptr;
  bool bf16 = false;
};
using CacheView = MutView;  // a KV cache (AllocKvCache: bf16)

// ---- elementwise.cu -------------------------------------------------------------------------
struct AddParams {  // x[i] += y[i], i < n
  MutView x;
  ConstView y;
  int64_t n;
};
void LaunchAdd(const AddParams& p, cudaStream_t stream);

struct AddTiledParams {  // x[i] += tile[i % period], i < n (AddRowBroadcast, AddBatchBroadcast)
  MutView x;
  ConstView tile;
  int64_t n;
  int64_t period;
};
void LaunchAddTiled(const AddTiledParams& p, cudaStream_t stream);

struct ScaleParams {  // x[i] *= s
  MutView x;
  float s;
  int64_t n;
};
void LaunchScale(const ScaleParams& p, cudaStream_t stream);

struct GeluTanhParams {  // x[i] = gelu_tanh(x[i])
  MutView x;
  int64_t n;
};
void LaunchGeluTanh(const GeluTanhParams& p, cudaStream_t stream);

struct GeGluParams {  // gate_up: [rows, 2F] = [gate | up] -> out: [rows, F]
  ConstView gate_up;
  MutView out;
  int64_t rows;
  int64_t F;
};
void LaunchGeGlu(const GeGluParams& p, cudaStream_t stream);

struct SoftCapParams {  // x[i] = tanh(x[i] / cap) * cap
  MutView x;
  float cap;
  int64_t n;
};
void LaunchSoftCap(const SoftCapParams& p, cudaStream_t stream);

struct ConvertParams {  // dst[i] = src[i], f32 or bf16 (round to nearest even) on either side
  ConstView src;
  void* dst;
  bool dst_bf16;
  int64_t n;
};
void LaunchConvert(const ConvertParams& p, cudaStream_t stream);

// cudaSuccess when this build's kernels can run on the current device (cudaFuncGetAttributes on
// one of them); cudaErrorNoKernelImageForDevice or similar when it was built for another arch.
cudaError_t ProbeKernelImage();

// ---- norms.cu -------------------------------------------------------------------------------
struct LayerNormParams {  // x: [rows, cols] -> out: [rows, cols] (out may alias x)
  ConstView x, scale, bias;  // scale, bias: [cols]
  MutView out;
  int64_t rows, cols;
  float eps;
};
void LaunchLayerNorm(const LayerNormParams& p, cudaStream_t stream);

struct RmsNormParams {  // x: [rows, cols] -> out = x * rsqrt(mean(x^2) + eps) * (1 + scale)
  ConstView x, scale;
  MutView out;
  int64_t rows, cols;
  float eps;
};
void LaunchRmsNorm(const RmsNormParams& p, cudaStream_t stream);

struct AddRmsNormParams {  // x: [rows, cols] += y, then out = RmsNorm(x) (out aliases neither)
  MutView x;
  ConstView y, scale;
  MutView out;
  int64_t rows, cols;
  float eps;
};
void LaunchAddRmsNorm(const AddRmsNormParams& p, cudaStream_t stream);

// ---- rope.cu --------------------------------------------------------------------------------
// qkv: [rows, (heads + 2 kv_heads) * head_dim] -> q: [rows, heads, head_dim], k, v: [rows,
// kv_heads, head_dim]; q and k rotated (half split) when positions is not null.
struct SplitQkvRopeParams {
  ConstView qkv;
  MutView q, k, v;
  const int* positions;   // [rows], device; null = no rotation (the ViT)
  const float* inv_freq;  // [head_dim / 2], device (computed on the host exactly as the CPU does)
  int64_t rows, heads, kv_heads, head_dim;
};
void LaunchSplitQkvRope(const SplitQkvRopeParams& p, cudaStream_t stream);

// SplitQkvRope with k and v written straight into the KV cache (Backend::SplitQkvRopeToCache):
// qkv: [B * T, (heads + 2 kv_heads) * head_dim] -> q: [B, T, heads, head_dim] rotated;
// k rotated and v copied into cache[slot[b], q_start[b] + t, kv_heads, head_dim] for
// t < count[b] (later tokens of b, padding, are not written).
struct SplitQkvRopeCacheParams {
  ConstView qkv;
  MutView q;
  CacheView k_cache, v_cache;  // [cache_rows, S, kv_heads, head_dim]
  const int* positions;        // [B * T], device
  const float* inv_freq;       // [head_dim / 2], device
  const int* slot;             // [B], device
  const int* q_start;          // [B], device
  const int* count;            // [B], device
  int64_t B, T, S, heads, kv_heads, head_dim;
};
void LaunchSplitQkvRopeCache(const SplitQkvRopeCacheParams& p, cudaStream_t stream);

// ---- attention.cu ---------------------------------------------------------------------------
constexpr int kAttentionMaxHeadDim = 256;
constexpr int kAttentionDecodeWarps = 8;  // query heads of one kv head served per decode block
constexpr int kAttentionDecodeTile = 16;  // keys staged in shared memory per decode step
// Decode (one query per sequence): one block per (b, t, kv head, chunk of <= 8 of its query
// heads, split of the key range). splits == 1 writes out; splits > 1 writes the partial
// results to part_acc / part_ml and a second kernel merges them into out.
struct AttentionKernelParams {
  ConstView q;     // [B, T, H, hd]
  ConstView k;     // [rows, S, KH, hd] (the KV cache: f32, or bf16 on the CUDA backend)
  ConstView v;     // [rows, S, KH, hd]
  MutView out;     // [B, T, H, hd]
  const int* q_start;     // [B], device
  const int* kv_len;      // [B], device
  const int* prefix_len;  // [B], device
  const int* slot;        // [B], device: cache row of sequence b (k/v: [rows, S, KH, hd])
  int64_t B, T, H, S, KH, head_dim;
  int window;
  float scale, softcap;
  int splits;       // >= 1: the visible key range of each query is cut into this many parts
  float* part_acc;  // [B * T * H, splits, hd] unnormalised partial outputs (splits > 1)
  float* part_ml;   // [B * T * H, splits, 2] partial running max and sum (splits > 1)
};
void LaunchAttentionDecode(const AttentionKernelParams& p, cudaStream_t stream);

// Prefill, before the GEMMs: the visible cache rows as bf16 GEMM operands.
// k, v: [rows, S, KH, hd] f32 or bf16 -> kv: [2, B, ld, KH, hd] bf16 (k, then v): kv[., b, s] =
// cache row slot[b], slot s, for s < kv_len[b] (later s are not written).
struct AttentionGatherParams {
  ConstView k;
  ConstView v;
  void* kv;  // bf16
  const int* kv_len;  // [B], device
  const int* slot;    // [B], device
  int64_t B, S, KH, head_dim, ld;
};
void LaunchAttentionGather(const AttentionGatherParams& p, cudaStream_t stream);

// Prefill, between the GEMMs. scores: [B, H, T, ld] f32, columns [0, kv_len[b]) of each row
// hold q.k -> probs: [B, H, T, ld] bf16, the same columns: scale, soft-cap, mask, softmax
// (masked keys 0; the whole row 0 for a padding query).
struct AttentionSoftmaxParams {
  const float* scores;
  void* probs;  // bf16
  const int* q_start;     // [B], device
  const int* kv_len;      // [B], device
  const int* prefix_len;  // [B], device
  int64_t B, H, T, ld;
  int window;
  float scale, softcap;
};
void LaunchAttentionSoftmax(const AttentionSoftmaxParams& p, cudaStream_t stream);

// ---- embedding_cache.cu ---------------------------------------------------------------------
struct EmbedParams {  // out[m, :] = table[ids[m] - row_offset, :] * scale, or 0 outside the table
  ConstView table;    // [table_rows, D]
  const int* ids;     // [n_ids], device
  MutView out;        // [n_ids, D]
  int64_t n_ids, row_offset, table_rows, D;
  float scale;
};
void LaunchEmbed(const EmbedParams& p, cudaStream_t stream);

struct WriteCacheParams {  // cache[slot[b], q_start[b] + t, :] = fresh[b, t, :] for t < count[b]
  ConstView fresh;         // [B, T, row]
  CacheView cache;         // [cache_rows, S, row]
  const int* slot;         // [B], device
  const int* q_start;      // [B], device
  const int* count;        // [B], device
  int64_t B, T, S, row;
};
void LaunchWriteCache(const WriteCacheParams& p, cudaStream_t stream);

// ---- top_k.cu -------------------------------------------------------------------------------
// logits: [rows, V] -> values, ids: [rows, k] in (value desc, index asc) order, NaN ranked with
// +inf above every finite value. One block per row; k passes, each selecting the best element
// strictly after the previous pick in that total order (no exclusion set needed).
struct TopKParams {
  const float* logits;
  float* values;  // [rows, k], device
  int* ids;       // [rows, k], device
  int64_t rows, V;
  int k;
};
void LaunchTopK(const TopKParams& p, cudaStream_t stream);

// ---- log_sum_exp.cu -------------------------------------------------------------------------
// logits: [rows, V] -> lse: [rows] = max + log(sum exp(x - max)); one block per row (a max
// reduction, then a sum reduction). NaN in a row gives NaN, a +inf max gives +inf.
struct LogSumExpParams {
  const float* logits;
  float* lse;  // [rows], device
  int64_t rows, V;
};
void LaunchRowLogSumExp(const LogSumExpParams& p, cudaStream_t stream);

}  // namespace cuda
}  // namespace pg

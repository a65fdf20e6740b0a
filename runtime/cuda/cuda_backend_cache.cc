// CudaBackend's KV cache: AllocKvCache (bf16: half the bytes decode attention reads),
// WriteCache, and SplitQkvRopeToCache, the decoder's split + RoPE + two cache writes in one
// kernel that rotates K on its way into the cache (runtime/cuda/rope.cu). The checks are
// CpuBackend's (runtime/cpu_backend.cc), so both backends reject the same calls.
#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/op_shapes.h"

namespace pg {
namespace cuda {

CacheView CacheOut(Tensor& t, const char* op) {
  return Out(t, op);  // f32, or bf16 (AllocKvCache); never a weight
}

Tensor CudaBackend::AllocKvCache(const std::string& name, std::vector<int64_t> shape) {
  // [rows, S, kv_heads, head_dim] bf16, zero-filled
  PG_CHECK(shape.size() == 4, "AllocKvCache: '" << name << "' " << ShapeStr(shape)
                                                << " must be [rows, slots, kv_heads, head_dim]");
  Tensor t = NewTensor(name, std::move(shape), DType::kBF16, "AllocKvCache");
  CUDA_CHECK(cudaMemsetAsync(t.data, 0, t.bytes(), ctx_->stream()), "AllocKvCache '" << name << "'");
  return t;
}

const int* CudaBackend::CacheWriteMeta(int64_t B, int64_t T, const AttentionMask& mask, const std::vector<int>& count,
                                       const Tensor& cache, const char* op) {
  const int64_t S = cache.dim(1);
  PG_CHECK(static_cast<int64_t>(mask.q_start.size()) == B && static_cast<int64_t>(count.size()) == B &&
               (mask.slot.empty() || static_cast<int64_t>(mask.slot.size()) == B),
           op << ": " << mask.q_start.size() << " starts, " << count.size() << " counts and " << mask.slot.size()
              << " cache rows for batch " << B);
  std::vector<int> meta(3 * B);  // [slot | q_start | count]
  for (int64_t b = 0; b < B; ++b) {
    meta[b] = static_cast<int>(CacheRow(mask.slot, b, cache.dim(0), op));
    PG_CHECK(count[b] >= 0 && count[b] <= T && mask.q_start[b] >= 0 && mask.q_start[b] + count[b] <= S,
             op << ": sequence " << b << " needs slots up to " << mask.q_start[b] + count[b] << " but '" << cache.name
                << "' holds " << S);
    meta[B + b] = mask.q_start[b];
    meta[2 * B + b] = count[b];
  }
  return Ints(cache_meta_, meta, op);
}

const float* CudaBackend::InverseFrequencies(int64_t head_dim, float base, const char* op) {
  const std::vector<float> inv_freq = RopeInverseFrequencies(head_dim, base);  // same angles as CpuBackend
  return static_cast<const float*>(inv_freq_.Get(*ctx_, inv_freq.data(), inv_freq.size() * sizeof(float), op));
}

void CudaBackend::WriteCache(const Tensor& fresh, const AttentionMask& mask, const std::vector<int>& count,
                             Tensor& cache) {
  // fresh: [B, T, kv_heads, head_dim], cache: [rows, S, kv_heads, head_dim]
  PG_CHECK(fresh.rank() == 4 && cache.rank() == 4, "WriteCache: '" << fresh.name << "' " << ShapeStr(fresh.shape)
                                                                   << " into '" << cache.name << "' "
                                                                   << ShapeStr(cache.shape) << ": expected 4-D");
  const int64_t B = fresh.dim(0), T = fresh.dim(1), row = fresh.dim(2) * fresh.dim(3), S = cache.dim(1);
  PG_CHECK(cache.dim(2) * cache.dim(3) == row, "WriteCache: '" << fresh.name << "' " << ShapeStr(fresh.shape)
                                                               << " into '" << cache.name << "' " << ShapeStr(cache.shape));
  const CacheView c = CacheOut(cache, "WriteCache");
  const ConstView f = In(fresh, "WriteCache");
  const int* d = CacheWriteMeta(B, T, mask, count, cache, "WriteCache");
  LaunchWriteCache({f, c, d, d + B, d + 2 * B, B, T, S, row}, ctx_->stream());
  Launched("WriteCache");
}

void CudaBackend::SplitQkvRopeToCache(const Tensor& qkv, const std::vector<int>& positions, float base,
                                      const AttentionMask& mask, const std::vector<int>& count, Tensor& q, Tensor& k,
                                      Tensor& v, Tensor& k_cache, Tensor& v_cache) {
  // qkv: [B, T, (H + 2 KH) * hd] -> q: [B, T, H, hd] rotated; k (rotated), v -> k_cache, v_cache
  // [rows, S, KH, hd] at row slot[b], slots q_start[b] + t < q_start[b] + count[b]. k, v: unused.
  const auto [rows, H, KH, hd] = CheckSplitQkv(qkv, positions, q, k, v);
  const int64_t B = q.dim(0), T = q.dim(1);
  PG_CHECK(k_cache.rank() == 4 && k_cache.dim(2) == KH && k_cache.dim(3) == hd,
           "SplitQkvRopeToCache: cache '" << k_cache.name << "' " << ShapeStr(k_cache.shape) << " for " << KH
                                          << " kv heads of " << hd);
  CheckShape(v_cache, k_cache.shape);
  SplitQkvRopeCacheParams p{};
  p.qkv = In(qkv, "SplitQkvRopeToCache");
  p.q = Out(q, "SplitQkvRopeToCache");
  p.k_cache = CacheOut(k_cache, "SplitQkvRopeToCache");
  p.v_cache = CacheOut(v_cache, "SplitQkvRopeToCache");
  if (!positions.empty()) {
    p.positions = Ints(positions_, positions, "SplitQkvRopeToCache");
    p.inv_freq = InverseFrequencies(hd, base, "SplitQkvRopeToCache");
  }
  const int* d = CacheWriteMeta(B, T, mask, count, k_cache, "SplitQkvRopeToCache");
  p.slot = d;
  p.q_start = d + B;
  p.count = d + 2 * B;
  p.B = B;
  p.T = T;
  p.S = k_cache.dim(1);
  p.heads = H;
  p.kv_heads = KH;
  p.head_dim = hd;
  LaunchSplitQkvRopeCache(p, ctx_->stream());
  Launched("SplitQkvRopeToCache");
}

}  // namespace cuda
}  // namespace pg

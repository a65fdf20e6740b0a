// Vocabulary-parallel embedding lookup and the KV-cache write of the CUDA backend.
#include "runtime/cuda/device_util.h"
#include "runtime/cuda/kernels.h"

namespace pg {
namespace cuda {
namespace {

// table: [table_rows, D], ids: [n_ids] -> out: [n_ids, D]; rows outside this rank's slice
// [row_offset, row_offset + table_rows) give zeros (another rank holds them).
__global__ void embed_kernel(EmbedParams p) {
  const int64_t n = p.n_ids * p.D;
  for (int64_t e = GridStart(); e < n; e += GridStride()) {
    const int64_t m = e / p.D, d = e % p.D;
    const int64_t r = static_cast<int64_t>(p.ids[m]) - p.row_offset;
    Store(p.out, e, (r >= 0 && r < p.table_rows) ? Load(p.table, r * p.D + d) * p.scale : 0.f);
  }
}

// fresh: [B, T, row] -> cache: [cache_rows, S, row] (f32 or bf16), row slot[b], slots q_start[b] + t,
// t < count[b].
__global__ void write_cache_kernel(WriteCacheParams p) {
  const int64_t n = p.B * p.T * p.row;
  for (int64_t e = GridStart(); e < n; e += GridStride()) {
    const int64_t c = e % p.row, bt = e / p.row, t = bt % p.T, b = bt / p.T;
    if (t >= p.count[b]) continue;
    Store(p.cache, (static_cast<int64_t>(p.slot[b]) * p.S + p.q_start[b] + t) * p.row + c, Load(p.fresh, e));
  }
}

}  // namespace

void LaunchEmbed(const EmbedParams& p, cudaStream_t stream) {
  const int64_t n = p.n_ids * p.D;
  if (n > 0) PG_LAUNCH(embed_kernel, GridFor(n), kThreads, 0, stream)(p);
}

void LaunchWriteCache(const WriteCacheParams& p, cudaStream_t stream) {
  const int64_t n = p.B * p.T * p.row;
  if (n > 0) PG_LAUNCH(write_cache_kernel, GridFor(n), kThreads, 0, stream)(p);
}

}  // namespace cuda
}  // namespace pg

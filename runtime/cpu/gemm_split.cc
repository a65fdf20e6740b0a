#include "runtime/cpu/gemm_split.h"

namespace pg::cpu {

int64_t GemmPackedElements(GemmSplit split, int64_t M, int64_t N, int64_t K, int threads) {
  const int64_t t = threads < 1 ? 1 : threads;
  return split == GemmSplit::kRows ? t * K * N + M * K : K * N + t * M * K;
}

GemmSplit ChooseGemmSplit(int64_t M, int64_t N, int64_t K, int threads) {
  const int64_t t = threads < 1 ? 1 : threads;
  if (M < kGemmMinRowsPerThread * t) return GemmSplit::kColumns;  // decode: too few rows to share
  if (t > 1 && N >= kGemmMinColumnsPerThread * t &&
      GemmPackedElements(GemmSplit::kColumns, M, N, K, threads) < GemmPackedElements(GemmSplit::kRows, M, N, K, threads))
    return GemmSplit::kColumns;  // wide prefill GEMM: each part of W packed once
  return GemmSplit::kRows;
}

}  // namespace pg::cpu

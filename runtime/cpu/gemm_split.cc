#include "runtime/cpu/gemm_split.h"

namespace pg::cpu {

GemmSplit ChooseGemmSplit(int64_t M, int64_t /*N*/, int64_t /*K*/, int threads) {
  const int64_t t = threads < 1 ? 1 : threads;
  return M < kGemmMinRowsPerThread * t ? GemmSplit::kColumns : GemmSplit::kRows;
}

}  // namespace pg::cpu

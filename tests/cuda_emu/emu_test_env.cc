// Linked into every emulated test program: under the emulation CUDA is always available, so a
// CUDA test must never pass by skipping (PG_REQUIRE_CUDA=1), and each op synchronises so a
// launch error names its op (PG_CUDA_SYNC=1). Set here rather than through ctest's
// ENVIRONMENT because gtest_discover_tests splits property values at ';'. An explicit setting in
// the environment wins.
#include <cstdlib>

namespace {
const bool kEnvSet = [] {
  setenv("PG_REQUIRE_CUDA", "1", 0);
  setenv("PG_CUDA_SYNC", "1", 0);
  return true;
}();
}  // namespace

// The CPU backend's fused row normalisation: the residual add and Gemma's RMSNorm in one pass
// over each row (CpuBackend::AddRmsNorm). Compiled for the baseline ISA on purpose (not with the
// target_clones of elementwise.cc): with FMA available the compiler may contract the sum of
// squares, and the result would no longer be bit-identical to Add followed by RmsNorm.
#pragma once

#include <cstdint>

namespace pg::cpu {

// Rows [row0, row1) of x: [rows, N]: x += y, then out = x / sqrt(mean(x^2) + eps) * (1 + g).
// The same float operations in the same order as CpuBackend::Add then CpuBackend::RmsNorm.
void AddRmsNormRows(float* x, const float* y, const float* g, float* out, int64_t row0, int64_t row1, int64_t N,
                    float eps);

}  // namespace pg::cpu

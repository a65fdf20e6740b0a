#include "runtime/cpu/elementwise.h"

#include <limits>

#include "runtime/cpu/vector_math.h"

namespace pg::cpu {

#define PG_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

PG_CPU_CLONES void GeluTanhInPlace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = FastGeluTanh(x[i]);
}

PG_CPU_CLONES void BiasGeluRows(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias, bool gelu) {
  for (int64_t m = 0; m < rows; ++m) {
    float* row = x + m * ld;
    if (bias && gelu) {
      for (int64_t n = 0; n < cols; ++n) row[n] = FastGeluTanh(row[n] + bias[n]);
    } else if (bias) {
      for (int64_t n = 0; n < cols; ++n) row[n] += bias[n];
    } else if (gelu) {
      for (int64_t n = 0; n < cols; ++n) row[n] = FastGeluTanh(row[n]);
    }
  }
}

PG_CPU_CLONES void GeGluRows(const float* gate_up, float* out, int64_t rows, int64_t F) {
  for (int64_t m = 0; m < rows; ++m) {
    const float* gate = gate_up + m * 2 * F;
    const float* up = gate + F;
    float* o = out + m * F;
    for (int64_t f = 0; f < F; ++f) o[f] = FastGeluTanh(gate[f]) * up[f];
  }
}

PG_CPU_CLONES void SoftCapInPlace(float* x, int64_t n, float cap) {
  const float inv = 1.f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = FastTanh(x[i] * inv) * cap;
}

PG_CPU_CLONES float ExpShiftedSum(float* row, int64_t n, float max) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    const float e = row[i] == kNegInf ? 0.f : FastExp(row[i] - max);
    row[i] = e;
    sum += e;
  }
  return sum;
}

}  // namespace pg::cpu

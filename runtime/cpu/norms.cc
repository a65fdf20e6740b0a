#include "runtime/cpu/norms.h"

#include <cmath>

namespace pg::cpu {

void AddRmsNormRows(float* x, const float* y, const float* g, float* out, int64_t row0, int64_t row1, int64_t N,
                    float eps) {
  for (int64_t m = row0; m < row1; ++m) {
    float* r = x + m * N;
    const float* d = y + m * N;
    for (int64_t n = 0; n < N; ++n) r[n] += d[n];  // vectorised
    float ss = 0.f;
    for (int64_t n = 0; n < N; ++n) ss += r[n] * r[n];  // in order, as RmsNorm (the row is in L1)
    const float inv = 1.f / std::sqrt(ss / static_cast<float>(N) + eps);
    float* o = out + m * N;
    for (int64_t n = 0; n < N; ++n) o[n] = r[n] * inv * (1.f + g[n]);  // vectorised
  }
}

}  // namespace pg::cpu

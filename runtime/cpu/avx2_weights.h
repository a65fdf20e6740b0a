// AVX2 helpers shared by the CPU GEMM kernels that read weights themselves (few_rows_gemm.cc,
// bf16_widen_gemm.cc): functions marked PG_AVX2 are compiled for AVX2 + FMA whatever the build's
// baseline, and called only after FewRowsGemmHasAvx2() (a run-time CPU check).
#pragma once

#include <immintrin.h>

#include <cstdint>

#define PG_AVX2 __attribute__((target("avx2,fma")))

namespace pg::cpu {

// 8 weights as 8 f32: fp32 loaded, bf16 widened (a bf16 is the upper half of an f32).
PG_AVX2 inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
PG_AVX2 inline __m256 Load8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

}  // namespace pg::cpu

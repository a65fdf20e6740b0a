// The CPU backend's transcendental elementwise loops, compiled for AVX-512, AVX2 and the
// baseline and picked at run time for the CPU (GCC target_clones): the build itself targets
// plain x86-64, where these loops would not vectorize. Each is the loop of its Backend op over
// a contiguous range, so ParallelFor can hand every thread its own range.
#pragma once

#include <cstdint>

namespace pg::cpu {

void GeluTanhInPlace(float* x, int64_t n);                                 // x = gelu_tanh(x)
// The GEMM epilogue on a block x[rows, cols] with row stride ld: x += bias[cols] (if bias), then
// x = gelu_tanh(x) (if gelu); per element the same float ops as the separate passes.
void BiasGeluRows(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias, bool gelu);
void GeGluRows(const float* gate_up, float* out, int64_t rows, int64_t F);  // [rows, 2F] -> [rows, F]
void SoftCapInPlace(float* x, int64_t n, float cap);                       // x = tanh(x / cap) cap
// row[i] = exp(row[i] - max) (0 where row[i] == -inf, a masked key); returns the sum.
float ExpShiftedSum(float* row, int64_t n, float max);

}  // namespace pg::cpu

// Shared by the CUDA-vs-CPU op tests (tests/cuda_backend_test.cc, tests/cuda_backend_bf16_test_part.cc):
// random inputs, host copies, element-wise comparisons that print the worst element, the
// flash-attention bf16 rule, and the CudaVsCpu fixture (skips with the reason where CUDA is not
// usable; PG_REQUIRE_CUDA=1 turns the skip into a failure).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/cuda_backend.h"
#include "runtime/dtype.h"

namespace pg {
namespace {

constexpr double kEps = 1.0 / (1 << 23);

// Per-element tolerance of a norm over rows x[M, N], written to tol[off, off + M * N): for
// LayerNorm (`layer`, scale g, bias b) C ulps of the normalised terms, for RMSNorm C ulps of
// its reference output ref[off + i].
inline void NormTolerance(const std::vector<float>& x, const std::vector<float>& g, const std::vector<float>& b,
                          int64_t M, int64_t N, double C, bool layer, const std::vector<float>& ref, size_t off,
                          std::vector<double>& tol) {
  for (int64_t m = 0; m < M; ++m) {
    double mean = 0, mean_abs = 0, var = 0;
    for (int64_t n = 0; n < N; ++n) {
      mean += x[m * N + n];
      mean_abs += std::fabs(x[m * N + n]);
    }
    mean /= N;
    mean_abs /= N;
    for (int64_t n = 0; n < N; ++n) var += (x[m * N + n] - mean) * (x[m * N + n] - mean);
    const double inv = 1 / std::sqrt(var / N + 1e-6);
    for (int64_t n = 0, i = m * N; n < N; ++n, ++i)
      tol[off + i] = layer ? C * kEps * ((std::fabs(x[i]) + mean_abs) * inv * std::fabs(g[n]) + std::fabs(b[n]))
                           : C * kEps * std::fabs(ref[off + i]) + 1e-30;
  }
}

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.f, float offset = 0.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng) * scale + offset;
  return v;
}

std::vector<float> Bf16Rounded(std::vector<float> v) {
  for (float& x : v) x = RoundToBf16(x);
  return v;
}

std::vector<float> Host(Backend& be, const Tensor& t) {
  std::vector<float> h(t.numel());
  be.Download(t, h.data());
  return h;
}

double MaxAbs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// Every |got_i - ref_i| <= tol_i (NaN fails). Prints the worst element: the one furthest past
// (or closest to) its tolerance.
void ExpectClose(const std::string& what, const std::vector<float>& ref, const std::vector<float>& got,
                 const std::vector<double>& tol) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  ASSERT_EQ(ref.size(), tol.size()) << what;
  size_t bad = 0, worst = 0;
  double worst_score = -1, max_err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(err <= tol[i])) ++bad;
    // err / tol; an error where exactness is required ranks by its size; NaN ranks first.
    const double score = std::isnan(err) ? INFINITY : err == 0 ? 0.0 : tol[i] > 0 ? err / tol[i] : 1e30 * (1 + err);
    if (score > worst_score) {
      worst_score = score;
      worst = i;
    }
    max_err = std::max(max_err, std::isnan(err) ? INFINITY : err);
  }
  std::printf("[%s] max |cuda - cpu| = %.3g; worst element %zu: cpu %.9g cuda %.9g tol %.3g; %zu of %zu outside\n",
              what.c_str(), max_err, worst, ref.empty() ? 0.0 : ref[worst], got.empty() ? 0.0 : got[worst],
              tol.empty() ? 0.0 : tol[worst], bad, ref.size());
  EXPECT_EQ(bad, 0u) << what << ": element " << worst << " cpu " << ref[worst] << " cuda " << got[worst]
                     << " |diff| " << std::fabs(static_cast<double>(got[worst]) - ref[worst]) << " > tol "
                     << tol[worst];
}

void ExpectExact(const std::string& what, const std::vector<float>& ref, const std::vector<float>& got) {
  ExpectClose(what, ref, got, std::vector<double>(ref.size(), 0.0));
}

// flash-attention rule: ref = CPU fp32, ref_bf16 = CPU on bf16-rounded inputs.
void ExpectBf16Rule(const std::string& what, const std::vector<float>& ref, const std::vector<float>& ref_bf16,
                    const std::vector<float>& got) {
  const double err_ref = MaxDiff(ref_bf16, ref);
  const double tol = 2 * err_ref + 16 * kEps * MaxAbs(ref);
  std::printf("[%s] CPU on bf16-rounded inputs: max err %.3g -> tol %.3g\n", what.c_str(), err_ref, tol);
  ExpectClose(what, ref, got, std::vector<double>(ref.size(), tol));
}

bool RequireCuda() {
  const char* env = std::getenv("PG_REQUIRE_CUDA");
  return env && std::string(env) != "0";
}

class CudaVsCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!CudaDeviceAvailable(&why)) {
      if (RequireCuda()) FAIL() << "PG_REQUIRE_CUDA is set but CUDA is unavailable: " << why;
      GTEST_SKIP() << "CUDA backend not testable here: " << why;
    }
    cuda_ = MakeBackend("cuda");  // a visible, usable device must give a backend: throwing fails
    cpu_ = MakeBackend("cpu");
  }
  std::unique_ptr<Backend> cpu_, cuda_;
};

}  // namespace
}  // namespace pg

// Backend::AddRmsNorm on the CPU backend (the CUDA side is in tests/cuda_backend_test.cc): the
// fused residual add + RMSNorm must be bit-identical to Add followed by RmsNorm (the decoder
// switched to it, so the HF parity figures do not move), threaded or not, and must reject
// mismatched or aliased tensors with an error naming them.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/backend.h"

namespace pg {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale, float offset) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng) * scale + offset;
  return v;
}

std::vector<float> Host(Backend& be, const Tensor& t) {
  std::vector<float> h(t.numel());
  be.Download(t, h.data());
  return h;
}

// Bitwise equality (so -0.0 vs 0.0 or a different rounding shows), with the first difference.
void ExpectBitIdentical(const std::string& what, const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0) << what << ": element " << i << " " << a[i] << " vs " << b[i];
}

TEST(AddRmsNorm, BitIdenticalToAddThenRmsNormAtAnyThreadCount) {
  for (const int threads : {1, 3}) {
    BackendOptions o;
    o.threads = threads;
    auto be = MakeBackend("cpu", o);
    for (const int64_t N : {7, 2048, 4099}) {
      const int64_t M = 37;  // odd: uneven thread chunks
      const auto x = Random(M * N, 1, 3.f, 0.5f), y = Random(M * N, 2, 2.f, -1.f), g = Random(N, 3, 0.3f, 0.f);
      Tensor gt = be->Upload("scale", {N}, g.data());
      // Unfused: x += y; out = RmsNorm(x).
      Tensor x1 = be->Upload("x", {M, 1, N}, x.data()), y1 = be->Upload("y", {M, 1, N}, y.data());
      Tensor out1 = be->Alloc("out", {M, N});
      be->Add(x1, y1);
      be->RmsNorm(x1, gt, 1e-6f, out1);
      // Fused.
      Tensor x2 = be->Upload("x", {M, 1, N}, x.data()), y2 = be->Upload("y", {M, 1, N}, y.data());
      Tensor out2 = be->Alloc("out", {M, N});
      be->AddRmsNorm(x2, y2, gt, 1e-6f, out2);
      const std::string what = "N=" + std::to_string(N) + " threads=" + std::to_string(threads);
      ExpectBitIdentical("residual " + what, Host(*be, x1), Host(*be, x2));
      ExpectBitIdentical("normed " + what, Host(*be, out1), Host(*be, out2));
    }
  }
}

TEST(AddRmsNorm, RejectsMismatchedAndAliasedTensors) {
  auto be = MakeBackend("cpu");
  Tensor x = be->Alloc("x", {2, 8}), y = be->Alloc("y", {2, 8}), g = be->Alloc("scale", {8});
  Tensor out = be->Alloc("out", {2, 8}), short_y = be->Alloc("short_y", {2, 7}), bad_g = be->Alloc("bad_scale", {7});
  EXPECT_THROW(be->AddRmsNorm(x, short_y, g, 1e-6f, out), Error);
  EXPECT_THROW(be->AddRmsNorm(x, y, bad_g, 1e-6f, out), Error);
  try {
    be->AddRmsNorm(x, y, g, 1e-6f, x);
    FAIL() << "an output aliasing x was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pg

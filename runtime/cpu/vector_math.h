// Branch-free float math for the CPU backend's elementwise loops, written so the compiler
// vectorizes the loops that call it (no libm call per element): exp by range reduction to
// 2^n * p(r) with a degree-6 polynomial on |r| <= ln2/2 (relative error < 2e-7 over the
// clamped range), tanh from exp, GELU-tanh from tanh. Checked against libm in
// tests/cpu_backend_test.cc (CpuVectorMath.*).
#pragma once

#include <cstdint>
#include <cstring>

namespace pg::cpu {

// e^x for x in [-87.3, 88.7] (clamped outside; exp(-inf) -> ~0, not NaN-propagating: callers
// pass finite values or -inf only where 0 is wanted).
inline float FastExp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  // n = round(x / ln2) by the 1.5 * 2^23 trick (|x / ln2| < 2^22): plain arithmetic, so the loop
  // vectorizes (floorf would be a libm call on the baseline ISA). IEEE rules (no -ffast-math)
  // keep the compiler from folding (t + c) - c.
  constexpr float kRound = 12582912.f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  // r = x - n ln2 in two steps (Cody-Waite) for accuracy.
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); exact to ~2e-7 absolute.
inline float FastTanh(float x) {
  const float a = x < 0.f ? -x : x;
  const float e = FastExp(2.f * (a > 20.f ? 20.f : a));
  const float t = 1.f - 2.f / (e + 1.f);
  return x < 0.f ? -t : t;
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as jax.nn.gelu(approximate=True).
inline float FastGeluTanh(float x) {
  const float kC = 0.7978845608028654f;
  return 0.5f * x * (1.f + FastTanh(kC * (x + 0.044715f * x * x * x)));
}

}  // namespace pg::cpu

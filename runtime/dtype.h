// Element types stored in checkpoints and tensors, and bf16 <-> f32 conversion.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace pg {

enum class DType { kF32, kBF16 };

inline const char* DTypeName(DType t) { return t == DType::kF32 ? "f32" : "bf16"; }
inline size_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

// bf16 is the upper half of an IEEE f32. Rounds to nearest even; NaN stays NaN.
inline uint16_t F32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float Bf16ToF32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Rounds an f32 to the nearest bf16 value (kept as f32).
inline float RoundToBf16(float f) { return Bf16ToF32(F32ToBf16(f)); }

// IEEE half -> f32 (for float16 npz members).
inline float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      u = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace pg

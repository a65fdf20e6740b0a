// Counter-based random numbers: a pure function of (seed, stream, counter), so every rank and
// every run draws the same number for the same sequence and decode step, with no RNG state to
// keep in sync. Built on the splitmix64 finaliser (Steele, Lea, Flood 2014), a bijective
// 64-bit mixer; chaining it over the three keys decorrelates neighbouring streams and counters.
// Deliberately not <random>: std:: distributions are implementation-defined.
#pragma once

#include <cstdint>

namespace pg {

// splitmix64 step: golden-ratio increment, then the finaliser.
inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 64 random bits for (seed, stream, counter), e.g. (user seed, sequence id, decode step).
inline uint64_t CounterRandom64(uint64_t seed, uint64_t stream, uint64_t counter) {
  return SplitMix64(SplitMix64(SplitMix64(seed) ^ stream) ^ counter);
}

// Uniform double in [0, 1) with 53 random bits.
inline double CounterUniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return static_cast<double>(CounterRandom64(seed, stream, counter) >> 11) * 0x1.0p-53;
}

}  // namespace pg

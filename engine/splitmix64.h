// SplitMix64 (Steele, Lea & Flood, 2014): the one 64-bit integer mixer that
// training's initial factors, evaluation's splits and random baseline, the
// bootstrap's resamples and experiment assignment draw from. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>

namespace aisle {

inline constexpr uint64_t kSplitMix64Gamma = 0x9E3779B97F4A7C15ull;

// The finalizer alone: spreads every input bit over the output.
inline constexpr uint64_t SplitMix64Finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The generator's output for state x: a stateless hash of x.
inline constexpr uint64_t SplitMix64(uint64_t x) { return SplitMix64Finalize(x + kSplitMix64Gamma); }

// The next output of the sequence whose state is *state.
inline uint64_t SplitMix64Next(uint64_t* state) { return SplitMix64Finalize(*state += kSplitMix64Gamma); }

}  // namespace aisle

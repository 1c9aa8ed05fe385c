// Test helper: a purchase pattern with planted co-purchases. Products 2p
// and 2p + 1 (p < pairs) are bought together; each customer buys
// `pairs_each` random pairs and `noise_each` random products among the
// rest (2 x pairs .. products - 1). Deterministic in `seed`.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "engine/csr_matrix.h"

namespace aisle::testing {

inline CsrMatrix PlantedPairs(uint32_t customers, uint32_t products, uint32_t pairs, int pairs_each, int noise_each,
                              uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Triplet> t;
  for (uint32_t c = 0; c < customers; ++c) {
    for (int j = 0; j < pairs_each; ++j) {
      const auto p = static_cast<uint32_t>(rng() % pairs);
      t.push_back({c, 2 * p, 1});
      t.push_back({c, 2 * p + 1, 1});
    }
    for (int j = 0; j < noise_each; ++j) {
      t.push_back({c, 2 * pairs + static_cast<uint32_t>(rng() % (products - 2 * pairs)), 1});
    }
  }
  CsrMatrix m = BuildCsr(customers, products, t);  // repeats summed: the pattern is what counts
  m.values.clear();
  return m;
}

}  // namespace aisle::testing

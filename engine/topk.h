// Exact top-k selection over a dense score array, with exclusions.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace aisle {

struct ScoredItem {
  uint32_t index;
  float score;
};

// Returns up to `k` entries of `scores` with the highest scores, best first;
// ties go to the lower index, so results are deterministic. Indexes in
// `excluded` (sorted ascending) and NaN scores are skipped. O(n log k).
std::vector<ScoredItem> SelectTopK(absl::Span<const float> scores, size_t k,
                                   absl::Span<const uint32_t> excluded = {});

}  // namespace aisle

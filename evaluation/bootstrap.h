// Paired bootstrap for the difference of two models' mean per-customer
// metric on the same customers. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace aisle {

struct PairedDifference {
  uint64_t n = 0;
  double mean_a = 0, mean_b = 0;
  double diff = 0;                   // mean_b - mean_a
  double ci_low = 0, ci_high = 0;    // percentile interval of the resampled differences
  double p_value = 1;                // two-sided, for "no difference"
};

// Resamples the customers (pairs) with replacement `resamples` times. The
// draws depend only on (seed, replicate, n), so two metrics of one
// comparison use the same resamples. `a` and `b` have equal sizes.
PairedDifference PairedBootstrap(absl::Span<const float> a, absl::Span<const float> b, int resamples,
                                 uint64_t seed, double confidence = 0.95);

}  // namespace aisle

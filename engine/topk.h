// Exact top-k selection over a dense score array, with exclusions, and a
// streaming collector for scores produced block by block (fused with
// scoring, so no score array is written).
// Thread-safe: pure functions; a TopKCollector belongs to one thread.
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

// Keeps the k best (score, index) pairs seen, best first at the end, ties to
// the lower index. Offer() is cheap for a score below threshold(): callers
// compare a whole vector of scores against it and offer only the lanes that
// reach it. Amortized O(1) per offered item (a buffer of 2k, cut back to k
// by nth_element when full).
class TopKCollector {
 public:
  // `excluded`: sorted indexes never kept (they must outlive the collector).
  TopKCollector(size_t k, absl::Span<const uint32_t> excluded) : k_(k), excluded_(excluded) {
    buffer_.reserve(2 * k + 16);
  }
  // Scores below this are never kept (-inf until k items are in).
  float threshold() const { return threshold_; }
  void Offer(uint32_t index, float score) {
    if (!(score >= threshold_)) return;  // also drops NaN
    if (!excluded_.empty() && Excluded(index)) return;
    buffer_.push_back({index, score});
    if (buffer_.size() >= 2 * k_ + 16) Cut();
  }
  // The kept items, best first; the collector is spent.
  std::vector<ScoredItem> Take();

 private:
  bool Excluded(uint32_t index) const;
  void Cut();
  size_t k_;
  absl::Span<const uint32_t> excluded_;
  std::vector<ScoredItem> buffer_;
  float threshold_ = -__builtin_inff();
};

}  // namespace aisle

#include "engine/top_lists.h"

#include <algorithm>
#include <cassert>

namespace aisle {

void TopLists::Set(size_t i, absl::Span<const ScoredItem> items) {
  assert(i < length_.size());
  const size_t n = std::min(items.size(), k_);
  for (size_t j = 0; j < n; ++j) {
    products_[i * k_ + j] = items[j].index;
    scores_[i * k_ + j] = items[j].score;
  }
  length_[i] = static_cast<uint32_t>(n);
}

}  // namespace aisle

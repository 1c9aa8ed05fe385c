#include "engine/top_lists.h"

#include <omp.h>

#include <algorithm>
#include <cassert>

#include "engine/batch_scoring.h"

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

std::shared_ptr<const TopLists> BuildTopLists(const std::vector<float>& items, size_t num_items,
                                              const FactorRef& queries, size_t length,
                                              const ListExclusions& excluded, int threads) {
  const size_t n = static_cast<size_t>(queries.rows()), k = static_cast<size_t>(queries.cols());
  auto lists = std::make_shared<TopLists>(n, length);
  constexpr size_t kBatch = 8;  // one pass of the fused kernel
  const long batches = static_cast<long>((n + kBatch - 1) / kBatch);
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads > 0 ? threads : omp_get_max_threads())
  for (long b = 0; b < batches; ++b) {
    const size_t first = static_cast<size_t>(b) * kBatch, m = std::min(kBatch, n - first);
    uint32_t scratch[kBatch];
    absl::Span<const uint32_t> skip[kBatch];
    for (size_t j = 0; j < m; ++j) skip[j] = excluded(static_cast<uint32_t>(first + j), &scratch[j]);
    const std::vector<size_t> pool(m, length);
    std::vector<std::vector<ScoredItem>> found;
    // Rows of a row-major matrix are contiguous: the batch is m rows from `first`.
    SelectPacked(items.data(), num_items, k, queries.row(static_cast<Eigen::Index>(first)).data(), m, pool,
                 absl::MakeConstSpan(skip, m), &found);
    for (size_t j = 0; j < m; ++j) lists->Set(first + j, found[j]);
  }
  return lists;
}

}  // namespace aisle

// TopLists: ranked product lists computed once per model, so that the common
// request is answered by reading a list instead of scoring the catalog, and
// their exact computation (BuildTopLists).
// List i holds up to k (product, score) pairs, best first, ties to the lower
// product index: for a Recommender, each known customer's best k products
// (purchases excluded), each product's k most similar products, and the k
// most popular products.
// A list shorter than k is complete: it holds every candidate there was.
// Filled once by one writer per list (Set), then immutable and safe to read
// from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "engine/model.h"
#include "engine/topk.h"

namespace aisle {

class TopLists {
 public:
  TopLists(size_t lists, size_t k)
      : k_(k), products_(lists * k), scores_(lists * k), length_(lists, 0) {}

  size_t k() const { return k_; }
  size_t size() const { return length_.size(); }
  // Resident size of the lists, bytes.
  size_t bytes() const { return products_.size() * (sizeof(uint32_t) + sizeof(float)) + length_.size() * sizeof(uint32_t); }

  // Stores list `i` (at most k items, best first). Distinct lists may be set
  // from different threads.
  void Set(size_t i, absl::Span<const ScoredItem> items);

  absl::Span<const uint32_t> products(size_t i) const { return {products_.data() + i * k_, length_[i]}; }
  absl::Span<const float> scores(size_t i) const { return {scores_.data() + i * k_, length_[i]}; }
  // True when list i holds every candidate (fewer than k existed).
  bool complete(size_t i) const { return length_[i] < k_; }

 private:
  size_t k_;
  std::vector<uint32_t> products_;
  std::vector<float> scores_;
  std::vector<uint32_t> length_;
};

// Which products list i must leave out. `scratch` is room for one index the
// function may point into (for "itself").
using ListExclusions = std::function<absl::Span<const uint32_t>(uint32_t i, uint32_t* scratch)>;

// List i = the `length` best products for query row i of `queries` by exact
// float32 dot product with `items` (packed by PackForScoring, `num_items`
// rows), the exclusions left out. Fused scoring and selection in batches of
// 8 queries (engine/batch_scoring.h) on `threads` OpenMP threads (0: all).
std::shared_ptr<const TopLists> BuildTopLists(const std::vector<float>& items, size_t num_items,
                                              const FactorRef& queries, size_t length,
                                              const ListExclusions& excluded, int threads);

}  // namespace aisle

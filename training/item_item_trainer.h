// Training of the item-item models (engine/algorithm.h), whose payload is
// Model::item_weights: a weight from each product to others, summed over a
// customer's products when scoring (engine/product_scorer.h).
//   item_knn: each product's k most similar products by the cosine of
//     their buyer sets with shrinkage (engine/item_neighbours.h), as
//     implicit's ItemItemRecommender and Microsoft's SAR.
//   ease: Steck's EASE (WWW 2019): the weights B minimizing
//     |X - XB|^2 + lambda |B|^2 with diag(B) = 0, in closed form from
//     P = (X^T X + lambda I)^-1: B_ij = -P_ij / P_jj. Dense: time
//     n^3 and memory 2 n^2 floats for n products, so only the
//     `max_products` most bought products are weighted (the others are
//     never recommended from a history; popularity still shows them), and
//     each product keeps its `k` weights of largest magnitude.
// X is the customers x products purchase pattern (Model::purchased).
// Thread-safe: pure functions, parallel inside (OpenMP, Eigen).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/algorithm.h"
#include "engine/csr_matrix.h"
#include "engine/item_neighbours.h"

namespace aisle {

struct EaseOptions {
  float lambda = 200;               // L2 regularization (Steck's lambda), > 0
  uint32_t k = 200;                 // weights kept per product, by magnitude
  uint32_t max_products = 20000;    // the most bought products weighted
};

struct ItemItemOptions {
  NeighbourOptions knn{.k = 100, .shrink = 10};
  EaseOptions ease;
  // InvalidArgument naming a flag out of range.
  absl::Status Validate() const;
};

struct ItemItemResult {
  ItemNeighbours weights;
  uint32_t weighted_products = 0;  // products with weights computed (ease: at most max_products)
  double seconds = 0;
};

// The weights of `algorithm` (item_knn or ease) from `purchased`
// (customers x products pattern) with `popularity` (per product, which the
// ease restriction ranks by). InvalidArgument for ials or bad options.
absl::StatusOr<ItemItemResult> TrainItemItem(Algorithm algorithm, const CsrMatrix& purchased,
                                             const std::vector<float>& popularity, const ItemItemOptions& options);

// The ease weights alone (for tests and benchmarks); Internal when the
// Cholesky factorization fails (lambda too small for float precision).
absl::StatusOr<ItemItemResult> TrainEase(const CsrMatrix& purchased, const std::vector<float>& popularity,
                                         const EaseOptions& options);

}  // namespace aisle

// ProductScorer: a model's score of every product for one customer,
// whatever its algorithm (engine/algorithm.h): for iALS the dot products of
// the customer's factors with every product's, for the item-item models
// (item_knn, ease) the sum of the item weights (Model::item_weights) of the
// customer's products: those they bought in training, or a history given
// with weights (a basket, live events). Item-item scores carry a
// popularity term too small to reorder anything else (1e-6 at the best
// seller), so that ties and the products nothing points to come in
// best-seller order. What the recommender's item-item paths, evaluation
// and the buy-again fit read, so all rank alike.
// Immutable after construction; the model must outlive it. Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/model.h"

namespace aisle {

class ProductScorer {
 public:
  explicit ProductScorer(const Model& model);

  // True for the item-item algorithms (History and Contribution apply).
  bool by_items() const { return by_items_; }
  size_t num_products() const { return model_.products.size(); }

  // The customer's (model index) score of every product into out[num_products()].
  void Customer(uint32_t customer, float* out) const;
  // Customer() for several customers into out[customers.size() x
  // num_products()] (row j: customers[j]); for iALS one matrix product, so
  // the product factors are read once for all of them instead of once per
  // customer (a block of 16 at 50k products x 64 factors: 16x less memory
  // traffic). Single-threaded (call it from each thread of a parallel loop).
  void Customers(absl::Span<const uint32_t> customers, float* out) const;
  // Customer's out[product] alone.
  float One(uint32_t customer, uint32_t product) const;
  // Item-item models: the scores of a customer with these products (in
  // range, any order, repeats add) and weights (empty: 1 each) into
  // out[num_products()]. Nothing but the popularity term for iALS (whose
  // histories the recommender folds in instead).
  void History(absl::Span<const uint32_t> products, absl::Span<const float> weights, float* out) const;
  // How much having `from` adds to `to`'s score (item-item; 0 for iALS).
  float Contribution(uint32_t from, uint32_t to) const { return model_.item_weights.Similarity(from, to); }

 private:
  const Model& model_;
  bool by_items_;
  std::vector<float> prior_;  // item-item: the popularity term per product
};

}  // namespace aisle

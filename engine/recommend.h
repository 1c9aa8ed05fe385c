// Top-K products for a known customer from a Model: scores are the dot
// products of the customer's factors with every product's factors; the
// customer's purchased products are excluded unless asked otherwise.
// Thread-safe: reads the model only.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model.h"
#include "engine/topk.h"

namespace aisle {

// REQUIRES: customer < model.customers.size().
std::vector<ScoredItem> RecommendForCustomer(const Model& model, uint32_t customer, size_t k,
                                             bool exclude_purchased = true);

// Products by popularity (most popular first), excluding `excluded` (sorted).
std::vector<ScoredItem> MostPopular(const Model& model, size_t k,
                                    absl::Span<const uint32_t> excluded = {});

}  // namespace aisle

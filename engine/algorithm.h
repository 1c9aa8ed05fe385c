// Algorithm: which kind of model a model file holds, named by its metadata's
// "algorithm" (as Faiss names an index by its tag): iALS (product and
// customer factors), or one of the item-item models (a weight from each
// product to others, Model::item_weights): item_knn (co-purchase cosine)
// and ease (Steck 2019). Plain values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aisle {

enum class Algorithm : uint8_t { kIals, kItemKnn, kEase };

// "ials", "item_knn", "ease".
const char* AlgorithmName(Algorithm a);
// The inverse; InvalidArgument naming the choices for anything else.
absl::StatusOr<Algorithm> ParseAlgorithm(std::string_view name);
// Whether the model scores a customer from their products through
// item-item weights (no factors).
inline bool ScoresByItems(Algorithm a) { return a != Algorithm::kIals; }

}  // namespace aisle

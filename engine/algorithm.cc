#include "engine/algorithm.h"

#include "absl/strings/str_cat.h"

namespace aisle {

const char* AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kIals: return "ials";
    case Algorithm::kItemKnn: return "item_knn";
    case Algorithm::kEase: return "ease";
  }
  return "?";
}

absl::StatusOr<Algorithm> ParseAlgorithm(std::string_view name) {
  for (Algorithm a : {Algorithm::kIals, Algorithm::kItemKnn, Algorithm::kEase}) {
    if (name == AlgorithmName(a)) return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", std::string(name), "' (ials, item_knn or ease)"));
}

}  // namespace aisle

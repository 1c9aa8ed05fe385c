#include "engine/recommend.h"

namespace aisle {

std::vector<ScoredItem> RecommendForCustomer(const Model& model, uint32_t customer, size_t k,
                                             bool exclude_purchased) {
  Eigen::VectorXf scores = model.item_factors * model.user_factors.row(customer).transpose();
  absl::Span<const uint32_t> excluded;
  if (exclude_purchased) excluded = model.purchased.RowIndices(customer);
  return SelectTopK(absl::MakeConstSpan(scores.data(), scores.size()), k, excluded);
}

std::vector<ScoredItem> MostPopular(const Model& model, size_t k,
                                    absl::Span<const uint32_t> excluded) {
  return SelectTopK(model.item_popularity, k, excluded);
}

}  // namespace aisle

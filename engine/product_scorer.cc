#include "engine/product_scorer.h"

#include <algorithm>

namespace aisle {

ProductScorer::ProductScorer(const Model& model) : model_(model), by_items_(ScoresByItems(model.algorithm)) {
  if (!by_items_) return;
  const std::vector<float>& pop = model.item_popularity;
  const float best = pop.empty() ? 0.0f : *std::max_element(pop.begin(), pop.end());
  prior_.assign(pop.size(), 0.0f);
  if (best > 0) {
    for (size_t p = 0; p < pop.size(); ++p) prior_[p] = 1e-6f * pop[p] / best;
  }
}

void ProductScorer::Customer(uint32_t customer, float* out) const {
  if (!by_items_) {
    Eigen::Map<Eigen::VectorXf> s(out, static_cast<Eigen::Index>(num_products()));
    s.noalias() = model_.items() * model_.users().row(customer).transpose();
    return;
  }
  History(model_.purchased.RowIndices(customer), {}, out);
}

void ProductScorer::Customers(absl::Span<const uint32_t> customers, float* out) const {
  const size_t np = num_products();
  if (by_items_ || customers.size() < 2) {
    for (size_t j = 0; j < customers.size(); ++j) Customer(customers[j], out + j * np);
    return;
  }
  const FactorView users = model_.users();
  FactorMatrix rows(static_cast<Eigen::Index>(customers.size()), users.cols());
  for (size_t j = 0; j < customers.size(); ++j) rows.row(static_cast<Eigen::Index>(j)) = users.row(customers[j]);
  Eigen::Map<FactorMatrix> scores(out, static_cast<Eigen::Index>(customers.size()), static_cast<Eigen::Index>(np));
  scores.noalias() = rows * model_.items().transpose();
}

float ProductScorer::One(uint32_t customer, uint32_t product) const {
  if (!by_items_) return model_.users().row(customer).dot(model_.items().row(product));
  float s = prior_[product];
  for (uint32_t j : model_.purchased.RowIndices(customer)) s += model_.item_weights.Similarity(j, product);
  return s;
}

void ProductScorer::History(absl::Span<const uint32_t> products, absl::Span<const float> weights, float* out) const {
  if (prior_.empty()) {
    std::fill_n(out, num_products(), 0.0f);
    return;
  }
  std::copy(prior_.begin(), prior_.end(), out);
  model_.item_weights.Accumulate(products, weights, out);
}

}  // namespace aisle

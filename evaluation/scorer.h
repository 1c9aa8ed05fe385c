// Scorer: how an evaluation ranks products for a customer of a model: by the
// model's factors, by popularity in its training data, or at random. All
// share the model's customer and product indexes.
// Thread-safe: Score* are const and may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/types/span.h"
#include "engine/buy_again.h"
#include "engine/model.h"

namespace aisle {

class Scorer {
 public:
  virtual ~Scorer() = default;
  // Scores of `items` for `customer` (model indexes) into `out[items.size()]`.
  virtual void Score(uint32_t customer, absl::Span<const uint32_t> items, float* out) const = 0;
  // Scores of every product into `out[model.products.size()]`.
  virtual void ScoreAll(uint32_t customer, float* out) const = 0;
  // ScoreAll for a customer who comes at Unix time `now` (buy-again's
  // rankings change with time; the others ignore it).
  virtual void ScoreAllAt(uint32_t customer, int64_t now, float* out) const {
    (void)now;
    ScoreAll(customer, out);
  }
  virtual std::string name() const = 0;
};

// The model's own scores, whatever its algorithm (engine/product_scorer.h).
std::unique_ptr<Scorer> MakeModelScorer(const Model& model);
// The model's ranking with buy-again (engine/buy_again.h): products bought
// before by their learnt buy-again logit (NaN while the rule excludes them),
// the others by the logit of their model score. Needs a model with a
// purchase history and learnt buy-again weights (else MakeModelScorer's).
std::unique_ptr<Scorer> MakeBuyAgainScorer(const Model& model);
// "What this customer bought most often" (P-TopFreq): the products the
// customer bought, by the days they bought each (ties by popularity), then
// the best sellers. Days come from the purchase history (1 each without one).
std::unique_ptr<Scorer> MakePersonalTopFrequencyScorer(const Model& model);
// Best sellers by purchase occasions (customer-days) rather than buyers.
std::unique_ptr<Scorer> MakeTopFrequencyScorer(const Model& model);
// The model's product popularity (same for every customer).
std::unique_ptr<Scorer> MakePopularityScorer(const Model& model);
// Uniform random scores, a fixed function of (seed, customer, item).
std::unique_ptr<Scorer> MakeRandomScorer(const Model& model, uint64_t seed);

}  // namespace aisle

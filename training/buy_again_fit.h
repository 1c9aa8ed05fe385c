// Learning buy-again's weights (engine/buy_again.h) on validation: each
// customer's newest purchase day is held out, a model is trained on the rest,
// and a logistic model is fitted to which candidates (the products they
// bought before that the rule lets through, and the model's best new
// products, and those their neighbourhood likes best) were in the held-out
// basket, then refitted on each basket's best candidates. The rule's due fraction is chosen
// among a few values by the validation recall of the blended ranking: the
// strictest within 1% of the best.
// Thread-safe: pure functions (parallel inside).
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "engine/buy_again.h"
#include "engine/model.h"
#include "events/event_log.h"

namespace aisle {

// One customer's held-out basket, in the indexes of the model trained without it.
struct HeldOutBasket {
  uint32_t customer;              // model index
  int32_t day;                    // its PurchaseDay
  std::vector<uint32_t> products; // model indexes, sorted (products unknown to the model left out)
  uint32_t unknown = 0;           // products of the basket the model does not know
};

// Splits `log` for validation: each customer with purchases on at least two
// days loses their newest purchase day (every event of theirs from that day
// on); those days' purchased products are returned by log indexes.
struct ValidationSplit {
  EventLog train;  // the same id maps, fewer events
  struct Basket {
    uint32_t customer;  // log index
    int32_t day;
    std::vector<uint32_t> products;  // log indexes, sorted, distinct
  };
  std::vector<Basket> baskets;
};
ValidationSplit SplitNewestBasket(const EventLog& log);
// The baskets in the indexes of `model` (trained on split.train), customers
// the model does not know left out.
std::vector<HeldOutBasket> ResolveBaskets(const ValidationSplit& split, const EventLog& log, const Model& model);

struct BuyAgainFitOptions {
  size_t new_candidates = 50;  // the model's best products never bought, per customer
  int k = 10;                  // the cut-off of the validation recall that picks the rule
  std::vector<float> due_fractions = {0.0f, 0.25f, 0.5f};
  // The largest fraction whose validation recall is within this share of
  // the best one's is chosen.
  double rule_tolerance = 0.01;
  float min_repeat_rate = 0.02f;
  double l2 = 1e-3;            // ridge on the logistic weights, per example
  // After the first fit, refit this many times on each basket's
  // `refit_candidates` best candidates by the previous weights.
  int refit_rounds = 2;
  size_t refit_candidates = 15;
  // At most this many held-out baskets fitted on, evenly spread over them
  // (0: all): twenty weights need no more, and the fit's cost (several
  // passes scoring every product for each basket's customer) stays bounded
  // on a large store.
  size_t max_baskets = 20000;
};

struct BuyAgainFit {
  BuyAgainParams params;
  // Validation figures (recall and NDCG at k, customers) of the blend, of
  // the model alone (purchases excluded) and of each customer's most
  // bought products (P-TopFreq): the metadata's "buy_again"."validation".
  nlohmann::json report;
};

// InvalidArgument when no basket has a candidate to learn from.
absl::StatusOr<BuyAgainFit> FitBuyAgain(const Model& model, const std::vector<HeldOutBasket>& baskets,
                                        const BuyAgainFitOptions& options);

// Recall and NDCG at k of the model's own ranking (its training purchases
// excluded, no buy-again) on the baskets: what a model is validated on
// when buy-again cannot be learnt.
struct HeldOutFigures {
  double recall = 0, ndcg = 0;
  size_t customers = 0;
};
HeldOutFigures ScoreModelAlone(const Model& model, const std::vector<HeldOutBasket>& baskets, int k);

// The conditional (multinomial) logit over groups of rows (rows
// groups[j] .. groups[j + 1] are one basket's candidates, `y` its
// purchases): the weights that rank each basket's purchases first, by
// damped Newton steps with a ridge of max(1, l2 x purchases). What
// FitBuyAgain uses: only the order within a customer's list matters.
BuyAgainVector FitConditionalLogit(const std::vector<BuyAgainVector>& x, const std::vector<uint8_t>& y,
                                   const std::vector<size_t>& groups, double l2);
// The conditional logit refitted on each group's `keep` best rows by
// `weights` (hard negatives: the candidates that compete for the first
// places), a basket without a purchase among them then left out.
BuyAgainVector RefitOnBest(const std::vector<BuyAgainVector>& x, const std::vector<uint8_t>& y,
                           const std::vector<size_t>& groups, const BuyAgainVector& weights, size_t keep, double l2);

}  // namespace aisle

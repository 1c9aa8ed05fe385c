// Buy again: which products a customer bought before are due again, one
// rule for training (training/buy_again_fit.h learns its weights on
// validation), serving (Recommender) and evaluation.
//
// From the model's purchase history (engine/purchase_history.h) it learns
// per product how often a purchase is followed by another by the same
// customer (repeat rate) and after how many days (repurchase interval: the
// median over its repeat buyers of their mean gap). A product the customer
// bought before is excluded (the seeds' "don't re-target what was just
// bought") while it is rarely bought twice (its buyers' observed repeat
// rate below min_repeat_rate: a product nobody ever bought twice stays
// excluded, as before buy-again), on the day it was bought, or inside min_due_fraction of its interval since the
// last purchase; otherwise it is scored by a logistic model over
// BuyAgainFeatures, and a product never bought by the logit of its model
// score (NewLogit), so both rank on one scale: the estimated log-odds of
// being in the customer's next basket.
// Thread-safe: immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/purchase_history.h"

namespace aisle {

// The features of one (customer, product bought before) pair; the new-
// product part (kNewBias, kNewScore) is zero for them and the only part
// of a product never bought.
enum BuyAgainFeature : int {
  kRepeatBias = 0,  // 1
  kLogTimes,        // log(days bought)
  kLogShare,        // log(days bought / the customer's purchase days)
  kCustomerDays,    // log(the customer's purchase days)
  kLogSince,        // log(1 + days since the last purchase)
  kLogSinceSquared, // its square
  kLogRecent,       // log of its purchase days weighted by recency (PurchaseHistory::recent), now
  kDue,             // log((days since + 1) / (interval + 1)), within [-4, 4]
  kDueSquared,      // its square: a peak when due
  kRepeatLogit,     // logit of the product's repeat rate
  kRepeatScore,     // the model's score of the product for the customer
  kRepeatBuyers,    // log(1 + the product's buyers)
  kNewBias,         // 1 for a product never bought
  kNewScore,        // the model's score of a product never bought
  kNewRank,         // log(1 + its rank among the customer's new products by that score), capped
  kNewBuyers,       // log(1 + the product's buyers)
  kNumBuyAgainFeatures
};
using BuyAgainVector = std::array<float, kNumBuyAgainFeatures>;

// The learnt part, stored in the model's metadata "buy_again".
struct BuyAgainParams {
  BuyAgainVector weights{};         // logistic weights; all zero: not learnt (buy-again off)
  float min_repeat_rate = 0.02f;    // below: a product never shown again once bought
  float min_due_fraction = 0.5f;    // not shown again before this share of its interval
  bool learnt() const;
  nlohmann::json ToJson() const;
  // InvalidArgument for a wrong type or a value out of range (weights finite
  // within [-1e4, 1e4], min_repeat_rate and min_due_fraction within [0, 1]).
  static absl::StatusOr<BuyAgainParams> FromJson(const nlohmann::json& j);
};

// What the history says about one product.
struct RepurchaseStats {
  float repeat_rate = 0;    // share of purchases followed by another by the same customer (smoothed)
  float observed_rate = 0;  // the same share unsmoothed: what the rule's min_repeat_rate compares
  float interval_days = 0;  // typical days between two purchases by one customer
  float log_buyers = 0;     // log(1 + customers who bought it)
};

// One pair of the customer's history, as buy-again reads it.
struct PairHistory {
  uint32_t days = 0;      // purchase days
  int32_t first_day = 0;  // PurchaseDay of the first and last purchase
  int32_t last_day = 0;
  float recent = 1;       // PurchaseHistory::recent at the history's reference day
};

// Why a product bought before is shown: the explanation of its score.
struct Repurchase {
  uint32_t times = 0;        // purchase days
  float every_days = 0;      // the interval used (the customer's own, shrunk to the product's)
  int32_t days_since = 0;    // since the last purchase
};

// Pair `p` of a history (an index into Model::purchased).
inline PairHistory PairAt(const PurchaseHistory& h, uint64_t p) {
  return {h.days[p], h.first_day[p], h.last_day[p], h.recent[p]};
}

// Customer c's pairs of a history, in the order of `purchased`'s row c.
std::vector<PairHistory> PairsOf(const CsrMatrix& purchased, const PurchaseHistory& h, uint32_t c);

class BuyAgain {
 public:
  // Per-product statistics of `history` over products x customers
  // (`purchased` its pattern). An empty history gives an empty BuyAgain
  // (every rule: excluded).
  BuyAgain(const CsrMatrix& purchased, const PurchaseHistory& history, uint32_t num_products,
           const BuyAgainParams& params);

  bool empty() const { return stats_.empty(); }
  const BuyAgainParams& params() const { return params_; }
  const RepurchaseStats& product(uint32_t p) const { return stats_[p]; }

  // The interval for a customer's pair: their own mean gap (when bought on
  // two days or more) shrunk towards the product's.
  float Interval(uint32_t product, const PairHistory& h) const;
  // Whether the rule keeps the product away from the customer at `now_day`.
  bool Excluded(uint32_t product, const PairHistory& h, int32_t now_day) const;
  // The features of a pair at `now_day` with the model's score of it.
  BuyAgainVector Features(uint32_t product, const PairHistory& h, uint32_t customer_days, int32_t now_day,
                          float model_score) const;
  // A product never bought, ranked `rank` (from 0) among the customer's
  // products never bought by its model score.
  BuyAgainVector NewFeatures(uint32_t product, float model_score, size_t rank) const;
  float Logit(const BuyAgainVector& x) const;
  // Ranks from kMaxNewRank on count as kMaxNewRank.
  static constexpr size_t kMaxNewRank = 100;
  Repurchase Explain(uint32_t product, const PairHistory& h, int32_t now_day) const;
  // The model's scores of every product for a customer (`scores`, one per
  // product) turned into blended logits in place: products in `bought`
  // (sorted; `history` their pairs, in the same order) scored by Logit of
  // their features, or NaN (never selected) when the rule excludes them; the others
  // by the logit of NewFeatures (their ranks found by sorting).
  void Blend(absl::Span<const uint32_t> bought, absl::Span<const PairHistory> history, uint32_t customer_days,
             int32_t now_day, float* scores, size_t num_products) const;

 private:
  std::vector<RepurchaseStats> stats_;
  BuyAgainParams params_;
  int32_t reference_day_ = 0;  // of the history's `recent`
};

}  // namespace aisle

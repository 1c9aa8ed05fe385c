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
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/item_neighbours.h"
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
  kCustomerRepeat,  // logit of the customer's repeat share: of their purchases, those of a product bought before
  kLogSince,        // log(1 + days since the last purchase)
  kLogSinceSquared, // its square
  kLogRecent,       // log of its purchase days weighted by recency (PurchaseHistory::recent), now
  kLogLag,          // log(1 + days from its last purchase to the customer's last purchase): 0 in their last basket
  kDue,             // log((days since + 1) / (interval + 1)), within [-4, 4]
  kDueSquared,      // its square: a peak when due
  kRepeatLogit,     // logit of the product's repeat rate
  kRepeatScore,     // the model's score of the product for the customer
  kRepeatBuyers,    // log(1 + the product's buyers)
  kRepeatNeighbours,// log(0.001 + the customer's affinity for it: ItemNeighbours, other products)
  kNewBias,         // 1 for a product never bought
  kNewScore,        // the model's score of a product never bought
  kNewRank,         // log(1 + its rank among the customer's new products by that score), capped
  kNewBuyers,       // log(1 + the product's buyers)
  kNewNeighbours,   // log(0.001 + the customer's affinity for it)
  kNumBuyAgainFeatures
};
using BuyAgainVector = std::array<float, kNumBuyAgainFeatures>;

// The learnt part, stored in the model's metadata "buy_again".
struct BuyAgainParams {
  BuyAgainVector weights{};         // logistic weights; all zero: not learnt (buy-again off)
  float min_repeat_rate = 0.02f;    // below: a product never shown again once bought
  float min_due_fraction = 0.5f;    // not shown again before this share of its interval
  bool learnt() const;
  // weights . x
  float Logit(const BuyAgainVector& x) const;
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

// What buy-again reads of one customer: the products they bought before
// and when.
struct BoughtBefore {
  std::vector<uint32_t> products;  // sorted
  std::vector<PairHistory> pairs;  // in the same order
  uint32_t customer_days = 0;      // days with a purchase of anything
  int32_t last_day = INT32_MIN;    // the newest of them (INT32_MIN: none)
  float repeat_logit = 0;          // logit of their smoothed repeat share (Finish sets it)
  // Each product's weight in the customer's affinities: its recency-
  // weighted purchase days as a share of their sum (Finish sets it).
  std::vector<float> affinity_weights;
  // The customer's affinity for each product (BuyAgain::FindAffinities
  // sets one of them): one per product when the catalog is small next to
  // the customer's neighbour entries, else those their products list as a
  // neighbour (absent: 0).
  std::vector<float> affinity_dense;
  absl::flat_hash_map<uint32_t, float> affinity;
  // Sets last_day, repeat_logit and affinity_weights from `pairs`.
  void Finish();
};

// What a customer's buy-again answer reads that does not depend on the day,
// kept with their cached list (TopListCache) so a default answer merges the
// due products without finding them again: their history restricted to the
// products the rule can ever show (BuyAgain::Repurchasable; the customer's
// totals kept whole), each one's model score and affinity, and the affinity
// of each product of the list. The same values the uncached path computes.
// A product bought before that the rule shows on a day: its position in
// the customer's BoughtBefore and its buy-again logit.
struct DueItem {
  uint32_t at;
  float logit;
};

struct RepurchaseState {
  BoughtBefore history;                // no affinities: they are below
  std::vector<float> scores;           // per history product
  std::vector<float> affinities;       // per history product
  std::vector<float> list_affinities;  // per product of the cached list, in its order
  // The due products of the last day asked for, best first (a customer's
  // requests on one day read the same ones): replaced whole, never changed.
  struct DueOnDay {
    int32_t day = 0;
    std::vector<DueItem> due;
  };
  mutable std::mutex due_mu;
  mutable std::shared_ptr<const DueOnDay> due_on_day;  // guarded by due_mu
  // Bytes held (for the cache's budget; the day's list counted at its
  // largest).
  size_t Bytes() const;
};

// Customer c's history: row c of `purchased` with its pairs in `h`.
BoughtBefore BoughtBeforeOf(const CsrMatrix& purchased, const PurchaseHistory& h, uint32_t c);

class BuyAgain {
 public:
  // Per-product statistics of `history` over products x customers
  // (`purchased` its pattern). An empty history gives an empty BuyAgain
  // (every rule: excluded). `neighbours` (may be null or empty: affinity
  // 0) must outlive this object.
  BuyAgain(const CsrMatrix& purchased, const PurchaseHistory& history, uint32_t num_products,
           const BuyAgainParams& params, const ItemNeighbours* neighbours = nullptr);

  bool empty() const { return stats_.empty(); }
  const BuyAgainParams& params() const { return params_; }
  const RepurchaseStats& product(uint32_t p) const { return stats_[p]; }

  // The interval for a customer's pair: their own mean gap (when bought on
  // two days or more) shrunk towards the product's.
  float Interval(uint32_t product, const PairHistory& h) const;
  // Whether the rule can ever show the product again (its observed repeat
  // rate reaches the rule's minimum); Excluded is true for the others.
  bool Repurchasable(uint32_t product) const {
    return !stats_.empty() && stats_[product].observed_rate >= params_.min_repeat_rate;
  }
  // Whether the rule keeps the product away from the customer at `now_day`.
  bool Excluded(uint32_t product, const PairHistory& h, int32_t now_day) const;
  // The customer's affinity for every product: the weighted mean
  // similarity of the products they bought to it (ItemNeighbours), kept
  // in b (dense, or a map for large catalogs). Costs the customer's
  // products x the neighbours per product.
  void FindAffinities(BoughtBefore* b) const;
  // The same for `targets` alone (sorted, distinct), into b's map: each of
  // the customer's lists read once against the targets' bitset, for a request
  // that reads a few (its due products and its answer): a customer of 20
  // products reads 30 affinities instead of mapping their 1,000 entries.
  // Affinity reads 0 for any other product.
  void FindAffinities(BoughtBefore* b, absl::Span<const uint32_t> targets) const;
  // b's affinity for `product` (FindAffinities first).
  static float Affinity(const BoughtBefore& b, uint32_t product) {
    if (!b.affinity_dense.empty()) return b.affinity_dense[product];
    auto it = b.affinity.find(product);
    return it == b.affinity.end() ? 0.0f : it->second;
  }
  // The same for every product (`out`: one float per product, overwritten).
  void Affinities(const BoughtBefore& b, float* out, size_t num_products) const;
  // The features of the customer's j-th product bought before at `now_day`
  // with the model's score of it and their affinity for it.
  BuyAgainVector Features(const BoughtBefore& b, size_t j, int32_t now_day, float model_score, float affinity) const;
  // A product never bought, ranked `rank` (from 0) among the customer's
  // products never bought by its model score.
  BuyAgainVector NewFeatures(uint32_t product, float model_score, size_t rank, float affinity) const;
  float Logit(const BuyAgainVector& x) const { return params_.Logit(x); }
  // Logit(NewFeatures(...)), the same value bit for bit, without building
  // the features (what Blend does for every product of the catalog).
  float NewLogit(uint32_t product, float model_score, size_t rank, float affinity) const;
  // Ranks from kMaxNewRank on count as kMaxNewRank.
  static constexpr size_t kMaxNewRank = 100;
  Repurchase Explain(uint32_t product, const PairHistory& h, int32_t now_day) const;
  // The model's scores of every product for a customer (`scores`, one per
  // product) turned into blended logits in place: the products bought
  // before scored by Logit of their features, or NaN (never selected) when
  // the rule excludes them; the others by the logit of NewFeatures (their
  // ranks found by sorting).
  void Blend(const BoughtBefore& b, int32_t now_day, float* scores, size_t num_products) const;

 private:
  std::vector<RepurchaseStats> stats_;
  BuyAgainParams params_;
  const ItemNeighbours* neighbours_ = nullptr;
  int32_t reference_day_ = 0;  // of the history's `recent`
};

}  // namespace aisle

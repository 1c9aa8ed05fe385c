// OfferRanker: which offers to show a customer. An offer catalog compiled
// against one Recommender (offer products and categories resolved to model
// product indexes), ranking for a request:
//  - candidates: offers valid at the request time, eligible for the
//    audience (country, channel, segments, new customer) and under their
//    per-customer impression cap;
//  - each candidate scored as weight x (a_1 + a_2/2 + a_3/4 ...), where a_j
//    is the customer's affinity for the offer's j-th best driving product:
//    the model score (clipped at 0) for a known customer, the product's
//    popularity (scaled to [0, 1]) for an unknown one (fallback). The best
//    product dominates and a few more add a bounded bonus, so a 500-product
//    offer does not win on size alone;
//  - products the customer bought drive an offer only when buy-again's
//    learnt rule says they are due again (Recommender::DueProducts: a
//    product bought again often enough, after its interval), or the offer or
//    the catalog marks them repurchasable (an override); with a model that
//    did not learn buy-again, only the marks;
//  - diversity: chosen greedily; a product drives at most one offer, and
//    once an offer's main driving product has a category, no product of that
//    category drives a later offer (lazy greedy: exact, since scores only
//    fall as products are used up);
//  - each chosen offer comes with its score and its driving products (the
//    explanation shown to the customer).
// Immutable after Create(); const methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/offer_catalog.h"
#include "engine/recommender.h"

namespace aisle {

struct OfferOptions {
  size_t count = 3;
  OfferAudience audience;       // new_customer is set by the ranker from the model
  absl::Time now = absl::InfinitePast();  // InfinitePast: the time of the call
  size_t drivers = 3;           // driving products per offer (score and explanation)
  // Impressions of an offer (catalog index) already shown to this customer,
  // for the caps; empty: none shown.
  std::function<uint32_t(uint32_t offer)> impressions;
};

struct OfferDriver {
  uint32_t product;  // model index
  float affinity;    // model score or scaled popularity
};

struct RankedOffer {
  uint32_t offer;    // index into catalog().offers()
  float score;
  std::vector<OfferDriver> drivers;  // best first
};

struct OfferResult {
  std::vector<RankedOffer> offers;
  bool fallback = false;  // the customer is unknown to the model: popularity
};

class OfferRanker {
 public:
  static absl::StatusOr<std::shared_ptr<const OfferRanker>> Create(std::shared_ptr<const Recommender> recommender,
                                                                   std::shared_ptr<const OfferCatalog> catalog);

  // InvalidArgument for count 0 or drivers 0.
  // With a non-empty `live` profile, affinities come from the customer's
  // re-folded vector (Recommender::VectorFor) and live purchases count as
  // bought.
  absl::StatusOr<OfferResult> ForCustomer(absl::string_view customer_id, const OfferOptions& options,
                                          const LiveProfile* live = nullptr) const;
  // The non-personalized ranking: what an unknown customer gets (with
  // new_customer false: what a known customer would get without a model,
  // the baseline of offline evaluation).
  absl::StatusOr<OfferResult> Popular(const OfferOptions& options, bool new_customer = true) const;

  // The offers a request may show (valid, eligible, under cap), in catalog
  // order, whether or not a product of theirs is in the model.
  std::vector<uint32_t> Candidates(const OfferOptions& options, bool new_customer) const;
  // The model products an offer covers (its products, and those of its
  // categories in the product catalog), sorted.
  absl::Span<const uint32_t> Products(uint32_t offer) const { return products_[offer]; }

  const OfferCatalog& catalog() const { return *catalog_; }
  const Recommender& recommender() const { return *recommender_; }
  const std::shared_ptr<const Recommender>& recommender_ptr() const { return recommender_; }

 private:
  OfferRanker() = default;
  // `due`: the products of `bought` buy-again lets through (sorted).
  OfferResult Rank(absl::Span<const float> affinity, absl::Span<const uint32_t> bought, const OfferOptions& options,
                   bool new_customer, absl::Span<const uint32_t> due = {}) const;

  std::shared_ptr<const Recommender> recommender_;
  std::shared_ptr<const OfferCatalog> catalog_;
  std::vector<std::vector<uint32_t>> products_;  // per offer
  std::vector<char> repurchasable_;              // per model product
  std::vector<float> popularity_;                // per model product, scaled to [0, 1]
};

}  // namespace aisle

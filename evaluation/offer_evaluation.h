// Offline evaluation of offer rankings: for each test customer known to the
// model, does one of the top-n offers cover a product the customer bought in
// the test period? Three rankings of the same eligible offers are compared
// on the same customers: the personalized one (OfferRanker::ForCustomer),
// the non-personalized one (most popular offers: OfferRanker::Popular) and
// a random one; paired bootstrap intervals for the differences
// (training/bootstrap.h). docs/EVALUATION.md defines it and the JSON schema.
// Thread-safe: a free function (parallel inside).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "engine/offer_ranker.h"
#include "evaluation/bootstrap.h"
#include "evaluation/evaluation.h"

namespace aisle {

struct OfferEvaluationOptions {
  size_t n = 3;              // offers shown per customer
  size_t drivers = 3;        // OfferOptions::drivers
  absl::Time at;             // when the offers are shown (validity windows)
  bool use_country = true;   // the customer's most frequent test country is the request's country
  uint64_t seed = 1;         // random ranking and bootstrap
  int resamples = 2000;
};

struct OfferEvaluationResult {
  uint64_t customers = 0;
  // Per customer, in TestSet order: 1 when a top-n offer covers a test purchase.
  std::vector<float> personalized, popular, random;
  double hit_personalized = 0, hit_popular = 0, hit_random = 0;
  PairedDifference vs_popular;  // b = personalized, a = popular
  PairedDifference vs_random;   // b = personalized, a = random
  uint64_t fallback = 0;        // customers whose personalized ranking fell back (none when all are known)
  uint64_t offers_shown_personalized = 0, offers_shown_popular = 0;  // distinct offers in any top-n
  double mean_offers_personalized = 0;  // offers returned per customer (can be < n: eligibility, diversity)
};

// `test` is BuildTestSet(model, ...) for the ranker's model, with the
// country segmentation when `use_country`.
OfferEvaluationResult EvaluateOffers(const OfferRanker& ranker, const TestSet& test,
                                     const OfferEvaluationOptions& options);

}  // namespace aisle

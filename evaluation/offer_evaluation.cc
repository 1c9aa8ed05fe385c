#include "evaluation/offer_evaluation.h"

#include <algorithm>
#include <random>

#include "absl/container/flat_hash_set.h"

namespace aisle {
namespace {

bool Covers(absl::Span<const uint32_t> offer_products, const std::vector<uint32_t>& relevant) {
  // Both sorted: a merge walk.
  auto a = offer_products.begin();
  auto b = relevant.begin();
  while (a != offer_products.end() && b != relevant.end()) {
    if (*a == *b) return true;
    if (*a < *b) {
      ++a;
    } else {
      ++b;
    }
  }
  return false;
}

float Hit(const OfferRanker& ranker, const std::vector<uint32_t>& offers, const std::vector<uint32_t>& relevant) {
  for (uint32_t o : offers) {
    if (Covers(ranker.Products(o), relevant)) return 1.0f;
  }
  return 0.0f;
}

std::vector<uint32_t> Ids(const absl::StatusOr<OfferResult>& r) {
  std::vector<uint32_t> out;
  if (!r.ok()) return out;
  for (const RankedOffer& x : r->offers) out.push_back(x.offer);
  return out;
}

}  // namespace

OfferEvaluationResult EvaluateOffers(const OfferRanker& ranker, const TestSet& test,
                                     const OfferEvaluationOptions& options) {
  OfferEvaluationResult res;
  const size_t n = test.customers.size();
  res.customers = n;
  res.personalized.assign(n, 0);
  res.popular.assign(n, 0);
  res.random.assign(n, 0);
  std::vector<std::vector<uint32_t>> shown_p(n), shown_q(n);
  std::vector<char> fell_back(n, 0);
#pragma omp parallel for schedule(dynamic, 16)
  for (size_t i = 0; i < n; ++i) {
    const TestCustomer& c = test.customers[i];
    OfferOptions o;
    o.count = options.n;
    o.drivers = options.drivers;
    o.now = options.at;
    if (options.use_country) o.audience.country = c.segment;
    auto personal = ranker.ForCustomer(c.id, o);
    if (personal.ok() && personal->fallback) fell_back[i] = 1;
    shown_p[i] = Ids(personal);
    shown_q[i] = Ids(ranker.Popular(o, /*new_customer=*/false));
    // Random: n of the offers this customer may see that cover a model product.
    std::vector<uint32_t> pool;
    for (uint32_t x : ranker.Candidates(o, /*new_customer=*/false)) {
      if (!ranker.Products(x).empty()) pool.push_back(x);
    }
    std::mt19937_64 rng(options.seed * 0x9E3779B97F4A7C15ULL + i);
    std::shuffle(pool.begin(), pool.end(), rng);
    if (pool.size() > options.n) pool.resize(options.n);
    res.personalized[i] = Hit(ranker, shown_p[i], c.relevant);
    res.popular[i] = Hit(ranker, shown_q[i], c.relevant);
    res.random[i] = Hit(ranker, pool, c.relevant);
  }
  absl::flat_hash_set<uint32_t> distinct_p, distinct_q;
  uint64_t returned = 0;
  for (size_t i = 0; i < n; ++i) {
    res.hit_personalized += res.personalized[i];
    res.hit_popular += res.popular[i];
    res.hit_random += res.random[i];
    res.fallback += fell_back[i];
    distinct_p.insert(shown_p[i].begin(), shown_p[i].end());
    distinct_q.insert(shown_q[i].begin(), shown_q[i].end());
    returned += shown_p[i].size();
  }
  if (n > 0) {
    res.hit_personalized /= n;
    res.hit_popular /= n;
    res.hit_random /= n;
    res.mean_offers_personalized = static_cast<double>(returned) / n;
  }
  res.offers_shown_personalized = distinct_p.size();
  res.offers_shown_popular = distinct_q.size();
  res.vs_popular = PairedBootstrap(res.popular, res.personalized, options.resamples, options.seed);
  res.vs_random = PairedBootstrap(res.random, res.personalized, options.resamples, options.seed);
  return res;
}

}  // namespace aisle

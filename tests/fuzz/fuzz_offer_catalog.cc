// libFuzzer target: the offer catalog parser, and when a catalog parses, the
// offer ranker over a small fixed model with it; the same bytes as an
// experiments file, and assignment in every experiment that parses.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/experiment_assignment.h"
#include "engine/experiments.h"
#include "engine/offer_catalog.h"
#include "engine/offer_ranker.h"
#include "engine/recommender.h"

namespace {

std::shared_ptr<const aisle::Recommender> SmallRecommender() {
  static std::shared_ptr<const aisle::Recommender> r = [] {
    auto m = std::make_shared<aisle::Model>();
    for (int c = 0; c < 3; ++c) m->customers.Insert("c" + std::to_string(c));
    for (int p = 0; p < 4; ++p) m->products.Insert("p" + std::to_string(p));
    m->user_factors = aisle::FactorMatrix::Constant(3, 2, 0.5f);
    m->item_factors = aisle::FactorMatrix::Constant(4, 2, 0.25f);
    m->purchased = aisle::BuildCsr(3, 4, {{0, 1, 1.0f}});
    m->item_popularity = {1, 2, 3, 4};
    return *aisle::Recommender::Create(m, nullptr);
  }();
  return r;
}

// The same bytes as an experiments file: one that parses assigns every unit
// to one of its variants (denormal weights once gave -1, and the server read
// variants[-1]).
void Experiments(absl::string_view text) {
  auto set = aisle::ExperimentSet::Parse(text, "fuzz.json");
  if (!set.ok()) return;
  for (const aisle::Experiment& e : set->experiments()) {
    std::vector<aisle::VariantWeight> weights;
    for (const aisle::ExperimentVariant& v : e.variants) weights.push_back({v.name, v.weight});
    for (const char* unit : {"c0", "c1", "visitor-42", "x"}) {
      const int i = aisle::AssignVariant(e.salt, unit, weights);
      if (i < 0 || static_cast<size_t>(i) >= e.variants.size() || !(e.variants[static_cast<size_t>(i)].weight > 0)) {
        __builtin_trap();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  Experiments(text);
  auto c = aisle::OfferCatalog::Parse(text, "fuzz.json");
  if (!c.ok()) return 0;
  auto ranker = aisle::OfferRanker::Create(SmallRecommender(), std::make_shared<const aisle::OfferCatalog>(*std::move(c)));
  if (!ranker.ok()) return 0;
  aisle::OfferOptions o;
  o.count = 3;
  o.now = absl::FromUnixSeconds(1700000000);
  for (const char* customer : {"c0", "unknown"}) (void)(*ranker)->ForCustomer(customer, o);
  return 0;
}

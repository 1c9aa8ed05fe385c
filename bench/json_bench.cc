// Serializing a recommendations response (10 products with catalog
// fields): the hand-written writer the server uses against the nlohmann
// tree it replaced (server/recommendation_json.h).
#include <cstdlib>
#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "server/recommendation_json.h"

namespace aisle {
namespace {

struct Fixture {
  Fixture() {
    auto m = std::make_shared<Model>();
    const int n = 1000, k = 8;
    for (int p = 0; p < n; ++p) m->products.Insert(absl::StrCat("8512", p, "A"));
    m->customers.Insert("17850");
    m->user_factors = FactorMatrix::Constant(1, k, 0.1f);
    m->item_factors = FactorMatrix::Constant(n, k, 0.1f);
    m->item_popularity.assign(n, 1.0f);
    m->purchased = BuildCsr(1, n, {});
    if (!m->SetMetadata(nlohmann::json({{"model_id", "20261123T115823Z-8c2c7417"}})).ok()) std::abort();
    std::string csv = "product_id,name,category,price,in_stock\n";
    for (int p = 0; p < n; ++p) {
      absl::StrAppend(&csv, "8512", p, "A,WHITE HANGING HEART T-LIGHT HOLDER ", p, ",holder,2.95,true\n");
    }
    recommender = *Recommender::Create(m, std::make_shared<const Catalog>(*Catalog::ParseCsv(csv, "c.csv")));
    for (uint32_t p = 0; p < 10; ++p) result.items.push_back({p * 7, 0.7985439f - 0.01f * p, {}, {}});
  }
  std::shared_ptr<const Recommender> recommender;
  RecommendResult result;
  std::string id = "17850";
};

void BM_RecommendationsBody(benchmark::State& state) {
  Fixture f;
  const bool reference = state.range(0) != 0;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = reference ? RecommendationsBodyReference(*f.recommender, &f.id, f.result, false)
                                 : RecommendationsBody(*f.recommender, &f.id, f.result, false);
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

BENCHMARK(BM_RecommendationsBody)->ArgNames({"nlohmann"})->Arg(0)->Arg(1);

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

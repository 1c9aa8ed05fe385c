// Precomputed top lists (engine/top_lists.h): what building them costs per
// list at model load, per thread count, and what answering a request from
// them costs against scoring it.
// Model: random factors, 20k customers x 50k products x 64 factors, 30
// purchases per customer (the load test's catalog shape, fewer customers so
// a build takes seconds).
#include <cstdlib>
#include <benchmark/benchmark.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "engine/batch_scoring.h"
#include "engine/recommender.h"
#include "engine/top_lists.h"

namespace aisle {
namespace {

constexpr int kCustomers = 20000, kProducts = 50000, kFactors = 64, kBought = 30;

std::shared_ptr<const Model> RandomModel() {
  static std::shared_ptr<const Model> model = [] {
    auto m = std::make_shared<Model>();
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    for (int p = 0; p < kProducts; ++p) m->products.Insert(absl::StrCat("p", p));
    for (int c = 0; c < kCustomers; ++c) m->customers.Insert(absl::StrCat("c", c));
    m->user_factors = FactorMatrix::NullaryExpr(kCustomers, kFactors, [&] { return normal(rng); });
    m->item_factors = FactorMatrix::NullaryExpr(kProducts, kFactors, [&] { return normal(rng); });
    std::vector<Triplet> bought;
    std::uniform_int_distribution<uint32_t> product(0, kProducts - 1);
    for (uint32_t c = 0; c < kCustomers; ++c) {
      for (int j = 0; j < kBought; ++j) bought.push_back({c, product(rng), 1.0f});
    }
    m->purchased = BuildCsr(kCustomers, kProducts, bought);
    m->purchased.values.clear();
    m->item_popularity.assign(kProducts, 0.0f);
    for (const Triplet& t : bought) m->item_popularity[t.col] += 1;
    if (!m->SetMetadata(nlohmann::json({{"model_id", "bench"}})).ok()) std::abort();
    return m;
  }();
  return model;
}

// Building lists of 32 (exact float32, fused kernel in batches of 8):
// arg kind 0 = customer lists (purchases excluded), 1 = similar-product lists
// (cosine: normalized product factors as queries, itself excluded; the
// first 5,000 products as queries, per list the same work as all 50k).
void BM_BuildTopLists(benchmark::State& state) {
  const Model& m = *RandomModel();
  const bool similar = state.range(0) == 1;
  const int threads = static_cast<int>(state.range(1));
  FactorMatrix normalized = m.item_factors.rowwise().normalized();
  const std::vector<float> items = PackForScoring(similar ? normalized : m.item_factors);
  const FactorMatrix queries = similar ? FactorMatrix(normalized.topRows(5000)) : m.user_factors;
  ListExclusions excluded;
  if (similar) {
    excluded = [](uint32_t p, uint32_t* self) {
      *self = p;
      return absl::Span<const uint32_t>(self, 1);
    };
  } else {
    excluded = [&m](uint32_t c, uint32_t*) { return m.purchased.RowIndices(c); };
  }
  for (auto _ : state) {
    auto lists = BuildTopLists(items, kProducts, queries, 32, excluded, threads);
    benchmark::DoNotOptimize(lists.get());
  }
  const double per_list = state.iterations() * static_cast<double>(queries.rows());
  state.counters["us_per_list"] = benchmark::Counter(per_list * 1e-6, benchmark::Counter::kIsRate |
                                                                          benchmark::Counter::kInvert);
  state.counters["gflops"] = benchmark::Counter(per_list * 2.0 * kProducts * kFactors * 1e-9,
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BuildTopLists)
    ->ArgNames({"similar", "threads"})
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// One unfiltered top-10 request for a random known customer: from the lists
// (arg 1) or scored by the server's batch path, alone (arg 0).
void BM_AnswerCustomer(benchmark::State& state) {
  Recommender::Options ro;
  ro.scoring = Recommender::Scoring::kBf16;
  ro.top_list_length = state.range(0) ? 32 : 0;
  auto r = *Recommender::Create(RandomModel(), nullptr, ro);
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> customer(0, kCustomers - 1);
  RecommendOptions o;
  o.count = 10;
  for (auto _ : state) {
    const uint32_t c = customer(rng);
    if (state.range(0)) {
      benchmark::DoNotOptimize(r->FromTopList(c, o));
    } else {
      benchmark::DoNotOptimize(r->SelectBatch({&c, 1}, {&o, 1}));
    }
  }
}
BENCHMARK(BM_AnswerCustomer)->ArgNames({"top_lists"})->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Ten products similar to a random product: from the lists (arg 1) or by
// scoring the catalog (arg 0).
void BM_Similar(benchmark::State& state) {
  Recommender::Options ro;
  ro.top_list_length = state.range(0) ? 32 : 0;
  auto r = *Recommender::Create(RandomModel(), nullptr, ro);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> product(0, kProducts - 1);
  for (auto _ : state) benchmark::DoNotOptimize(r->Similar(absl::StrCat("p", product(rng)), 10));
}
BENCHMARK(BM_Similar)->ArgNames({"top_lists"})->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

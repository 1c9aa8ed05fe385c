// Precomputed top lists (engine/top_lists.h): what building them costs per
// customer at model load, per scoring mode and thread count, and what
// answering a request from them costs against scoring it.
// Model: random factors, 20k customers x 50k products x 64 factors, 30
// purchases per customer (the load test's catalog shape, fewer customers so
// a build takes seconds).
#include <benchmark/benchmark.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "engine/recommender.h"

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
    m->metadata = {{"model_id", "bench"}};
    return m;
  }();
  return model;
}

Recommender::Scoring ScoringArg(int64_t a) {
  return a == 0 ? Recommender::Scoring::kFloat32 : a == 1 ? Recommender::Scoring::kBf16 : Recommender::Scoring::kInt8;
}

// Recommender::Create with lists of 32 minus Create without: the build
// (exact float32 scoring whatever the serving precision; with bf16 the
// float32 packing is made for the build).
void BM_BuildTopLists(benchmark::State& state) {
  Recommender::Options ro;
  ro.scoring = ScoringArg(state.range(0));
  ro.top_list_threads = static_cast<int>(state.range(1));
  RandomModel();  // made outside the timings
  double build = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto base = std::chrono::steady_clock::now();
    auto without = Recommender::Create(RandomModel(), nullptr, ro);
    const double create = std::chrono::duration<double>(std::chrono::steady_clock::now() - base).count();
    state.ResumeTiming();
    ro.top_list_length = 32;
    auto start = std::chrono::steady_clock::now();
    auto with = Recommender::Create(RandomModel(), nullptr, ro);
    build = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - create;
    ro.top_list_length = 0;
    benchmark::DoNotOptimize((*with)->customer_lists());
  }
  state.counters["us_per_customer"] = build / kCustomers * 1e6;
  state.counters["customers_per_s"] = kCustomers / build;
}
BENCHMARK(BM_BuildTopLists)
    ->ArgNames({"precision", "threads"})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({0, 2})
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

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

// EASE training cost (training/item_item_trainer.h) by catalog size: a
// synthetic purchase history of 5 customers per product, 20 distinct
// products each drawn by a Zipf-like popularity, then TrainEase with every
// product weighted. Flops: about 5/3 n^3 (Cholesky n^3/3, the triangular
// inverse n^3/3, P = M^T M n^3); memory: one n x n float matrix (4 n^2
// bytes) plus two n x 256 blocks. Peak RSS: run one size under
// /usr/bin/time -v with --benchmark_filter.
//   build/bin/aisle_bench_ease --benchmark_filter='Ease/10000'
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "training/item_item_trainer.h"

namespace aisle {
namespace {

CsrMatrix Purchases(uint32_t products, std::vector<float>* popularity) {
  const uint32_t customers = 5 * products;
  std::mt19937 rng(1);
  // Zipf-like: product p drawn with weight 1 / (p + 10).
  std::vector<double> w(products);
  for (uint32_t p = 0; p < products; ++p) w[p] = 1.0 / (p + 10.0);
  std::discrete_distribution<uint32_t> pick(w.begin(), w.end());
  std::vector<Triplet> t;
  for (uint32_t c = 0; c < customers; ++c) {
    for (int j = 0; j < 20; ++j) t.push_back({c, pick(rng), 1});
  }
  CsrMatrix m = BuildCsr(customers, products, t);
  m.values.clear();
  popularity->assign(products, 0);
  for (uint32_t p : m.indices) (*popularity)[p] += 1;
  return m;
}

void BM_Ease(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::vector<float> pop;
  const CsrMatrix bought = Purchases(n, &pop);
  EaseOptions o;
  o.max_products = n;
  for (auto _ : state) {
    auto r = TrainEase(bought, pop, o);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    benchmark::DoNotOptimize(r);
  }
  const double flops = 5.0 / 3.0 * std::pow(static_cast<double>(n), 3);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["matrix_MB"] = 4.0 * n * n / 1e6;
}
BENCHMARK(BM_Ease)->Arg(2000)->Arg(5000)->Arg(10000)->Arg(20000)->Unit(benchmark::kSecond)->UseRealTime()
    ->Iterations(1);

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

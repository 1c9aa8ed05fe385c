// One iALS training iteration (both half-sweeps) on synthetic planted data:
// 1M interactions (50k customers x 10k products) and 10M (200k x 50k), at
// 32/64/128 factors, with the CG (3 steps) and Cholesky solvers.
// Counters: interactions/s and the iteration's arithmetic in GFLOP/s.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <map>
#include <memory>

#include "data/synthetic.h"
#include "training/ials_trainer.h"

namespace aisle {
namespace {

struct Data {
  CsrMatrix user_items;
  CsrMatrix item_users;
};

const Data& GetData(int millions) {
  static std::map<int, std::unique_ptr<Data>> cache;
  auto& slot = cache[millions];
  if (!slot) {
    SyntheticOptions o;
    if (millions == 1) {
      o.customers = 50000;
      o.products = 10000;
    } else {
      o.customers = 200000;
      o.products = 50000;
    }
    o.categories = 100;
    o.tastes_per_customer = 3;
    o.popularity_exponent = 0.8;
    // Repeats are summed, so draw a little more than the target nnz.
    o.purchases = static_cast<uint64_t>(millions) * (millions == 1 ? 1150000 : 1155000);
    o.seed = 7;
    slot = std::make_unique<Data>();
    slot->user_items = SyntheticInteractionMatrix(o);
    slot->item_users = Transpose(slot->user_items);
  }
  return *slot;
}

// Floating-point operations of one iteration, as counted in
// docs/BENCHMARKS.md (multiply-add = 2).
double IterationFlops(const Data& d, int k, bool cg, int steps) {
  const double nnz = static_cast<double>(d.user_items.nnz());
  const double rows = static_cast<double>(d.user_items.rows) + d.user_items.cols;
  const double gram = 2.0 * rows * k * k;
  if (cg) return 2 * nnz * (steps + 1) * 4.0 * k + rows * (steps + 1) * 2.0 * k * k + gram;
  return 2 * nnz * 2.0 * k * k + rows * (k * k * k / 3.0) + gram;
}

void BM_IalsIteration(benchmark::State& state) {
  const int millions = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  const bool cg = state.range(2) == 0;
  const Data& d = GetData(millions);
  IalsOptions o;
  o.factors = k;
  o.solve.solver = cg ? AlsSolver::kConjugateGradient : AlsSolver::kCholesky;
  o.solve.cg_steps = 3;
  o.objective.regularization = 0.05f;
  IalsTrainer trainer(d.user_items, d.item_users, o);
  if (!trainer.Init().ok()) {
    state.SkipWithError("init failed");
    return;
  }
  trainer.Iterate(false);  // warm-up: the first sweep starts from random factors
  for (auto _ : state) {
    IterationStats st = trainer.Iterate(false);
    benchmark::DoNotOptimize(st.seconds);
  }
  state.counters["nnz"] = static_cast<double>(d.user_items.nnz());
  state.counters["threads"] = omp_get_max_threads();
  state.counters["interactions/s"] = benchmark::Counter(
      static_cast<double>(d.user_items.nnz()), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(IterationFlops(d, k, cg, 3) / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_IalsIteration)
    ->ArgNames({"Minteractions", "factors", "cholesky"})
    ->ArgsProduct({{1, 10}, {32, 64, 128}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

// Top-10 for one customer: score every product (dot products of float32
// factors) and select the best 10, as the server does per request, at 10k,
// 100k and 1M products x 64 and 128 factors, one thread. Counters: products
// scored per second and the bytes of item factors streamed per second.
// Also the k-means build of the cluster index that spares large catalogs
// those scans.
#include <benchmark/benchmark.h>

#include <random>

#include "engine/batch_scoring.h"
#include "engine/cluster_index.h"
#include "engine/model.h"
#include "engine/topk.h"

namespace aisle {
namespace {

void BM_TopK(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  const int k = static_cast<int>(state.range(1));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  FactorMatrix items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
  std::vector<Eigen::VectorXf> users;
  for (int u = 0; u < 64; ++u) users.push_back(Eigen::VectorXf::NullaryExpr(k, [&] { return nd(rng); }));
  Eigen::VectorXf scores(n);
  size_t u = 0;
  for (auto _ : state) {
    scores.noalias() = items * users[u++ % users.size()];
    auto top = SelectTopK(absl::MakeConstSpan(scores.data(), scores.size()), 10);
    benchmark::DoNotOptimize(top.data());
  }
  state.counters["products/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["factor_bytes/s"] =
      benchmark::Counter(static_cast<double>(n) * k * 4, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1024);
}

BENCHMARK(BM_TopK)
    ->ArgNames({"products", "factors"})
    ->ArgsProduct({{10000, 100000, 1000000}, {64, 128}})
    ->Unit(benchmark::kMicrosecond);

// Random factors for a batch benchmark: args (products, factors, batch).
struct Batch {
  explicit Batch(const benchmark::State& state)
      : n(static_cast<size_t>(state.range(0))), k(static_cast<size_t>(state.range(1))),
        b(static_cast<size_t>(state.range(2))) {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
    users = FactorMatrix::NullaryExpr(b, k, [&] { return nd(rng); });
  }
  size_t n, k, b;
  FactorMatrix items, users;
};

// The server's batched path: scores for a batch of customers in one pass
// over packed product factors (engine/batch_scoring.h), then a top-10 per
// customer. Time is per batch; "requests/s" is customers answered per second.
void BM_TopKBatch(benchmark::State& state) {
  const Batch d(state);
  const size_t n = d.n, k = d.k, b = d.b;
  const FactorMatrix& users = d.users;
  std::vector<float> packed = PackForScoring(d.items);
  std::vector<float> scores(b * PaddedProducts(n));
  for (auto _ : state) {
    ScorePacked(packed.data(), n, k, users.data(), b, scores.data());
    for (size_t j = 0; j < b; ++j) {
      auto top = SelectTopK(absl::MakeConstSpan(scores.data() + j * PaddedProducts(n), n), 10);
      benchmark::DoNotOptimize(top.data());
    }
  }
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(b), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * k * b / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_TopKBatch)
    ->ArgNames({"products", "factors", "batch"})
    ->ArgsProduct({{50000}, {64, 128}, {1, 8, 16, 32}})
    ->Unit(benchmark::kMicrosecond);

// The same with bfloat16 factors (AVX512_BF16) and the candidate pool the
// server re-ranks exactly (top 4 x 10 + ... = 42 per customer).
void BM_TopKBatchBf16(benchmark::State& state) {
  const Batch d(state);
  const size_t n = d.n, k = d.k, b = d.b;
  const FactorMatrix& users = d.users;
  const FactorMatrix& items = d.items;
  std::vector<uint16_t> packed = PackForScoringBf16(items);
  std::vector<float> scores(b * PaddedProducts(n));
  for (auto _ : state) {
    ScorePackedBf16(packed.data(), n, k, users.data(), b, scores.data());
    for (size_t j = 0; j < b; ++j) {
      auto pool = SelectTopK(absl::MakeConstSpan(scores.data() + j * PaddedProducts(n), n), 42);
      float best = 0;
      for (const ScoredItem& s : pool) best = std::max(best, users.row(j).dot(items.row(s.index)));
      benchmark::DoNotOptimize(best);
    }
  }
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(b), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["native"] = Bf16ScoringIsNative();
}

BENCHMARK(BM_TopKBatchBf16)
    ->ArgNames({"products", "factors", "batch"})
    ->ArgsProduct({{50000}, {64, 128}, {1, 8, 16, 32}})
    ->Unit(benchmark::kMicrosecond);

// The server's path for unfiltered requests: scoring fused with selection
// (SelectPacked / SelectPackedBf16 / SelectPackedInt8: no score arrays),
// precision 0: float32 with a pool of 10; 1: bf16, 2: int8, each with the
// pool of 42 re-ranked exactly.
void BM_SelectBatchFused(benchmark::State& state) {
  const Batch d(state);
  const size_t n = d.n, k = d.k, b = d.b;
  const int precision = static_cast<int>(state.range(3));
  const std::vector<float> packed = PackForScoring(d.items);
  const std::vector<uint16_t> packed16 = PackForScoringBf16(d.items);
  const Int8Packed packed8 = PackForScoringInt8(d.items);
  const std::vector<size_t> pool(b, precision > 0 ? 42 : 10);
  std::vector<std::vector<ScoredItem>> out;
  for (auto _ : state) {
    if (precision > 0) {
      if (precision == 1) {
        SelectPackedBf16(packed16.data(), n, k, d.users.data(), b, pool, {}, &out);
      } else {
        SelectPackedInt8(packed8, d.users.data(), b, pool, {}, &out);
      }
      float best = 0;
      for (size_t j = 0; j < b; ++j) {
        for (const ScoredItem& s : out[j]) best = std::max(best, d.users.row(j).dot(d.items.row(s.index)));
      }
      benchmark::DoNotOptimize(best);
    } else {
      SelectPacked(packed.data(), n, k, d.users.data(), b, pool, {}, &out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(b), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * k * b / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_SelectBatchFused)
    ->ArgNames({"products", "factors", "batch", "precision"})
    ->ArgsProduct({{50000}, {64, 128}, {1, 8, 16, 32}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

// Building the search index of a large catalog (k-means: 8 iterations on a
// 131k sample, then every product assigned; about sqrt(n) clusters), on all
// threads: what the trainer does twice per model and a server at load when a
// model has no stored clusters. Counter: GFLOP/s of the assignments' products
// (2 x rows x clusters x factors per pass).
void BM_ClusterIndexBuild(benchmark::State& state) {
  const Eigen::Index n = state.range(0), k = 64;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const FactorMatrix items = FactorMatrix::NullaryExpr(n, k, [&] { return nd(rng); });
  size_t clusters = 0;
  for (auto _ : state) {
    auto index = ClusterIndex::Build(items, {});
    if (!index.ok()) {
      state.SkipWithError("build failed");
      return;
    }
    clusters = index->clusters();
  }
  const double sample = std::min<double>(n, ClusterIndex::BuildOptions().sample);
  const double flops = 2.0 * (ClusterIndex::BuildOptions().iterations * sample + n) * clusters * k;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ClusterIndexBuild)->ArgName("products")->Arg(200000)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

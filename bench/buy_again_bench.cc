// What buy-again costs a request: one customer's answer with every purchase
// excluded (the model alone: purchased=all), with the due products merged on
// the buy-again scale (the default: their features, the customer's
// neighbourhood affinities, the merge) and mode=buy_again, one customer after
// another. Model: trained with default flags (buy-again and neighbours on)
// on the UCI Online Retail file (../shared/data beside the checkout, or
// AISLE_ONLINE_RETAIL), 4,338 customers x 3,665 products; the request's
// time is the data's last day + 7. The argument is the algorithm
// (engine/algorithm.h): 0 ials, 1 item_knn, 2 ease.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "engine/recommender.h"
#include "events/event_loader.h"
#include "training/train_job.h"

namespace aisle {
namespace {

std::string OnlineRetailPath() {
  if (const char* p = std::getenv("AISLE_ONLINE_RETAIL")) return p;
  return std::string(AISLE_SOURCE_DIR) + "/../shared/data/online-retail/online_retail.csv";
}

std::shared_ptr<const Recommender> Trained(Algorithm algorithm) {
  static std::map<Algorithm, std::shared_ptr<const Recommender>> trained_by;
  auto it = trained_by.find(algorithm);
  if (it != trained_by.end()) return it->second;
  std::shared_ptr<const Recommender> r = [algorithm]() -> std::shared_ptr<const Recommender> {
    const std::string path = OnlineRetailPath();
    if (!std::filesystem::exists(path)) return nullptr;
    LoadOptions lo;
    lo.format = InputFormat::kOnlineRetail;
    EventLog log;
    LoadStats stats;
    if (!LoadEventsFile(path, lo, &log, &stats).ok()) return nullptr;
    TrainJobOptions o;
    o.algorithm = algorithm;
    o.log = nullptr;
    auto trained = TrainOnLog(std::move(log), stats, o);
    if (!trained.ok()) return nullptr;
    auto made = Recommender::Create(std::make_shared<const Model>(std::move(trained->model)), nullptr);
    return made.ok() ? *made : nullptr;
  }();
  trained_by[algorithm] = r;
  return r;
}

void Run(benchmark::State& state, PurchasedProducts purchased) {
  auto r = Trained(static_cast<Algorithm>(state.range(0)));
  if (r == nullptr || r->buy_again() == nullptr) {
    state.SkipWithError("no model with buy-again (is the Online Retail file there?)");
    return;
  }
  RecommendOptions o;
  o.purchased = purchased;
  o.now = r->model().last_event_unix + 7 * kSecondsPerDay;
  const size_t n = r->model().customers.size();
  size_t c = 0, items = 0;
  for (auto _ : state) {
    auto a = r->Recommend(r->model().customers.id_view(static_cast<uint32_t>(c)), o);
    if (!a.ok()) {
      state.SkipWithError("request failed");
      return;
    }
    items += a->result.items.size();
    c = (c + 1) % n;
  }
  state.counters["items"] = static_cast<double>(items) / static_cast<double>(state.iterations());
}

void BM_ExcludeAll(benchmark::State& state) { Run(state, PurchasedProducts::kAll); }
void BM_Due(benchmark::State& state) { Run(state, PurchasedProducts::kDue); }
void BM_BuyAgainOnly(benchmark::State& state) { Run(state, PurchasedProducts::kOnly); }
BENCHMARK(BM_ExcludeAll)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Due)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BuyAgainOnly)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

// Loading event files: the UCI Online Retail file (541,909 rows, from
// ../shared/data beside the checkout, or AISLE_ONLINE_RETAIL) with the
// online_retail preset, a synthetic events-format file of 1M rows, and a
// product catalog of 1M rows.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "data/synthetic.h"
#include "engine/catalog.h"
#include "events/event_loader.h"
#include "training/weighting.h"

namespace aisle {
namespace {

std::string OnlineRetailPath() {
  if (const char* p = std::getenv("AISLE_ONLINE_RETAIL")) return p;
  return std::string(AISLE_SOURCE_DIR) + "/../shared/data/online-retail/online_retail.csv";
}

void LoadFile(benchmark::State& state, const std::string& path, InputFormat format, bool aggregate) {
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("missing " + path).c_str());
    return;
  }
  LoadOptions o;
  o.format = format;
  uint64_t rows = 0;
  for (auto _ : state) {
    EventLog log;
    LoadStats stats;
    if (!LoadEventsFile(path, o, &log, &stats).ok()) {
      state.SkipWithError("load failed");
      return;
    }
    if (aggregate) {
      Interactions in = BuildInteractions(log, WeightingOptions());
      benchmark::DoNotOptimize(in.user_items.nnz());
    }
    rows = stats.records;
  }
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * std::filesystem::file_size(path)));
}

void BM_LoadOnlineRetail(benchmark::State& state) {
  LoadFile(state, OnlineRetailPath(), InputFormat::kOnlineRetail, state.range(0) != 0);
}
BENCHMARK(BM_LoadOnlineRetail)->ArgName("aggregate")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LoadSyntheticEvents(benchmark::State& state) {
  static const std::string path = [] {
    std::string p = (std::filesystem::temp_directory_path() / "aisle-bench-events.csv").string();
    SyntheticOptions o;
    o.customers = 50000;
    o.products = 10000;
    o.purchases = 600000;
    o.views_per_purchase = 0.5;
    o.cart_rate = 0.2;
    o.return_rate = 0.02;
    if (!WriteSyntheticCsv(GenerateSynthetic(o), p).ok()) std::abort();
    return p;
  }();
  LoadFile(state, path, InputFormat::kEvents, false);
}
BENCHMARK(BM_LoadSyntheticEvents)->Unit(benchmark::kMillisecond)->UseRealTime();

// The product catalog of the reference store (issue 13): 1M products in 100
// categories with prices and stock, as the server reads it beside the model.
void BM_LoadCatalog(benchmark::State& state) {
  static const std::string path = [] {
    std::string p = (std::filesystem::temp_directory_path() / "aisle-bench-catalog.csv").string();
    SyntheticOptions o;
    o.products = 1000000;
    o.categories = 100;
    if (!WriteSyntheticCatalog(o, p).ok()) std::abort();
    return p;
  }();
  size_t size = 0;
  for (auto _ : state) {
    absl::StatusOr<Catalog> c = Catalog::Load(path);
    if (!c.ok()) {
      state.SkipWithError(std::string(c.status().message()).c_str());
      return;
    }
    size = c->size();
  }
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(size), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * std::filesystem::file_size(path)));
}
BENCHMARK(BM_LoadCatalog)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace aisle

BENCHMARK_MAIN();

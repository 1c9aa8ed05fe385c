// aisle_bench_search: recall and cost of the cluster index's search
// (engine/cluster_index.h) against exact scoring of every product, on a
// model file: random known customers, their purchases excluded, top-N;
// optionally restricted to one catalog category (a filtered request), and
// for similar products (cosine). Single-threaded timings per query.
//   aisle_bench_search --model FILE [--catalog CSV --category cat7] [--queries 1000]
//                      [--min_scanned 5000,20000,50000] [--similar]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/catalog.h"
#include "engine/cluster_index.h"
#include "engine/model_io.h"
#include "engine/topk.h"

ABSL_FLAG(std::string, model, "", "Model file.");
ABSL_FLAG(std::string, catalog, "", "Catalog (for --category).");
ABSL_FLAG(std::string, category, "", "Only products of this category (a filtered request).");
ABSL_FLAG(int, queries, 1000, "Random known customers (or products with --similar).");
ABSL_FLAG(int, count, 10, "Products per answer.");
ABSL_FLAG(size_t, clusters, 0, "Clusters (0: about sqrt(products)).");
ABSL_FLAG(std::string, min_scanned, "0,5000,10000,20000,50000", "Approximate budgets to measure (0: the default).");
ABSL_FLAG(bool, similar, false, "Similar products (cosine over normalized factors) instead of customers.");

namespace {
double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace aisle;
  double t = Now();
  auto model = ReadModel(absl::GetFlag(FLAGS_model));
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  std::printf("model: %zu customers x %zu products x %u factors, read in %.2f s\n", model->customers.size(),
              model->products.size(), model->num_factors(), Now() - t);
  const bool similar = absl::GetFlag(FLAGS_similar);
  FactorMatrix items = model->item_factors;
  if (similar) items.rowwise().normalize();
  std::vector<char> in_category;
  if (!absl::GetFlag(FLAGS_category).empty()) {
    auto catalog = Catalog::Load(absl::GetFlag(FLAGS_catalog));
    if (!catalog.ok()) {
      std::fprintf(stderr, "%s\n", std::string(catalog.status().message()).c_str());
      return 1;
    }
    in_category.assign(model->products.size(), 0);
    size_t members = 0;
    for (uint32_t p = 0; p < model->products.size(); ++p) {
      const CatalogEntry* e = catalog->Find(model->products.id(p));
      in_category[p] = e != nullptr && e->category == absl::GetFlag(FLAGS_category);
      members += in_category[p];
    }
    std::printf("category %s: %zu products (%.2f%%)\n", absl::GetFlag(FLAGS_category).c_str(), members,
                100.0 * members / model->products.size());
  }
  t = Now();
  ClusterIndex::BuildOptions bo;
  bo.clusters = absl::GetFlag(FLAGS_clusters);
  auto index = ClusterIndex::Build(items, bo);
  if (!index.ok()) return 1;
  std::printf("index: %zu clusters, %.1f MB, built in %.2f s (all threads)\n", index->clusters(), index->bytes() / 1e6,
              Now() - t);

  const int nq = absl::GetFlag(FLAGS_queries);
  const size_t count = static_cast<size_t>(absl::GetFlag(FLAGS_count));
  std::mt19937_64 rng(11);
  std::vector<uint32_t> queries(nq);
  for (auto& q : queries) {
    q = static_cast<uint32_t>(std::uniform_int_distribution<size_t>(
        0, (similar ? model->products.size() : model->customers.size()) - 1)(rng));
  }
  std::function<bool(uint32_t)> accept;
  if (!in_category.empty()) accept = [&](uint32_t p) { return in_category[p] != 0; };
  auto vector_of = [&](uint32_t q) { return similar ? items.row(q).data() : model->user_factors.row(q).data(); };
  auto excluded_of = [&](uint32_t q, uint32_t* self) -> absl::Span<const uint32_t> {
    if (similar) {
      *self = q;
      return {self, 1};
    }
    return model->purchased.RowIndices(q);
  };

  // Ground truth: every product scored.
  std::vector<std::vector<ScoredItem>> truth(nq);
  t = Now();
  for (int i = 0; i < nq; ++i) {
    const Eigen::Map<const Eigen::VectorXf> q(vector_of(queries[i]), items.cols());
    Eigen::VectorXf s = items * q;
    if (!in_category.empty()) {
      for (Eigen::Index p = 0; p < s.size(); ++p) {
        if (!in_category[p]) s[p] = NAN;
      }
    }
    uint32_t self;
    truth[i] = SelectTopK(absl::MakeConstSpan(s.data(), s.size()), count, excluded_of(queries[i], &self));
  }
  std::printf("full scan: %.0f us per query\n", (Now() - t) / nq * 1e6);

  auto run = [&](const ClusterIndex::SearchOptions& so, const char* label) {
    double hits = 0, total = 0, scanned = 0, clusters = 0;
    const double start = Now();
    for (int i = 0; i < nq; ++i) {
      uint32_t self;
      ClusterIndex::SearchStats st;
      std::vector<ScoredItem> got = index->Search(vector_of(queries[i]), count, excluded_of(queries[i], &self), accept,
                                                  so, &st);
      absl::flat_hash_set<uint32_t> g;
      for (const ScoredItem& x : got) g.insert(x.index);
      for (const ScoredItem& x : truth[i]) hits += g.contains(x.index);
      total += truth[i].size();
      scanned += st.scanned;
      clusters += st.clusters;
    }
    const double us = (Now() - start) / nq * 1e6;
    std::printf("%-22s recall@%zu %.4f  scanned %.0f products (%.2f%%) in %.1f clusters  %.0f us per query\n", label,
                count, hits / total, scanned / nq, 100.0 * scanned / nq / index->size(), clusters / nq, us);
  };
  run({.exact = true}, "exact (pruned)");
  for (absl::string_view b : absl::StrSplit(absl::GetFlag(FLAGS_min_scanned), ',')) {
    size_t m = 0;
    if (!absl::SimpleAtoi(b, &m)) continue;
    run({.exact = false, .min_scanned = m}, (std::string("approx min_scanned=") + std::string(b)).c_str());
  }
  if (!in_category.empty()) {
    // What the server does for a small category: the index restricted to it.
    std::vector<uint32_t> members;
    for (uint32_t p = 0; p < in_category.size(); ++p) {
      if (in_category[p]) members.push_back(p);
    }
    t = Now();
    *index = index->Restrict(items, members, index->ClusterOf(items.rows()));
    std::printf("restricted to the category: %.1f ms to make\n", (Now() - t) * 1e3);
    accept = {};
    run({.exact = true}, "restricted, exact");
    run({.exact = false}, "restricted, approx");
  }
  return 0;
}

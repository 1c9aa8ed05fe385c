// aisle_bench_make_model: writes a model of a given size with random
// factors (normal, scaled so scores are of order 1) and random purchases
// (Zipf-like over products), for benchmarks that need the size of a large
// store but not its structure (bench/batch_export.sh: 1M customers x 50k
// products). Not a trained model: quality figures never come from it.
//   aisle_bench_make_model --customers N --products M --factors K --purchases P --output FILE
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "engine/model_io.h"

ABSL_FLAG(int, customers, 1000000, "Customers.");
ABSL_FLAG(int, products, 50000, "Products.");
ABSL_FLAG(int, factors, 64, "Factors.");
ABSL_FLAG(int, purchases, 20, "Purchased products per customer (excluded when recommending).");
ABSL_FLAG(std::string, output, "", "Model file to write.");
ABSL_FLAG(uint64_t, seed, 7, "Seed.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int nc = absl::GetFlag(FLAGS_customers), np = absl::GetFlag(FLAGS_products), k = absl::GetFlag(FLAGS_factors);
  const int per = absl::GetFlag(FLAGS_purchases);
  if (absl::GetFlag(FLAGS_output).empty() || nc < 1 || np < 1 || k < 1 || per < 0 || per > np) {
    std::fprintf(stderr, "usage: aisle_bench_make_model --output FILE [--customers N --products M --factors K --purchases P]\n");
    return 2;
  }
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(k)));
  aisle::Model m;
  m.customers.Reserve(nc);
  for (int c = 0; c < nc; ++c) m.customers.Insert(absl::StrCat("c", c));
  m.products.Reserve(np);
  for (int p = 0; p < np; ++p) m.products.Insert(absl::StrCat("p", p));
  m.user_factors.resize(nc, k);
  m.item_factors.resize(np, k);
  for (int64_t i = 0; i < m.user_factors.size(); ++i) m.user_factors.data()[i] = normal(rng) * 2;
  for (int64_t i = 0; i < m.item_factors.size(); ++i) m.item_factors.data()[i] = normal(rng) * 2;
  // Purchases: Zipf-like over products (rank r drawn with probability ~ 1/r).
  std::uniform_real_distribution<double> u(0, 1);
  m.purchased.rows = static_cast<uint32_t>(nc);
  m.purchased.cols = static_cast<uint32_t>(np);
  m.purchased.indptr.assign(1, 0);
  m.item_popularity.assign(np, 0);
  std::vector<uint32_t> row;
  for (int c = 0; c < nc; ++c) {
    row.clear();
    while (static_cast<int>(row.size()) < per) {
      const auto p = static_cast<uint32_t>(std::min<double>(np - 1, std::floor(std::pow(np, u(rng)) - 1)));
      if (std::find(row.begin(), row.end(), p) == row.end()) row.push_back(p);
    }
    std::sort(row.begin(), row.end());
    for (uint32_t p : row) ++m.item_popularity[p];
    m.purchased.indices.insert(m.purchased.indices.end(), row.begin(), row.end());
    m.purchased.indptr.push_back(m.purchased.indices.size());
  }
  if (absl::Status s = m.SetMetadata({{"model_id", absl::StrCat("random-", nc, "x", np, "x", k)}}); !s.ok()) return 1;
  if (absl::Status s = aisle::WriteModel(m, absl::GetFlag(FLAGS_output)); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}

#include "engine/cluster_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "data/synthetic.h"
#include "tests/synthetic_log.h"

namespace aisle {
namespace {

// A model trained on planted data: 4,000 products in 40 categories with
// Zipf popularity, 3,000 customers with two favourite categories each.
const Model& Planted() {
  static const Model model = [] {
    SyntheticOptions o;
    o.customers = 3000;
    o.products = 4000;
    o.categories = 40;
    o.purchases = 60000;
    o.seed = 5;
    return ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(o)));
  }();
  return model;
}

// Every product scored: the reference answer.
std::vector<ScoredItem> Exact(const FactorMatrix& items, const float* q, size_t count,
                              absl::Span<const uint32_t> excluded, const std::function<bool(uint32_t)>& accept) {
  Eigen::VectorXf s = items * Eigen::Map<const Eigen::VectorXf>(q, items.cols());
  if (accept) {
    for (Eigen::Index p = 0; p < s.size(); ++p) {
      if (!accept(static_cast<uint32_t>(p))) s[p] = NAN;
    }
  }
  return SelectTopK(absl::MakeConstSpan(s.data(), s.size()), count, excluded);
}

// Equal lists, allowing two products with scores equal up to float rounding
// (summed in another order) to swap places.
void ExpectSame(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i].index != want[i].index) {
      EXPECT_NEAR(got[i].score, want[i].score, 1e-5f * std::max(1.0f, std::abs(want[i].score))) << what << " rank " << i;
    }
    EXPECT_NEAR(got[i].score, want[i].score, 1e-4f * std::max(1.0f, std::abs(want[i].score))) << what << " rank " << i;
  }
}

TEST(ClusterIndexTest, ExactSearchIsScoringEveryProductButScansFewer) {
  const Model& m = Planted();
  auto index = ClusterIndex::Build(m.item_factors, {});
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->size(), m.products.size());
  EXPECT_EQ(index->clusters(), static_cast<size_t>(std::lround(std::sqrt(m.products.size()))));
  size_t scanned = 0, queries = 0;
  for (uint32_t c = 0; c < m.customers.size(); c += 7) {
    const float* q = m.user_factors.row(c).data();
    for (size_t count : {1, 10, 50}) {
      ClusterIndex::SearchStats st;
      auto got = index->Search(q, count, m.purchased.RowIndices(c), {}, {.exact = true}, &st);
      ExpectSame(got, Exact(m.item_factors, q, count, m.purchased.RowIndices(c), {}),
                 "customer " + std::to_string(c) + " count " + std::to_string(count));
      if (count == 10) {
        scanned += st.scanned;
        ++queries;
      }
    }
  }
  // The bounds prune: on planted data most products are never scored.
  EXPECT_LT(scanned / queries, m.products.size() / 2) << "mean products scanned per top-10";
}

TEST(ClusterIndexTest, ApproximateSearchIsAboveItsRecallFloor) {
  const Model& m = Planted();
  auto index = ClusterIndex::Build(m.item_factors, {});
  ASSERT_TRUE(index.ok());
  double hits = 0, total = 0, scanned = 0;
  size_t queries = 0;
  for (uint32_t c = 0; c < m.customers.size(); c += 3) {
    const float* q = m.user_factors.row(c).data();
    ClusterIndex::SearchStats st;
    auto got = index->Search(q, 10, m.purchased.RowIndices(c), {}, {.exact = false, .min_scanned = 0}, &st);
    auto want = Exact(m.item_factors, q, 10, m.purchased.RowIndices(c), {});
    absl::flat_hash_set<uint32_t> g;
    for (const ScoredItem& x : got) g.insert(x.index);
    for (const ScoredItem& x : want) hits += g.contains(x.index);
    total += want.size();
    scanned += st.scanned;
    ++queries;
    EXPECT_EQ(got.size(), 10u);
  }
  // The default budget (16 clusters' worth here) keeps recall@10 at the
  // serving target of 0.98 while scanning a fraction of the catalog.
  EXPECT_GE(hits / total, 0.98) << "recall@10";
  EXPECT_LT(scanned / queries, m.products.size() / 3.0) << "mean products scanned";
  std::printf("recall@10 %.4f, %.0f of %zu products scanned\n", hits / total, scanned / queries, m.products.size());
}

// Filters (a category of 1/40 of the products, a price band) still return
// `count` products when that many pass, each passing; exact = filtered scoring.
TEST(ClusterIndexTest, FilteredSearchesReturnCountProducts) {
  const Model& m = Planted();
  auto index = ClusterIndex::Build(m.item_factors, {});
  ASSERT_TRUE(index.ok());
  std::vector<int> category(m.products.size());
  for (uint32_t p = 0; p < category.size(); ++p) category[p] = static_cast<int>(p * 2654435761u % 40);
  std::function<bool(uint32_t)> one_category = [&](uint32_t p) { return category[p] == 7; };
  std::function<bool(uint32_t)> band = [](uint32_t p) { return p % 10 < 3; };
  for (uint32_t c = 0; c < m.customers.size(); c += 31) {
    const float* q = m.user_factors.row(c).data();
    for (const auto* accept : {&one_category, &band}) {
      for (bool exact : {true, false}) {
        auto got = index->Search(q, 20, m.purchased.RowIndices(c), *accept, {.exact = exact, .min_scanned = 100});
        ASSERT_EQ(got.size(), 20u) << "customer " << c;
        for (const ScoredItem& x : got) EXPECT_TRUE((*accept)(x.index));
        if (exact) ExpectSame(got, Exact(m.item_factors, q, 20, m.purchased.RowIndices(c), *accept), "filtered");
      }
    }
    // A filter nothing passes: nothing, after looking everywhere.
    ClusterIndex::SearchStats st;
    EXPECT_TRUE(index->Search(q, 5, {}, [](uint32_t) { return false; }, {}, &st).empty());
    EXPECT_EQ(st.scanned, m.products.size());
  }
}

TEST(ClusterIndexTest, TinyCatalogsAndCancellation) {
  FactorMatrix none(0, 4);
  auto empty = ClusterIndex::Build(none, {});
  ASSERT_TRUE(empty.ok());
  const float q[4] = {1, 0, 0, 0};
  EXPECT_TRUE(empty->Search(q, 3, {}, {}, {}).empty());
  FactorMatrix three(3, 4);
  three << 1, 0, 0, 0, 0.5, 0, 0, 0, -1, 0, 0, 0;
  auto small = ClusterIndex::Build(three, {.clusters = 8});
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->clusters(), 3u);
  const uint32_t skip[1] = {0};
  auto got = small->Search(q, 10, skip, {}, {.exact = true});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].index, 1u);
  EXPECT_EQ(got[1].index, 2u);
  std::atomic<bool> cancel{true};
  EXPECT_EQ(ClusterIndex::Build(Planted().item_factors, {}, &cancel).status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace aisle

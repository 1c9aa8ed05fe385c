#include "evaluation/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace aisle {
namespace {

// A model with 1 factor: customer factor 1, product p's factor = its score,
// so the ranking is fixed by `scores`.
Model MakeModel(const std::vector<float>& scores, const std::vector<std::vector<uint32_t>>& bought) {
  Model m;
  for (size_t c = 0; c < bought.size(); ++c) m.customers.Insert("c" + std::to_string(c));
  for (size_t p = 0; p < scores.size(); ++p) m.products.Insert("p" + std::to_string(p));
  m.user_factors = FactorMatrix::Ones(bought.size(), 1);
  m.item_factors.resize(scores.size(), 1);
  for (size_t p = 0; p < scores.size(); ++p) m.item_factors(p, 0) = scores[p];
  std::vector<Triplet> t;
  for (size_t c = 0; c < bought.size(); ++c)
    for (uint32_t p : bought[c]) t.push_back({static_cast<uint32_t>(c), p, 1});
  m.purchased = BuildCsr(bought.size(), scores.size(), t);
  m.purchased.values.clear();
  m.item_popularity.assign(scores.size(), 1.0f);
  return m;
}

EventLog MakeTest(std::initializer_list<std::tuple<const char*, const char*, float, float, EventType>> rows) {
  EventLog log;
  for (auto [c, p, q, price, type] : rows) {
    log.events.push_back({log.customers.Insert(c), log.products.Insert(p), 0, q, price, type, Channel::kWeb, kNoCountry});
  }
  return log;
}

double Mean(const EvaluationResult& r, const std::string& name) { return r.means.at(name); }

TEST(EvaluationTest, HandComputedMetrics) {
  // Ranking by score: p0 p1 p2 p3 p4 p5 (p0 best). Customer c0 bought p1 in
  // training (excluded), so its list is p0 p2 p3 p4 p5. Relevant: p2 and p4.
  Model m = MakeModel({6, 5, 4, 3, 2, 1}, {{1}});
  EventLog test = MakeTest({{"c0", "p2", 1, 10.0f, EventType::kPurchase},
                            {"c0", "p4", 2, 5.0f, EventType::kPurchase},
                            {"c0", "p1", 1, 7.0f, EventType::kPurchase}});  // bought before: not relevant
  TestSet ts = BuildTestSet(m, test, true, Segmentation::kNone);
  ASSERT_EQ(ts.customers.size(), 1u);
  EXPECT_EQ(ts.customers[0].relevant, (std::vector<uint32_t>{2, 4}));
  EvaluationOptions o;
  o.ks = {1, 2, 4};
  EvaluationResult r = Evaluate(m, *MakeModelScorer(m), ts, o);
  // List: p0 (miss) p2 (hit, rank 2) p3 (miss) p4 (hit, rank 4).
  EXPECT_DOUBLE_EQ(Mean(r, "hr@1"), 0);
  EXPECT_DOUBLE_EQ(Mean(r, "hr@2"), 1);
  EXPECT_DOUBLE_EQ(Mean(r, "precision@2"), 0.5);
  EXPECT_DOUBLE_EQ(Mean(r, "precision@4"), 0.5);
  EXPECT_DOUBLE_EQ(Mean(r, "recall@2"), 0.5);
  EXPECT_DOUBLE_EQ(Mean(r, "recall@4"), 1.0);
  EXPECT_NEAR(Mean(r, "ndcg@2"), (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0)), 1e-6);
  EXPECT_NEAR(Mean(r, "ndcg@4"), (1 / std::log2(3.0) + 1 / std::log2(5.0)) / (1 + 1 / std::log2(3.0)), 1e-6);
  EXPECT_NEAR(Mean(r, "map@4"), (1.0 / 2 + 2.0 / 4) / 2, 1e-6);
  EXPECT_NEAR(Mean(r, "map@2"), (1.0 / 2) / 2, 1e-6);
  EXPECT_NEAR(Mean(r, "mrr@4"), 0.5, 1e-6);
  EXPECT_NEAR(Mean(r, "revenue@2"), 10.0, 1e-4);
  EXPECT_NEAR(Mean(r, "revenue@4"), 20.0, 1e-4);
  // Coverage: one list; at k = 4 it shows 4 of 6 products.
  EXPECT_NEAR(Mean(r, "coverage@4"), 4.0 / 6, 1e-9);
  // Novelty: popularity 1 everywhere, 1 customer: -log2(1/1) = 0.
  EXPECT_NEAR(Mean(r, "novelty@4"), 0.0, 1e-9);
}

TEST(EvaluationTest, IncludeTrainRanksAndCountsRepurchases) {
  Model m = MakeModel({6, 5, 4}, {{0}});
  EventLog test = MakeTest({{"c0", "p0", 1, NAN, EventType::kPurchase}});
  TestSet excluded = BuildTestSet(m, test, true, Segmentation::kNone);
  EXPECT_TRUE(excluded.customers.empty());
  EXPECT_EQ(excluded.no_relevant, 1u);
  TestSet included = BuildTestSet(m, test, false, Segmentation::kNone);
  ASSERT_EQ(included.customers.size(), 1u);
  EvaluationOptions o;
  o.ks = {1};
  o.exclude_train = false;
  EXPECT_DOUBLE_EQ(Evaluate(m, *MakeModelScorer(m), included, o).means.at("hr@1"), 1.0);
}

TEST(EvaluationTest, ReturnsUnknownsAndSegments) {
  Model m = MakeModel({3, 2, 1}, {{}, {}});
  EventLog test;
  auto add = [&](const char* c, const char* p, float q, EventType t, const char* country) {
    uint16_t co = static_cast<uint16_t>(test.countries.Insert(country));
    test.events.push_back({test.customers.Insert(c), test.products.Insert(p), 0, q, NAN, t, Channel::kUnknown, co});
  };
  add("c0", "p1", 2, EventType::kPurchase, "FR");
  add("c0", "p1", 2, EventType::kReturn, "FR");   // fully returned: not relevant
  add("c0", "p2", 1, EventType::kPurchase, "FR");
  add("c0", "pNEW", 1, EventType::kPurchase, "DE");  // unknown product: counted, never hit
  add("c1", "p0", 1, EventType::kView, "DE");       // views are not purchases
  add("stranger", "p0", 1, EventType::kPurchase, "DE");
  TestSet ts = BuildTestSet(m, test, true, Segmentation::kCountry);
  EXPECT_EQ(ts.unknown_customers, 1u);
  ASSERT_EQ(ts.customers.size(), 1u);
  EXPECT_EQ(ts.customers[0].relevant, (std::vector<uint32_t>{2}));
  EXPECT_EQ(ts.customers[0].unknown_relevant, 1u);
  EXPECT_EQ(ts.customers[0].segment, "FR");
  EXPECT_FALSE(ts.has_prices);
  EvaluationOptions o;
  o.ks = {3};
  EvaluationResult r = Evaluate(m, *MakeModelScorer(m), ts, o);
  EXPECT_DOUBLE_EQ(r.means.at("recall@3"), 0.5);  // 1 of 2 relevant, one of them unknown
}

TEST(EvaluationTest, BaselinesAndParsing) {
  Model m = MakeModel({1, 2, 3}, {{}});
  m.item_popularity = {10, 5, 1};
  EventLog test = MakeTest({{"c0", "p0", 1, NAN, EventType::kPurchase}});
  TestSet ts = BuildTestSet(m, test, true, Segmentation::kNone);
  EvaluationOptions o;
  o.ks = {1};
  EXPECT_DOUBLE_EQ(Evaluate(m, *MakePopularityScorer(m), ts, o).means.at("hr@1"), 1.0);
  EXPECT_DOUBLE_EQ(Evaluate(m, *MakeModelScorer(m), ts, o).means.at("hr@1"), 0.0);
  EXPECT_EQ(*ParseKs("20, 5,10,5"), (std::vector<int>{5, 10, 20}));
  EXPECT_FALSE(ParseKs("0").ok());
  EXPECT_FALSE(ParseKs("ten").ok());
  EXPECT_EQ(ParseMetric("ndcg@10")->second, 10);
  EXPECT_FALSE(ParseMetric("auc@10").ok());
  EXPECT_FALSE(ParseMetric("ndcg").ok());
}

}  // namespace
}  // namespace aisle

// The item-item models (item_knn, ease): EASE's weights are the closed form
// (each product's ridge regression on the others, solved directly here),
// both find planted co-purchases, the ease restriction to the most bought
// products keeps the others out, and the recommender serves such a model
// end to end: answers, a live purchase changing the next answer at once,
// baskets, explanations, similar products, ranking, offers' scores, and the
// model file (zero factors, weights read and mapped; a model claiming an
// algorithm its sections do not match is refused).
#include "training/item_item_trainer.h"

#include <gtest/gtest.h>

#include <random>

#include <Eigen/Dense>

#include "engine/model_io.h"
#include "events/event_log.h"
#include "training/train_job.h"
#include "engine/product_scorer.h"
#include "engine/recommender.h"
#include "tests/planted_pairs.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

constexpr uint32_t kPairs = 10;     // products 2p and 2p + 1 are bought together
constexpr uint32_t kProducts = 40;  // the rest (20..39) are noise

CsrMatrix PlantedPurchases(uint32_t customers, uint32_t seed) {
  return aisle::testing::PlantedPairs(customers, kProducts, kPairs, /*pairs_each=*/1, /*noise_each=*/3, seed);
}

std::vector<float> Popularity(const CsrMatrix& bought) {
  std::vector<float> pop(bought.cols, 0);
  for (uint32_t p : bought.indices) pop[p] += 1;
  return pop;
}

// A served model of `algorithm` over `bought`: customers c0.., products p0...
Model ItemItemModel(Algorithm algorithm, const CsrMatrix& bought) {
  Model m;
  for (uint32_t c = 0; c < bought.rows; ++c) m.customers.Insert("c" + std::to_string(c));
  for (uint32_t p = 0; p < bought.cols; ++p) m.products.Insert("p" + std::to_string(p));
  m.user_factors.resize(bought.rows, 0);
  m.item_factors.resize(bought.cols, 0);
  m.purchased = bought;
  m.item_popularity = Popularity(bought);
  ItemItemOptions o;
  o.knn.k = 10;
  auto trained = TrainItemItem(algorithm, bought, m.item_popularity, o);
  EXPECT_TRUE(trained.ok()) << trained.status();
  m.item_weights = std::move(trained->weights);
  EXPECT_TRUE(m.SetMetadata({{"model_id", "planted"}, {"algorithm", AlgorithmName(algorithm)}}).ok());
  return m;
}

TEST(Ease, WeightsAreEachProductsRidgeRegressionOnTheOthers) {
  const CsrMatrix bought = PlantedPurchases(60, 3);
  EaseOptions o;
  o.lambda = 5;
  o.k = kProducts;  // every weight kept
  auto trained = TrainEase(bought, Popularity(bought), o);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const ItemItemResult& r = *trained;
  ASSERT_TRUE(r.weights.Validate(kProducts, /*signed_values=*/true).ok());
  EXPECT_EQ(r.weighted_products, kProducts);
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(bought.rows, kProducts);
  for (uint32_t c = 0; c < bought.rows; ++c) {
    for (uint32_t p : bought.RowIndices(c)) x(c, p) = 1;
  }
  // Column j of B: argmin |x_j - X_{-j} b|^2 + lambda |b|^2, solved directly.
  bool any_negative = false;
  for (uint32_t j : {0u, 1u, 7u, 25u}) {
    Eigen::MatrixXd others(x.rows(), kProducts - 1);
    std::vector<uint32_t> index;
    for (uint32_t i = 0, col = 0; i < kProducts; ++i) {
      if (i == j) continue;
      others.col(col++) = x.col(i);
      index.push_back(i);
    }
    Eigen::MatrixXd a = others.transpose() * others;
    a.diagonal().array() += o.lambda;
    const Eigen::VectorXd b = a.ldlt().solve(others.transpose() * x.col(j));
    for (size_t i = 0; i < index.size(); ++i) {
      EXPECT_NEAR(r.weights.Similarity(index[i], j), b[i], 1e-4) << index[i] << " -> " << j;
      any_negative |= b[i] < -1e-3;
    }
    EXPECT_EQ(r.weights.Similarity(j, j), 0.0f);
  }
  EXPECT_TRUE(any_negative);  // the weights are signed, and kept so
}

TEST(ItemItem, BothAlgorithmsFindPlantedCoPurchases) {
  const CsrMatrix bought = PlantedPurchases(400, 1);
  for (Algorithm a : {Algorithm::kItemKnn, Algorithm::kEase}) {
    SCOPED_TRACE(AlgorithmName(a));
    auto r = TrainItemItem(a, bought, Popularity(bought), ItemItemOptions());
    ASSERT_TRUE(r.ok()) << r.status();
    for (uint32_t p = 0; p < kPairs; ++p) {
      for (auto [from, to] : {std::pair{2 * p, 2 * p + 1}, std::pair{2 * p + 1, 2 * p}}) {
        const float partner = r->weights.Similarity(from, to);
        const CsrMatrix& w = r->weights.similar;
        for (uint64_t e = w.indptr[from]; e < w.indptr[from + 1]; ++e) {
          if (w.indices[e] != to) {
            EXPECT_LT(w.values[e], partner / 2) << from << " -> " << w.indices[e];
          }
        }
      }
    }
  }
  EXPECT_FALSE(TrainItemItem(Algorithm::kIals, bought, Popularity(bought), ItemItemOptions()).ok());
}

TEST(Ease, RestrictedToTheMostBoughtProducts) {
  const CsrMatrix bought = PlantedPurchases(300, 4);
  const std::vector<float> pop = Popularity(bought);
  EaseOptions o;
  o.max_products = 8;
  auto trained = TrainEase(bought, pop, o);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const ItemItemResult& r = *trained;
  EXPECT_EQ(r.weighted_products, 8u);
  std::vector<float> sorted = pop;
  std::sort(sorted.rbegin(), sorted.rend());
  const float cut = sorted[7];
  for (uint32_t p = 0; p < kProducts; ++p) {
    const auto row = r.weights.similar.RowIndices(p);
    if (pop[p] < cut) {
      EXPECT_TRUE(row.empty()) << p;
    }
    for (uint32_t t : row) EXPECT_GE(pop[t], cut) << p << " -> " << t;
  }
  ItemItemOptions bad;
  bad.ease.max_products = 60000;
  EXPECT_FALSE(bad.Validate().ok());
  bad = ItemItemOptions();
  bad.ease.lambda = 0;
  EXPECT_FALSE(bad.Validate().ok());
}

class ItemItemServing : public ::testing::TestWithParam<Algorithm> {};

TEST_P(ItemItemServing, AnswersFromTheCustomersProductsAndLiveEvents) {
  const CsrMatrix bought = PlantedPurchases(400, 5);
  auto model = std::make_shared<const Model>(ItemItemModel(GetParam(), bought));
  ASSERT_TRUE(model->Validate().ok()) << model->Validate();
  Recommender::Options ro;
  ro.top_list_length = 20;
  auto rec = Recommender::Create(model, nullptr, ro);
  ASSERT_TRUE(rec.ok()) << rec.status();
  // A basket with one product of pair 3: its partner first, explained by it.
  RecommendOptions o;
  o.count = 5;
  o.explain = true;
  const std::vector<std::string> one = {"p6"};
  auto basket = (*rec)->ForBasket(one, {}, o);
  ASSERT_TRUE(basket.ok()) << basket.status();
  ASSERT_FALSE(basket->fallback);
  ASSERT_FALSE(basket->items.empty());
  EXPECT_EQ(basket->items[0].product, 7u);
  ASSERT_EQ(basket->items[0].because.size(), 1u);
  EXPECT_EQ(basket->items[0].because[0].product, 6u);
  for (const Recommendation& r : basket->items) EXPECT_NE(r.product, 6u);  // the basket excluded

  // A known customer: their purchases excluded, scores descending.
  auto known = (*rec)->Recommend("c0", o);
  ASSERT_TRUE(known.ok()) << known.status();
  EXPECT_EQ(known->source, AnswerSource::kScored);
  for (size_t j = 0; j < known->result.items.size(); ++j) {
    EXPECT_FALSE(std::binary_search(bought.RowIndices(0).begin(), bought.RowIndices(0).end(),
                                    known->result.items[j].product));
    if (j > 0) {
      EXPECT_LE(known->result.items[j].score, known->result.items[j - 1].score);
    }
  }
  // Answered again from the cached list, the same.
  auto again = (*rec)->Recommend("c0", o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->source, AnswerSource::kTopList);
  ASSERT_EQ(again->result.items.size(), known->result.items.size());
  for (size_t j = 0; j < known->result.items.size(); ++j) {
    EXPECT_EQ(again->result.items[j].product, known->result.items[j].product);
  }

  // A live purchase of one product of a pair the customer never touched:
  // the partner comes first in the very next answer.
  uint32_t pair = 0;
  for (; pair < kPairs; ++pair) {
    auto row = bought.RowIndices(0);
    if (!std::binary_search(row.begin(), row.end(), 2 * pair)) break;
  }
  ASSERT_LT(pair, kPairs);
  LiveProfile live;
  live.products = {2 * pair};
  live.weights = {1};
  live.purchased = {2 * pair};
  live.events = 1;
  auto changed = (*rec)->Recommend("c0", o, &live);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->source, AnswerSource::kLive);
  EXPECT_EQ(changed->result.live_events, 1u);
  ASSERT_FALSE(changed->result.items.empty());
  EXPECT_EQ(changed->result.items[0].product, 2 * pair + 1);
  // The batch entry gives the same answers.
  std::vector<CustomerRequest> reqs(2);
  reqs[0].customer_id = "c0";
  reqs[0].options = o;
  reqs[1].customer_id = "c0";
  reqs[1].options = o;
  reqs[1].live = std::make_shared<LiveProfile>(live);
  auto batch = (*rec)->RecommendBatch(reqs);
  ASSERT_TRUE(batch[0].ok() && batch[1].ok());
  EXPECT_EQ(batch[0]->result.items[0].product, known->result.items[0].product);
  EXPECT_EQ(batch[1]->result.items[0].product, 2 * pair + 1);

  // Similar products: the partner first; ranking: the partner ahead of noise.
  auto similar = (*rec)->Similar("p9", 3);
  ASSERT_TRUE(similar.ok());
  ASSERT_FALSE(similar->empty());
  EXPECT_EQ((*similar)[0].product, 8u);
  bool fallback = true;
  const std::vector<std::string> ids = {"p30", "unknown", "p" + std::to_string(2 * pair + 1)};
  auto ranked = (*rec)->Rank("c0", ids, &fallback, &live);
  ASSERT_TRUE(ranked.ok());
  EXPECT_FALSE(fallback);
  EXPECT_EQ((*ranked)[0].product_id, "p" + std::to_string(2 * pair + 1));
  EXPECT_TRUE(std::isnan(ranked->back().score));  // the unknown id last
  // Every product's score, as offers read them: what ProductScorer gives.
  std::vector<uint32_t> purchased;
  auto scores = (*rec)->ScoresFor(0, nullptr, &purchased);
  ASSERT_TRUE(scores.has_value());
  std::vector<float> direct(kProducts);
  ProductScorer(*model).Customer(0, direct.data());
  EXPECT_EQ(*scores, direct);
  EXPECT_EQ(purchased, std::vector<uint32_t>(bought.RowIndices(0).begin(), bought.RowIndices(0).end()));
  // An unknown customer: popularity.
  auto unknown = (*rec)->Recommend("nobody", o);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->result.fallback);
}

TEST_P(ItemItemServing, ModelFileKeepsTheAlgorithmAndWeights) {
  aisle::testing::TempDir dir;
  const Model m = ItemItemModel(GetParam(), PlantedPurchases(100, 6));
  const std::string path = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(m, path).ok());
  for (bool mapped : {false, true}) {
    auto read = mapped ? MapModel(path) : ReadModel(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->algorithm, GetParam());
    EXPECT_EQ(read->num_factors(), 0u);
    EXPECT_EQ(read->item_weights.similar.indptr, m.item_weights.similar.indptr);
    EXPECT_EQ(read->item_weights.similar.indices, m.item_weights.similar.indices);
    EXPECT_EQ(read->item_weights.similar.values, m.item_weights.similar.values);
  }
  // The same sections claiming to be iALS: no factors, refused.
  Model lying = m;
  ASSERT_TRUE(lying.SetMetadata({{"algorithm", "ials"}}).ok());
  EXPECT_FALSE(lying.Validate().ok());
  // An item-item model without its weights, or with a weight out of range.
  Model empty = m;
  empty.item_weights = {};
  EXPECT_FALSE(empty.Validate().ok());
  Model out_of_range = m;
  ASSERT_FALSE(out_of_range.item_weights.similar.indices.empty());
  out_of_range.item_weights.similar.indices.back() = kProducts;
  EXPECT_FALSE(out_of_range.Validate().ok());
  Model nan = m;
  nan.item_weights.similar.values[0] = NAN;
  EXPECT_FALSE(nan.Validate().ok());
  Model unknown = m;
  EXPECT_FALSE(unknown.SetMetadata({{"algorithm", "svd"}}).ok());
  EXPECT_FALSE(unknown.SetMetadata({{"algorithm", 3}}).ok());
}

// Pairs: "teachers" buy both products of a pair on one day; "learners" buy
// one product of a pair and a noise product, then its partner days later
// (their held-out basket). 120 pairs are more than 4 factors can tell
// apart, and exactly what an item-item model holds.
EventLog PlantedPairLog(uint32_t seed) {
  std::mt19937 rng(seed);
  constexpr uint32_t kPairCount = 120, kNoise = 40;
  EventLog log;
  for (uint32_t p = 0; p < 2 * kPairCount + kNoise; ++p) log.products.Insert("p" + std::to_string(p));
  constexpr int64_t kDay = 86400, kStart = 1700000000;
  auto buy = [&](uint32_t c, uint32_t p, int64_t t) {
    log.events.push_back({c, p, PackedSeconds(t), 1.0f, NAN, EventType::kPurchase, Channel::kUnknown, kNoCountry});
  };
  for (uint32_t c = 0; c < 1200; ++c) {
    log.customers.Insert("c" + std::to_string(c));
    const uint32_t pair = static_cast<uint32_t>(rng() % kPairCount);
    const uint32_t noise = 2 * kPairCount + static_cast<uint32_t>(rng() % kNoise);
    if (c % 2 == 0) {
      buy(c, 2 * pair, kStart + kDay * (c % 20));
      buy(c, 2 * pair + 1, kStart + kDay * (c % 20));
      buy(c, noise, kStart + kDay * (c % 20));
    } else {
      const uint32_t first = static_cast<uint32_t>(rng() % 2);
      buy(c, 2 * pair + first, kStart);
      buy(c, noise, kStart);
      buy(c, 2 * pair + 1 - first, kStart + 30 * kDay);  // the partner, later
    }
  }
  return log;
}

TEST(AutoAlgorithm, PicksWhatThePlantedDataFavours) {
  const EventLog log = PlantedPairLog(9);
  LoadStats stats;
  TrainJobOptions o;
  o.auto_algorithm = true;
  o.ials.factors = 4;
  o.ials.iterations = 6;
  // Each model's own ranking (buy-again's neighbourhood features would find
  // the partners whatever the model).
  o.buy_again = false;
  o.log = nullptr;
  auto r = TrainOnLog(log, stats, o);
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json& report = r->model.metadata["auto"];
  ASSERT_TRUE(report.is_object()) << r->model.metadata.dump();
  EXPECT_NE(r->model.algorithm, Algorithm::kIals) << report.dump(1);
  EXPECT_EQ(report["candidates"][report["chosen"].get<size_t>()]["algorithm"], AlgorithmName(r->model.algorithm));
  // Every candidate's figures are there, and the item-item ones clearly ahead.
  double ials = 0, item_item = 0;
  for (const auto& c : report["candidates"]) {
    ASSERT_TRUE(c.contains("ndcg@10")) << c.dump();
    double& best = c["algorithm"] == "ials" ? ials : item_item;
    best = std::max(best, c["ndcg@10"].get<double>());
  }
  EXPECT_GT(item_item, ials + 0.1) << report.dump(1);
  EXPECT_TRUE(r->model.Validate().ok());
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ItemItemServing, ::testing::Values(Algorithm::kItemKnn, Algorithm::kEase),
                         [](const auto& info) { return std::string(AlgorithmName(info.param)); });

}  // namespace
}  // namespace aisle

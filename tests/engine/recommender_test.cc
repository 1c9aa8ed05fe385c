#include "engine/recommender.h"

#include <gtest/gtest.h>

#include <thread>

#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "tests/synthetic_log.h"
#include "training/ials_trainer.h"
#include "training/train_job.h"
#include "training/weighting.h"

namespace aisle {
namespace {

// A small trained model on planted data, shared by the tests.
std::shared_ptr<const Model> TrainedModel() {
  static std::shared_ptr<const Model> model = [] {
    SyntheticOptions o;
    o.customers = 500;
    o.products = 120;
    o.categories = 6;
    o.purchases = 8000;
    o.seed = 9;
    EventLog log = ::aisle::testing::ToEventLog(GenerateSynthetic(o));
    auto m = std::make_shared<Model>(::aisle::testing::TrainSmallModel(log));
    EXPECT_TRUE(m->SetMetadata(nlohmann::json({{"model_id", "test-model"},
                   {"hyperparameters", {{"alpha", 1.0}, {"unobserved_weight", 1.0}, {"regularization", 0.5},
                                        {"regularization_exponent", 0.0}}}})).ok());
    return m;
  }();
  return model;
}

// Catalog: products p0..p119, category "cat<p % 3>", price p, odd ids out of stock.
std::shared_ptr<const Catalog> MakeCatalog() {
  std::string csv = "product_id,name,category,price,in_stock\n";
  for (int p = 0; p < 120; ++p) {
    csv += "p" + std::to_string(p) + ",Product " + std::to_string(p) + ",cat" + std::to_string(p % 3) + "," +
           std::to_string(p) + "," + (p % 2 ? "false" : "true") + "\n";
  }
  auto c = Catalog::ParseCsv(csv, "catalog.csv");
  EXPECT_TRUE(c.ok()) << c.status();
  return std::make_shared<Catalog>(std::move(*c));
}

std::shared_ptr<const Recommender> Make(bool with_catalog = true) {
  auto r = Recommender::Create(TrainedModel(), with_catalog ? MakeCatalog() : nullptr);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

int Num(const Recommender& r, uint32_t p) { return std::stoi(r.model().products.id(p).substr(1)); }

// By value: a range-for over a member of a temporary StatusOr would dangle.
std::vector<Recommendation> Items(const Recommender& r, const std::string& cid, const RecommendOptions& o) {
  auto res = r.ForCustomer(cid, o);
  EXPECT_TRUE(res.ok()) << res.status();
  return res.ok() ? res->items : std::vector<Recommendation>();
}

TEST(RecommenderTest, ExcludesPurchasesAndMatchesFullScoring) {
  auto r = Make();
  const Model& m = r->model();
  const std::string cid = m.customers.id(0);
  auto res = r->ForCustomer(cid, RecommendOptions());
  ASSERT_TRUE(res.ok());
  EXPECT_FALSE(res->fallback);
  ASSERT_EQ(res->items.size(), 10u);
  auto bought = m.purchased.RowIndices(0);
  std::set<uint32_t> bought_set(bought.begin(), bought.end());
  Eigen::VectorXf scores = m.item_factors * m.user_factors.row(0).transpose();
  float prev = INFINITY;
  for (const Recommendation& x : res->items) {
    EXPECT_FALSE(bought_set.count(x.product));
    EXPECT_NEAR(x.score, scores[x.product], 1e-5);
    EXPECT_LE(x.score, prev);
    prev = x.score;
  }
  // Nothing better was skipped: every other unbought product scores lower.
  for (uint32_t p = 0; p < m.products.size(); ++p) {
    if (bought_set.count(p)) continue;
    bool listed = false;
    for (const auto& x : res->items) listed |= x.product == p;
    if (!listed) {
      EXPECT_LE(scores[p], res->items.back().score);
    }
  }
  RecommendOptions keep;
  keep.exclude_purchased = false;
  keep.count = static_cast<size_t>(m.products.size());
  auto all = r->ForCustomer(cid, keep);
  EXPECT_EQ(all->items.size(), m.products.size());
}

TEST(RecommenderTest, Filters) {
  auto r = Make();
  const std::string cid = r->model().customers.id(3);
  RecommendOptions o;
  o.count = 200;
  o.categories = {"cat1"};
  for (const auto& x : Items(*r, cid, o)) EXPECT_EQ(Num(*r, x.product) % 3, 1);
  o = RecommendOptions();
  o.count = 200;
  o.exclude_categories = {"cat0", "cat2"};
  auto only1 = Items(*r, cid, o);
  EXPECT_FALSE(only1.empty());
  for (const auto& x : only1) EXPECT_EQ(Num(*r, x.product) % 3, 1);
  o = RecommendOptions();
  o.count = 200;
  o.min_price = 10;
  o.max_price = 20;
  for (const auto& x : Items(*r, cid, o)) {
    EXPECT_GE(Num(*r, x.product), 10);
    EXPECT_LE(Num(*r, x.product), 20);
  }
  o = RecommendOptions();
  o.count = 200;
  o.in_stock_only = true;
  for (const auto& x : Items(*r, cid, o)) EXPECT_EQ(Num(*r, x.product) % 2, 0);
  o = RecommendOptions();
  auto top = Items(*r, cid, o);
  o.exclude = {r->model().products.id(top[0].product), "no-such-product"};
  auto without = Items(*r, cid, o);
  EXPECT_EQ(without[0].product, top[1].product);
  o = RecommendOptions();
  o.categories = {"no-such-category"};
  EXPECT_TRUE(Items(*r, cid, o).empty());
  o = RecommendOptions();
  o.min_price = 5;
  o.max_price = 1;
  EXPECT_EQ(r->ForCustomer(cid, o).status().code(), absl::StatusCode::kInvalidArgument);
  o = RecommendOptions();
  o.count = 0;
  EXPECT_EQ(r->ForCustomer(cid, o).status().code(), absl::StatusCode::kInvalidArgument);
  // Without a catalog: price filters exclude everything, stock filters nothing.
  auto bare = Make(false);
  o = RecommendOptions();
  o.in_stock_only = true;
  EXPECT_EQ(Items(*bare, cid, o).size(), 10u);
  o.min_price = 1;
  EXPECT_TRUE(Items(*bare, cid, o).empty());
}

TEST(RecommenderTest, UnknownCustomerGetsFlaggedPopularity) {
  auto r = Make();
  auto res = r->ForCustomer("nobody", RecommendOptions());
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->fallback);
  ASSERT_EQ(res->items.size(), 10u);
  const auto& pop = r->model().item_popularity;
  for (size_t i = 1; i < res->items.size(); ++i) {
    EXPECT_GE(pop[res->items[i - 1].product], pop[res->items[i].product]);
  }
  EXPECT_EQ(res->items[0].score, *std::max_element(pop.begin(), pop.end()));
}

TEST(RecommenderTest, FoldInOfOwnHistoryGivesNearlyTheTrainedTopK) {
  auto r = Make(false);
  const Model& m = r->model();
  double overlap = 0;
  const int customers = 50;
  for (uint32_t c = 0; c < customers; ++c) {
    std::vector<std::string> basket;
    for (uint32_t p : m.purchased.RowIndices(c)) basket.push_back(m.products.id(p));
    auto trained = r->ForCustomer(m.customers.id(c), RecommendOptions());
    auto folded = r->ForBasket(basket, {}, RecommendOptions());
    ASSERT_TRUE(folded.ok());
    EXPECT_FALSE(folded->fallback);
    std::set<uint32_t> a, b;
    for (const auto& x : trained->items) a.insert(x.product);
    for (const auto& x : folded->items) b.insert(x.product);
    int common = 0;
    for (uint32_t p : a) common += b.count(p);
    overlap += common / 10.0;
  }
  EXPECT_GT(overlap / customers, 0.8);
  // Unknown products only: popularity.
  std::vector<std::string> junk = {"x", "y"};
  EXPECT_TRUE(r->ForBasket(junk, {}, RecommendOptions())->fallback);
  std::vector<float> bad_w = {1};
  EXPECT_FALSE(r->ForBasket(junk, bad_w, RecommendOptions()).ok());
}

TEST(RecommenderTest, ExplanationsNameBoughtProductsAndAddUpToTheScore) {
  auto r = Make(false);
  const Model& m = r->model();
  std::vector<std::string> basket;
  std::set<uint32_t> in_basket;
  for (uint32_t p : m.purchased.RowIndices(7)) {
    basket.push_back(m.products.id(p));
    in_basket.insert(p);
  }
  RecommendOptions o;
  o.explain = true;
  o.explain_count = 1000;
  auto res = r->ForBasket(basket, {}, o);
  ASSERT_TRUE(res.ok());
  for (const auto& x : res->items) {
    ASSERT_EQ(x.because.size(), in_basket.size());
    float sum = 0;
    for (size_t i = 0; i < x.because.size(); ++i) {
      EXPECT_TRUE(in_basket.count(x.because[i].product));
      if (i > 0) {
        EXPECT_GE(x.because[i - 1].weight, x.because[i].weight);
      }
      sum += x.because[i].weight;
    }
    // For a fold-in the explanation is exact: contributions sum to the score.
    EXPECT_NEAR(sum, x.score, 1e-3 * (1 + std::abs(x.score)));
  }
  o.explain_count = 2;
  auto known = r->ForCustomer(m.customers.id(7), o);
  for (const auto& x : known->items) {
    EXPECT_EQ(x.because.size(), 2u);
    for (const auto& c : x.because) EXPECT_TRUE(in_basket.count(c.product));
  }
}

TEST(RecommenderTest, SimilarAndRank) {
  auto r = Make(false);
  const Model& m = r->model();
  auto sim = r->Similar(m.products.id(5), 5);
  ASSERT_TRUE(sim.ok());
  ASSERT_EQ(sim->size(), 5u);
  const Eigen::VectorXf y5 = m.item_factors.row(5).normalized();
  for (const auto& x : *sim) {
    EXPECT_NE(x.product, 5u);
    EXPECT_NEAR(x.score, y5.dot(m.item_factors.row(x.product).normalized()), 1e-4);
    EXPECT_LE(x.score, 1.0001f);
  }
  EXPECT_EQ(r->Similar("nope", 5).status().code(), absl::StatusCode::kNotFound);

  const std::string cid = m.customers.id(2);
  std::vector<std::string> cands = {m.products.id(1), "unknown-a", m.products.id(2), m.products.id(3), "unknown-b"};
  bool fallback = true;
  auto ranked = r->Rank(cid, cands, &fallback);
  ASSERT_TRUE(ranked.ok());
  EXPECT_FALSE(fallback);
  ASSERT_EQ(ranked->size(), 5u);
  EXPECT_GE((*ranked)[0].score, (*ranked)[1].score);
  EXPECT_GE((*ranked)[1].score, (*ranked)[2].score);
  EXPECT_EQ((*ranked)[3].product_id, "unknown-a");
  EXPECT_EQ((*ranked)[4].product_id, "unknown-b");
  ASSERT_TRUE(r->Rank("stranger", cands, &fallback).ok());
  EXPECT_TRUE(fallback);
}

TEST(CatalogTest, CsvAndJsonLines) {
  auto csv = Catalog::ParseCsv("product_id,price,name,in_stock\nA,1.5,\"Lamp, red\",no\nB,,Cup,\n", "c.csv");
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->size(), 2u);
  EXPECT_EQ(csv->Find("A")->name, "Lamp, red");
  EXPECT_FALSE(csv->Find("A")->in_stock);
  EXPECT_TRUE(std::isnan(csv->Find("B")->price));
  EXPECT_TRUE(csv->Find("B")->in_stock);
  EXPECT_EQ(csv->Find("C"), nullptr);
  auto jl = Catalog::ParseJsonLines(
      "{\"product_id\": \"A\", \"category\": \"home\", \"price\": 2, \"in_stock\": false}\n\n{\"product_id\": 7}\n", "c.jsonl");
  ASSERT_TRUE(jl.ok()) << jl.status();
  EXPECT_EQ(jl->Find("A")->category, "home");
  EXPECT_NE(jl->Find("7"), nullptr);
  struct Bad {
    bool json;
    const char* data;
    const char* where;
  };
  for (const Bad& b : {Bad{false, "name\nx\n", "c:1"}, Bad{false, "product_id,price\nA,-1\n", "c:2"},
                       Bad{false, "product_id\nA\nA\n", "c:3"}, Bad{false, "product_id,in_stock\nA,maybe\n", "c:2"},
                       Bad{true, "{\"product_id\": \"A\"}\nnot json\n", "c:2"},
                       Bad{true, "{\"name\": \"no id\"}\n", "c:1"},
                       Bad{true, "{\"product_id\": \"A\", \"price\": \"cheap\"}\n", "c:1"},
                       Bad{true, "{\"product_id\": \"A\", \"price\": 1e300}\n", "c:1"},
                       Bad{true, "{\"product_id\": \"A\", \"price\": 1e400}\n", "c:1"},
                       Bad{false, "product_id,price\nA,1e300\n", "c:2"},
                       Bad{true, "{\"product_id\": \"A\", \"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n", "c:1"}}) {
    auto r = b.json ? Catalog::ParseJsonLines(b.data, "c") : Catalog::ParseCsv(b.data, "c");
    ASSERT_FALSE(r.ok()) << b.data;
    EXPECT_NE(r.status().message().find(b.where), std::string::npos) << r.status();
  }
}

TEST(RecommenderTest, ReducedPrecisionBatchesGiveTheExactAnswers) {
  Recommender::Options ro;
  ro.scoring = Recommender::Scoring::kBf16;
  auto r = *Recommender::Create(TrainedModel(), MakeCatalog(), ro);
  const Model& m = r->model();
  std::vector<uint32_t> customers;
  for (uint32_t c = 0; c < 40; ++c) customers.push_back(c);
  std::vector<float> scores;
  EXPECT_TRUE(r->ScoreBatch(customers, &scores));
  for (bool filtered : {false, true}) {
    RecommendOptions o;
    o.count = 10;
    if (filtered) o.categories = {"cat1", "cat2"};
    for (size_t j = 0; j < customers.size(); ++j) {
      auto batched = r->SelectForCustomer(customers[j], scores.data() + j * r->ScoreStride(), o, true);
      auto exact = r->ForCustomer(m.customers.id(customers[j]), o);
      ASSERT_TRUE(batched.ok() && exact.ok());
      ASSERT_EQ(batched->items.size(), exact->items.size());
      for (size_t i = 0; i < exact->items.size(); ++i) {
        EXPECT_EQ(batched->items[i].product, exact->items[i].product) << "customer " << j << " rank " << i;
        EXPECT_NEAR(batched->items[i].score, exact->items[i].score, 1e-5);
      }
    }
  }
}


TEST(RecommenderTest, BatchScoringGivesTheSameAnswers) {
  auto r = Make();
  const Model& m = r->model();
  std::vector<uint32_t> customers = {0, 5, 17, 5, 42};
  std::vector<float> scores;
  r->ScoreBatch(customers, &scores);
  ASSERT_EQ(scores.size(), 5 * r->ScoreStride());
  ASSERT_GE(r->ScoreStride(), m.products.size());
  RecommendOptions o;
  o.count = 7;
  o.categories = {"cat0", "cat2"};
  for (size_t j = 0; j < customers.size(); ++j) {
    auto batched = r->SelectForCustomer(customers[j], scores.data() + j * r->ScoreStride(), o);
    auto single = r->ForCustomer(m.customers.id(customers[j]), o);
    ASSERT_TRUE(batched.ok() && single.ok());
    ASSERT_EQ(batched->items.size(), single->items.size());
    for (size_t i = 0; i < batched->items.size(); ++i) {
      EXPECT_EQ(batched->items[i].product, single->items[i].product);
      EXPECT_NEAR(batched->items[i].score, single->items[i].score, 1e-5);
    }
  }
}



// The server's batch path for unfiltered requests gives ForCustomer's
// answers, in float32 and in reduced precision, with and without
// purchases excluded and explanations.
TEST(RecommenderTest, FusedBatchSelectionGivesTheSameAnswers) {
  for (auto scoring : {Recommender::Scoring::kFloat32, Recommender::Scoring::kBf16, Recommender::Scoring::kInt8}) {
    Recommender::Options ro;
    ro.scoring = scoring;
    auto r = *Recommender::Create(TrainedModel(), MakeCatalog(), ro);
    const Model& m = r->model();
    std::vector<uint32_t> customers;
    std::vector<RecommendOptions> options;
    for (uint32_t c = 0; c < 60; ++c) {
      customers.push_back(c % 50);
      RecommendOptions o;
      o.count = 1 + c % 23;
      o.exclude_purchased = c % 5 != 0;
      o.explain = c % 7 == 0;
      options.push_back(o);
    }
    options[3].count = 0;
    auto results = r->SelectBatch(customers, options);
    ASSERT_EQ(results.size(), customers.size());
    EXPECT_FALSE(results[3].ok());
    for (size_t j = 0; j < customers.size(); ++j) {
      if (j == 3) continue;
      auto want = r->ForCustomer(m.customers.id(customers[j]), options[j]);
      ASSERT_TRUE(results[j].ok() && want.ok());
      ASSERT_EQ(results[j]->items.size(), want->items.size()) << j;
      for (size_t i = 0; i < want->items.size(); ++i) {
        EXPECT_EQ(results[j]->items[i].product, want->items[i].product) << "request " << j << " rank " << i;
        EXPECT_NEAR(results[j]->items[i].score, want->items[i].score, 1e-5);
        EXPECT_EQ(results[j]->items[i].because.size(), want->items[i].because.size());
      }
    }
  }
}


// A Recommender with precomputed top lists of `length` (and `max_bytes`).
std::shared_ptr<const Recommender> WithLists(size_t length, Recommender::Scoring scoring,
                                             size_t max_bytes = size_t{1} << 30) {
  Recommender::Options ro;
  ro.scoring = scoring;
  ro.top_list_length = length;
  ro.top_list_max_bytes = max_bytes;
  auto r = Recommender::Create(TrainedModel(), MakeCatalog(), ro);
  EXPECT_TRUE(r.ok()) << r.status();
  // Every list cached up front, as the server's background warm-up does.
  std::vector<uint32_t> customers((*r)->model().customers.size()), products((*r)->model().products.size());
  std::iota(customers.begin(), customers.end(), 0u);
  std::iota(products.begin(), products.end(), 0u);
  (*r)->WarmCustomers(customers);
  (*r)->WarmProducts(products);
  return *r;
}

void ExpectSameItems(const std::vector<Recommendation>& got, const std::vector<Recommendation>& want,
                     const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].product, want[i].product) << what << " rank " << i;
    EXPECT_NEAR(got[i].score, want[i].score, 1e-5) << what << " rank " << i;
    ASSERT_EQ(got[i].because.size(), want[i].because.size()) << what;
    for (size_t b = 0; b < want[i].because.size(); ++b) {
      EXPECT_EQ(got[i].because[b].product, want[i].because[b].product) << what;
      EXPECT_NEAR(got[i].because[b].weight, want[i].because[b].weight, 1e-4) << what;
    }
  }
}

// The one entry for customer requests: every kind of request (unknown
// customer, answered by the list, scored unfiltered, scored filtered,
// invalid) gets the same answer alone (Recommend) and in a batch
// (RecommendBatch), says how it was made, and a plain Recommender without
// lists agrees on the items.
TEST(RecommenderTest, OneEntryForCustomerRequestsAloneAndInBatches) {
  auto listed = WithLists(8, Recommender::Scoring::kBf16);
  auto plain = *Recommender::Create(TrainedModel(), MakeCatalog());
  std::vector<CustomerRequest> requests;
  std::vector<AnswerSource> want;
  for (int i = 0; i < 40; ++i) {
    CustomerRequest q;
    q.customer_id = i % 10 == 9 ? "nobody-" + std::to_string(i) : listed->model().customers.id(static_cast<uint32_t>(i));
    q.options.count = i % 4 == 0 ? 20 : 5;  // above the lists' 8: scored
    if (i % 3 == 0) q.options.categories = {"cat1"};
    if (i % 5 == 0) q.options.explain = true;
    requests.push_back(q);
  }
  requests[7].options.min_price = 9;
  requests[7].options.max_price = 1;  // invalid
  std::vector<absl::StatusOr<CustomerAnswer>> batch = listed->RecommendBatch(requests);
  ASSERT_EQ(batch.size(), requests.size());
  int sources[3] = {0, 0, 0};
  for (size_t j = 0; j < requests.size(); ++j) {
    const std::string what = "request " + std::to_string(j);
    auto alone = listed->Recommend(requests[j].customer_id, requests[j].options);
    auto reference = plain->Recommend(requests[j].customer_id, requests[j].options);
    ASSERT_EQ(alone.ok(), batch[j].ok()) << what;
    ASSERT_EQ(alone.ok(), reference.ok()) << what;
    if (!alone.ok()) {
      EXPECT_EQ(alone.status().code(), absl::StatusCode::kInvalidArgument) << what;
      EXPECT_EQ(batch[j].status().code(), absl::StatusCode::kInvalidArgument) << what;
      continue;
    }
    EXPECT_EQ(alone->source, batch[j]->source) << what;
    ++sources[static_cast<int>(alone->source)];
    const bool unknown = requests[j].customer_id.rfind("nobody", 0) == 0;
    EXPECT_EQ(alone->source == AnswerSource::kPopularity, unknown) << what;
    EXPECT_EQ(alone->result.fallback, unknown) << what;
    if (requests[j].options.count > 8 && !unknown) {
      EXPECT_EQ(alone->source, AnswerSource::kScored) << what;
    }
    ExpectSameItems(batch[j]->result.items, alone->result.items, what + " batch vs alone");
    ExpectSameItems(alone->result.items, reference->result.items, what + " lists vs none");
  }
  EXPECT_GT(sources[static_cast<int>(AnswerSource::kTopList)], 0);
  EXPECT_GT(sources[static_cast<int>(AnswerSource::kScored)], 0);
  EXPECT_GT(sources[static_cast<int>(AnswerSource::kPopularity)], 0);
}

// Requests of every kind: unfiltered, filters that keep most of a list,
// filters that keep few, counts beyond the lists, explanations.
std::vector<RecommendOptions> Requests(const Recommender& r) {
  std::vector<RecommendOptions> out;
  for (size_t count : {1, 5, 12, 13}) {
    RecommendOptions o;
    o.count = count;
    out.push_back(o);
    o.in_stock_only = true;  // half the products
    out.push_back(o);
    o = RecommendOptions();
    o.count = count;
    o.exclude_categories = {"cat2"};
    o.max_price = 100;
    o.explain = count == 5;
    out.push_back(o);
    o = RecommendOptions();
    o.count = count;
    o.categories = {"cat1"};  // a third of the products
    out.push_back(o);
    o = RecommendOptions();
    o.count = count;
    o.exclude = {r.model().products.id(0), r.model().products.id(1), r.model().products.id(2), "unknown"};
    out.push_back(o);
  }
  return out;
}

// Every answer the lists give is the scored answer, for every scoring mode;
// they answer every unfiltered request up to their length and none beyond.
TEST(TopListsTest, AnswersAreTheScoredAnswers) {
  auto plain = Make();
  for (auto scoring : {Recommender::Scoring::kFloat32, Recommender::Scoring::kBf16, Recommender::Scoring::kInt8}) {
    auto r = WithLists(12, scoring);
    ASSERT_NE(r->customer_cache(), nullptr);
    EXPECT_EQ(r->customer_cache()->stats().entries, r->model().customers.size());
    EXPECT_EQ(r->customer_cache()->length(), 12u);
    size_t answered = 0, asked = 0;
    const std::vector<RecommendOptions> requests = Requests(*r);
    for (uint32_t c = 0; c < r->model().customers.size(); c += 3) {
      const std::string cid = r->model().customers.id(c);
      for (size_t q = 0; q < requests.size(); ++q) {
        const RecommendOptions& o = requests[q];
        auto want = plain->ForCustomer(cid, o);
        ASSERT_TRUE(want.ok());
        auto listed = r->FromTopList(c, o);
        if (!Recommender::IsFiltered(o)) {
          EXPECT_EQ(listed.has_value(), o.count <= 12) << "count " << o.count;
        }
        if (o.count > 12) {
          EXPECT_FALSE(listed.has_value());
        }
        ++asked;
        if (listed) {
          ++answered;
          ExpectSameItems(listed->items, want->items, absl::StrCat("customer ", c, " request ", q));
        }
        // ForCustomer answers the same either way.
        auto got = r->ForCustomer(cid, o);
        ASSERT_TRUE(got.ok());
        ExpectSameItems(got->items, want->items, absl::StrCat("ForCustomer: customer ", c, " request ", q));
      }
    }
    // The lists answer more than the unfiltered requests (3 of 20 per
    // customer) but not the ones that need scoring.
    EXPECT_GT(answered, asked * 4 / 10);
    EXPECT_LT(answered, asked * 8 / 10);
  }
}

// A list shorter than its length holds every candidate, so it answers any
// filter, even one that leaves fewer than `count` products.
TEST(TopListsTest, CompleteListsAnswerEveryFilter) {
  auto plain = Make();
  auto r = WithLists(200, Recommender::Scoring::kFloat32);  // more than the 120 products
  for (uint32_t c = 0; c < 50; ++c) {
    ASSERT_NE(r->customer_cache()->Find(c), nullptr);
    EXPECT_LT(r->customer_cache()->Find(c)->products.size(), 200u);
    RecommendOptions o;
    o.count = 100;
    o.categories = {"cat1"};
    o.in_stock_only = true;
    auto listed = r->FromTopList(c, o);
    ASSERT_TRUE(listed.has_value());
    ExpectSameItems(listed->items, plain->ForCustomer(r->model().customers.id(c), o)->items, "complete");
    o.categories = {"no-such-category"};
    listed = r->FromTopList(c, o);
    ASSERT_TRUE(listed.has_value());
    EXPECT_TRUE(listed->items.empty());
  }
}

TEST(TopListsTest, RequestsTheListsCannotAnswer) {
  auto r = WithLists(12, Recommender::Scoring::kFloat32);
  RecommendOptions o;
  o.exclude_purchased = false;  // the lists leave purchases out
  EXPECT_FALSE(r->FromTopList(0, o).has_value());
  o = RecommendOptions();
  o.min_price = 5;
  o.max_price = 1;
  EXPECT_FALSE(r->FromTopList(0, o).has_value());
  EXPECT_EQ(r->ForCustomer(r->model().customers.id(0), o).status().code(), absl::StatusCode::kInvalidArgument);
  o = RecommendOptions();
  o.count = 0;
  EXPECT_FALSE(r->FromTopList(0, o).has_value());
  EXPECT_EQ(r->ForCustomer(r->model().customers.id(0), o).status().code(), absl::StatusCode::kInvalidArgument);
  // A budget that holds no list: nothing cached, the same answers by scoring.
  auto small = WithLists(12, Recommender::Scoring::kFloat32, /*max_bytes=*/1000);
  EXPECT_EQ(small->customer_cache()->stats().entries, 0u);
  EXPECT_FALSE(small->FromTopList(0, RecommendOptions()).has_value());
  ExpectSameItems(small->ForCustomer(r->model().customers.id(0), RecommendOptions())->items,
                  r->ForCustomer(r->model().customers.id(0), RecommendOptions())->items, "no lists");
}

// Another catalog: the lists are shared, the filters use the new catalog,
// and list answers still equal scored ones.
TEST(TopListsTest, WithCatalogSharesTheLists) {
  auto r = WithLists(12, Recommender::Scoring::kBf16);
  auto bare = r->WithCatalog(nullptr);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ((*bare)->customer_cache(), r->customer_cache());
  EXPECT_EQ((*bare)->catalog(), nullptr);
  auto plain = Make(false);
  RecommendOptions o;
  o.in_stock_only = true;  // without a catalog every product counts as in stock
  for (uint32_t c = 0; c < 20; ++c) {
    auto listed = (*bare)->FromTopList(c, o);
    ASSERT_TRUE(listed.has_value());
    ExpectSameItems(listed->items, plain->ForCustomer(r->model().customers.id(c), o)->items, "no catalog");
  }
}

// Similar products from the product lists: the scored answer for every
// product and count up to the length, scored beyond it; within a budget
// that holds the customer lists only, none.
TEST(TopListsTest, SimilarProducts) {
  auto plain = Make();
  auto r = WithLists(12, Recommender::Scoring::kBf16);
  ASSERT_NE(r->similar_cache(), nullptr);
  EXPECT_EQ(r->similar_cache()->stats().entries, r->model().products.size());
  for (uint32_t p = 0; p < r->model().products.size(); ++p) {
    const std::string id = r->model().products.id(p);
    for (size_t count : {1, 7, 12, 30}) {
      auto want = plain->Similar(id, count);
      auto got = r->Similar(id, count);
      ASSERT_TRUE(want.ok() && got.ok());
      ExpectSameItems(*got, *want, absl::StrCat("product ", p, " count ", count));
      for (const Recommendation& x : *got) EXPECT_NE(x.product, p);
    }
  }
  EXPECT_EQ(r->Similar("p0", 0).status().code(), absl::StatusCode::kInvalidArgument);
  // A budget holding a few lists of each kind: never exceeded, the same answers.
  const size_t few = 64 * 5 * TopListCache::EntryBytes(12) * 2;
  auto some = WithLists(12, Recommender::Scoring::kFloat32, few);
  EXPECT_LE(some->similar_cache()->stats().bytes, some->similar_cache()->max_bytes());
  EXPECT_LE(some->customer_cache()->stats().bytes, some->customer_cache()->max_bytes());
  EXPECT_LT(some->similar_cache()->stats().entries, some->model().products.size());
  EXPECT_GT(some->similar_cache()->stats().entries, 0u);
  for (uint32_t p = 0; p < some->model().products.size(); ++p) {
    const std::string id = some->model().products.id(p);
    ExpectSameItems(*some->Similar(id, 7), *plain->Similar(id, 7), absl::StrCat("small budget, product ", p));
  }
  auto all = WithLists(200, Recommender::Scoring::kFloat32);  // complete: 119 others
  auto every = all->Similar("p5", 500);
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->size(), all->model().products.size() - 1);
  EXPECT_EQ((*all->WithCatalog(nullptr))->similar_cache(), all->similar_cache());
}

// The cluster index forced on this small catalog, searched exactly, with lists of 12.
Recommender::Options ExactIndexOptions() {
  Recommender::Options ro;
  ro.index_min_products = 1;
  ro.exact_search = true;
  ro.top_list_length = 12;
  return ro;
}

// Through the cluster index (forced on this small catalog) in exact mode,
// every kind of request gets the answer of scoring every product: known
// customers (filtered or not, alone and in batches, cached or not), similar
// products, baskets, live customers; a category filter returns `count`.
TEST(IndexedRecommenderTest, ExactSearchGivesTheScoredAnswers) {
  auto plain = Make();
  const Recommender::Options ro = ExactIndexOptions();
  auto r = *Recommender::Create(TrainedModel(), MakeCatalog(), ro);
  ASSERT_NE(r->index(), nullptr);
  const std::vector<RecommendOptions> requests = Requests(*r);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass answers from the lists cached by the first
    std::vector<CustomerRequest> batch;
    for (uint32_t c = 0; c < r->model().customers.size(); c += 9) {
      for (size_t q = 0; q < requests.size(); ++q) {
        const std::string cid = r->model().customers.id(c);
        const std::string what = absl::StrCat("pass ", pass, " customer ", c, " request ", q);
        auto got = r->Recommend(cid, requests[q]);
        auto want = plain->Recommend(cid, requests[q]);
        ASSERT_TRUE(got.ok() && want.ok()) << what;
        ExpectSameItems(got->result.items, want->result.items, what);
        batch.push_back({cid, requests[q], nullptr});
      }
    }
    auto answers = r->RecommendBatch(batch);
    for (size_t j = 0; j < batch.size(); ++j) {
      ASSERT_TRUE(answers[j].ok());
      ExpectSameItems(answers[j]->result.items, plain->Recommend(batch[j].customer_id, batch[j].options)->result.items,
                      "batch " + std::to_string(j));
    }
  }
  EXPECT_GT(r->customer_cache()->stats().hits, 0u);
  for (uint32_t p = 0; p < r->model().products.size(); p += 5) {
    const std::string id = r->model().products.id(p);
    for (size_t count : {3, 12, 40}) {
      ExpectSameItems(*r->Similar(id, count), *plain->Similar(id, count), "similar " + id);
    }
  }
  for (const RecommendOptions& o : requests) {
    const std::vector<std::string> basket = {"p3", "p7", "p11"};
    ExpectSameItems(r->ForBasket(basket, {}, o)->items, plain->ForBasket(basket, {}, o)->items, "basket");
  }
  auto live = std::make_shared<LiveProfile>();
  live->products = {1, 4, 9};
  live->weights = {1, 1, 0.5f};
  live->purchased = {4};
  live->events = 3;
  for (const RecommendOptions& o : requests) {
    auto got = r->Recommend(r->model().customers.id(2), o, live.get());
    auto want = plain->Recommend(r->model().customers.id(2), o, live.get());
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_EQ(got->source, AnswerSource::kLive);
    ExpectSameItems(got->result.items, want->result.items, "live");
  }
}

// A category holding few products (1/40 here) is searched through the
// index restricted to it: exact mode still gives the scored answers, and
// `count` products when that many pass, also with other filters.
// 40 categories of 3 products each (small<p % 40>), price p, one in 7 out of stock.
std::shared_ptr<const Catalog> SmallCategoriesCatalog() {
  std::string csv = "product_id,name,category,price,in_stock\n";
  for (int p = 0; p < 120; ++p) {
    csv += "p" + std::to_string(p) + ",P,small" + std::to_string(p % 40) + "," + std::to_string(p) + "," +
           (p % 7 ? "true" : "false") + "\n";
  }
  return std::make_shared<const Catalog>(*Catalog::ParseCsv(csv, "small.csv"));
}

TEST(IndexedRecommenderTest, SmallCategoriesSearchTheirOwnIndex) {
  auto catalog = SmallCategoriesCatalog();
  const Recommender::Options ro = ExactIndexOptions();
  auto r = *Recommender::Create(TrainedModel(), catalog, ro);
  auto plain = *Recommender::Create(TrainedModel(), catalog);
  size_t full = 0;
  for (uint32_t c = 0; c < r->model().customers.size(); c += 11) {
    for (int cat : {0, 13, 39}) {
      for (bool stock : {false, true}) {
        RecommendOptions o;
        o.count = 2;
        o.categories = {"small" + std::to_string(cat)};
        o.in_stock_only = stock;
        const std::string cid = r->model().customers.id(c);
        auto got = r->Recommend(cid, o);
        auto want = plain->Recommend(cid, o);
        ASSERT_TRUE(got.ok() && want.ok());
        ExpectSameItems(got->result.items, want->result.items, cid + " small" + std::to_string(cat));
        for (const Recommendation& x : got->result.items) EXPECT_EQ(Num(*r, x.product) % 40, cat);
        full += got->result.items.size() == 2;
      }
    }
  }
  EXPECT_GT(full, 0u);
}

// Requests on many threads at once, as the server's: each small category's
// index is built once by whichever request comes first while others wait
// for it, lists are cached and read concurrently, and every answer is the
// one a single thread gets (scripts/test-tsan.sh runs this under TSan).
TEST(IndexedRecommenderTest, ConcurrentRequestsShareCategoryIndexesAndLists) {
  auto catalog = SmallCategoriesCatalog();
  const Recommender::Options ro = ExactIndexOptions();
  auto r = *Recommender::Create(TrainedModel(), catalog, ro);
  auto plain = *Recommender::Create(TrainedModel(), catalog);
  const uint32_t nc = static_cast<uint32_t>(r->model().customers.size());
  constexpr int kThreads = 8;
  std::vector<int> mismatches(kThreads, 0), answered(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t c = t % 3; c < nc; c += 3) {
        RecommendOptions o;
        o.count = 2;
        if (c % 2) o.categories = {"small" + std::to_string(c % 40)};
        const std::string cid = r->model().customers.id(c);
        auto got = r->Recommend(cid, o);
        auto want = plain->Recommend(cid, o);
        if (!got.ok() || !want.ok() || got->result.items.size() != want->result.items.size()) {
          ++mismatches[t];
          continue;
        }
        for (size_t i = 0; i < got->result.items.size(); ++i) {
          mismatches[t] += got->result.items[i].product != want->result.items[i].product;
        }
        ++answered[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(mismatches[t], 0) << "thread " << t;
    EXPECT_GT(answered[t], 0) << "thread " << t;
  }
  EXPECT_GT(r->customer_cache()->stats().hits, 0u);
}

// Unknown customers and empty baskets: the popularity list gives the
// popularity ranking, filtered.
TEST(TopListsTest, PopularityFromTheList) {
  auto plain = Make();
  auto r = WithLists(12, Recommender::Scoring::kFloat32);
  for (const RecommendOptions& o : Requests(*r)) {
    auto want = plain->ForCustomer("nobody", o);
    auto got = r->ForCustomer("nobody", o);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_TRUE(got->fallback);
    ExpectSameItems(got->items, want->items, "popularity");
    auto basket = r->ForBasket(std::vector<std::string>{"unknown"}, {}, o);
    ASSERT_TRUE(basket.ok());
    EXPECT_TRUE(basket->fallback);
    ExpectSameItems(basket->items, want->items, "empty basket");
  }
}

}  // namespace
}  // namespace aisle

namespace aisle {
namespace {

// A live profile of `products` (each with weight w), some bought.
std::shared_ptr<LiveProfile> Live(std::vector<uint32_t> products, float w, std::vector<uint32_t> purchased) {
  auto p = std::make_shared<LiveProfile>();
  p->products = std::move(products);
  p->weights.assign(p->products.size(), w);
  p->purchased = std::move(purchased);
  p->events = p->products.size();
  return p;
}

TEST(LiveProfileTest, LiveEventsRefoldTheCustomerAndExcludeLivePurchases) {
  auto r = WithLists(8, Recommender::Scoring::kFloat32);
  const Model& m = r->model();
  const std::string id = m.customers.id(4);
  RecommendOptions o;
  o.count = 5;
  auto before = r->Recommend(id, o);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->source, AnswerSource::kTopList);
  const uint32_t top = before->result.items[0].product;
  auto live = Live({top}, 1.0f, {top});
  // Never from the lists, which know nothing of live events.
  EXPECT_FALSE(r->RecommendWithoutScoring(id, o, live.get()).has_value());
  auto after = r->Recommend(id, o, live.get());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->source, AnswerSource::kLive);
  EXPECT_EQ(after->result.live_events, 1u);
  for (const Recommendation& x : after->result.items) {
    EXPECT_NE(x.product, top);
    for (uint32_t b : m.purchased.RowIndices(4)) EXPECT_NE(x.product, b);
  }
  // The vector is the fold-in of the model purchases (weight 1) and the live event.
  std::vector<uint32_t> history(m.purchased.RowIndices(4).begin(), m.purchased.RowIndices(4).end());
  std::vector<float> weights(history.size(), 1.0f);
  history.push_back(top);
  weights.push_back(1.0f);
  const Eigen::VectorXf want = r->FoldIn(history, weights);
  auto v = r->VectorFor(4, live.get());
  ASSERT_TRUE(v.has_value());
  EXPECT_LT((v->vector - want).norm(), 1e-4f * want.norm());
  // Batched the same as alone.
  CustomerRequest q{id, o, live};
  auto batch = r->RecommendBatch({q});
  ASSERT_TRUE(batch[0].ok());
  ExpectSameItems(batch[0]->result.items, after->result.items, "live batch vs alone");
  // Explanations use the live history.
  o.explain = true;
  auto explained = r->Recommend(id, o, live.get());
  bool named = false;
  for (const auto& x : explained->result.items) {
    for (const Contribution& c : x.because) named = named || c.product == top;
  }
  EXPECT_TRUE(named);
}

TEST(LiveProfileTest, AnUnknownCustomerIsPersonalizedAndAForgottenOneIsNot) {
  auto r = Make();
  const Model& m = r->model();
  RecommendOptions o;
  o.count = 5;
  auto live = Live({3, 7}, 0.3f, {});
  auto a = r->Recommend("brand-new", o, live.get());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->source, AnswerSource::kLive);
  EXPECT_FALSE(a->result.fallback);
  // Erased since training: the model row is not used; nothing live: popularity.
  LiveProfile forget;
  forget.forget_model_row = true;
  auto f = r->Recommend(m.customers.id(2), o, &forget);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->source, AnswerSource::kPopularity);
  EXPECT_TRUE(f->result.fallback);
  auto popular = r->Recommend("nobody", o);
  ExpectSameItems(f->result.items, popular->result.items, "forgotten = unknown");
  bool fallback = false;
  auto ranked = r->Rank(m.customers.id(2), {"p1", "p2"}, &fallback, &forget);
  ASSERT_TRUE(ranked.ok());
  EXPECT_TRUE(fallback);
  // Only products the model does not know: popularity, without what they bought.
  LiveProfile bought;
  bought.purchased = {popular->result.items[0].product};
  auto p = r->Recommend("brand-new", o, &bought);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->result.fallback);
  for (const auto& x : p->result.items) EXPECT_NE(x.product, bought.purchased[0]);
}

}  // namespace
}  // namespace aisle

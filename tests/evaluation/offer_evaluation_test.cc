// Offer evaluation on planted structure (each customer buys mostly from two
// favourite categories; one offer per category): the personalized ranking
// must beat the most-popular-offers ranking and a random one, with a
// bootstrap interval above zero. A ranker that ignores the customer, or
// scores offers from the wrong products, fails this. Plus the CLI's JSON.
#include "evaluation/offer_evaluation.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "engine/model_io.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"
#include "training/ials_trainer.h"
#include "training/train_job.h"
#include "training/weighting.h"

namespace aisle {
namespace {

using ::aisle::testing::Exec;
using ::aisle::testing::ExecResult;
using ::aisle::testing::TempDir;

constexpr uint32_t kCategories = 8;

struct PlantedData {
  SyntheticData data;
  std::shared_ptr<const Model> model;
  EventLog test;
  std::string offers_json;
  std::string catalog_csv;
};

// Trains on the first 80% of events (by time); the rest is the test period.
const PlantedData& Planted() {
  static const PlantedData s = [] {
    PlantedData s;
    SyntheticOptions o;
    o.customers = 600;
    o.products = 240;
    o.categories = kCategories;
    o.purchases = 12000;
    o.seed = 33;
    s.data = GenerateSynthetic(o);
    SyntheticData train = s.data, test = s.data;
    const size_t cut = s.data.events.size() * 8 / 10;
    train.events.resize(cut);
    test.events.erase(test.events.begin(), test.events.begin() + cut);
    EventLog log = ::aisle::testing::ToEventLog(train);
    s.test = ::aisle::testing::ToEventLog(test);
    auto m = std::make_shared<Model>(::aisle::testing::TrainSmallModel(log, AlsSolver::kConjugateGradient));
    EXPECT_TRUE(m->SetMetadata(nlohmann::json({{"model_id", "planted"}})).ok());
    s.model = m;
    // One offer per planted category, listing its products.
    std::vector<std::vector<std::string>> by_cat(kCategories);
    for (uint32_t p = 0; p < s.data.product_category.size(); ++p) {
      by_cat[s.data.product_category[p]].push_back(SyntheticProductId(p));
    }
    nlohmann::json offers = nlohmann::json::array();
    for (uint32_t k = 0; k < kCategories; ++k) {
      offers.push_back({{"id", absl::StrCat("cat", k)}, {"title", absl::StrCat("Category ", k)},
                        {"products", by_cat[k]}, {"discount", {{"percent", 10}}}});
    }
    s.offers_json = nlohmann::json{{"offers", offers}}.dump();
    return s;
  }();
  return s;
}

std::shared_ptr<const OfferRanker> Ranker(const PlantedData& s) {
  auto rec = Recommender::Create(s.model, nullptr);
  EXPECT_TRUE(rec.ok());
  auto c = OfferCatalog::Parse(s.offers_json, "offers.json");
  EXPECT_TRUE(c.ok()) << c.status();
  auto r = OfferRanker::Create(*rec, std::make_shared<const OfferCatalog>(std::move(*c)));
  EXPECT_TRUE(r.ok());
  return *r;
}

TEST(OfferEvaluationTest, PersonalizedOffersBeatPopularAndRandomOnPlantedData) {
  const PlantedData& s = Planted();
  auto ranker = Ranker(s);
  TestSet ts = BuildTestSet(*s.model, s.test, /*exclude_train=*/false, Segmentation::kNone);
  ASSERT_GT(ts.customers.size(), 300u);
  OfferEvaluationOptions o;
  o.n = 1;
  o.at = absl::Now();
  o.use_country = false;
  o.resamples = 500;
  OfferEvaluationResult r = EvaluateOffers(*ranker, ts, o);
  EXPECT_EQ(r.customers, ts.customers.size());
  EXPECT_EQ(r.fallback, 0u);
  // Most test purchases come from the two favourite categories, so the right
  // single offer covers one for most customers; one popular category rarely.
  EXPECT_GT(r.hit_personalized, 0.7) << r.hit_personalized;
  EXPECT_GT(r.vs_popular.ci_low, 0.15) << r.hit_personalized << " vs " << r.hit_popular;
  EXPECT_GT(r.vs_random.ci_low, 0.15) << r.hit_personalized << " vs " << r.hit_random;
  EXPECT_NEAR(r.vs_popular.diff, r.hit_personalized - r.hit_popular, 1e-9);
  EXPECT_EQ(r.offers_shown_popular, 1u);  // the same offer for everyone
  EXPECT_GE(r.offers_shown_personalized, kCategories - 1);
  // Showing every offer covers everything the model knows: a hit for all.
  o.n = kCategories;
  OfferEvaluationResult all = EvaluateOffers(*ranker, ts, o);
  EXPECT_GT(all.hit_random, 0.9);
}

TEST(OfferEvaluationTest, CliPrintsTheHitRatesAndTheIntervalAsJson) {
  const PlantedData& s = Planted();
  TempDir dir;
  const std::string model = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(*s.model, model).ok());
  const std::string offers = dir.Write("offers.json", s.offers_json);
  std::string csv = "customer_id,product_id,timestamp,quantity\n";
  for (const Event& e : s.test.events) {
    if (e.type != EventType::kPurchase) continue;
    absl::StrAppend(&csv, s.test.customers.id(e.customer), ",", s.test.products.id(e.product), ",", int64_t{e.timestamp}, ",",
                    e.quantity, "\n");
  }
  const std::string test = dir.Write("test.csv", csv);
  const std::string eval = std::string(AISLE_BIN_DIR) + "/aisle-eval";
  ExecResult r = Exec(eval + " offers --model " + model + " --offers " + offers + " --test " + test +
                      " --n 1 --resamples 200 --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["schema"], "aisle.offers.v1");
  EXPECT_EQ(j["n"], 1);
  EXPECT_GT(j["customers"].get<int>(), 300);
  const double p = j["hit_rate_personalized"], q = j["hit_rate_popular"];
  EXPECT_GT(p, q);
  EXPECT_TRUE(j["hit_rate_random"].is_number());
  const nlohmann::json& d = j["personalized_vs_popular"];
  EXPECT_NEAR(d["diff"].get<double>(), p - q, 1e-9);
  EXPECT_LT(d["ci_low"].get<double>(), d["diff"].get<double>());
  EXPECT_GT(d["ci_high"].get<double>(), d["diff"].get<double>());
  EXPECT_GT(d["ci_low"].get<double>(), 0);
  // Bad usage and bad files: clear errors, non-zero exits.
  EXPECT_EQ(Exec(eval + " offers --model " + model + " --test " + test + " 2>/dev/null").status, 2);
  const std::string bad = dir.Write("bad.json", R"({"offers": [{"id": "x"}]})");
  ExecResult b = Exec(eval + " offers --model " + model + " --offers " + bad + " --test " + test);
  EXPECT_EQ(b.status, 1);
  EXPECT_NE(b.output.find("bad.json: offers[0] (id 'x'): missing 'title'"), std::string::npos) << b.output;
}

}  // namespace
}  // namespace aisle

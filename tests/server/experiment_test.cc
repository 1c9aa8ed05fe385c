// Experiments on the real server over loopback: assignment as the engine
// computes it and stable per customer, what each variant serves (the main
// model, the popularity ranking, another model), labels in the answers and
// the exposure log, the file reloaded and a malformed one refused while the
// previous keeps running, customers without consent not enrolled.
#include "server/experiment_source.h"

#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "engine/experiment_assignment.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "server/http_server.h"
#include "live/impression_log.h"
#include "tests/http_client.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::Call;
using ::aisle::testing::TempDir;
using json = nlohmann::json;

Model Trained(const std::string& id, uint64_t seed) {
  SyntheticOptions so;
  so.customers = 300;
  so.products = 80;
  so.purchases = 5000;
  so.seed = seed;
  Model m = ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(so)));
  EXPECT_TRUE(m.SetMetadata({{"model_id", id}}).ok());
  return m;
}

class ExperimentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_ = dir_.Path("main.model");
    ASSERT_TRUE(WriteModel(Trained("main", 1), main_).ok());
    ASSERT_TRUE(PublishModel(Trained("candidate", 2), dir_.Path("candidate"), 3).ok());
    file_ = dir_.Write("experiments.json", Experiments(50, 50));
    source_ = std::make_unique<ModelSource>(main_, "", &metrics_);
    ASSERT_TRUE(source_->Reload(true).ok());
    experiments_ = std::make_unique<ExperimentSource>(file_, ExperimentSource::MainServing{source_.get(), main_, "", "", {}});
    ASSERT_TRUE(experiments_->Reload(true).ok());
    ExposureLog::Options eo;
    eo.dir = dir_.Path("exposures");
    auto log = ExposureLog::Open(eo);
    ASSERT_TRUE(log.ok());
    exposures_ = std::move(*log);
    LiveLoopOptions lo;
    lo.dir = dir_.Path("events");
    auto live = LiveLoop::Open(lo, &source_->Current()->model());
    ASSERT_TRUE(live.ok());
    live_ = std::move(*live);
    HttpServerOptions o;
    o.port = 0;
    o.access_log = nullptr;
    o.experiments = experiments_.get();
    o.exposures = exposures_.get();
    o.live = live_.get();
    server_ = std::make_unique<HttpServer>(source_.get(), &metrics_, o);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_->Shutdown();
    server_.reset();
  }
  std::string Experiments(int popular, int model) {
    return absl::StrCat(R"({"experiments": [
      {"id": "recs-test", "salt": "salt-1", "endpoints": ["customer_recommendations"], "control": "popular",
       "variants": [{"name": "popular", "weight": )", popular, R"(, "serve": "popularity"},
                    {"name": "model", "weight": )", model, R"(}]},
      {"id": "similar-test", "endpoints": ["similar_products"],
       "variants": [{"name": "main"}, {"name": "candidate", "model": ")", dir_.Path("candidate"), R"("}]}]})");
  }
  json Get(const std::string& path) {
    auto r = Call(server_->port(), "GET", path);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    return json::parse(r.body);
  }

  TempDir dir_;
  std::string main_, file_;
  Metrics metrics_;
  std::unique_ptr<ModelSource> source_;
  std::unique_ptr<ExperimentSource> experiments_;
  std::unique_ptr<ExposureLog> exposures_;
  std::unique_ptr<LiveLoop> live_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ExperimentTest, CustomersGetTheirVariantAndItsAnswer) {
  const std::vector<VariantWeight> weights = {{"popular", 50}, {"model", 50}};
  const json popular = Get("/v1/customers/nobody/recommendations?count=5");
  std::map<std::string, int> counts;
  for (uint32_t c = 0; c < 100; ++c) {
    const std::string id = SyntheticCustomerId(c);
    const json a = Get(absl::StrCat("/v1/customers/", id, "/recommendations?count=5"));
    const json b = Get(absl::StrCat("/v1/customers/", id, "/recommendations?count=5"));
    ASSERT_EQ(a["experiment"], "recs-test");
    const std::string variant = a["variant"];
    EXPECT_EQ(b["variant"], variant) << "the same customer, the same variant";
    EXPECT_EQ(variant, weights[AssignVariant("salt-1", id, weights)].name);
    ++counts[variant];
    if (variant == "popular") {
      EXPECT_EQ(a["recommendations"], popular["recommendations"]) << "the control serves the popularity ranking";
      EXPECT_EQ(a["fallback"], "popularity");
    } else {
      EXPECT_TRUE(a["fallback"].is_null());
    }
    EXPECT_NE(a["recommendation_id"], b["recommendation_id"]);
  }
  EXPECT_GT(counts["popular"], 25);
  EXPECT_GT(counts["model"], 25);
  // Another endpoint's experiment: a visitor in the candidate variant gets the candidate model.
  std::map<std::string, std::string> versions;
  for (int v = 0; v < 40; ++v) {
    const json s = Get(absl::StrCat("/v1/products/p3/similar?count=3&visitor_id=visitor-", v));
    ASSERT_EQ(s["experiment"], "similar-test");
    versions[s["variant"]] = s["model_version"];
  }
  EXPECT_EQ(versions["main"], "main");
  EXPECT_EQ(versions["candidate"], "candidate");
  // Without a visitor id: not enrolled.
  EXPECT_FALSE(Get("/v1/products/p3/similar?count=3").contains("experiment"));
  exposures_->Flush();
  auto segments = EventJournal::ListSegments(dir_.Path("exposures"), true, ExposureLog::Format());
  ASSERT_TRUE(segments.ok());
  size_t in_experiment = 0;
  for (const auto& s : *segments) {
    std::string text = ::aisle::testing::ReadAll(s.path);
    for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      const json e = json::parse(text.substr(pos, nl - pos));
      if (!e["experiment"].is_null()) ++in_experiment;
    }
  }
  EXPECT_EQ(in_experiment, 1u + 200u + 40u) << "every answer in an experiment is logged with it (\"nobody\" too)";
  const std::string text = experiments_->RenderMetrics();
  EXPECT_NE(text.find(absl::StrCat("aisle_experiment_answers_total{experiment=\"recs-test\",variant=\"popular\",",
                                   "endpoint=\"customer_recommendations\"} ",
                                   counts["popular"] * 2 + (AssignVariant("salt-1", "nobody", weights) == 0 ? 1 : 0))),
            std::string::npos)
      << text;
}

TEST_F(ExperimentTest, CustomersWithoutConsentAreNotEnrolled) {
  const std::string id = SyntheticCustomerId(7);
  ASSERT_EQ(Call(server_->port(), "PUT", absl::StrCat("/v1/customers/", id, "/consent"), R"({"personalization": false})").status,
            200);
  const json a = Get(absl::StrCat("/v1/customers/", id, "/recommendations"));
  EXPECT_FALSE(a.contains("experiment"));
  EXPECT_EQ(a["fallback"], "no_consent");
}

TEST_F(ExperimentTest, AChangedFileIsTakenAndAMalformedOneRefused) {
  // All to the model variant.
  dir_.Write("experiments.json", Experiments(0, 100));
  ASSERT_TRUE(experiments_->Reload().ok());
  for (uint32_t c = 0; c < 20; ++c) {
    EXPECT_EQ(Get(absl::StrCat("/v1/customers/", SyntheticCustomerId(c), "/recommendations"))["variant"], "model");
  }
  dir_.Write("experiments.json", R"({"experiments": [{"id": "broken"}]})");
  absl::Status s = experiments_->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'endpoints'"), absl::string_view::npos) << s;
  EXPECT_EQ(Get("/v1/customers/c1/recommendations")["variant"], "model") << "the previous experiments keep running";
  EXPECT_EQ(experiments_->stats().reloads_failed, 1u);
  // A variant whose model cannot be loaded refuses the file.
  dir_.Write("experiments.json", R"({"experiments": [{"id": "x", "endpoints": ["similar_products"],
      "variants": [{"name": "a"}, {"name": "b", "model": "/nonexistent/model"}]}]})");
  s = experiments_->Reload();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("variant 'b'"), absl::string_view::npos) << s;
  EXPECT_EQ(Get("/v1/customers/c1/recommendations")["variant"], "model");
}

// Anonymous endpoints: a popularity control for basket and similar products
// serves the popularity ranking without the basket's products (or the
// product itself), and the model variant the model's answer.
TEST_F(ExperimentTest, AnonymousEndpointsServeTheirVariant) {
  dir_.Write("experiments.json", R"({"experiments": [{"id": "anon", "salt": "s",
      "endpoints": ["basket_recommendations", "similar_products"], "control": "popular",
      "variants": [{"name": "popular", "serve": "popularity"}, {"name": "model"}]}]})");
  ASSERT_TRUE(experiments_->Reload().ok());
  const json popular = Get("/v1/customers/nobody/recommendations?count=10");
  std::vector<std::string> ranking;
  for (const auto& x : popular["recommendations"]) ranking.push_back(x["product_id"]);
  std::map<std::string, int> seen;
  for (int v = 0; v < 30; ++v) {
    const std::string visitor = absl::StrCat("visitor-", v);
    auto basket = Call(server_->port(), "POST", "/v1/recommendations",
                       json({{"products", {ranking[0]}}, {"count", 5}, {"visitor_id", visitor}}).dump());
    ASSERT_EQ(basket.status, 200) << basket.body;
    const json b = json::parse(basket.body);
    ASSERT_EQ(b["experiment"], "anon");
    const json s = Get(absl::StrCat("/v1/products/", ranking[0], "/similar?count=5&visitor_id=", visitor));
    EXPECT_EQ(s["variant"], b["variant"]) << "one unit, one variant";
    ++seen[b["variant"]];
    std::vector<std::string> got, similar;
    for (const auto& x : b["recommendations"]) got.push_back(x["product_id"]);
    for (const auto& x : s["similar"]) similar.push_back(x["product_id"]);
    for (const std::string& p : got) EXPECT_NE(p, ranking[0]) << "the basket's product is not recommended";
    for (const std::string& p : similar) EXPECT_NE(p, ranking[0]) << "a product is not similar to itself";
    if (b["variant"] == "popular") {
      EXPECT_EQ(got, std::vector<std::string>(ranking.begin() + 1, ranking.begin() + 6));
      EXPECT_EQ(similar, std::vector<std::string>(ranking.begin() + 1, ranking.begin() + 6));
    }
  }
  EXPECT_GT(seen["popular"], 5);
  EXPECT_GT(seen["model"], 5);
}

// A variant with an offer catalog of its own serves its offers; the other
// variant the server's.
TEST(ExperimentOffers, AVariantServesItsOwnOfferCatalog) {
  TempDir dir;
  const std::string model = dir.Path("m.model");
  ASSERT_TRUE(WriteModel(Trained("main", 1), model).ok());
  auto catalog = [&](const std::string& name, const std::string& id) {
    return dir.Write(name, absl::StrCat(R"({"offers": [{"id": ")", id,
                                        R"(", "title": "t", "products": ["p1", "p2", "p3", "p4", "p5", "p6"], "discount": {"percent": 10}}]})"));
  };
  const std::string main_offers = catalog("offers.json", "main-offer");
  const std::string b_offers = catalog("offers-b.json", "variant-offer");
  dir.Write("experiments.json", absl::StrCat(R"({"experiments": [{"id": "offers-test", "endpoints": ["customer_offers"],
      "variants": [{"name": "a"}, {"name": "b", "offers": ")", b_offers, R"("}]}]})"));
  Metrics metrics;
  ModelSource source(model, "", &metrics);
  source.SetOfferCatalog(main_offers);
  ASSERT_TRUE(source.Reload(true).ok());
  ExperimentSource experiments(dir.Path("experiments.json"), {&source, model, "", main_offers, {}});
  ASSERT_TRUE(experiments.Reload(true).ok()) << experiments.stats().last_error;
  auto impressions = ImpressionLog::InMemory();
  HttpServerOptions o;
  o.port = 0;
  o.access_log = nullptr;
  o.offers = true;
  o.impressions = impressions.get();
  o.experiments = &experiments;
  HttpServer server(&source, &metrics, o);
  ASSERT_TRUE(server.Start().ok());
  std::map<std::string, std::string> offered;
  for (uint32_t c = 0; c < 40; ++c) {
    auto r = Call(server.port(), "GET", absl::StrCat("/v1/customers/", SyntheticCustomerId(c), "/offers?count=1"));
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    ASSERT_EQ(j["experiment"], "offers-test");
    if (!j["offers"].empty()) offered[j["variant"]] = j["offers"][0]["offer_id"];
  }
  EXPECT_EQ(offered["a"], "main-offer");
  EXPECT_EQ(offered["b"], "variant-offer");
  server.Shutdown();
}

}  // namespace
}  // namespace aisle

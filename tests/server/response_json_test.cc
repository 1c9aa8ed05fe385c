// The response bodies besides recommendations: valid JSON and valid UTF-8
// with the fields the API documents, whatever bytes the model, the catalog
// or the offer catalog hold.
#include "server/response_json.h"

#include <gtest/gtest.h>

#include "engine/utf8.h"
#include "tests/synthetic_log.h"

namespace aisle {
namespace {

using json = nlohmann::json;

json Parsed(const std::string& body) {
  EXPECT_TRUE(IsValidUtf8(body)) << body;
  json j = json::parse(body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << body;
  return j;
}

class ResponseJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SyntheticOptions so;
    so.customers = 60;
    so.products = 12;
    so.categories = 3;
    so.purchases = 600;
    auto model = std::make_shared<Model>(::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(GenerateSynthetic(so))));
    ASSERT_TRUE(model->SetMetadata(json({{"model_id", "m-1"}, {"note", "meta \xC3\xA9"}})).ok());
    std::string csv = "product_id,name,category\n";
    for (int p = 0; p < 12; ++p) {
      csv += SyntheticProductId(p) + ",\"bad \xFF name " + std::to_string(p) + "\"," + (p % 2 ? "cat" : "dog") + "\n";
    }
    auto catalog = Catalog::ParseCsv(csv, "c.csv");
    ASSERT_TRUE(catalog.ok());
    auto r = Recommender::Create(model, std::make_shared<const Catalog>(std::move(*catalog)));
    ASSERT_TRUE(r.ok());
    recommender_ = *r;
  }
  std::shared_ptr<const Recommender> recommender_;
};

TEST_F(ResponseJsonTest, ModelReadinessReload) {
  json info = Parsed(ModelInfoBody(*recommender_));
  EXPECT_EQ(info["model_version"], "m-1");
  EXPECT_EQ(info["products"], 12);
  EXPECT_EQ(info["metadata"]["note"], "meta \xC3\xA9");
  EXPECT_TRUE(info["top_lists"].is_null());
  EXPECT_EQ(Parsed(ReadyBody("m-1"))["status"], "ready");
  EXPECT_EQ(Parsed(ReloadBody(true, "m-1"))["reloaded"], true);
  // A refusal's message may quote a file's bytes: still valid UTF-8.
  json refused = Parsed(ReloadRefusedBody("bad bytes \xFF\xFE in a.model", "m-1"));
  EXPECT_EQ(refused["error"]["code"], "reload_refused");
  EXPECT_EQ(refused["model_version"], "m-1");
}

TEST_F(ResponseJsonTest, SimilarAndRank) {
  auto similar = recommender_->Similar(SyntheticProductId(0), 3);
  ASSERT_TRUE(similar.ok());
  json s = Parsed(SimilarBody(*recommender_, SyntheticProductId(0), *similar));
  ASSERT_EQ(s["similar"].size(), 3u);
  EXPECT_EQ(s["similar"][0]["name"].get<std::string>().substr(0, 4), "bad ");
  bool fallback = true;
  auto ranked = recommender_->Rank("c1", {SyntheticProductId(1), "unknown \xFF"}, &fallback);
  ASSERT_TRUE(ranked.ok());
  json r = Parsed(RankBody(*recommender_, "c1", *ranked, fallback));
  EXPECT_TRUE(r["fallback"].is_null());
  ASSERT_EQ(r["ranked"].size(), 2u);
  EXPECT_TRUE(r["ranked"][1]["score"].is_null());  // unknown product: null, not NaN
}

TEST_F(ResponseJsonTest, OffersAndImpressions) {
  auto offers = OfferCatalog::Parse(R"({"offers": [
      {"id": "a", "title": "Ten \u00e9", "categories": ["cat"], "discount": {"percent": 10}, "max_impressions_per_customer": 2},
      {"id": "b", "title": "Two off", "categories": ["dog"], "discount": {"amount": 2, "currency": "GBP"},
       "valid_until": "2100-01-01"}]})",
                                    "o.json");
  ASSERT_TRUE(offers.ok()) << offers.status();
  auto ranker = OfferRanker::Create(recommender_, std::make_shared<const OfferCatalog>(std::move(*offers)));
  ASSERT_TRUE(ranker.ok());
  OfferOptions o;
  o.count = 2;
  o.now = absl::FromUnixSeconds(1700000000);
  auto shown = [](uint32_t offer) { return offer == 0 ? 5u : 0u; };  // more than the cap: none left, not a wrap
  o.impressions = [](uint32_t) { return 0u; };
  auto res = (*ranker)->ForCustomer("c1", o);
  ASSERT_TRUE(res.ok());
  json j = Parsed(OffersBody(**ranker, "c1", *res, shown));
  ASSERT_EQ(j["offers"].size(), 2u);
  for (const json& offer : j["offers"]) {
    if (offer["offer_id"] == "a") {
      EXPECT_EQ(offer["impressions_left"], 0);
      EXPECT_EQ(offer["discount"]["percent"], 10);
    } else {
      EXPECT_EQ(offer["discount"]["currency"], "GBP");
      EXPECT_EQ(offer["valid_until"], "2100-01-01T00:00:00+00:00");
    }
  }
  json imp = Parsed(ImpressionsBody("m-1", "c1", 1, {"unknown \xFF"}));
  EXPECT_EQ(imp["recorded"], 1);
  EXPECT_EQ(imp["ignored"].size(), 1u);
}

}  // namespace
}  // namespace aisle

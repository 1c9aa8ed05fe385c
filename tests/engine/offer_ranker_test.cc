// OfferRanker on a model trained on planted data (each customer has two
// favourite categories): the top offer follows the planted taste, and the
// rules hold: validity, eligibility, caps, repurchasable products,
// diversity, explanations, unknown customers, weights.
#include "engine/offer_ranker.h"

#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "data/synthetic.h"
#include "tests/synthetic_log.h"
#include "training/ials_trainer.h"
#include "training/train_job.h"
#include "training/weighting.h"

namespace aisle {
namespace {

constexpr uint32_t kCategories = 6;

const SyntheticData& Data() {
  static const SyntheticData data = [] {
    SyntheticOptions o;
    o.customers = 500;
    o.products = 120;
    o.categories = kCategories;
    o.purchases = 8000;
    o.seed = 21;
    return GenerateSynthetic(o);
  }();
  return data;
}

std::shared_ptr<const Recommender> Rec() {
  static std::shared_ptr<const Recommender> rec = [] {
    EventLog log = ::aisle::testing::ToEventLog(Data());
    auto m = std::make_shared<Model>(::aisle::testing::TrainSmallModel(log));
    EXPECT_TRUE(m->SetMetadata(nlohmann::json({{"model_id", "offers-test"}})).ok());
    // Product catalog: the planted category of each product.
    std::string csv = "product_id,name,category\n";
    for (uint32_t p = 0; p < Data().product_category.size(); ++p) {
      absl::StrAppend(&csv, SyntheticProductId(p), ",Product ", p, ",cat", Data().product_category[p], "\n");
    }
    auto cat = Catalog::ParseCsv(csv, "catalog.csv");
    EXPECT_TRUE(cat.ok()) << cat.status();
    auto r = Recommender::Create(m, std::make_shared<const Catalog>(std::move(*cat)));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }();
  return rec;
}

std::shared_ptr<const OfferRanker> Ranker(const std::string& json) {
  auto c = OfferCatalog::Parse(json, "offers.json");
  EXPECT_TRUE(c.ok()) << c.status();
  auto r = OfferRanker::Create(Rec(), std::make_shared<const OfferCatalog>(std::move(*c)));
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

// One offer per planted category, by category name: "offer-cat<k>".
std::string CategoryOffers(const std::string& extra = "") {
  std::string json = "{\"offers\": [";
  for (uint32_t k = 0; k < kCategories; ++k) {
    absl::StrAppend(&json, k ? "," : "", "{\"id\": \"offer-cat", k, "\", \"title\": \"Category ", k,
                    "\", \"categories\": [\"cat", k, "\"], \"discount\": {\"percent\": 10}", extra, "}");
  }
  return json + "]}";
}

std::vector<RankedOffer> Offers(const OfferRanker& r, const std::string& customer, const OfferOptions& o) {
  auto res = r.ForCustomer(customer, o);
  EXPECT_TRUE(res.ok()) << res.status();
  return res.ok() ? res->offers : std::vector<RankedOffer>();
}

std::string Id(const OfferRanker& r, const RankedOffer& x) { return r.catalog().offers()[x.offer].id; }

TEST(OfferRankerTest, TopOfferFollowsThePlantedTaste) {
  auto r = Ranker(CategoryOffers());
  const Model& m = r->recommender().model();
  int agree = 0, total = 0;
  for (uint32_t c = 0; c < Data().tastes.size(); ++c) {
    if (!m.customers.Find(SyntheticCustomerId(c))) continue;
    OfferOptions o;
    o.count = 1;
    auto offers = Offers(*r, SyntheticCustomerId(c), o);
    ASSERT_EQ(offers.size(), 1u);
    const std::string& id = Id(*r, offers[0]);
    const uint32_t k = static_cast<uint32_t>(std::stoi(id.substr(std::string("offer-cat").size())));
    const auto& t = Data().tastes[c];
    agree += std::find(t.begin(), t.end(), k) != t.end();
    ++total;
  }
  // Chance is 2 in 6; the planted taste explains 90% of purchases.
  EXPECT_GT(agree, 0.8 * total) << agree << " of " << total;
}

TEST(OfferRankerTest, ExplanationsAreEligibleProductsTheCustomerLikesAndDidNotBuy) {
  auto r = Ranker(CategoryOffers());
  const Model& m = r->recommender().model();
  const uint32_t c = 3;
  OfferOptions o;
  o.count = 3;
  o.drivers = 3;
  auto offers = Offers(*r, m.customers.id(c), o);
  ASSERT_EQ(offers.size(), 3u);
  auto bought = m.purchased.RowIndices(c);
  for (const RankedOffer& x : offers) {
    ASSERT_FALSE(x.drivers.empty());
    auto products = r->Products(x.offer);
    float expected = 0, w = 1;
    for (size_t j = 0; j < x.drivers.size(); ++j) {
      const OfferDriver& d = x.drivers[j];
      EXPECT_TRUE(std::binary_search(products.begin(), products.end(), d.product)) << "driver not in the offer";
      EXPECT_FALSE(std::binary_search(bought.begin(), bought.end(), d.product)) << "a bought product drives";
      EXPECT_NEAR(d.affinity, m.user_factors.row(c).dot(m.item_factors.row(d.product)), 1e-4);
      if (j > 0) {
        EXPECT_GE(x.drivers[j - 1].affinity, d.affinity);
      }
      expected += w * d.affinity;
      w /= 2;
    }
    EXPECT_NEAR(x.score, expected, 1e-4);
    // The best driver is the best not-bought product of the offer.
    float best = -1e30f;
    for (uint32_t p : products) {
      if (std::binary_search(bought.begin(), bought.end(), p)) continue;
      best = std::max(best, m.user_factors.row(c).dot(m.item_factors.row(p)));
    }
    EXPECT_NEAR(x.drivers[0].affinity, best, 1e-4);
  }
  EXPECT_GE(offers[0].score, offers[1].score);
  EXPECT_GE(offers[1].score, offers[2].score);
}

TEST(OfferRankerTest, BoughtProductsDriveOnlyWhenRepurchasable) {
  const Model& m = Rec()->model();
  const uint32_t c = 0;
  auto bought = m.purchased.RowIndices(c);
  ASSERT_GE(bought.size(), 2u);
  std::string ids;
  for (uint32_t p : bought) absl::StrAppend(&ids, ids.empty() ? "" : ",", "\"", m.products.id(p), "\"");
  const std::string offer = absl::StrCat(R"({"id": "again", "title": "t", "discount": {"percent": 5}, "products": [)",
                                         ids, "]");
  OfferOptions o;
  EXPECT_TRUE(Offers(*Ranker(absl::StrCat(R"({"offers": [)", offer, "}]}")), m.customers.id(c), o).empty());
  auto flagged = Offers(*Ranker(absl::StrCat(R"({"offers": [)", offer, R"(, "repurchasable": true}]})")),
                        m.customers.id(c), o);
  ASSERT_EQ(flagged.size(), 1u);
  auto listed = Offers(*Ranker(absl::StrCat(R"({"repurchasable_products": [")", m.products.id(bought[0]),
                                            R"("], "offers": [)", offer, "}]}")),
                       m.customers.id(c), o);
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_EQ(listed[0].drivers.size(), 1u);  // only the listed product may drive it
  EXPECT_EQ(listed[0].drivers[0].product, bought[0]);
}

TEST(OfferRankerTest, ValidityWindows) {
  auto r = Ranker(R"({"offers": [
    {"id": "past", "title": "t", "categories": ["cat0","cat1","cat2","cat3","cat4","cat5"], "discount": {"percent": 5},
     "valid_until": "2026-01-01"},
    {"id": "now", "title": "t", "categories": ["cat0","cat1","cat2","cat3","cat4","cat5"], "discount": {"percent": 5},
     "valid_from": "2026-01-01", "valid_until": "2026-02-01"}]})");
  OfferOptions o;
  o.count = 5;
  auto ids = [&](const std::string& when) {
    o.now = *ParseOfferTime(when);
    std::set<std::string> out;
    for (const RankedOffer& x : Offers(*r, "c1", o)) out.insert(Id(*r, x));
    return out;
  };
  EXPECT_EQ(ids("2025-12-31T23:59:59Z"), std::set<std::string>{"past"});
  EXPECT_EQ(ids("2026-01-01"), std::set<std::string>{"now"});
  EXPECT_EQ(ids("2026-01-31T23:59:59Z"), std::set<std::string>{"now"});
  EXPECT_TRUE(ids("2026-02-01").empty());
}

TEST(OfferRankerTest, EligibilityByCountryChannelSegmentAndNewCustomers) {
  const std::string all = R"("categories": ["cat0","cat1","cat2","cat3","cat4","cat5"], "discount": {"percent": 5})";
  auto r = Ranker(absl::StrCat(R"({"offers": [
    {"id": "uk", "title": "t", )", all, R"(, "eligibility": {"countries": ["UK"]}},
    {"id": "app", "title": "t", )", all, R"(, "eligibility": {"channels": ["app"]}},
    {"id": "vip", "title": "t", )", all, R"(, "eligibility": {"segments": ["vip"]}},
    {"id": "welcome", "title": "t", )", all, R"(, "eligibility": {"new_customers_only": true}}]})"));
  auto ids = [&](const std::string& customer, const OfferAudience& a) {
    OfferOptions o;
    o.count = 10;
    o.audience = a;
    auto res = r->ForCustomer(customer, o);
    EXPECT_TRUE(res.ok());
    std::set<std::string> out;
    for (const RankedOffer& x : res->offers) out.insert(Id(*r, x));
    return out;
  };
  auto aud = [](std::string country, std::string channel, std::vector<std::string> segments, bool is_new) {
    OfferAudience a;
    a.country = std::move(country);
    a.channel = std::move(channel);
    a.segments = std::move(segments);
    a.new_customer = is_new;
    return a;
  };
  EXPECT_TRUE(ids("c1", {}).empty());
  EXPECT_EQ(ids("c1", aud("UK", "", {}, false)), std::set<std::string>{"uk"});
  EXPECT_TRUE(ids("c1", aud("FR", "", {}, false)).empty());
  EXPECT_EQ(ids("c1", aud("", "app", {}, false)), std::set<std::string>{"app"});
  EXPECT_EQ(ids("c1", aud("", "", {"x", "vip"}, false)), std::set<std::string>{"vip"});
  // new_customer is the model's call, not the caller's: c1 has purchases.
  EXPECT_TRUE(ids("c1", aud("", "", {}, true)).empty());
  EXPECT_EQ(ids("someone-new", {}), std::set<std::string>{"welcome"});
}

TEST(OfferRankerTest, ImpressionCapsRemoveOffers) {
  auto r = Ranker(CategoryOffers(R"(, "max_impressions_per_customer": 2)"));
  OfferOptions o;
  o.count = 1;
  auto first = Offers(*r, "c2", o);
  ASSERT_EQ(first.size(), 1u);
  uint32_t shown = 1;
  o.impressions = [&](uint32_t offer) { return offer == first[0].offer ? shown : 0u; };
  auto again = Offers(*r, "c2", o);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offer, first[0].offer);  // 1 of 2 shown: still eligible
  shown = 2;
  auto capped = Offers(*r, "c2", o);
  ASSERT_EQ(capped.size(), 1u);
  EXPECT_NE(capped[0].offer, first[0].offer);  // cap reached: the next one
}

TEST(OfferRankerTest, OneOfferPerDrivingProductAndCategory) {
  // Three offers over the same category: once one is chosen, that category
  // drives nothing else, so only one comes back.
  auto same = Ranker(R"({"offers": [
    {"id": "a", "title": "t", "categories": ["cat1"], "discount": {"percent": 5}},
    {"id": "b", "title": "t", "categories": ["cat1"], "discount": {"percent": 10}},
    {"id": "c", "title": "t", "categories": ["cat1"], "discount": {"percent": 15}}]})");
  OfferOptions o;
  o.count = 3;
  EXPECT_EQ(Offers(*same, "c4", o).size(), 1u);
  // Across the six category offers, the chosen ones have distinct driving
  // products and distinct main categories.
  auto r = Ranker(CategoryOffers());
  o.count = 6;
  for (const std::string c : {"c4", "c5", "c6"}) {
    auto offers = Offers(*r, c, o);
    ASSERT_GE(offers.size(), 4u);
    std::set<uint32_t> products;
    std::set<int32_t> categories;
    for (const RankedOffer& x : offers) {
      for (const OfferDriver& d : x.drivers) EXPECT_TRUE(products.insert(d.product).second) << "product drives twice";
      EXPECT_TRUE(categories.insert(r->recommender().CategoryIndex(x.drivers[0].product)).second);
    }
  }
}

TEST(OfferRankerTest, UnknownCustomersGetPopularOffers) {
  auto r = Ranker(CategoryOffers());
  OfferOptions o;
  o.count = 2;
  o.drivers = 1;
  auto res = r->ForCustomer("nobody", o);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->fallback);
  ASSERT_EQ(res->offers.size(), 2u);
  const Model& m = r->recommender().model();
  // The first offer is driven by the most popular product of all.
  const uint32_t top = static_cast<uint32_t>(
      std::max_element(m.item_popularity.begin(), m.item_popularity.end()) - m.item_popularity.begin());
  EXPECT_EQ(res->offers[0].drivers[0].product, top);
  EXPECT_FLOAT_EQ(res->offers[0].drivers[0].affinity, 1.0f);
  auto known = r->ForCustomer("c1", o);
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(known->fallback);
}

TEST(OfferRankerTest, WeightScalesTheScore) {
  OfferOptions o;
  o.count = 6;
  auto plain = Offers(*Ranker(CategoryOffers()), "c7", o);
  auto r = Ranker(CategoryOffers(R"(, "weight": 3)"));
  auto heavy = Offers(*r, "c7", o);
  ASSERT_EQ(plain.size(), heavy.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].offer, heavy[i].offer);
    EXPECT_NEAR(heavy[i].score, 3 * plain[i].score, 1e-4);
  }
  // A heavy weight on the last offer lifts it to the top.
  const std::string last = Id(*r, plain.back());
  std::string json = CategoryOffers();
  const std::string needle = absl::StrCat("\"id\": \"", last, "\"");
  json.insert(json.find(needle) + needle.size(), ", \"weight\": 1000");
  auto lifted = Offers(*Ranker(json), "c7", o);
  ASSERT_FALSE(lifted.empty());
  EXPECT_EQ(Id(*Ranker(json), lifted[0]), last);
}

TEST(OfferRankerTest, RejectsBadOptions) {
  auto r = Ranker(CategoryOffers());
  OfferOptions o;
  o.count = 0;
  EXPECT_EQ(r->ForCustomer("c1", o).status().code(), absl::StatusCode::kInvalidArgument);
  o.count = 1;
  o.drivers = 0;
  EXPECT_EQ(r->ForCustomer("c1", o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace aisle

namespace aisle {
namespace {

// A product bought a moment ago (a live purchase) stops driving offers at
// once, unless repurchasable; live events move a customer's offers.
TEST(OfferRankerTest, LivePurchasesStopDrivingAndLiveEventsMoveOffers) {
  auto r = Ranker(CategoryOffers());
  const Model& m = r->recommender().model();
  const std::string id = m.customers.id(3);
  OfferOptions o;
  o.count = 1;
  auto before = Offers(*r, id, o);
  ASSERT_EQ(before.size(), 1u);
  const uint32_t driver = before[0].drivers[0].product;
  LiveProfile live;
  live.products = {driver};
  live.weights = {1.0f};
  live.purchased = {driver};
  live.events = 1;
  auto after = r->ForCustomer(id, o, &live);
  ASSERT_TRUE(after.ok());
  ASSERT_FALSE(after->offers.empty());
  for (const OfferDriver& d : after->offers[0].drivers) EXPECT_NE(d.product, driver);
  // An unknown customer viewing one category gets that category's offer first.
  const uint32_t category = Data().product_category[40];
  LiveProfile views;
  for (uint32_t p = 0; p < Data().product_category.size() && views.products.size() < 3; ++p) {
    if (Data().product_category[p] == category) {
      views.products.push_back(*m.products.Find(SyntheticProductId(p)));
    }
  }
  std::sort(views.products.begin(), views.products.end());
  views.weights.assign(views.products.size(), 0.3f);
  views.events = views.products.size();
  auto fresh = r->ForCustomer("first-visit", o, &views);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->fallback);
  ASSERT_EQ(fresh->offers.size(), 1u);
  EXPECT_EQ(Id(*r, fresh->offers[0]), absl::StrCat("offer-cat", category));
}

}  // namespace
}  // namespace aisle

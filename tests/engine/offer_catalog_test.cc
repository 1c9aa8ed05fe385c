// Offer catalog parsing: every field, and each kind of malformed catalog
// refused with the file, the offer and the reason.
#include "engine/offer_catalog.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace aisle {
namespace {

constexpr char kFull[] = R"({
  "version": "v7",
  "repurchasable_products": ["p9"],
  "repurchasable_categories": ["coffee"],
  "offers": [
    {"id": "xmas", "title": "Christmas 15% off", "products": ["p2", "p1", "p1"], "categories": ["decor"],
     "discount": {"percent": 15}, "valid_from": "2026-11-01", "valid_until": "2026-12-25T00:00:00Z",
     "eligibility": {"countries": ["UK", "FR"], "channels": ["web"], "segments": ["vip"],
                     "new_customers_only": false},
     "weight": 2.5, "max_impressions_per_customer": 4, "repurchasable": true},
    {"id": "five-off", "title": "5 off", "categories": ["mugs"], "discount": {"amount": 5, "currency": "GBP"}}
  ]})";

TEST(OfferCatalogTest, ParsesEveryField) {
  auto c = OfferCatalog::Parse(kFull, "offers.json");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->offers().size(), 2u);
  const Offer& x = c->offers()[0];
  EXPECT_EQ(x.id, "xmas");
  EXPECT_EQ(x.products, (std::vector<std::string>{"p1", "p2"}));  // sorted, deduplicated
  EXPECT_EQ(x.categories, std::vector<std::string>{"decor"});
  EXPECT_EQ(x.discount_kind, Offer::DiscountKind::kPercent);
  EXPECT_EQ(x.discount, 15);
  EXPECT_EQ(x.valid_from, absl::FromUnixSeconds(1793491200));   // 2026-11-01T00:00:00Z
  EXPECT_EQ(x.valid_until, absl::FromUnixSeconds(1798156800));  // 2026-12-25T00:00:00Z
  EXPECT_EQ(x.countries, (std::vector<std::string>{"FR", "UK"}));
  EXPECT_EQ(x.weight, 2.5);
  EXPECT_EQ(x.max_impressions, 4u);
  EXPECT_TRUE(x.repurchasable);
  const Offer& y = c->offers()[1];
  EXPECT_EQ(y.discount_kind, Offer::DiscountKind::kAmount);
  EXPECT_EQ(y.currency, "GBP");
  EXPECT_EQ(y.valid_from, absl::InfinitePast());
  EXPECT_EQ(y.valid_until, absl::InfiniteFuture());
  EXPECT_EQ(y.weight, 1.0);
  EXPECT_EQ(y.max_impressions, 0u);
  EXPECT_EQ(c->Find("five-off"), 1u);
  EXPECT_FALSE(c->Find("nope").has_value());
  EXPECT_TRUE(c->IsRepurchasableProduct("p9"));
  EXPECT_FALSE(c->IsRepurchasableProduct("p1"));
  EXPECT_TRUE(c->IsRepurchasableCategory("coffee"));
}

TEST(OfferCatalogTest, ValidityWindowIsHalfOpen) {
  auto c = OfferCatalog::Parse(kFull, "offers.json");
  ASSERT_TRUE(c.ok());
  const Offer& x = c->offers()[0];
  EXPECT_FALSE(x.ValidAt(absl::FromUnixSeconds(1793491200 - 1)));
  EXPECT_TRUE(x.ValidAt(absl::FromUnixSeconds(1793491200)));
  EXPECT_TRUE(x.ValidAt(absl::FromUnixSeconds(1798156800 - 1)));
  EXPECT_FALSE(x.ValidAt(absl::FromUnixSeconds(1798156800)));
}

TEST(OfferCatalogTest, Eligibility) {
  Offer o;
  OfferAudience a;
  EXPECT_TRUE(IsEligible(o, a));  // no rules: anyone
  o.countries = {"FR", "UK"};
  EXPECT_FALSE(IsEligible(o, a));  // country unknown
  a.country = "DE";
  EXPECT_FALSE(IsEligible(o, a));
  a.country = "UK";
  EXPECT_TRUE(IsEligible(o, a));
  o.channels = {"app"};
  a.channel = "web";
  EXPECT_FALSE(IsEligible(o, a));
  a.channel = "app";
  EXPECT_TRUE(IsEligible(o, a));
  o.segments = {"gold", "vip"};
  EXPECT_FALSE(IsEligible(o, a));
  a.segments = {"new", "vip"};
  EXPECT_TRUE(IsEligible(o, a));
  o.new_customers_only = true;
  EXPECT_FALSE(IsEligible(o, a));
  a.new_customer = true;
  EXPECT_TRUE(IsEligible(o, a));
}

TEST(OfferCatalogTest, MalformedCatalogsAreRefusedWithFileOfferAndReason) {
  const std::string ok_offer = R"("title": "t", "products": ["p1"], "discount": {"percent": 10})";
  struct Case {
    std::string json;
    std::string expect;  // in the message
  } cases[] = {
      {"{\"offers\": [", "not valid JSON"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + ", \"weight\": 1e400}]}", "not valid JSON"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + ", \"weight\": 1e300}]}", "'weight' must be in (0, 1e6]"},
      {"{\"offers\": " + std::string(100000, '[') + std::string(100000, ']') + "}", "nested deeper"},
      {"[]", "top level"},
      {"{\"offer\": []}", "unknown field 'offer'"},
      {"{\"offers\": {}}", "'offers' must be an array"},
      {"{\"offers\": [{" + ok_offer + "}]}", "offers[0]: missing 'id'"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + "}, {\"id\": \"a\", " + ok_offer + "}]}",
       "offers[1] (id 'a'): duplicate id"},
      {R"({"offers": [{"id": "a", "title": "t", "discount": {"percent": 10}}]})", "(id 'a'): applies to nothing"},
      {R"({"offers": [{"id": "a", "title": "t", "products": ["p"]}]})", "missing 'discount'"},
      {R"({"offers": [{"id": "a", "title": "t", "products": ["p"], "discount": {"percent": 150}}]})",
       "percent must be in (0, 100]"},
      {R"({"offers": [{"id": "a", "title": "t", "products": ["p"], "discount": {"percent": 5, "amount": 1}}]})",
       "exactly one of"},
      {R"({"offers": [{"id": "a", "title": "t", "products": ["p"], "discount": {"amount": -1}}]})",
       "amount must be > 0"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "valid_from": "2026-12-01", "valid_until": "2026-11-01"}]})",
       "'valid_until' is not after 'valid_from'"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "valid_until": "next week"}]})", "'valid_until' must be"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "weight": 0}]})", "'weight' must be in (0, 1e6]"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "weight": "high"}]})", "'weight' must be a number"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "max_impressions_per_customer": 0}]})",
       "must be a positive integer"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "valid_untill": "2027-01-01"}]})",
       "unknown field 'valid_untill'"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "eligibility": {"country": ["UK"]}}]})",
       "unknown field 'country'"},
      {"{\"offers\": [{\"id\": \"a\", " + ok_offer + R"(, "eligibility": {"countries": "UK"}}]})",
       "'countries' must be an array"},
      {R"({"offers": [{"id": "a", "title": "t", "products": [1], "discount": {"percent": 10}}]})",
       "'products' must be an array of non-empty strings"},
      {R"({"offers": [{"id": "", "title": "t", "products": ["p"], "discount": {"percent": 10}}]})", "'id' is empty"},
      {R"({"offers": ["a"]})", "offers[0]: an offer must be a JSON object"},
  };
  for (const Case& c : cases) {
    auto r = OfferCatalog::Parse(c.json, "shop/offers.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("shop/offers.json: "), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status() << "\nexpected: " << c.expect;
  }
}

TEST(OfferCatalogTest, LoadsFilesAndReportsMissingOnes) {
  testing::TempDir dir;
  auto c = OfferCatalog::Load(dir.Write("offers.json", kFull));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->offers().size(), 2u);
  EXPECT_EQ(OfferCatalog::Load(dir.Path("missing.json")).status().code(), absl::StatusCode::kNotFound);
}

TEST(OfferCatalogTest, TheBundledExampleCatalogLoads) {
  auto c = OfferCatalog::Load(std::string(AISLE_SOURCE_DIR) + "/data/offers/online_retail_offers.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GE(c->offers().size(), 30u);
}

TEST(OfferCatalogTest, ParsesTimes) {
  EXPECT_EQ(ParseOfferTime("2026-11-23"), absl::FromUnixSeconds(1795392000));
  EXPECT_EQ(ParseOfferTime("2026-11-23T01:00:00+01:00"), absl::FromUnixSeconds(1795392000));
  EXPECT_EQ(ParseOfferTime("1795392000"), absl::FromUnixSeconds(1795392000));
  EXPECT_FALSE(ParseOfferTime("23/11/2026").has_value());
  EXPECT_FALSE(ParseOfferTime("").has_value());
}

}  // namespace
}  // namespace aisle

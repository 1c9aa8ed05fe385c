// The experiments file: what it may say, and every way it is refused with a
// reason naming the experiment and variant.
#include "engine/experiments.h"

#include <gtest/gtest.h>

namespace aisle {
namespace {

constexpr char kGood[] = R"({"experiments": [
  {"id": "ials-vs-popular", "salt": "s1", "endpoints": ["customer_recommendations", "customer_offers"],
   "start": "2026-12-01", "end": "2027-01-01", "control": "popular",
   "variants": [{"name": "popular", "weight": 50, "serve": "popularity"},
                {"name": "ials", "weight": 50},
                {"name": "candidate", "weight": 0, "model": "/srv/models/candidate", "offers": "/srv/offers-b.json"}]},
  {"id": "similar-aa", "endpoints": ["similar_products"],
   "variants": [{"name": "a"}, {"name": "b"}]}]})";

TEST(Experiments, ParsesAFile) {
  auto set = ExperimentSet::Parse(kGood, "experiments.json");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->experiments().size(), 2u);
  const Experiment& e = set->experiments()[0];
  EXPECT_EQ(e.salt, "s1");
  EXPECT_EQ(e.control, "popular");
  EXPECT_EQ(e.variants[0].serve, ExperimentVariant::Serve::kPopularity);
  EXPECT_EQ(e.variants[1].serve, ExperimentVariant::Serve::kModel);
  EXPECT_EQ(e.variants[2].model, "/srv/models/candidate");
  EXPECT_EQ(set->experiments()[1].salt, "similar-aa") << "the id when no salt";
  EXPECT_EQ(set->experiments()[1].control, "a") << "the first variant when no control";
  EXPECT_EQ(set->ModelPaths(), std::vector<std::string>{"/srv/models/candidate"});
  const absl::Time dec15 = absl::FromCivil(absl::CivilSecond(2026, 12, 15, 0, 0, 0), absl::UTCTimeZone());
  EXPECT_EQ(set->For("customer_offers", dec15), &e);
  EXPECT_EQ(set->For("customer_offers", dec15 + absl::Hours(24 * 30)), nullptr) << "ended";
  EXPECT_EQ(set->For("basket_recommendations", dec15), nullptr);
  EXPECT_NE(set->For("similar_products", dec15), nullptr);
}

TEST(Experiments, RefusesWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"[]", "JSON object"},
      {R"({"experiments": {}})", "must be an array"},
      {R"({"experiments": [{"endpoints": ["similar_products"], "variants": [{"name": "a"}, {"name": "b"}]}]})", "'id' is required"},
      {R"({"experiments": [{"id": "x", "endpoints": ["checkout"], "variants": [{"name": "a"}, {"name": "b"}]}]})", "unknown endpoint"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a"}]}]})", "2 to 100 variants"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a"}, {"name": "a"}]}]})", "appears twice"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "weight": -1}, {"name": "b"}]}]})", "'weight'"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]}]})", "weight 0"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "serve": "random"}, {"name": "b"}]}]})", "'serve'"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "serve": "popularity", "model": "m"}, {"name": "b"}]}]})", "no model"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "start": "2027-01-01", "end": "2026-01-01", "variants": [{"name": "a"}, {"name": "b"}]}]})", "not before"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "start": "soon", "variants": [{"name": "a"}, {"name": "b"}]}]})", "'start'"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "control": "z", "variants": [{"name": "a"}, {"name": "b"}]}]})", "'control'"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "varients": [], "variants": [{"name": "a"}, {"name": "b"}]}]})", "unknown field"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a"}, {"name": "b"}]},
                           {"id": "y", "endpoints": ["similar_products"], "variants": [{"name": "a"}, {"name": "b"}]}]})", "both cover"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a"}, {"name": "b"}]},
                           {"id": "x", "endpoints": ["customer_offers"], "variants": [{"name": "a"}, {"name": "b"}]}]})", "appears twice"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "weight": 1e999}, {"name": "b"}]}]})", "overflow"},
      // Denormal weights: shares that are not finite once normalized (the
      // assignment once returned -1 and the server indexed variants[-1]).
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "weight": 5e-324}, {"name": "b", "weight": 5e-324}]}]})", "'weight' must be 0 or"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "weight": 1e-310}, {"name": "b", "weight": 0}]}]})", "'weight' must be 0 or"},
      {R"({"experiments": [{"id": "x", "endpoints": ["similar_products"], "variants": [{"name": "a", "weight": 1e6}, {"name": "b", "weight": 1e6}, {"name": "c", "weight": 1e-6}]}]})", "variant 'c': its weight"},
  };
  for (const Case& c : cases) {
    auto set = ExperimentSet::Parse(c.text, "experiments.json");
    ASSERT_FALSE(set.ok()) << c.text;
    EXPECT_NE(set.status().message().find(c.reason), absl::string_view::npos) << set.status() << "\nwanted: " << c.reason;
    EXPECT_NE(set.status().message().find("experiments.json"), absl::string_view::npos);
  }
  // Experiments on the same endpoint one after the other are fine.
  EXPECT_TRUE(ExperimentSet::Parse(R"({"experiments": [
      {"id": "x", "endpoints": ["similar_products"], "end": "2026-12-01", "variants": [{"name": "a"}, {"name": "b"}]},
      {"id": "y", "endpoints": ["similar_products"], "start": "2026-12-01", "variants": [{"name": "a"}, {"name": "b"}]}]})",
                                   "e.json")
                  .ok());
}

}  // namespace
}  // namespace aisle

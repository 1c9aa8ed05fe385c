// Experiment analysis on small data computed by hand, and the chi-squared
// tail against table values.
#include "evaluation/experiment_analysis.h"

#include <gtest/gtest.h>

#include <cmath>

namespace aisle {
namespace {

LiveEvent Ev(const std::string& c, const std::string& p, EventType t, int64_t ts, float price, float q = 1,
             const std::string& rid = "") {
  LiveEvent e;
  e.customer_id = c;
  e.product_id = p;
  e.type = t;
  e.timestamp = ts;
  e.price = price;
  e.quantity = q;
  e.recommendation_id = rid;
  return e;
}

TEST(ChiSquared, MatchesTables) {
  EXPECT_NEAR(ChiSquaredSurvival(3.841, 1), 0.05, 1e-3);
  EXPECT_NEAR(ChiSquaredSurvival(10.828, 1), 0.001, 1e-5);
  EXPECT_NEAR(ChiSquaredSurvival(5.991, 2), 0.05, 1e-3);
  EXPECT_NEAR(ChiSquaredSurvival(16.919, 9), 0.05, 1e-3);
  EXPECT_NEAR(ChiSquaredSurvival(0, 3), 1.0, 1e-12);
}

TEST(ExperimentAnalysis, HandComputed) {
  const int64_t t0 = 1000;  // seconds
  std::vector<ExposureRecord> ex = {
      {"r1", "e", "control", "a1", t0 * 1000, {"p1", "p2"}, "customer_recommendations"},
      {"r2", "e", "control", "a2", t0 * 1000, {"p1"}, "customer_recommendations"},
      {"r3", "e", "b", "b1", t0 * 1000, {"p3"}, "customer_recommendations"},
      {"r4", "e", "b", "b2", t0 * 1000, {"p4"}, "customer_recommendations"},
      {"r5", "e", "b", "b2", t0 * 1000 + 5000, {"p4"}, "customer_recommendations"},
      {"r6", "e", "control", "m1", t0 * 1000, {"p1"}, "customer_recommendations"},
      {"r7", "e", "b", "m1", t0 * 1000, {"p1"}, "customer_recommendations"},
      {"r8", "", "", "a1", t0 * 1000, {"p1"}, "customer_recommendations"},  // outside any experiment
  };
  std::vector<LiveEvent> events = {
      Ev("a1", "p1", EventType::kPurchase, t0 + 60, 10),           // shown: conversion, shown purchase, 10
      Ev("b1", "p9", EventType::kPurchase, t0 + 60, 20, 2),        // not shown: conversion, 40
      Ev("b1", "p3", EventType::kClick, t0 + 30, NAN),             // a click
      Ev("b2", "p2", EventType::kPurchase, t0 + 100, 5, 1, "r4"),  // attributed by recommendation_id
      Ev("b2", "p4", EventType::kPurchase, t0 + 8 * 86400, 50),    // after the window
      Ev("a2", "p1", EventType::kPurchase, t0 - 10, 7),            // before the first exposure
      Ev("m1", "p1", EventType::kPurchase, t0 + 10, 99),           // a customer in both variants: left out
  };
  ExperimentAnalysisOptions o;
  o.weights["e"] = {{"control", 1}, {"b", 1}};
  o.controls["e"] = "control";
  const std::vector<ExperimentReport> r = AnalyzeExperiments(ex, events, o);
  ASSERT_EQ(r.size(), 1u);
  const ExperimentReport& e = r[0];
  EXPECT_EQ(e.multi_variant_customers, 1u);
  ASSERT_EQ(e.variants.size(), 2u);
  const VariantReport& c = e.variants[0];
  const VariantReport& b = e.variants[1];
  EXPECT_EQ(c.name, "control");
  EXPECT_EQ(c.customers, 2u);
  EXPECT_EQ(b.customers, 2u);
  EXPECT_EQ(b.exposures, 3u);
  EXPECT_DOUBLE_EQ(c.conversion.mean, 0.5);
  EXPECT_DOUBLE_EQ(b.conversion.mean, 1.0);
  EXPECT_DOUBLE_EQ(c.shown_purchases.mean, 0.5);
  EXPECT_DOUBLE_EQ(b.shown_purchases.mean, 0.5);
  EXPECT_DOUBLE_EQ(b.clicks.mean, 0.5);
  EXPECT_DOUBLE_EQ(c.revenue.mean, 5.0);
  EXPECT_DOUBLE_EQ(b.revenue.mean, 22.5);
  // Conversion: b - control = 0.5; control's sample variance 0.5 over 2 customers, b's 0: se 0.5.
  EXPECT_DOUBLE_EQ(b.conversion.diff, 0.5);
  EXPECT_NEAR(b.conversion.ci_low, 0.5 - 1.96 * 0.5, 1e-3);
  EXPECT_NEAR(b.conversion.ci_high, 0.5 + 1.96 * 0.5, 1e-3);
  EXPECT_NEAR(b.conversion.p_value, 0.3173, 1e-4);
  // Revenue: control {10, 0} var 50, b {40, 5} var 612.5: se sqrt(25 + 306.25).
  EXPECT_DOUBLE_EQ(b.revenue.diff, 17.5);
  EXPECT_NEAR(b.revenue.ci_high - b.revenue.diff, 1.96 * std::sqrt(331.25), 1e-2);
  EXPECT_DOUBLE_EQ(e.srm_chi2, 0);
  EXPECT_FALSE(e.srm_flag);
}

TEST(ExperimentAnalysis, ASkewedSplitRaisesTheFlag) {
  std::vector<ExposureRecord> ex;
  for (int i = 0; i < 600; ++i) ex.push_back({"r", "e", "a", "a" + std::to_string(i), 0, {}, "customer_recommendations"});
  for (int i = 0; i < 400; ++i) ex.push_back({"r", "e", "b", "b" + std::to_string(i), 0, {}, "customer_recommendations"});
  ExperimentAnalysisOptions o;
  o.weights["e"] = {{"a", 1}, {"b", 1}};
  std::vector<ExperimentReport> r = AnalyzeExperiments(ex, {}, o);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NEAR(r[0].srm_chi2, 40.0, 1e-9);  // (600-500)^2/500 * 2
  EXPECT_TRUE(r[0].srm_flag);
  // The same counts under 60/40 weights are as expected.
  o.weights["e"] = {{"a", 60}, {"b", 40}};
  r = AnalyzeExperiments(ex, {}, o);
  EXPECT_NEAR(r[0].srm_chi2, 0.0, 1e-9);
  EXPECT_FALSE(r[0].srm_flag);
}

}  // namespace
}  // namespace aisle

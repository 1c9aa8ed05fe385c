// The live loop's offline worth on planted data: customers with planted
// tastes keep buying after the model's data ends; answers that fold in
// their newer events must beat the model's own, most of all for customers
// the model never saw (popularity without the live loop).
#include "evaluation/live_evaluation.h"

#include <gtest/gtest.h>

#include "data/synthetic.h"
#include "tests/synthetic_log.h"

namespace aisle {
namespace {

TEST(LiveEvaluationTest, FoldingInNewerEventsBeatsTheModelAlone) {
  SyntheticOptions so;
  so.customers = 800;
  so.products = 240;
  so.categories = 8;
  so.purchases = 24000;
  so.views_per_purchase = 1.0;
  so.days = 100;
  so.seed = 17;
  const SyntheticData d = GenerateSynthetic(so);
  const int64_t cutoff = so.start_time + 70 * 86400;
  // Training: events before the cut-off, except for the last 200 customers,
  // who are new after it.
  SyntheticData train = d, test = d;
  train.events.clear();
  test.events.clear();
  for (const SyntheticEvent& e : d.events) {
    ((e.timestamp < cutoff && e.customer < 600) ? train : test).events.push_back(e);
  }
  // Test events before the cut-off of the new customers are their history too.
  auto model = std::make_shared<Model>(::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(train)));
  ASSERT_TRUE(model->SetMetadata({{"model_id", "live-eval"}, {"hyperparameters", {{"regularization", 0.5}}}}).ok());
  auto r = Recommender::Create(model, nullptr);
  ASSERT_TRUE(r.ok());
  LiveEvaluationOptions o;
  o.k = 10;
  o.resamples = 500;
  const LiveEvaluationResult res = EvaluateLive(**r, ::aisle::testing::ToEventLog(test), o);
  ASSERT_GT(res.known.points, 200u);
  ASSERT_GT(res.unknown.points, 200u);
  // First days (no earlier held-out event) count in `all` only.
  EXPECT_GT(res.all.points, res.with_history.points);
  // New customers: popularity against their own events folded in.
  // (Measured: HR@10 0.158 -> 0.421 for them, 0.391 -> 0.412 for known customers.)
  EXPECT_GT(res.unknown.hr.diff, 0.15) << res.unknown.hr.mean_a << " -> " << res.unknown.hr.mean_b;
  EXPECT_GT(res.unknown.hr.mean_b, 0.35);
  EXPECT_GT(res.unknown.hr.ci_low, 0);
  EXPECT_GT(res.unknown.ndcg.ci_low, 0);
  // Known customers: at least no worse, and better overall.
  EXPECT_GT(res.known.hr.ci_high, 0);
  EXPECT_GT(res.with_history.hr.ci_low, 0);
}

}  // namespace
}  // namespace aisle

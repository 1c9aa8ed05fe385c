#include "training/tuner.h"

#include <gtest/gtest.h>

#include "data/synthetic.h"
#include "tests/synthetic_log.h"
#include "evaluation/split.h"

namespace aisle {
namespace {

TEST(TunerTest, FindsTheBetterConfigurationOnValidation) {
  SyntheticOptions so;
  so.customers = 600;
  so.products = 200;
  so.categories = 10;
  so.purchases = 15000;
  so.seed = 4;
  SyntheticData d = GenerateSynthetic(so);
  EventLog log = ::aisle::testing::ToEventLog(d);
  SplitOptions sp;
  sp.method = SplitMethod::kLeaveOneOut;
  SplitResult r = SplitEvents(log, sp);
  EventLog train = SubsetLog(log, r.part, SplitPart::kTrain);
  EventLog val = SubsetLog(log, r.part, SplitPart::kTest);

  TuneOptions o;
  o.space.factors = {1, 16};
  o.space.regularization = {0.5f};
  o.space.alpha = {1.0f};
  o.space.unobserved_weight = {1.0f};
  o.space.iterations = {2, 6};
  o.metric = "hr@10";
  o.threads = 2;
  int calls = 0;
  auto result = Tune(train, val, WeightingOptions(), o, [&](const TrialResult&, size_t done, size_t total) {
    ++calls;
    EXPECT_LE(done, total);
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(result->trials.size(), 2u);
  const TrialResult& best = result->trials[result->best];
  EXPECT_EQ(best.ials.factors, 16);  // one factor cannot express 10 tastes
  EXPECT_EQ(best.by_iterations.size(), 2u);
  EXPECT_GT(best.best, result->trials[1 - result->best].best);
  EXPECT_NE(TrialFlags(best.ials).find("--factors 16"), std::string::npos);
  // A random sample of the grid.
  o.trials = 1;
  auto one = Tune(train, val, WeightingOptions(), o, nullptr);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->trials.size(), 1u);
  // No searched values: an error, not a crash.
  o.space.alpha.clear();
  EXPECT_FALSE(Tune(train, val, WeightingOptions(), o, nullptr).ok());
}

}  // namespace
}  // namespace aisle

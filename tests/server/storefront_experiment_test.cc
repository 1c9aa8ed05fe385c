// The experiment loop end to end on a small simulated store: the real
// server on loopback with an experiment, exposures and the event journal;
// simulated customers with planted tastes who buy what they were shown
// when it suits them (data/storefront_simulator.h); then the analysis.
// The model must beat the popularity control with an interval excluding
// zero; an A/A experiment must show nothing; re-randomized A/A analyses
// must call about 5% significant; a split that does not match the weights
// the analysis is told must raise the mismatch flag.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "data/storefront_simulator.h"
#include "data/synthetic.h"
#include "engine/model_io.h"
#include "evaluation/experiment_analysis.h"
#include "server/http_server.h"
#include "tests/synthetic_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::TempDir;

const SyntheticData& Store() {
  static const SyntheticData d = [] {
    SyntheticOptions so;
    so.customers = 400;
    so.products = 120;
    so.categories = 6;
    so.purchases = 8000;
    so.seed = 31;
    return GenerateSynthetic(so);
  }();
  return d;
}

struct SimRun {
  std::vector<ExposureRecord> exposures;
  std::vector<LiveEvent> events;
  StorefrontResult sim;
};

// Serves the store's model with `experiments` (JSON) and simulates `visits`.
SimRun Simulate(const std::string& experiments, uint64_t visits, uint64_t seed) {
  TempDir dir;
  Model m = ::aisle::testing::TrainSmallModel(::aisle::testing::ToEventLog(Store()));
  EXPECT_TRUE(m.SetMetadata({{"model_id", "store"}, {"hyperparameters", {{"regularization", 0.5}}},
                             {"data", {{"last_event_unix", 1600000000}}}})
                  .ok());
  EXPECT_TRUE(WriteModel(m, dir.Path("m.model")).ok());
  dir.Write("experiments.json", experiments);
  Metrics metrics;
  ModelSource source(dir.Path("m.model"), "", &metrics, Recommender::Options{.top_list_length = 16});
  EXPECT_TRUE(source.Reload(true).ok());
  ExperimentSource exps(dir.Path("experiments.json"), {&source, dir.Path("m.model"), "", "", {}});
  EXPECT_TRUE(exps.Reload(true).ok());
  ExposureLog::Options eo;
  eo.dir = dir.Path("exposures");
  eo.sync = false;
  auto log = ExposureLog::Open(eo);
  LiveLoopOptions lo;
  lo.dir = dir.Path("events");
  lo.journal.sync = false;
  auto live = LiveLoop::Open(lo, &source.Current()->model());
  EXPECT_TRUE(log.ok() && live.ok());
  HttpServerOptions o;
  o.port = 0;
  o.access_log = nullptr;
  o.experiments = &exps;
  o.exposures = log->get();
  o.live = live->get();
  HttpServer server(&source, &metrics, o);
  EXPECT_TRUE(server.Start().ok());
  StorefrontOptions so;
  so.port = server.port();
  so.visits = visits;
  so.seed = seed;
  auto sim = RunStorefront(Store(), so);
  EXPECT_TRUE(sim.ok()) << sim.status();
  server.Shutdown();
  log->reset();
  live->reset();
  SimRun r;
  r.sim = *sim;
  auto ex = ReadExposures(dir.Path("exposures"));
  EXPECT_TRUE(ex.ok());
  r.exposures = *std::move(ex);
  auto segments = EventJournal::ListSegments(dir.Path("events"), true);
  EXPECT_TRUE(segments.ok());
  for (const auto& s : *segments) {
    EXPECT_TRUE(EventJournal::ReadSegment(s.path, [&](LiveEvent&& e) { r.events.push_back(std::move(e)); }).ok());
  }
  return r;
}

std::string Experiment(const std::string& a, const std::string& b, int wa, int wb) {
  return absl::StrCat(R"({"experiments": [{"id": "e", "salt": "store", "endpoints": ["customer_recommendations"],
      "control": "a", "variants": [{"name": "a", "weight": )", wa, ", ", a, R"(}, {"name": "b", "weight": )", wb, ", ",
                      b, "}]}]}");
}

TEST(StorefrontExperiment, TheModelBeatsPopularity) {
  const SimRun r = Simulate(Experiment(R"("serve": "popularity")", R"("serve": "model")", 50, 50), 3000, 1);
  EXPECT_EQ(r.sim.errors, 0u);
  ExperimentAnalysisOptions o;
  o.weights["e"] = {{"a", 50}, {"b", 50}};
  o.controls["e"] = "a";
  const std::vector<ExperimentReport> rep = AnalyzeExperiments(r.exposures, r.events, o);
  ASSERT_EQ(rep.size(), 1u);
  ASSERT_EQ(rep[0].variants.size(), 2u);
  const VariantReport& model = rep[0].variants[1];
  EXPECT_GT(model.shown_purchases.diff, 0);
  EXPECT_GT(model.shown_purchases.ci_low, 0) << "the lift's interval excludes zero";
  EXPECT_GT(model.clicks.ci_low, 0);
  EXPECT_FALSE(rep[0].srm_flag) << rep[0].srm_p;
  EXPECT_EQ(rep[0].multi_variant_customers, 0u);
}

TEST(StorefrontExperiment, AnAaExperimentShowsNothingAndReRandomizationsAreCalibrated) {
  const SimRun r = Simulate(Experiment(R"("serve": "model")", R"("serve": "model")", 50, 50), 3000, 2);
  ExperimentAnalysisOptions o;
  o.weights["e"] = {{"a", 50}, {"b", 50}};
  o.controls["e"] = "a";
  const std::vector<ExperimentReport> rep = AnalyzeExperiments(r.exposures, r.events, o);
  ASSERT_EQ(rep.size(), 1u);
  const VariantReport& b = rep[0].variants[1];
  // One A/A comparison is "significant" at 5% one time in twenty by design;
  // at 0.1% none should be (the re-randomizations below check the 5% rate).
  for (const MetricComparison* m : {&b.conversion, &b.shown_purchases, &b.clicks, &b.revenue}) {
    EXPECT_GT(m->p_value, 0.001);
  }
  EXPECT_FALSE(rep[0].srm_flag);
  // 200 re-randomized A/A analyses: about 5% significant (binomial sd 1.5%).
  const Calibration cal = CalibrateByRerandomization(r.exposures, r.events, "e", o, 200);
  for (double share : {cal.conversion, cal.shown_purchases, cal.clicks, cal.revenue}) {
    EXPECT_GE(share, 0.005);
    EXPECT_LE(share, 0.11);
  }
}

TEST(StorefrontExperiment, ASkewedSplitRaisesTheMismatchFlag) {
  // The server runs 70/30 while the analysis is told 50/50.
  const SimRun r = Simulate(Experiment(R"("serve": "model")", R"("serve": "model")", 70, 30), 1500, 3);
  ExperimentAnalysisOptions o;
  o.weights["e"] = {{"a", 50}, {"b", 50}};
  const std::vector<ExperimentReport> rep = AnalyzeExperiments(r.exposures, r.events, o);
  ASSERT_EQ(rep.size(), 1u);
  EXPECT_TRUE(rep[0].srm_flag) << rep[0].srm_chi2;
  o.weights["e"] = {{"a", 70}, {"b", 30}};
  EXPECT_FALSE(AnalyzeExperiments(r.exposures, r.events, o)[0].srm_flag);
}

}  // namespace
}  // namespace aisle

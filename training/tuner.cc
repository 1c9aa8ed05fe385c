#include "training/tuner.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_format.h"
#include "engine/stopwatch.h"
#include "evaluation/evaluation.h"
#include "training/train_job.h"

namespace aisle {

std::string TrialFlags(const IalsOptions& o) {
  std::string s = absl::StrFormat("--factors %d --regularization %g --alpha %g --unobserved_weight %g --iterations %d",
                                  o.factors, o.objective.regularization, o.objective.alpha,
                                  o.objective.unobserved_weight, o.iterations);
  if (o.objective.regularization_exponent != 0) {
    absl::StrAppendFormat(&s, " --frequency_scaled_regularization --regularization_exponent %g",
                          o.objective.regularization_exponent);
  }
  absl::StrAppendFormat(&s, " --solver %s --cg_steps %d --seed %d",
                        o.solve.solver == AlsSolver::kCholesky ? "cholesky" : "cg", o.solve.cg_steps, o.seed);
  return s;
}

absl::StatusOr<TuneResult> Tune(const EventLog& train, const EventLog& validation,
                                const WeightingOptions& weighting, const TuneOptions& o,
                                const std::function<void(const TrialResult&, size_t, size_t)>& progress) {
  auto metric = ParseMetric(o.metric);
  if (!metric.ok()) return metric.status();
  const TuneSpace& sp = o.space;
  if (sp.factors.empty() || sp.regularization.empty() || sp.alpha.empty() || sp.unobserved_weight.empty() ||
      sp.iterations.empty()) {
    return absl::InvalidArgumentError("every searched hyperparameter needs at least one value");
  }
  std::vector<int> iters = sp.iterations;
  std::sort(iters.begin(), iters.end());
  if (iters.front() < 1) return absl::InvalidArgumentError("iteration counts must be >= 1");

  // The grid, without iterations (those come from one run per trial).
  std::vector<IalsOptions> grid;
  for (int f : sp.factors)
    for (float r : sp.regularization)
      for (float a : sp.alpha)
        for (float u : sp.unobserved_weight) {
          IalsOptions t = o.base;
          t.factors = f;
          t.objective.regularization = r;
          t.objective.alpha = a;
          t.objective.unobserved_weight = u;
          t.iterations = iters.back();
          if (absl::Status s = t.Validate(); !s.ok()) return s;
          grid.push_back(t);
        }
  if (o.trials > 0 && static_cast<size_t>(o.trials) < grid.size()) {
    std::mt19937_64 rng(o.seed);
    std::shuffle(grid.begin(), grid.end(), rng);
    grid.resize(static_cast<size_t>(o.trials));
  }

  Interactions data = BuildInteractions(train, weighting);
  if (data.user_items.nnz() == 0) return absl::InvalidArgumentError("no training interactions");
  // Everything of the model but the factors, shared by all trials.
  Model base = AssembleModel(train, data, FactorMatrix(), FactorMatrix());
  TestSet val = BuildTestSet(base, validation, /*exclude_train=*/true, Segmentation::kNone);
  if (val.customers.empty()) {
    return absl::InvalidArgumentError("no validation customer is in the training data with a new purchase");
  }

  const int budget = o.threads > 0 ? o.threads : omp_get_max_threads();
  const int parallel = std::max(1, std::min<int>(o.parallel > 0 ? o.parallel : budget, grid.size()));
  const int per_trial = std::max(1, budget / parallel);
  TuneResult result;
  result.trials.resize(grid.size());
  result.validation_customers = val.customers.size();
  std::atomic<size_t> next{0}, done{0};
  std::mutex mu;
  absl::Status first_error;
  auto worker = [&] {
    while (true) {
      const size_t i = next.fetch_add(1);
      if (i >= grid.size()) return;
      const Stopwatch start;
      IalsOptions t = grid[i];
      t.threads = per_trial;
      IalsTrainer trainer(data.user_items, data.item_users, t);
      absl::Status s = trainer.Init();
      TrialResult tr;
      tr.ials = t;
      tr.best = -1;
      Model m = base;
      EvaluationOptions eo;
      eo.ks = {metric->second};
      for (int it = 1; s.ok() && it <= iters.back(); ++it) {
        trainer.Iterate(false);
        if (!std::binary_search(iters.begin(), iters.end(), it)) continue;
        m.user_factors = trainer.user_factors();
        m.item_factors = trainer.item_factors();
        double v = 0;
        if (m.user_factors.allFinite() && m.item_factors.allFinite()) {
          EvaluationResult r = Evaluate(m, *MakeModelScorer(m), val, eo);
          v = r.means[metric->first];
        }
        tr.by_iterations.emplace_back(it, v);
        if (v > tr.best) {
          tr.best = v;
          tr.ials.iterations = it;
        }
      }
      tr.ials.threads = o.base.threads;
      tr.seconds = start.Seconds();
      std::lock_guard<std::mutex> lock(mu);
      if (!s.ok() && first_error.ok()) first_error = s;
      result.trials[i] = tr;
      if (progress) progress(tr, ++done, grid.size());
    }
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < parallel; ++p) threads.emplace_back(worker);
  for (auto& th : threads) th.join();
  if (!first_error.ok()) return first_error;
  for (size_t i = 1; i < result.trials.size(); ++i) {
    if (result.trials[i].best > result.trials[result.best].best) result.best = i;
  }
  return result;
}

}  // namespace aisle

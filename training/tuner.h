// Hyperparameter search for iALS on a validation split: a grid over the
// listed values (or a random sample of it), trials run in parallel, each
// trial trained once to the largest iteration count and evaluated at every
// listed count. The validation events must not be in the training log.
// Not thread-safe; it runs its own threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "events/event_log.h"
#include "training/ials_trainer.h"
#include "training/weighting.h"

namespace aisle {

struct TuneSpace {
  std::vector<int> factors = {32, 64, 128};
  std::vector<float> regularization = {0.01f, 0.1f, 1.0f};
  std::vector<float> alpha = {1.0f, 5.0f};
  std::vector<float> unobserved_weight = {1.0f};
  std::vector<int> iterations = {5, 10, 15};
};

struct TuneOptions {
  TuneSpace space;
  IalsOptions base;       // everything not searched (solver, cg steps, seed, exponent...)
  int trials = 0;         // 0: the whole grid; otherwise this many distinct grid points at random
  std::string metric = "ndcg@10";
  int parallel = 0;       // concurrent trials; 0: the thread budget
  int threads = 0;        // total threads; 0: all cores
  uint64_t seed = 1;      // of the random sample
};

struct TrialResult {
  IalsOptions ials;       // with the best iteration count
  double best = 0;        // metric at the best iteration count
  std::vector<std::pair<int, double>> by_iterations;
  double seconds = 0;
};

struct TuneResult {
  std::vector<TrialResult> trials;  // in the order they were defined
  size_t best = 0;
  uint64_t validation_customers = 0;
};

// `progress` is called after each trial (from worker threads, serialized).
absl::StatusOr<TuneResult> Tune(const EventLog& train, const EventLog& validation,
                                const WeightingOptions& weighting, const TuneOptions& options,
                                const std::function<void(const TrialResult&, size_t done, size_t total)>& progress);

// The flags that reproduce a trial with aisle-train.
std::string TrialFlags(const IalsOptions& o);

}  // namespace aisle

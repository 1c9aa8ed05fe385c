// The publishing gate of a scheduled retraining: the candidate and the
// currently published model are evaluated on the newest events, held out
// from the candidate's training, and the candidate is refused when it is
// worse by more than a tolerance. Thread-safe: free functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "events/event_log.h"
#include "engine/csr_matrix.h"

namespace aisle {

struct GateOptions {
  std::string metric = "ndcg@10";   // any per-customer metric of training/evaluation.h
  double max_drop = 0.01;           // refuse when candidate < current - max_drop
  double holdout_fraction = 0.1;    // newest share of events held out for the gate
  uint64_t min_customers = 20;      // refuse when fewer held-out customers can be ranked
};

// The time from which events are held out: the (1 - holdout_fraction)
// quantile of event times, or later when the current model was trained on
// events up to `current_last_event` (Unix seconds, 0 if unknown), so that
// neither model has seen the held-out events.
int64_t GateCutoff(const EventLog& log, double holdout_fraction, int64_t current_last_event);

struct GateResult {
  bool passed = false;
  double candidate = 0;   // metric mean over the customers both models can rank
  double current = 0;
  uint64_t customers = 0;
  std::string reason;     // why it passed or was refused, for the log
};

// `source`'s purchased products per customer, in `target`'s indexes (ids
// unknown to `target` are dropped).
CsrMatrix RemapPurchases(const Model& source, const Model& target);

// Evaluates both models on `holdout` (training purchases excluded as usual)
// over the customers both know. Fewer than min_customers such customers
// cannot show the candidate is safe: the result is a refusal.
absl::StatusOr<GateResult> EvaluateGate(const Model& candidate, const Model& current, const EventLog& holdout,
                                        const GateOptions& options);

}  // namespace aisle

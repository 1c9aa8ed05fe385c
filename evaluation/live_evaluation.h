// What the live loop is worth, offline: held-out events are replayed in
// time order, and before each day on which a customer buys something new
// the model's answer is compared with the answer that also knows the
// customer's held-out events before that day (folded in, their purchases
// excluded, as aisle-server's live loop does). docs/EVALUATION.md, "Live
// loop", defines it. Thread-safe: free functions (parallel inside).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/recommender.h"
#include "evaluation/bootstrap.h"
#include "events/event_log.h"

namespace aisle {

struct LiveEvaluationOptions {
  size_t k = 10;
  int resamples = 2000;
  uint64_t seed = 1;
};

// Per prediction point (a customer's day with at least one new purchase):
// hit rate and NDCG at k of the static and of the live answer.
struct LiveComparison {
  uint64_t points = 0;
  uint64_t customers = 0;
  PairedDifference hr;    // a: static, b: live
  PairedDifference ndcg;
};

struct LiveEvaluationResult {
  LiveComparison all;            // every prediction point
  LiveComparison with_history;   // points with earlier held-out events (the others are equal by design)
  LiveComparison known;          // ... of customers the model knows
  LiveComparison unknown;        // ... of customers it does not (popularity without the live loop)
  uint64_t test_customers = 0;
  uint64_t test_events = 0;
};

// `test` holds the events after the model's data, any ids.
LiveEvaluationResult EvaluateLive(const Recommender& recommender, const EventLog& test,
                                  const LiveEvaluationOptions& options);

}  // namespace aisle

// Test helpers: a synthetic history (data/synthetic.h) as an EventLog, with
// the ids the CSV writer would use, and a small model trained on a log.
#pragma once

#include <cmath>

#include <gtest/gtest.h>

#include "data/synthetic.h"
#include "events/event_log.h"
#include "training/ials_trainer.h"
#include "training/train_job.h"
#include "training/weighting.h"

namespace aisle::testing {

inline EventLog ToEventLog(const SyntheticData& d) {
  EventLog log;
  for (const SyntheticEvent& e : d.events) {
    log.events.push_back({log.customers.Insert(SyntheticCustomerId(e.customer)),
                          log.products.Insert(SyntheticProductId(e.product)), e.timestamp,
                          static_cast<float>(e.quantity), NAN, static_cast<EventType>(e.type),
                          Channel::kUnknown, kNoCountry});
  }
  return log;
}

// A model trained on `log` for io.iterations iterations (no metadata set).
inline Model TrainModel(const EventLog& log, const IalsOptions& io,
                        const WeightingOptions& w = WeightingOptions()) {
  Interactions in = BuildInteractions(log, w);
  IalsTrainer t(in.user_items, in.item_users, io);
  EXPECT_TRUE(t.Init().ok());
  for (int i = 0; i < io.iterations; ++i) t.Iterate(false);
  return AssembleModel(log, std::move(in), t.TakeUserFactors(), t.TakeItemFactors());
}

// The small, quick model most tests use: 16 factors, 8 iterations, lambda
// 0.5, purchases counted once (no quantity scaling).
inline Model TrainSmallModel(const EventLog& log, AlsSolver solver = AlsSolver::kCholesky) {
  IalsOptions io;
  io.factors = 16;
  io.iterations = 8;
  io.objective.regularization = 0.5f;
  io.solve.solver = solver;
  WeightingOptions w;
  w.quantity_scaling = QuantityScaling::kNone;
  return TrainModel(log, io, w);
}

}  // namespace aisle::testing

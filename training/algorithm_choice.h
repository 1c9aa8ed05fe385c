// Choosing the algorithm on validation (aisle-train --algorithm auto): each
// customer's newest basket is held out (SplitNewestBasket), every candidate
// (iALS at the given flags, with twice the factors and with ten times the
// regularization; item_knn; ease at the given lambda and four times it,
// when the catalog fits --ease_max_products) is trained on the rest, its
// buy-again fitted on the held-out baskets as the final model's would be,
// and the one whose blended ranking has the best NDCG@k on them is kept.
// Its buy-again fit is reused by the final training, so the choice costs the
// candidates' trainings on the split and nothing more.
// Thread-safe: a pure function (parallel inside).
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "events/event_log.h"
#include "events/event_loader.h"
#include "training/train_job.h"

namespace aisle {

struct AlgorithmChoice {
  // The chosen candidate's options: algorithm and hyperparameters set,
  // auto_algorithm off, its buy-again fit in buy_again_fitted (or buy_again
  // off when none could be learnt).
  TrainJobOptions options;
  // For the model's metadata "auto": the metric, the held-out baskets, each
  // candidate's algorithm, hyperparameters, validation figures and
  // seconds, and the index of the chosen one.
  nlohmann::json report;
};

// InvalidArgument when fewer than options.buy_again_min_customers customers
// bought on two days (nothing to validate on), or every candidate failed.
absl::StatusOr<AlgorithmChoice> ChooseAlgorithm(const EventLog& log, const LoadStats& stats,
                                                const TrainJobOptions& options);

}  // namespace aisle

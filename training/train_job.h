// The training job: read event files, aggregate them into confidences, train
// the algorithm (iALS or an item-item model), check the result and assemble a Model (not yet written). Used by
// aisle-train and by tests. Not thread-safe; it parallelizes internally.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "events/event_loader.h"
#include "training/buy_again_fit.h"
#include "training/ials_trainer.h"
#include "training/item_item_trainer.h"
#include "training/weighting.h"

namespace aisle {

struct TrainJobOptions {
  std::vector<std::string> inputs;
  LoadOptions load;
  // Outside strict mode, fail when more than this share of rows is malformed.
  double max_malformed_fraction = 0.01;
  // The server's live-loop directory (aisle-server --events_dir): its closed
  // journal segments are read as more inputs (events format), and its
  // consent and erasure records are honoured: customers without consent
  // and erased customers' events (up to their erasure) are left out.
  std::string events_dir;
  bool default_consent = true;  // for customers who never said (as the server's --default_consent)
  WeightingOptions weighting;
  // What the model is (engine/algorithm.h): iALS factors (`ials`) or an
  // item-item model (`item_item`).
  Algorithm algorithm = Algorithm::kIals;
  // Choose the algorithm on validation instead (training/algorithm_choice.h):
  // `algorithm` is then ignored, the other options are the candidates' base.
  bool auto_algorithm = false;
  IalsOptions ials;
  ItemItemOptions item_item;
  // Learn buy-again (engine/buy_again.h) on each customer's newest basket
  // (training/buy_again_fit.h): a second model is trained without those
  // baskets first. Off, or with too few customers who bought on two days,
  // the model has no buy-again weights and excludes every purchase.
  bool buy_again = true;
  // Each product's neighbours by co-purchase (engine/item_neighbours.h),
  // what buy-again's affinities read.
  NeighbourOptions neighbours;
  BuyAgainFitOptions buy_again_fit;
  // Buy-again already fitted on this algorithm's held-out baskets (by the
  // auto choice): used instead of fitting again.
  std::optional<BuyAgainFit> buy_again_fitted;
  size_t buy_again_min_customers = 20;
  // Progress lines go here (nullptr: silent).
  FILE* log = stderr;
};

struct TrainJobResult {
  Model model;
  LoadStats load_stats;
  std::vector<IterationStats> iterations;
};

// Runs the job. InvalidArgument on bad options, bad data (strict mode, too
// many malformed rows, no interactions) ; Internal when training diverged.
// The error message says what to do about it where possible.
absl::StatusOr<TrainJobResult> RunTrainJob(const TrainJobOptions& options);

// The job after loading: trains on `log` (whose loading produced `stats`).
absl::StatusOr<TrainJobResult> TrainOnLog(const EventLog& log, const LoadStats& stats,
                                          const TrainJobOptions& options);
// The same, freeing the log's events once they are aggregated into the
// interaction matrix (at 100M events, 3.2 GB not held through training);
// the id maps stay.
absl::StatusOr<TrainJobResult> TrainOnLog(EventLog&& log, const LoadStats& stats, const TrainJobOptions& options);

// Loads all inputs (and the journal segments of `events_dir`) into one log,
// applying the malformed-row policy and the consent and erasure records.
absl::Status LoadInputs(const TrainJobOptions& options, EventLog* log, LoadStats* stats);

// Builds the model from trained factors and the interactions (purchased
// products, popularity) with ids from `log`.
Model AssembleModel(const EventLog& log, Interactions interactions, FactorMatrix user_factors,
                    FactorMatrix item_factors);

}  // namespace aisle

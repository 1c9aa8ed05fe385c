// A simulated store driving a running aisle-server over HTTP, to prove the
// experiment loop end to end (bench/experiment_sim.sh, tests): customers
// with the planted tastes of a SyntheticData visit, ask for their
// recommendations, click and buy what they were shown with a probability
// that depends on whether it matches their tastes, sometimes buy something
// of their taste they were not shown, and every event is posted back with
// the recommendation_id of the answer that led to it. A better model
// shows more matching products, so it sells more; two identical variants
// sell the same.
// Not thread-safe: one simulator per thread (its own connection).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/synthetic.h"

namespace aisle {

struct StorefrontOptions {
  uint16_t port = 8080;
  std::string api_key;       // sent as X-API-Key when not empty
  uint64_t visits = 10000;
  uint64_t seed = 1;
  size_t count = 10;         // products shown per visit
  double buy_taste = 0.05;   // a shown product of a favourite category is bought with this probability
  double buy_other = 0.002;  // any other shown product
  double click_factor = 4;   // clicked with this times the buying probability (at most 1)
  double organic = 0.05;     // per visit: a product of a favourite category bought without being shown
  int64_t start_time = 0;    // event timestamps: this (Unix s) plus one second per visit; 0: none sent (the server's now)
};

struct StorefrontResult {
  uint64_t visits = 0;
  uint64_t shown_purchases = 0;
  uint64_t organic_purchases = 0;
  uint64_t clicks = 0;
  uint64_t errors = 0;       // answers other than 200
};

absl::StatusOr<StorefrontResult> RunStorefront(const SyntheticData& data, const StorefrontOptions& options);

}  // namespace aisle

// Train/test(/validation) splits of an event log, so that evaluation scripts
// do not each reinvent them. Every event goes to exactly one part (or is
// dropped), so test events never reach training.
//  - time: a global cutoff; train before it, test at or after it, and only
//    for customers with training events. Events after the cutoff of
//    customers unseen before it are dropped.
//  - last_basket: per customer, the purchases at their latest purchase time
//    (one basket or invoice) are the test part; customers with a single
//    basket stay in training; their other events at or after that time are
//    dropped (they would leak the basket).
//  - leave_one_out: per customer with at least two purchases, one purchase:
//    the latest, ties broken at random (seeded); for files without
//    timestamps (all equal), a random one.
// With validation, the same method is applied again to the training part, so
// validation is carved from training only. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "events/event_log.h"

namespace aisle {

enum class SplitMethod { kTime, kLastBasket, kLeaveOneOut };
absl::StatusOr<SplitMethod> ParseSplitMethod(absl::string_view name);

enum class SplitPart : uint8_t { kTrain = 0, kTest = 1, kValidation = 2, kDropped = 3 };

struct SplitOptions {
  SplitMethod method = SplitMethod::kTime;
  int64_t cutoff = 0;           // time: Unix seconds; 0 means the (1 - test_fraction) quantile
  double test_fraction = 0.1;   // time: share of events at or after the cutoff
  bool validation = false;
  uint64_t seed = 1;
};

struct SplitResult {
  std::vector<SplitPart> part;  // per event of the log
  int64_t test_cutoff = 0;      // time method only
  int64_t validation_cutoff = 0;
  uint64_t counts[4] = {};      // events per part
};

SplitResult SplitEvents(const EventLog& log, const SplitOptions& options);

// The events of `log` in part `keep`, with the same id maps (so indexes agree).
EventLog SubsetLog(const EventLog& log, const std::vector<SplitPart>& part, SplitPart keep);

}  // namespace aisle

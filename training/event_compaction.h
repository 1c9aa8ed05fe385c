// Compaction of the live loop's files after erasures (aisle-train
// compact-events): closed event journal segments (and closed exposure log
// segments) are rewritten without the events (records) of erased customers (atomically: temp file, fsync, rename), and
// with a publish directory, model versions that hold a customer erased
// after their data are removed (never the current one: the nightly job
// publishes a new model first; a current model that still holds one is
// reported). Run after the nightly training; safe while the server runs
// (it never touches closed segments; model removal takes the publish lock).
// Not thread-safe; one compaction at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace aisle {

struct CompactionResult {
  uint64_t segments = 0;            // closed segments read
  uint64_t segments_rewritten = 0;
  uint64_t events_removed = 0;
  uint64_t exposure_segments = 0;   // the same for the exposure log
  uint64_t exposure_segments_rewritten = 0;
  uint64_t exposures_removed = 0;
  uint64_t damaged_lines = 0;       // kept as they were
  std::vector<std::string> models_removed;
  uint64_t current_model_erased_customers = 0;  // erased customers the current model still holds
};

// `exposures_dir` (may be empty): the server's exposure log
// (server/exposure_log.h), whose closed segments are rewritten without the
// records of erased customers (shown to them up to their erasure) too.
absl::StatusOr<CompactionResult> CompactEvents(const std::string& events_dir, const std::string& publish_dir,
                                               const std::string& exposures_dir = "");

}  // namespace aisle

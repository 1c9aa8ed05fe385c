// ExposureRecord: one line of the server's exposure log (what an answer
// showed, in which experiment and variant; server/exposure_log.h writes
// them), as the analysis reads it back, and the log's segment naming.
// Thread-safe: plain data and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "events/event_journal.h"

namespace aisle {

struct ExposureRecord {
  std::string recommendation_id;
  std::string experiment;  // empty: none
  std::string variant;
  std::string customer;
  int64_t at_ms = 0;
  std::vector<std::string> items;
  std::string endpoint;
};

// exposures-NNNNNN.jsonl segments, a line intact when it parses as a record.
SegmentFormat ExposureSegmentFormat();

// One line (without its line end). InvalidArgument when it is not a record.
absl::StatusOr<ExposureRecord> ParseExposureLine(absl::string_view line);

// Every intact record of the directory's segments (the open one included,
// up to its last complete line), in segment order.
absl::StatusOr<std::vector<ExposureRecord>> ReadExposures(const std::string& dir);

}  // namespace aisle

#include "engine/event_weighting.h"

#include "absl/strings/str_cat.h"

namespace aisle {

absl::StatusOr<EventWeighting::Quantity> ParseQuantityScaling(absl::string_view name) {
  if (name == "none") return EventWeighting::Quantity::kNone;
  if (name == "linear") return EventWeighting::Quantity::kLinear;
  if (name == "log") return EventWeighting::Quantity::kLog;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown quantity scaling '", name, "' (expected none, linear or log)"));
}

const char* QuantityScalingName(EventWeighting::Quantity q) {
  switch (q) {
    case EventWeighting::Quantity::kNone: return "none";
    case EventWeighting::Quantity::kLinear: return "linear";
    case EventWeighting::Quantity::kLog: return "log";
  }
  return "?";
}

}  // namespace aisle

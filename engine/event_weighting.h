// EventWeighting: how events become confidences, the one definition that
// training (training/weighting.h), the model file (metadata "weighting")
// and the live loop (events/live_events.h) share, so that an event arriving
// after training is weighted as the model's were. The weight of one event
// is its type's weight times its scaled quantity (a return's is negative):
// EventWeight() in events/event_weight.h.
// Thread-safe: plain data and pure functions.
#pragma once

#include <cmath>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

struct EventWeighting {
  // How quantity enters: none (each event counts once), linear (q) or log
  // (log(1 + q), the default: a wholesaler's 500 units are not 500 votes).
  enum class Quantity : uint8_t { kNone, kLinear, kLog };
  float purchase = 1.0f, cart = 0.3f, view = 0.1f, return_weight = 1.0f, click = 0.05f;
  Quantity quantity = Quantity::kLog;
};

// "none", "linear" or "log"; InvalidArgument otherwise.
absl::StatusOr<EventWeighting::Quantity> ParseQuantityScaling(absl::string_view name);
// The name ParseQuantityScaling reads back.
const char* QuantityScalingName(EventWeighting::Quantity q);

// A quantity as it enters the weight.
inline double ScaleQuantity(EventWeighting::Quantity scaling, double quantity) {
  switch (scaling) {
    case EventWeighting::Quantity::kNone: return 1;
    case EventWeighting::Quantity::kLinear: return quantity;
    case EventWeighting::Quantity::kLog: return std::log1p(quantity);
  }
  return quantity;
}

}  // namespace aisle

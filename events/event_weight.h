// EventWeight: the weight of one event under a model's EventWeighting
// (engine/event_weighting.h): its type's weight times its scaled quantity,
// negative for a return. Training (before any time decay) and the live loop
// both call it: the rule is written once.
// Thread-safe: a pure function.
#pragma once

#include "engine/event_weighting.h"
#include "events/event_log.h"

namespace aisle {

inline double EventWeight(const EventWeighting& w, EventType type, double quantity) {
  const double q = ScaleQuantity(w.quantity, quantity);
  switch (type) {
    case EventType::kPurchase: return w.purchase * q;
    case EventType::kCart: return w.cart * q;
    case EventType::kView: return w.view * q;
    case EventType::kReturn: return -w.return_weight * q;
    case EventType::kClick: return w.click * q;
  }
  return 0;
}

}  // namespace aisle

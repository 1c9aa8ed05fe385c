// Test helper: a synthetic history (data/synthetic.h) as an EventLog, with
// the ids the CSV writer would use.
#pragma once

#include <cmath>

#include "data/synthetic.h"
#include "training/event_log.h"

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

}  // namespace aisle::testing

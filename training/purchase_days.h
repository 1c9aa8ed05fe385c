// PurchaseDays: each customer's purchase occasions per product (the days of
// engine/purchase_history.h), collected from an event log before training
// releases its events, then aligned with the model's purchases as the
// model's PurchaseHistory. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/purchase_history.h"
#include "events/event_log.h"
#include "training/weighting.h"

namespace aisle {

struct PurchaseDays {
  struct Pair {
    uint32_t customer, product;  // EventLog indexes
    uint32_t days;
    int32_t first_day, last_day;
    float recent;  // PurchaseHistory::recent at reference_day
  };
  std::vector<Pair> pairs;              // sorted by customer, then product
  std::vector<uint32_t> customer_days;  // per EventLog customer: days with a purchase
  int32_t reference_day = 0;            // the newest purchase day
};

// The purchase events of `log`, by day. O(purchases log purchases).
PurchaseDays CollectPurchaseDays(const EventLog& log);

// The history of `data.purchased` (model indexes, made from the same log).
// A purchased pair the days do not hold (cannot happen for the same log)
// counts as one purchase on `fallback_day`.
PurchaseHistory AlignPurchaseHistory(const PurchaseDays& days, const Interactions& data, int32_t fallback_day);

}  // namespace aisle

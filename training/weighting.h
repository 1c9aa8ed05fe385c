// Aggregation of events into one confidence per (customer, product), stored
// as CSR in both directions, plus what the model file keeps beside the
// factors (purchased products per customer, product popularity).
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/csr_matrix.h"
#include "engine/event_weighting.h"
#include "events/event_log.h"

namespace aisle {

// The model's names for the same rule (engine/event_weighting.h).
using QuantityScaling = EventWeighting::Quantity;

struct WeightingOptions {
  // Weight of one event of each type. Returns subtract return_weight x the
  // scaled quantity returned.
  float purchase_weight = 1.0f;
  float cart_weight = 0.3f;
  float view_weight = 0.1f;
  float return_weight = 1.0f;
  float click_weight = 0.05f;  // a click on a recommendation or offer
  // How quantity enters: none (each event counts once), linear (q) or log
  // (log(1 + q), the default: a wholesaler's 500 units are not 500 votes).
  QuantityScaling quantity_scaling = QuantityScaling::kLog;
  // When > 0, an event `d` days older than the reference time counts
  // 0.5^(d / half_life_days).
  double half_life_days = 0;
  // Reference time for the half-life, Unix seconds; 0 means the latest event.
  int64_t reference_time = 0;

  // The per-event rule these options give, as the model stores it and the
  // live loop applies it (everything but the time decay).
  EventWeighting event_weighting() const {
    EventWeighting w;
    w.purchase = purchase_weight;
    w.cart = cart_weight;
    w.view = view_weight;
    w.return_weight = return_weight;
    w.click = click_weight;
    w.quantity = quantity_scaling;
    return w;
  }
};

struct Interactions {
  // Rows and columns cover only customers and products with at least one
  // positive weight; these give each row's (column's) index in the EventLog.
  std::vector<uint32_t> customers;
  std::vector<uint32_t> products;
  CsrMatrix user_items;   // customers x products, confidence weight > 0
  CsrMatrix item_users;   // its transpose
  CsrMatrix purchased;    // customers x products pattern: net purchased quantity > 0
  std::vector<float> item_popularity;  // customers with a positive weight, per product
  uint64_t dropped_pairs = 0;          // pairs whose net weight was <= 0 (e.g. all returned)
  int64_t first_timestamp = 0;
  int64_t last_timestamp = 0;
};

// Builds the matrices from all events of `log`. O(events log events).
Interactions BuildInteractions(const EventLog& log, const WeightingOptions& options);
// The same, freeing `*release` (the log's events, no longer needed by the
// caller) as soon as they are turned into weights, before the matrices are
// built: at 100M events the 2.8 GB of events and the matrices are never
// held at once.
Interactions BuildInteractions(const EventLog& log, const WeightingOptions& options, std::vector<Event>* release);

}  // namespace aisle

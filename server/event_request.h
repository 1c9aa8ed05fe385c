// The body of POST /v1/events: a JSON array of events (or {"events":
// [...]}), each checked in full before any is kept (docs/API.md, "Events").
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/live_event.h"

namespace aisle {

struct EventLimits {
  size_t max_events = 1000;            // per request
  size_t max_id_length = 256;          // customer and product ids
  size_t max_tag_length = 128;         // event_id, recommendation_id, country
  int64_t max_future_seconds = 300;    // timestamps later than now + this are refused
};

struct EventError {
  size_t index = 0;     // of the first bad event
  std::string reason;
};

// Reads the events of `body`, stamping each with `now_ms` (received_ms, and
// the timestamp when absent). False (and `*error`) at the first bad one;
// a body that is not an array of objects is event 0's error with index
// SIZE_MAX.
bool ParseEvents(const nlohmann::json& body, const EventLimits& limits, int64_t now_ms, std::vector<LiveEvent>* out,
                 EventError* error);

}  // namespace aisle

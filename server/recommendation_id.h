// Recommendation ids: what every personalized answer is called, so that the
// storefront can send it back with the events it led to (POST /v1/events
// recommendation_id) and the exposure log can be joined with them. 26
// characters of Crockford base32 (as a ULID): 48 bits of Unix milliseconds,
// so ids sort by time, and 80 random bits, so two answers never share one.
// Thread-safe (a random generator per thread).
#pragma once

#include <string>

namespace aisle {

std::string NewRecommendationId();

}  // namespace aisle

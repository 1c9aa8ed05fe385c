// RecommendationJson: the body of a recommendations response, written
// straight into one string (the server's hottest serialization: nlohmann's
// tree costs an allocation per field, bench/json_bench.cc measures both).
// Same JSON as the nlohmann version (docs/API.md): keys in alphabetical
// order, strings escaped, invalid UTF-8 replaced by U+FFFD, floats as the
// shortest text that reads back to the same float, NaN as null.
// Thread-safe: pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "engine/json_text.h"
#include "engine/recommender.h"

namespace aisle {


// {"customer_id": ..., "fallback": ..., "live_events": ..., "model_version": ...,
// "recommendations": [...]}; without customer_id when `customer_id` is null
// (basket requests), without live_events when none shaped the answer.
// "fallback" is `fallback_reason` when given (e.g. "no_consent"), else
// "popularity" for a fallback result, else null; "recommendation_id" when
// given.
std::string RecommendationsBody(const Recommender& r, const std::string* customer_id, const RecommendResult& res,
                                bool explain, absl::string_view fallback_reason = {},
                                absl::string_view recommendation_id = {});

// One product as a JSON object: product_id, score, and name, category,
// price, in_stock when the catalog has it (nlohmann; similar products).
nlohmann::json ProductJson(const Recommender& r, uint32_t product, float score);
// RecommendationsBody through nlohmann's tree: what the server used before,
// kept as the reference for tests and bench/json_bench.cc.
std::string RecommendationsBodyReference(const Recommender& r, const std::string* customer_id,
                                         const RecommendResult& res, bool explain,
                                         absl::string_view fallback_reason = {},
                                         absl::string_view recommendation_id = {});

}  // namespace aisle

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

// What an answer says about itself beside its items.
struct AnswerLabels {
  absl::string_view fallback;           // replaces "popularity"/null (e.g. "no_consent")
  absl::string_view recommendation_id;  // each omitted when empty
  absl::string_view experiment;
  absl::string_view variant;
};
// Sets the labels' recommendation_id, experiment and variant in `j` (those given).
void AddLabels(const AnswerLabels& labels, nlohmann::json* j);
// "fallback": labels.fallback when given, else "popularity" or null.
nlohmann::json FallbackJson(bool fallback, const AnswerLabels& labels);


// {"customer_id": ..., "fallback": ..., "live_events": ..., "model_version": ...,
// "recommendations": [...]}; without customer_id when `customer_id` is null
// (basket requests), without live_events when none shaped the answer.
// "fallback" is labels.fallback when given (e.g. "no_consent"), else
// "popularity" for a fallback result, else null; "recommendation_id",
// "experiment" and "variant" when given.
std::string RecommendationsBody(const Recommender& r, const std::string* customer_id, const RecommendResult& res,
                                bool explain, const AnswerLabels& labels = {});

// One product as a JSON object: product_id, score, and name, category,
// price, in_stock when the catalog has it (nlohmann; similar products).
nlohmann::json ProductJson(const Recommender& r, uint32_t product, float score);
// RecommendationsBody through nlohmann's tree: what the server used before,
// kept as the reference for tests and bench/json_bench.cc.
std::string RecommendationsBodyReference(const Recommender& r, const std::string* customer_id,
                                         const RecommendResult& res, bool explain, const AnswerLabels& labels = {});

}  // namespace aisle

// The bodies of the API's responses other than recommendations
// (server/recommendation_json.h): readiness, model info, similar products,
// rank, reload, offers, impressions. Every body is valid UTF-8 whatever the
// model, catalog or request held (invalid sequences become U+FFFD).
// Pure functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "engine/offer_ranker.h"
#include "engine/recommender.h"
#include "server/recommendation_json.h"

namespace aisle {

std::string ReadyBody(const std::string& model_version);
std::string ModelInfoBody(const Recommender& r);
std::string SimilarBody(const Recommender& r, const std::string& product_id, absl::Span<const Recommendation> similar,
                        const AnswerLabels& labels = {});
std::string RankBody(const Recommender& r, const std::string& customer_id, absl::Span<const Recommender::Ranked> ranked,
                     bool fallback, const AnswerLabels& labels = {});
std::string ReloadBody(bool reloaded, const std::string& model_version);
std::string ReloadRefusedBody(const std::string& message, const std::string& model_version);
// `impressions(offer)`: how often the customer has been shown it.
std::string OffersBody(const OfferRanker& ranker, const std::string& customer_id, const OfferResult& res,
                       const std::function<uint32_t(uint32_t)>& impressions, const AnswerLabels& labels = {});
std::string ImpressionsBody(const std::string& model_version, const std::string& customer_id, size_t recorded,
                            const std::vector<std::string>& ignored);

}  // namespace aisle

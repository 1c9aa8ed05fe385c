#include "server/response_json.h"

#include <cmath>
#include <functional>

#include <nlohmann/json.hpp>

#include "absl/time/time.h"
#include "engine/json_text.h"
#include "server/recommendation_json.h"

namespace aisle {

using json = nlohmann::json;

namespace {

json DiscountJson(const Offer& o) {
  json d;
  if (o.discount_kind == Offer::DiscountKind::kPercent) {
    d["percent"] = o.discount;
  } else {
    d["amount"] = o.discount;
    if (!o.currency.empty()) d["currency"] = o.currency;
  }
  return d;
}

}  // namespace

std::string ReadyBody(const std::string& model_version) {
  return DumpJson({{"status", "ready"}, {"model_version", model_version}});
}

std::string ModelInfoBody(const Recommender& r) {
  const Model& m = r.model();
  json j = {{"model_version", r.model_id()},
            {"customers", m.customers.size()},
            {"products", m.products.size()},
            {"factors", m.num_factors()},
            {"catalog_products", r.catalog() ? r.catalog()->size() : 0},
            {"top_lists", nullptr},
            {"metadata", m.metadata}};
  const TopListCache* customers = r.customer_cache();
  const TopListCache* products = r.similar_cache();
  if (customers != nullptr) {
    const TopListCache::Stats c = customers->stats(), p = products->stats();
    j["top_lists"] = {{"length", customers->length()},
                      {"customers", c.entries},
                      {"products", p.entries},
                      {"bytes", c.bytes + p.bytes},
                      {"max_bytes", customers->max_bytes() + products->max_bytes()}};
  }
  if (const ClusterIndex* index = r.index()) {
    j["index"] = {{"clusters", index->clusters()}, {"bytes", index->bytes()}};
  }
  return DumpJson(j);
}

std::string SimilarBody(const Recommender& r, const std::string& product_id, absl::Span<const Recommendation> similar,
                        const AnswerLabels& labels) {
  json items = json::array();
  for (const Recommendation& x : similar) items.push_back(ProductJson(r, x.product, x.score));
  json j = {{"model_version", r.model_id()}, {"product_id", product_id}, {"similar", items}};
  AddLabels(labels, &j);
  return DumpJson(j);
}

std::string RankBody(const Recommender& r, const std::string& customer_id, absl::Span<const Recommender::Ranked> ranked,
                     bool fallback, const AnswerLabels& labels) {
  json items = json::array();
  for (const auto& x : ranked) {
    items.push_back({{"product_id", x.product_id}, {"score", std::isnan(x.score) ? json(nullptr) : json(x.score)}});
  }
  json j = {{"model_version", r.model_id()},
            {"customer_id", customer_id},
            {"fallback", FallbackJson(fallback, labels)},
            {"ranked", items}};
  AddLabels(labels, &j);
  return DumpJson(j);
}

std::string ReloadBody(bool reloaded, const std::string& model_version) {
  return DumpJson({{"reloaded", reloaded}, {"model_version", model_version}});
}

std::string ReloadRefusedBody(const std::string& message, const std::string& model_version) {
  return DumpJson({{"error", {{"code", "reload_refused"}, {"message", message}}}, {"model_version", model_version}});
}

std::string OffersBody(const OfferRanker& ranker, const std::string& customer_id, const OfferResult& res,
                       const std::function<uint32_t(uint32_t)>& impressions, const AnswerLabels& labels) {
  const absl::Span<const Offer> offers = ranker.catalog().offers();
  const Recommender& r = ranker.recommender();
  json items = json::array();
  for (const RankedOffer& x : res.offers) {
    const Offer& offer = offers[x.offer];
    json because = json::array();
    for (const OfferDriver& d : x.drivers) {
      json b = {{"product_id", r.model().products.id(d.product)}, {"affinity", d.affinity}};
      if (const CatalogEntry* e = r.Entry(d.product)) {
        if (!e->name.empty()) b["name"] = std::string(e->name);
        if (!e->category.empty()) b["category"] = std::string(e->category);
      }
      because.push_back(std::move(b));
    }
    json j = {{"offer_id", offer.id},
              {"title", offer.title},
              {"discount", DiscountJson(offer)},
              {"score", x.score},
              {"because", std::move(because)}};
    if (offer.valid_until != absl::InfiniteFuture()) {
      j["valid_until"] = absl::FormatTime(absl::RFC3339_sec, offer.valid_until, absl::UTCTimeZone());
    }
    if (offer.max_impressions > 0) {
      const uint32_t shown = impressions(x.offer);
      j["impressions_left"] = shown < offer.max_impressions ? offer.max_impressions - shown : 0;
    }
    items.push_back(std::move(j));
  }
  json j = {{"model_version", r.model_id()},
            {"customer_id", customer_id},
            {"fallback", FallbackJson(res.fallback, labels)},
            {"offers", std::move(items)}};
  AddLabels(labels, &j);
  return DumpJson(j);
}

std::string ImpressionsBody(const std::string& model_version, const std::string& customer_id, size_t recorded,
                            const std::vector<std::string>& ignored) {
  return DumpJson({{"model_version", model_version}, {"customer_id", customer_id}, {"recorded", recorded}, {"ignored", ignored}});
}

}  // namespace aisle

#include "server/recommendation_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/json_text.h"
#include "engine/utf8.h"

namespace aisle {

void AddLabels(const AnswerLabels& l, nlohmann::json* j) {
  if (!l.recommendation_id.empty()) (*j)["recommendation_id"] = std::string(l.recommendation_id);
  if (!l.experiment.empty()) (*j)["experiment"] = std::string(l.experiment);
  if (!l.variant.empty()) (*j)["variant"] = std::string(l.variant);
}

nlohmann::json FallbackJson(bool fallback, const AnswerLabels& l) {
  if (!l.fallback.empty()) return std::string(l.fallback);
  return fallback ? nlohmann::json("popularity") : nlohmann::json(nullptr);
}

std::string RecommendationsBody(const Recommender& r, const std::string* customer_id, const RecommendResult& res,
                                bool explain, const AnswerLabels& labels) {
  std::string out;
  out.reserve(128 + res.items.size() * (explain ? 280 : 140));
  out.append("{");
  if (customer_id != nullptr) {
    out.append("\"customer_id\":");
    AppendJsonString(&out, *customer_id);
    out.append(",");
  }
  if (!labels.experiment.empty()) {
    out.append("\"experiment\":");
    AppendJsonString(&out, labels.experiment);
    out.append(",");
  }
  if (!labels.fallback.empty()) {
    out.append("\"fallback\":");
    AppendJsonString(&out, labels.fallback);
  } else {
    out.append(res.fallback ? "\"fallback\":\"popularity\"" : "\"fallback\":null");
  }
  if (res.live_events > 0) absl::StrAppend(&out, ",\"live_events\":", res.live_events);
  out.append(",\"model_version\":");
  AppendJsonString(&out, r.model_id());
  if (!labels.recommendation_id.empty()) {
    out.append(",\"recommendation_id\":");
    AppendJsonString(&out, labels.recommendation_id);
  }
  out.append(",\"recommendations\":[");
  const IdMap& products = r.model().products;
  for (size_t i = 0; i < res.items.size(); ++i) {
    const Recommendation& x = res.items[i];
    if (i > 0) out.push_back(',');
    out.push_back('{');
    if (explain) {
      out.append("\"because\":[");
      for (size_t j = 0; j < x.because.size(); ++j) {
        if (j > 0) out.push_back(',');
        out.append("{\"product_id\":");
        AppendJsonString(&out, products.id_view(x.because[j].product));
        out.append(",\"weight\":");
        AppendJsonFloat(&out, x.because[j].weight);
        out.push_back('}');
      }
      out.append("],");
    }
    if (x.repurchase) {
      absl::StrAppend(&out, "\"bought_before\":{\"days_since\":", x.repurchase->days_since, ",\"every_days\":");
      AppendJsonFloat(&out, x.repurchase->every_days);
      absl::StrAppend(&out, ",\"times\":", x.repurchase->times, "},");
    }
    if (const CatalogEntry* e = r.Entry(x.product)) {
      if (!e->category.empty()) {
        out.append("\"category\":");
        AppendJsonString(&out, e->category);
        out.push_back(',');
      }
      out.append(e->in_stock ? "\"in_stock\":true," : "\"in_stock\":false,");
      if (!e->name.empty()) {
        out.append("\"name\":");
        AppendJsonString(&out, e->name);
        out.push_back(',');
      }
      if (!std::isnan(e->price)) {
        out.append("\"price\":");
        AppendJsonFloat(&out, e->price);
        out.push_back(',');
      }
    }
    out.append("\"product_id\":");
    AppendJsonString(&out, products.id_view(x.product));
    out.append(",\"score\":");
    AppendJsonFloat(&out, x.score);
    out.push_back('}');
  }
  out.append("]");
  if (!labels.variant.empty()) {
    out.append(",\"variant\":");
    AppendJsonString(&out, labels.variant);
  }
  out.append("}");
  return out;
}

nlohmann::json ProductJson(const Recommender& r, uint32_t product, float score) {
  nlohmann::json j = {{"product_id", r.model().products.id(product)}, {"score", score}};
  if (const CatalogEntry* e = r.Entry(product)) {
    if (!e->name.empty()) j["name"] = std::string(e->name);
    if (!e->category.empty()) j["category"] = std::string(e->category);
    // The float price as written in the catalog (2.95, not 2.950000047683716).
    if (!std::isnan(e->price)) j["price"] = std::strtod(absl::StrFormat("%.7g", e->price).c_str(), nullptr);
    j["in_stock"] = e->in_stock;
  }
  return j;
}

nlohmann::json RecommendationsJsonTree(const Recommender& r, const RecommendResult& res, bool explain) {
  nlohmann::json items = nlohmann::json::array();
  for (const Recommendation& x : res.items) {
    nlohmann::json j = ProductJson(r, x.product, x.score);
    if (explain) {
      nlohmann::json because = nlohmann::json::array();
      for (const Contribution& c : x.because) {
        because.push_back({{"product_id", r.model().products.id(c.product)}, {"weight", c.weight}});
      }
      j["because"] = because;
    }
    if (x.repurchase) {
      j["bought_before"] = {{"times", x.repurchase->times},
                            {"every_days", x.repurchase->every_days},
                            {"days_since", x.repurchase->days_since}};
    }
    items.push_back(std::move(j));
  }
  return items;
}

std::string RecommendationsBodyReference(const Recommender& r, const std::string* customer_id,
                                         const RecommendResult& res, bool explain, const AnswerLabels& labels) {
  nlohmann::json j = {{"model_version", r.model_id()},
                      {"fallback", FallbackJson(res.fallback, labels)},
                      {"recommendations", RecommendationsJsonTree(r, res, explain)}};
  if (res.live_events > 0) j["live_events"] = res.live_events;
  AddLabels(labels, &j);
  if (customer_id != nullptr) j["customer_id"] = *customer_id;
  return DumpJson(j);
}

}  // namespace aisle

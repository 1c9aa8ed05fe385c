// The offer endpoints of HttpServer: a customer's offers and the record of
// the offers shown (docs/API.md, "Offers").
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/http_server.h"
#include "server/request_params.h"
#include "server/response_json.h"

namespace aisle {

std::shared_ptr<const OfferRanker> HttpServer::ServingOffers() const {
  if (!options_.offers) Fail(404, "not_found", "offers are not enabled on this server (start it with --offers)");
  auto r = source_->CurrentOffers();
  if (!r) Fail(503, "unavailable", "no offer catalog loaded yet");
  return r;
}

HttpServer::Reply HttpServer::CustomerOffers(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  const Params p = Params::FromQuery(req.query);
  OfferOptions o;
  o.count = CountParam(p, 3, options_.max_count);
  o.audience.country = p.String("country").value_or("");
  o.audience.channel = p.String("channel").value_or("");
  o.audience.segments = p.List("segments", options_.max_count, options_.max_id_length);
  if (o.audience.country.size() > options_.max_id_length || o.audience.channel.size() > options_.max_id_length) {
    Fail(400, "invalid_argument", absl::StrCat("country and channel are at most ", options_.max_id_length, " bytes"));
  }
  if (auto at = p.String("at")) {
    auto t = ParseOfferTime(*at);
    if (!t) Fail(400, "invalid_argument", "'at' must be a date, an RFC 3339 time or Unix seconds");
    o.now = *t;
  } else {
    o.now = absl::Now();
  }
  auto ranker = ServingOffers();
  const bool consent = Consents(id);
  ExperimentSource::Choice choice;
  if (options_.experiments != nullptr && consent) choice = options_.experiments->Pick("customer_offers", id, absl::Now());
  if (choice.offers) ranker = choice.offers;  // the variant's model and offer catalog
  const absl::Span<const Offer> offers = ranker->catalog().offers();
  absl::flat_hash_map<std::string, uint32_t> shown;
  if (options_.impressions != nullptr) shown = options_.impressions->CountsFor(id);
  o.impressions = [&](uint32_t offer) {
    auto it = shown.find(offers[offer].id);
    return it == shown.end() ? 0u : it->second;
  };
  // Without consent (or in a popularity variant), offers are not chosen by affinity: the popularity ranking.
  auto res = consent && !choice.popularity()
                 ? ranker->ForCustomer(id, o, LiveFor(ranker->recommender(), id).get())
                 : ranker->Popular(o, /*new_customer=*/false);
  if (!res.ok()) FailStatus(res.status());
  const std::string& version = ranker->recommender().model_id();
  std::vector<absl::string_view> offered;
  for (const RankedOffer& x : res->offers) offered.push_back(offers[x.offer].id);
  const std::string rid = Expose("customer_offers", id, version, std::move(offered), &choice);
  return Reply{200,
               OffersBody(*ranker, id, *res, o.impressions, Labels(&choice, consent ? "" : "no_consent", rid)),
               "application/json", version};
}

HttpServer::Reply HttpServer::RecordImpressions(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  nlohmann::json body = ParseBody(req, options_.max_body_bytes);
  std::vector<std::string> ids = Params::FromJson(body).List("offers", options_.max_count, options_.max_id_length);
  if (ids.empty()) Fail(400, "invalid_argument", "'offers' must list at least one offer id");
  auto ranker = ServingOffers();
  std::vector<std::string> known, ignored;
  for (std::string& o : ids) (ranker->catalog().Find(o) ? known : ignored).push_back(std::move(o));
  if (!known.empty()) {
    if (absl::Status s = options_.impressions->Record(id, known, absl::Now()); !s.ok()) {
      Fail(503, "unavailable", absl::StrCat("impressions not recorded: ", s.message()));
    }
    metrics_->RecordImpressions(known.size());
  }
  const std::string& version = ranker->recommender().model_id();
  return Reply{200, ImpressionsBody(version, id, known.size(), ignored), "application/json", version};
}

}  // namespace aisle

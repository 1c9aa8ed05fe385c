// The live loop's endpoints of HttpServer: storefront events, consent,
// erasure and data access (docs/API.md, "Live loop").
#include <limits>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/json_text.h"
#include "server/http_server.h"
#include "server/recommendation_json.h"
#include "server/request_params.h"

namespace aisle {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

json IsoMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

json ConsentJson(const LiveLoop& live, const std::string& id) {
  const std::optional<ConsentRecord> c = live.ConsentOf(id);
  return {{"customer_id", id},
          {"personalization", live.Personalize(id)},
          {"source", c ? "customer" : "default"},
          {"updated_at", c ? IsoMs(c->at_ms) : json(nullptr)}};
}

}  // namespace

LiveLoop& HttpServer::Live() const {
  if (options_.live == nullptr) {
    Fail(404, "not_found", "the live loop is not enabled on this server (start it with --events_dir)");
  }
  return *options_.live;
}

HttpServer::Reply HttpServer::EventsDeferred(const HttpRequest&) { return Error(500, "internal", "not dispatched"); }

std::optional<HttpServer::Reply> HttpServer::PostEvents(const HttpRequest& req, std::shared_ptr<HttpResponder> responder,
                                                        const RequestInfo& info, Clock::time_point start) {
  LiveLoop& live = Live();
  json body;
  try {
    body = ParseBody(req, options_.max_body_bytes, /*object=*/false);
  } catch (const HttpError&) {
    live.RecordRefused("invalid_json");
    throw;
  }
  std::vector<LiveEvent> events;
  EventError err;
  if (!ParseEvents(body, options_.event_limits, absl::ToUnixMillis(absl::Now()), &events, &err)) {
    if (err.index == std::numeric_limits<size_t>::max()) {
      const bool too_many = absl::StartsWith(err.reason, "more than");
      live.RecordRefused(too_many ? "too_many_events" : "not_an_array");
      return Error(too_many ? 422 : 400, too_many ? "too_many_events" : "invalid_argument", err.reason);
    }
    live.RecordRefused("invalid_event");
    Reply r(422, DumpJson({{"error",
                        {{"code", "invalid_event"},
                         {"message", absl::StrCat("event ", err.index, ": ", err.reason, "; no event of this request was kept")},
                         {"index", err.index}}}}));
    return r;
  }
  const size_t received = events.size();
  live.Accept(std::move(events), start,
              [this, responder, info, start, received](absl::StatusOr<LiveLoop::Accepted> a) {
                Reply reply;
                if (!a.ok()) {
                  reply = Error(503, "unavailable", absl::StrCat("events not stored (retry): ", a.status().message()));
                } else {
                  reply = Reply(200, DumpJson({{"received", received},
                                           {"stored", a->stored},
                                           {"duplicates", a->duplicates},
                                           {"not_stored_no_consent", a->no_consent}}));
                }
                Complete(*responder, info, "events", start, std::move(reply));
              });
  return std::nullopt;
}

HttpServer::Reply HttpServer::GetConsent(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  return Reply(200, DumpJson(ConsentJson(Live(), id)));
}

HttpServer::Reply HttpServer::PutConsent(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  LiveLoop& live = Live();
  json body = ParseBody(req, options_.max_body_bytes);
  if (!body.is_object() || body.size() != 1 || !body.contains("personalization") || !body["personalization"].is_boolean()) {
    Fail(400, "invalid_argument", "the body must be {\"personalization\": true} or {\"personalization\": false}");
  }
  if (absl::Status s = live.SetConsent(id, body["personalization"].get<bool>()); !s.ok()) {
    Fail(503, "unavailable", absl::StrCat("consent not recorded (retry): ", s.message()));
  }
  return Reply(200, DumpJson(ConsentJson(live, id)));
}

HttpServer::Reply HttpServer::EraseCustomer(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  LiveLoop& live = Live();
  auto r = source_->Current();
  auto receipt = live.Erase(id, r ? &r->model() : nullptr, options_.impressions);
  // What was shown to them goes to a closed segment of the exposure log,
  // which compaction rewrites without them.
  if (receipt.ok() && options_.exposures != nullptr) {
    if (absl::Status s = options_.exposures->Rotate(); !s.ok()) receipt = s;
  }
  if (!receipt.ok()) {
    Fail(503, "unavailable", absl::StrCat("erasure incomplete (retry; answers already ignore the customer): ",
                                          receipt.status().message()));
  }
  json removed = {{"live_events", receipt->live_events},
                  {"impression_records", receipt->impressions},
                  {"consent_record", receipt->consent_record},
                  {"model_row", receipt->model_row}};
  return Reply(200, DumpJson({{"customer_id", id},
                          {"erased_at", IsoMs(receipt->erased_at_ms)},
                          {"removed", removed},
                          {"kept", "the fact of erasure and its time, under a keyed pseudonym (not the id)"},
                          {"pending",
                           "the customer's events in closed journal segments, what was shown to them in the exposure "
                           "log and older model versions: removed by the nightly job (aisle-train --events_dir, then "
                           "aisle-train compact-events --exposures_dir)"}}));
}

HttpServer::Reply HttpServer::CustomerData(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  LiveLoop& live = Live();
  json out = {{"customer_id", id}, {"consent", ConsentJson(live, id)}};
  json events = json::array();
  for (const LiveEvent& e : live.Events(id)) {
    json j = {{"product_id", e.product_id},
              {"event", std::string(EventTypeName(e.type))},
              {"timestamp", IsoMs(e.timestamp * 1000)},
              {"quantity", e.quantity},
              {"received_at", IsoMs(e.received_ms)}};
    if (!std::isnan(e.price)) j["price"] = e.price;
    if (e.channel != Channel::kUnknown) j["channel"] = std::string(ChannelName(e.channel));
    if (!e.country.empty()) j["country"] = e.country;
    if (!e.event_id.empty()) j["event_id"] = e.event_id;
    if (!e.recommendation_id.empty()) j["recommendation_id"] = e.recommendation_id;
    events.push_back(std::move(j));
  }
  out["live_events"] = std::move(events);
  json impressions = json::object();
  if (options_.impressions != nullptr) {
    for (const auto& [offer, n] : options_.impressions->CountsFor(id)) impressions[offer] = n;
  }
  out["offer_impressions"] = std::move(impressions);
  auto r = source_->Current();
  if (r == nullptr) {
    out["model"] = nullptr;
    return Reply(200, DumpJson(out));
  }
  const Model& m = r->model();
  const Personal p = PersonalFor(*r, id);
  const std::optional<uint32_t> row = m.customers.Find(id);
  // Erased after the model's data: withheld whatever the consent (a
  // customer without consent has no live profile to say so).
  const bool withheld = row && live.ModelRowWithheld(m, id);
  json history = json::array();
  if (row && !withheld) {
    for (uint32_t x : m.purchased.RowIndices(*row)) history.push_back(m.products.id(x));
  }
  out["model"] = {{"model_version", r->model_id()},
                  {"knows_customer", row.has_value() && !withheld},
                  {"purchased", std::move(history)},
                  {"holds", row && !withheld ? "a factor vector learned from the customer's history, and the "
                                               "products listed in purchased"
                                             : "nothing"}};
  RecommendOptions o;
  o.explain = true;
  Reply rec = p.consent ? RecommendationsReply(*r, id, r->Recommend(id, o, p.live.get()), true, {}, /*expose=*/false)
                        : NoConsentRecommendations(*r, id, o, /*expose=*/false);
  out["recommendations"] = json::parse(rec.http.body, nullptr, /*allow_exceptions=*/false);
  return Reply{200, DumpJson(out), "application/json", r->model_id()};
}

}  // namespace aisle

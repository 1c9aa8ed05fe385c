#include "server/http_server.h"

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/json_text.h"
#include "engine/utf8.h"
#include "server/embedded_files.h"
#include "server/recommendation_id.h"
#include "server/recommendation_json.h"
#include "server/request_params.h"
#include "server/response_json.h"

namespace aisle {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<const Recommender> Serving(ModelSource* source) {
  auto r = source->Current();
  if (!r) Fail(503, "unavailable", "no model is serving (none loaded yet, or its file changed in place and no longer loads)");
  return r;
}

// Methods HTTP defines (RFC 9110 9.3): others are 501, these 405 on a path that does not take them.
bool IsStandardMethod(const std::string& m) {
  return m == "GET" || m == "HEAD" || m == "POST" || m == "PUT" || m == "DELETE" || m == "CONNECT" ||
         m == "OPTIONS" || m == "TRACE" || m == "PATCH";
}

Metrics::Answer MetricsAnswer(AnswerSource s) {
  switch (s) {
    case AnswerSource::kTopList: return Metrics::Answer::kTopList;
    case AnswerSource::kScored: return Metrics::Answer::kScored;
    case AnswerSource::kPopularity: return Metrics::Answer::kPopularity;
    case AnswerSource::kLive: return Metrics::Answer::kLive;
  }
  return Metrics::Answer::kScored;
}

}  // namespace

HttpServer::HttpServer(ModelSource* source, Metrics* metrics, HttpServerOptions options)
    : source_(source), metrics_(metrics), options_(std::move(options)) {
  if (options_.access_log != nullptr) access_log_ = std::make_unique<AccessLog>(options_.access_log);
}

HttpServer::~HttpServer() { Shutdown(); }

absl::Status HttpServer::Start() {
  if (options_.offers && options_.impressions == nullptr) {
    return absl::InvalidArgumentError("offers need an impression log");
  }
  HttpTransportOptions t;
  t.bind = options_.bind;
  t.port = options_.port;
  t.threads = options_.threads;
  t.limits.max_body_bytes = options_.max_body_bytes;
  t.limits.max_header_bytes = options_.max_header_bytes;
  t.keepalive_timeout = options_.keepalive_timeout;
  t.request_timeout = options_.request_timeout;
  t.max_connections = options_.max_connections;
  t.max_buffered_bytes = options_.max_buffered_bytes;
  // The key is checked when the head arrives, before a body is read.
  t.head_check = [this](const HttpRequest& head) { return CheckHead(head); };
  SetupRoutes();
  if (options_.batch_threads > 0) {
    batcher_ = std::make_unique<RecommendBatcher>(options_.batch_threads, options_.max_batch, metrics_);
  }
  admin_ = std::make_unique<TaskThread>();
  ledger_ = std::make_unique<TaskThread>();
  transport_ = std::make_unique<HttpTransport>(
      t, [this](HttpRequest req, HttpResponder responder) { Dispatch(std::move(req), std::move(responder)); });
  if (absl::Status s = transport_->Start(); !s.ok()) {
    transport_.reset();
    batcher_.reset();
    admin_.reset();
    ledger_.reset();
    return s;
  }
  metrics_->SetConnectionStats(&transport_->stats());
  return absl::OkStatus();
}

uint16_t HttpServer::port() const { return transport_ ? transport_->port() : 0; }

void HttpServer::Shutdown() {
  if (transport_) transport_->StopAccepting();
  batcher_.reset();  // answers what is queued first
  if (options_.live != nullptr && transport_) options_.live->Flush();  // and the events being written
  admin_.reset();
  ledger_.reset();
  if (transport_) {
    transport_->Shutdown();
    metrics_->SetConnectionStats(nullptr);
    transport_.reset();
  }
  // Nothing answers any more: the access log's last lines are written now,
  // before the caller closes its file.
  access_log_.reset();
}

void HttpServer::SetupRoutes() {
  routes_ = {
      {"GET", "/healthz", "healthz", Auth::kNone, &HttpServer::Healthz},
      {"GET", "/readyz", "readyz", Auth::kNone, &HttpServer::Readyz},
      {"GET", "/metrics", "metrics", Auth::kNone, &HttpServer::MetricsText},
      {"GET", "/openapi.yaml", "openapi", Auth::kNone, &HttpServer::OpenApi},
      {"GET", "/console", "console", Auth::kNone, &HttpServer::ConsolePage},
      {"GET", "/console/:id", "console", Auth::kNone, &HttpServer::ConsoleFile},
      {"GET", "/v1/admin/models", "admin_models", Auth::kAdmin, &HttpServer::AdminModels},
      {"POST", "/v1/admin/rollback", "admin_rollback", Auth::kAdmin, &HttpServer::AdminRollback},
      {"GET", "/v1/admin/experiments", "admin_experiments", Auth::kAdmin, &HttpServer::AdminExperiments},
      {"GET", "/v1/model", "model", Auth::kClient, &HttpServer::ModelInfo},
      {"GET", "/v1/customers/:id/recommendations", "customer_recommendations", Auth::kClient,
       &HttpServer::CustomerRecommendations},
      {"POST", "/v1/recommendations", "basket_recommendations", Auth::kClient, &HttpServer::BasketRecommendations},
      {"GET", "/v1/products/:id/similar", "similar_products", Auth::kClient, &HttpServer::SimilarProducts},
      {"POST", "/v1/customers/:id/rank", "rank", Auth::kClient, &HttpServer::RankProducts},
      {"GET", "/v1/customers/:id/offers", "customer_offers", Auth::kClient, &HttpServer::CustomerOffers},
      {"POST", "/v1/customers/:id/offers/impressions", "offer_impressions", Auth::kClient,
       &HttpServer::RecordImpressions},
      {"POST", "/v1/admin/reload", "admin_reload", Auth::kAdmin, &HttpServer::AdminReload},
      {"POST", "/v1/events", "events", Auth::kClient, &HttpServer::EventsDeferred},
      {"GET", "/v1/customers/:id/consent", "consent", Auth::kClient, &HttpServer::GetConsent},
      {"PUT", "/v1/customers/:id/consent", "consent_change", Auth::kClient, &HttpServer::PutConsent},
      {"DELETE", "/v1/customers/:id", "erase_customer", Auth::kAdmin, &HttpServer::EraseCustomer},
      {"GET", "/v1/customers/:id/data", "customer_data", Auth::kAdmin, &HttpServer::CustomerData},
  };
  router_ = Router();
  for (const Route& r : routes_) router_.Add(r.method, r.path);
}

HttpServer::Reply HttpServer::Error(int status, const std::string& code, const std::string& message) {
  Reply r;
  r.http = JsonError(status, code, message);
  return r;
}

std::optional<HttpServer::Reply> HttpServer::CheckAuth(Auth auth, const HttpRequest& req) const {
  if (auth == Auth::kNone) return std::nullopt;
  if (auth == Auth::kClient && !options_.api_keys) return std::nullopt;
  if (auth == Auth::kAdmin && !options_.admin_keys) {
    return Error(403, "forbidden", "the admin endpoint is disabled: start the server with --admin_keys");
  }
  const std::string* key = req.Header("x-api-key");  // the parser trimmed surrounding whitespace
  if (key == nullptr) return Error(401, "unauthenticated", "send an X-API-Key header");
  const bool ok = auth == Auth::kAdmin ? options_.admin_keys->Contains(*key)
                                       : options_.api_keys->Contains(*key) ||
                                             (options_.admin_keys && options_.admin_keys->Contains(*key));
  if (!ok) return Error(403, "forbidden", "this key is not allowed here");
  return std::nullopt;
}

HttpServer::RequestInfo HttpServer::InfoFor(const HttpRequest& req, const Route* route) {
  // No query string (visitor ids travel there); for a route of one
  // customer, the route's pattern instead of the path (its id).
  const bool customer = route != nullptr && absl::StartsWith(route->path, "/v1/customers/");
  return RequestInfo{req.method, customer ? route->path : req.path, req.peer};
}

std::optional<HttpResponse> HttpServer::CheckHead(const HttpRequest& head) {
  const Router::Match m = router_.Find(head.method, head.path);
  if (m.route < 0) return std::nullopt;  // answered once whole (404, 405)
  const Route& route = routes_[static_cast<size_t>(m.route)];
  std::optional<Reply> denied = CheckAuth(route.auth, head);
  if (!denied) return std::nullopt;
  const int status = denied->http.status;
  metrics_->Record(route.endpoint, status, 0);
  LogAccess(InfoFor(head, &route), route.endpoint, status, 0, "");
  return std::move(denied->http);
}

template <typename F>
std::optional<HttpServer::Reply> HttpServer::Catching(F&& f) {
  try {
    return f();
  } catch (const HttpError& e) {
    return Error(e.status, e.code, e.message);
  } catch (const std::exception& e) {
    return Error(500, "internal", e.what());
  } catch (...) {
    return Error(500, "internal", "unknown error");
  }
}

HttpServer::Reply HttpServer::Run(Fn fn, const HttpRequest& req) {
  return *Catching([&] { return std::optional<Reply>((this->*fn)(req)); });
}

void HttpServer::Dispatch(HttpRequest req, HttpResponder responder) {
  const auto start = Clock::now();
  // The access log holds no customer id (docs/API.md, "Access log").
  RequestInfo info = InfoFor(req, nullptr);
  Router::Match m = router_.Find(req.method, req.path);
  if (req.method == "OPTIONS") {
    Reply reply(204, "");
    if (req.path == "*") {
      reply.http.headers.emplace_back("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    } else if (m.path_known) {
      reply.http.headers.emplace_back("Allow", m.allow);
    } else {
      reply = Error(404, "not_found", absl::StrCat("no route for ", req.path));
    }
    Complete(responder, info, "options", start, std::move(reply));
    return;
  }
  if (m.route < 0) {
    Reply reply;
    const char* endpoint = "not_found";
    if (!IsStandardMethod(req.method)) {
      reply = Error(501, "not_implemented", absl::StrCat("method ", req.method, " is not implemented"));
      endpoint = "not_implemented";
    } else if (m.path_known) {
      reply = Error(405, "method_not_allowed", absl::StrCat(req.path, " takes ", m.allow));
      reply.http.headers.emplace_back("Allow", m.allow);
      endpoint = "method_not_allowed";
    } else {
      reply = Error(404, "not_found", absl::StrCat("no route for ", req.path));
    }
    Complete(responder, info, endpoint, start, std::move(reply));
    return;
  }
  const Route& route = routes_[static_cast<size_t>(m.route)];
  info = InfoFor(req, &route);
  req.params = std::move(m.params);
  if (auto denied = CheckAuth(route.auth, req)) {
    Complete(responder, info, route.endpoint, start, *std::move(denied));
    return;
  }
  if (batcher_ && route.fn == &HttpServer::CustomerRecommendations) {
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    if (auto now = Catching([&] { return DeferCustomerRecommendations(req, shared, info, start); })) {
      Complete(*shared, info, route.endpoint, start, *std::move(now));
    }
    return;
  }
  if (route.fn == &HttpServer::EventsDeferred) {
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    if (auto now = Catching([&] { return PostEvents(req, shared, info, start); })) {
      Complete(*shared, info, route.endpoint, start, *std::move(now));
    }
    return;
  }
  if (ledger_ && (route.fn == &HttpServer::PutConsent || route.fn == &HttpServer::EraseCustomer)) {
    // Each waits for a file sync (an erasure rewrites files): not on a loop thread.
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    auto request = std::make_shared<HttpRequest>(std::move(req));
    ledger_->Post([this, shared, request, info, start, endpoint = route.endpoint, fn = route.fn] {
      Complete(*shared, info, endpoint, start, Run(fn, *request));
    });
    return;
  }
  if (admin_ && route.fn == &HttpServer::AdminReload) {
    // Reading a model and building its top lists takes seconds: not on the
    // thread that serves this connection's neighbours.
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    auto request = std::make_shared<HttpRequest>(std::move(req));
    admin_->Post([this, shared, request, info, start, endpoint = route.endpoint, fn = route.fn] {
      Complete(*shared, info, endpoint, start, Run(fn, *request));
    });
    return;
  }
  Complete(responder, info, route.endpoint, start, Run(route.fn, req));
}

void HttpServer::Complete(HttpResponder& responder, const RequestInfo& info, const char* endpoint,
                          Clock::time_point start, Reply reply) {
  const int status = reply.http.status;
  // Model ids are checked at load; a header never carries what could split it.
  if (!reply.model_version.empty() && IsPrintableUtf8(reply.model_version)) {
    reply.http.headers.emplace_back("X-Model-Version", reply.model_version);
    // Answered from memory while the shared live store is out of reach:
    // what other servers received since may be missing.
    if (options_.live != nullptr && options_.live->stale()) reply.http.headers.emplace_back("X-Live-State", "stale");
  }
  responder.Send(std::move(reply.http));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  metrics_->Record(endpoint, status, seconds);
  LogAccess(info, endpoint, status, seconds, reply.model_version);
}

void HttpServer::LogAccess(const RequestInfo& req, const char* endpoint, int status, double seconds,
                           const std::string& model_version) {
  if (access_log_ == nullptr) return;
  // The fields in name order, as the log has always had them; written
  // straight into the line (no JSON tree per request).
  std::string line = "{\"client\":";
  AppendJsonString(&line, req.client);
  line += ",\"endpoint\":";
  AppendJsonString(&line, endpoint);
  line += ",\"method\":";
  AppendJsonString(&line, req.method);
  if (!model_version.empty()) {
    line += ",\"model_version\":";
    AppendJsonString(&line, model_version);
  }
  absl::StrAppendFormat(&line, ",\"ms\":%.3f,\"path\":", seconds * 1e3);
  AppendJsonString(&line, req.path);
  absl::StrAppend(&line, ",\"status\":", status, ",\"ts\":\"",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), "\"}\n");
  access_log_->Append(line);
}

HttpServer::Reply HttpServer::Healthz(const HttpRequest&) { return Reply{200, R"({"status":"ok"})"}; }

HttpServer::Reply HttpServer::OpenApi(const HttpRequest&) {
  return Reply{200, std::string(*EmbeddedFile("docs/openapi.yaml")), "application/yaml"};
}

HttpServer::Reply HttpServer::Readyz(const HttpRequest&) {
  auto r = source_->Current();
  if (!r) return Error(503, "unavailable", "no model is serving (none loaded yet, or its file changed in place and no longer loads)");
  return Reply{200, ReadyBody(r->model_id()), "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::MetricsText(const HttpRequest&) {
  std::string text = metrics_->Render();
  if (access_log_ != nullptr) {
    absl::StrAppend(&text,
                    "# HELP aisle_access_log_dropped_lines_total Access log lines dropped: the output did not keep up.\n"
                    "# TYPE aisle_access_log_dropped_lines_total counter\naisle_access_log_dropped_lines_total ",
                    access_log_->dropped(), "\n");
  }
  return Reply{200, std::move(text), "text/plain; version=0.0.4"};
}

HttpServer::Reply HttpServer::ModelInfo(const HttpRequest&) {
  auto r = Serving(source_);
  return Reply{200, ModelInfoBody(*r), "application/json", r->model_id()};
}

bool HttpServer::Consents(const std::string& id) const {
  return options_.live == nullptr || options_.live->Personalize(id);
}

std::shared_ptr<const LiveProfile> HttpServer::LiveFor(const Recommender& r, const std::string& id) const {
  return options_.live != nullptr ? options_.live->Profile(r.model(), id) : nullptr;
}

HttpServer::Personal HttpServer::PersonalFor(const Recommender& r, const std::string& id) {
  Personal p;
  p.consent = Consents(id);
  if (p.consent) p.live = LiveFor(r, id);
  return p;
}

HttpServer::Arm HttpServer::ArmFor(const char* endpoint, const std::string& unit, bool consent) const {
  Arm arm;
  // Customers without consent are not enrolled.
  if (options_.experiments != nullptr && consent) arm.choice = options_.experiments->Pick(endpoint, unit, absl::Now());
  arm.r = arm.choice.recommender ? arm.choice.recommender : Serving(source_);
  return arm;
}

AnswerLabels HttpServer::Labels(const ExperimentSource::Choice* choice, absl::string_view fallback,
                                absl::string_view recommendation_id) {
  AnswerLabels l;
  l.fallback = fallback;
  l.recommendation_id = recommendation_id;
  if (choice != nullptr && choice->variant != nullptr) {
    l.experiment = choice->experiment->id;
    l.variant = choice->variant->name;
  }
  return l;
}

std::string HttpServer::Expose(const char* endpoint, const std::string& customer, const std::string& model_version,
                               std::vector<absl::string_view> items, const ExperimentSource::Choice* choice) {
  std::string id = NewRecommendationId();
  if (options_.exposures != nullptr) {
    Exposure e;
    e.recommendation_id = id;
    e.at_ms = absl::ToUnixMillis(absl::Now());
    e.endpoint = endpoint;
    e.customer = customer;
    e.model_version = model_version;
    if (choice != nullptr && choice->variant != nullptr) {
      e.experiment = choice->experiment->id;
      e.variant = choice->variant->name;
    }
    e.items = std::move(items);
    options_.exposures->Record(e);
  }
  if (choice != nullptr) choice->Count();
  return id;
}

absl::StatusOr<CustomerAnswer> HttpServer::PopularAnswer(const Recommender& r, const RecommendOptions& o) {
  auto res = r.Popularity(o);
  if (!res.ok()) return res.status();
  return CustomerAnswer{*std::move(res), AnswerSource::kPopularity};
}

HttpServer::Reply HttpServer::NoConsentRecommendations(const Recommender& r, const std::string& id,
                                                       const RecommendOptions& o, bool expose) {
  return RecommendationsReply(r, id, PopularAnswer(r, o), o.explain, "no_consent", expose);
}

HttpServer::Reply HttpServer::RecommendationsReply(const Recommender& r, const std::string& id,
                                                   const absl::StatusOr<CustomerAnswer>& answer, bool explain,
                                                   absl::string_view fallback_reason, bool expose,
                                                   const ExperimentSource::Choice* choice) {
  if (!answer.ok()) {
    Reply e = Error(HttpStatusFor(answer.status()), ErrorCodeForStatus(answer.status()),
                    std::string(answer.status().message()));
    e.model_version = r.model_id();
    return e;
  }
  metrics_->RecordAnswer(MetricsAnswer(answer->source));
  std::string recommendation_id;
  if (expose) {
    std::vector<absl::string_view> shown;
    for (const Recommendation& x : answer->result.items) shown.push_back(r.model().products.id_view(x.product));
    recommendation_id = Expose("customer_recommendations", id, r.model_id(), std::move(shown), choice);
  }
  return Reply{200,
               RecommendationsBody(r, &id, answer->result, explain, Labels(choice, fallback_reason, recommendation_id)),
               "application/json", r.model_id()};
}

void HttpServer::StockDefault(const Params& p, const Recommender& r, RecommendOptions* o) const {
  o->in_stock_only = p.Bool("in_stock", options_.default_in_stock && r.catalog() != nullptr && r.catalog()->has_stock());
}

HttpServer::Reply HttpServer::CustomerRecommendations(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  const Params params = Params::FromQuery(req.query);
  RecommendOptions o = OptionsFrom(params, options_.max_count, options_.max_id_length);
  const bool consent = Consents(id);
  const Arm arm = ArmFor("customer_recommendations", id, consent);
  StockDefault(params, *arm.r, &o);
  const Recommender& r = *arm.r;
  if (!consent) return NoConsentRecommendations(r, id, o);
  if (arm.choice.popularity()) return RecommendationsReply(r, id, PopularAnswer(r, o), o.explain, {}, true, &arm.choice);
  return RecommendationsReply(r, id, r.Recommend(id, o, LiveFor(r, id).get()), o.explain, {}, true, &arm.choice);
}

std::optional<HttpServer::Reply> HttpServer::DeferCustomerRecommendations(const HttpRequest& req,
                                                                         std::shared_ptr<HttpResponder> responder,
                                                                         const RequestInfo& info,
                                                                         Clock::time_point start) {
  const std::string id = PathId(req, options_.max_id_length);
  const Params params = Params::FromQuery(req.query);
  RecommendOptions o = OptionsFrom(params, options_.max_count, options_.max_id_length);
  const bool consent = Consents(id);
  const Arm arm = ArmFor("customer_recommendations", id, consent);
  std::shared_ptr<const Recommender> r = arm.r;
  StockDefault(params, *r, &o);
  if (!consent) return NoConsentRecommendations(*r, id, o);
  if (arm.choice.popularity()) return RecommendationsReply(*r, id, PopularAnswer(*r, o), o.explain, {}, true, &arm.choice);
  std::shared_ptr<const LiveProfile> live = LiveFor(*r, id);
  // Unknown customers (popularity) and requests the top lists determine are
  // cheap: answered now, on this thread.
  if (auto now = r->RecommendWithoutScoring(id, o, live.get())) {
    return RecommendationsReply(*r, id, *now, o.explain, {}, true, &arm.choice);
  }
  // A catalog searched through the index: requests share no pass over the
  // products, so batching gains nothing; answered on this thread (both
  // HTTP threads search at once instead of queueing on one batcher).
  if (r->index() != nullptr) {
    return RecommendationsReply(*r, id, r->Recommend(id, o, live.get()), o.explain, {}, true, &arm.choice);
  }
  RecommendBatcher::Job job;
  job.recommender = r;
  job.request = CustomerRequest{id, o, live};
  job.done = [this, r, id, responder, start, info, explain = o.explain,
              choice = arm.choice](absl::StatusOr<CustomerAnswer> answer) {
    Complete(*responder, info, "customer_recommendations", start,
             RecommendationsReply(*r, id, answer, explain, {}, true, &choice));
  };
  batcher_->Submit(std::move(job));
  return std::nullopt;
}

HttpServer::Reply HttpServer::BasketRecommendations(const HttpRequest& req) {
  json body = ParseBody(req, options_.max_body_bytes);
  const Params p = Params::FromJson(body);
  std::vector<std::string> products = p.List("products", options_.max_count, options_.max_id_length);
  std::vector<float> weights;
  if (auto it = body.find("weights"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) Fail(400, "invalid_argument", "'weights' must be an array of numbers");
    if (it->size() > options_.max_count) {
      Fail(400, "invalid_argument", absl::StrCat("'weights' has more than ", options_.max_count, " items"));
    }
    for (const auto& w : *it) {
      if (!w.is_number()) Fail(400, "invalid_argument", "'weights' must be an array of numbers");
      const double v = w.get<double>();
      if (!std::isfinite(v) || std::fabs(v) > 1e30) {
        Fail(400, "invalid_argument", "'weights' must be finite numbers of magnitude at most 1e30");
      }
      weights.push_back(static_cast<float>(v));
    }
  }
  RecommendOptions o = OptionsFrom(p, options_.max_count, options_.max_id_length);
  const std::string visitor = VisitorId(p, options_.max_id_length);
  const Arm arm = ArmFor("basket_recommendations", visitor, Consents(visitor));
  const Recommender& r = *arm.r;
  StockDefault(p, r, &o);
  absl::StatusOr<RecommendResult> res = absl::InternalError("");
  if (arm.choice.popularity()) {
    o.exclude.insert(o.exclude.end(), products.begin(), products.end());  // not what is in the basket
    res = r.Popularity(o);
  } else {
    res = r.ForBasket(products, weights, o);
  }
  if (!res.ok()) FailStatus(res.status());
  std::vector<absl::string_view> shown;
  for (const Recommendation& x : res->items) shown.push_back(r.model().products.id_view(x.product));
  const std::string rid = Expose("basket_recommendations", visitor, r.model_id(), std::move(shown), &arm.choice);
  return Reply{200, RecommendationsBody(r, nullptr, *res, o.explain, Labels(&arm.choice, {}, rid)), "application/json",
               r.model_id()};
}

HttpServer::Reply HttpServer::SimilarProducts(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  const Params p = Params::FromQuery(req.query);
  const size_t count = CountParam(p, 10, options_.max_count);
  const std::string visitor = VisitorId(p, options_.max_id_length);
  const Arm arm = ArmFor("similar_products", visitor, Consents(visitor));
  const Recommender& r = *arm.r;
  absl::StatusOr<std::vector<Recommendation>> res = absl::InternalError("");
  if (arm.choice.popularity() && r.model().products.Find(id)) {
    RecommendOptions o;
    o.count = count;
    o.exclude = {id};
    auto popular = r.Popularity(o);
    res = popular.ok() ? absl::StatusOr<std::vector<Recommendation>>(std::move(popular->items))
                       : absl::StatusOr<std::vector<Recommendation>>(popular.status());
  } else {
    res = r.Similar(id, count);
  }
  if (!res.ok()) FailStatus(res.status());
  std::vector<absl::string_view> shown;
  for (const Recommendation& x : *res) shown.push_back(r.model().products.id_view(x.product));
  const std::string rid = Expose("similar_products", visitor, r.model_id(), std::move(shown), &arm.choice);
  return Reply{200, SimilarBody(r, id, *res, Labels(&arm.choice, {}, rid)), "application/json", r.model_id()};
}

HttpServer::Reply HttpServer::RankProducts(const HttpRequest& req) {
  const std::string id = PathId(req, options_.max_id_length);
  json body = ParseBody(req, options_.max_body_bytes);
  std::vector<std::string> products = Params::FromJson(body).List("products", options_.max_count, options_.max_id_length);
  if (products.empty()) Fail(400, "invalid_argument", "'products' must list at least one product id");
  auto r = Serving(source_);
  const Personal p = PersonalFor(*r, id);
  bool fallback = false;
  // Without consent: the popularity order (as for a customer the model does not know).
  auto res = p.consent ? r->Rank(id, products, &fallback, p.live.get()) : r->Rank("", products, &fallback, nullptr);
  if (!res.ok()) FailStatus(res.status());
  std::vector<absl::string_view> shown;
  for (const Recommender::Ranked& x : *res) shown.push_back(x.product_id);
  const std::string rid = Expose("rank", id, r->model_id(), std::move(shown));
  return Reply{200, RankBody(*r, id, *res, fallback, Labels(nullptr, p.consent ? "" : "no_consent", rid)),
               "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::AdminReload(const HttpRequest&) {
  bool changed = false;
  absl::Status s = source_->Reload(/*force=*/true, &changed);
  if (options_.experiments != nullptr) {
    if (absl::Status e = options_.experiments->Reload(/*force=*/true); !e.ok() && s.ok()) s = e;
  }
  auto r = source_->Current();
  const std::string version = r ? r->model_id() : "";
  if (!s.ok()) return Reply{422, ReloadRefusedBody(std::string(s.message()), version), "application/json", version};
  return Reply{200, ReloadBody(changed, version), "application/json", version};
}

}  // namespace aisle

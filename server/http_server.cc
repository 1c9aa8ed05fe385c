#include "server/http_server.h"

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/recommendation_json.h"

namespace aisle {

using Pistache::Rest::Request;
namespace Http = Pistache::Http;
namespace Routes = Pistache::Rest::Routes;
using json = nlohmann::json;

namespace {

// X-Model-Version: which model answered (Pistache serializes typed headers only).
class ModelVersionHeader : public Http::Header::Header {
 public:
  NAME("X-Model-Version")
  ModelVersionHeader() = default;
  explicit ModelVersionHeader(std::string v) : value_(std::move(v)) {}
  void parse(const std::string& data) override { value_ = data; }
  void write(std::ostream& os) const override { os << value_; }

 private:
  std::string value_;
};

// A client error carried out of a handler.
struct HttpError {
  int status;
  std::string code;
  std::string message;
};

[[noreturn]] void Fail(int status, std::string code, std::string message) {
  throw HttpError{status, std::move(code), std::move(message)};
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  return json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

[[noreturn]] void FailStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: Fail(400, "invalid_argument", std::string(s.message()));
    case absl::StatusCode::kNotFound: Fail(404, "not_found", std::string(s.message()));
    case absl::StatusCode::kUnavailable: Fail(503, "unavailable", std::string(s.message()));
    default: Fail(500, "internal", std::string(s.message()));
  }
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && absl::ascii_isxdigit(s[i + 1]) && absl::ascii_isxdigit(s[i + 2])) {
      int v = 0;
      for (int j = 1; j <= 2; ++j) {
        const char c = s[i + j];
        v = v * 16 + (absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10);
      }
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Reads request parameters from the query string (GET) or a JSON body (POST).
class Params {
 public:
  explicit Params(const Request& req) : req_(&req) {}
  explicit Params(const json& body) : body_(&body) {}

  std::optional<std::string> String(const std::string& name) const {
    if (req_) {
      auto v = req_->query().get(name);
      if (!v) return std::nullopt;
      return PercentDecode(*v);
    }
    auto it = body_->find(name);
    if (it == body_->end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number() || it->is_boolean()) return it->dump();
    Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be a string, number or boolean"));
  }
  // Comma-separated in a query string; a string or an array of strings in JSON.
  std::vector<std::string> List(const std::string& name, size_t max_items, size_t max_len) const {
    std::vector<std::string> out;
    if (body_) {
      auto it = body_->find(name);
      if (it != body_->end() && it->is_array()) {
        for (const auto& v : *it) {
          if (!v.is_string()) Fail(400, "invalid_argument", absl::StrCat("'", name, "' must hold strings"));
          out.push_back(v.get<std::string>());
        }
        return Check(name, out, max_items, max_len);
      }
    }
    if (auto s = String(name)) {
      for (absl::string_view part : absl::StrSplit(*s, ',', absl::SkipEmpty())) out.emplace_back(part);
    }
    return Check(name, out, max_items, max_len);
  }
  std::optional<double> Number(const std::string& name) const {
    auto s = String(name);
    if (!s) return std::nullopt;
    double v;
    if (!absl::SimpleAtod(*s, &v) || !std::isfinite(v)) {
      Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be a number"));
    }
    return v;
  }
  bool Bool(const std::string& name, bool def) const {
    auto s = String(name);
    if (!s) return def;
    if (*s == "true" || *s == "1") return true;
    if (*s == "false" || *s == "0") return false;
    Fail(400, "invalid_argument", absl::StrCat("'", name, "' must be true or false"));
  }

 private:
  static std::vector<std::string> Check(const std::string& name, std::vector<std::string> v, size_t max_items,
                                        size_t max_len) {
    if (v.size() > max_items) Fail(400, "invalid_argument", absl::StrCat("'", name, "' has more than ", max_items, " items"));
    for (const auto& s : v) {
      if (s.size() > max_len) Fail(400, "invalid_argument", absl::StrCat("an id in '", name, "' is longer than ", max_len));
    }
    return v;
  }
  const Request* req_ = nullptr;
  const json* body_ = nullptr;
};

json ParseBody(const Request& req, size_t limit) {
  if (req.body().size() > limit) Fail(413, "payload_too_large", absl::StrCat("body over ", limit, " bytes"));
  json body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) Fail(400, "invalid_json", "the body is not valid JSON");
  if (!body.is_object()) Fail(400, "invalid_json", "the body must be a JSON object");
  return body;
}

}  // namespace

HttpServer::HttpServer(ModelSource* source, Metrics* metrics, HttpServerOptions options)
    : source_(source), metrics_(metrics), options_(std::move(options)) {}

HttpServer::~HttpServer() { Shutdown(); }

absl::Status HttpServer::Start() {
  if (options_.offers && options_.impressions == nullptr) {
    return absl::InvalidArgumentError("offers need an impression log");
  }
  try {
    Pistache::Address addr(options_.bind, Pistache::Port(options_.port));
    endpoint_ = std::make_unique<Http::Endpoint>(addr);
    auto opts = Http::Endpoint::options()
                    .threads(options_.threads)
                    .flags(Pistache::Tcp::Options::ReuseAddr)
                    .maxRequestSize(options_.max_body_bytes + 16384)
                    // Pistache 0.0.5 times a connection from its last request's start, also while
                    // its response is pending: an admin reload answered after the model and its
                    // top lists are built (seconds) must fit. 60 s: nginx's defaults for both.
                    .headerTimeout(std::chrono::seconds(60))
                    .bodyTimeout(std::chrono::seconds(60));
    endpoint_->init(opts);
    if (options_.batch_threads > 0) {
      batcher_ = std::make_unique<RecommendBatcher>(options_.batch_threads, options_.max_batch, metrics_);
    }
    admin_ = std::make_unique<TaskThread>();
    SetupRoutes();
    endpoint_->setHandler(router_.handler());
    endpoint_->serveThreaded();
  } catch (const std::exception& e) {
    endpoint_.reset();
    return absl::UnavailableError(absl::StrCat("cannot serve on ", options_.bind, ":", options_.port, ": ", e.what()));
  }
  return absl::OkStatus();
}

uint16_t HttpServer::port() const { return endpoint_ ? static_cast<uint16_t>(endpoint_->getPort()) : 0; }

void HttpServer::Shutdown() {
  batcher_.reset();  // answers what is queued first
  admin_.reset();
  if (endpoint_) {
    endpoint_->shutdown();
    endpoint_.reset();
  }
}

void HttpServer::SetupRoutes() {
  auto route = [this](const char* endpoint, Auth auth, Fn fn) {
    return [this, endpoint, auth, fn](const Request& req, Http::ResponseWriter writer) {
      Handle(endpoint, auth, fn, req, std::move(writer));
      return Pistache::Rest::Route::Result::Ok;
    };
  };
  struct R {
    Http::Method method;
    const char* path;
    const char* endpoint;
    Auth auth;
    Fn fn;
  };
  const R routes[] = {
      {Http::Method::Get, "/healthz", "healthz", Auth::kNone, &HttpServer::Healthz},
      {Http::Method::Get, "/readyz", "readyz", Auth::kNone, &HttpServer::Readyz},
      {Http::Method::Get, "/metrics", "metrics", Auth::kNone, &HttpServer::MetricsText},
      {Http::Method::Get, "/v1/model", "model", Auth::kClient, &HttpServer::ModelInfo},
      {Http::Method::Get, "/v1/customers/:id/recommendations", "customer_recommendations", Auth::kClient,
       &HttpServer::CustomerRecommendations},
      {Http::Method::Post, "/v1/recommendations", "basket_recommendations", Auth::kClient,
       &HttpServer::BasketRecommendations},
      {Http::Method::Get, "/v1/products/:id/similar", "similar_products", Auth::kClient, &HttpServer::SimilarProducts},
      {Http::Method::Post, "/v1/customers/:id/rank", "rank", Auth::kClient, &HttpServer::RankProducts},
      {Http::Method::Get, "/v1/customers/:id/offers", "customer_offers", Auth::kClient, &HttpServer::CustomerOffers},
      {Http::Method::Post, "/v1/customers/:id/offers/impressions", "offer_impressions", Auth::kClient,
       &HttpServer::RecordImpressions},
      {Http::Method::Post, "/v1/admin/reload", "admin_reload", Auth::kAdmin, &HttpServer::AdminReload},
  };
  for (const R& r : routes) {
    router_.addRoute(r.method, r.path, route(r.endpoint, r.auth, r.fn));
    // Other methods on a known path: a JSON 405.
    for (Http::Method m : {Http::Method::Get, Http::Method::Post, Http::Method::Put, Http::Method::Delete,
                           Http::Method::Patch}) {
      if (m == r.method) continue;
      router_.addRoute(m, r.path, [this, r](const Request& req, Http::ResponseWriter writer) {
        (void)req;
        writer.headers().add<Http::Header::ContentType>(MIME(Application, Json));
        writer.send(Http::Code::Method_Not_Allowed,
                    ErrorBody("method_not_allowed", absl::StrCat(r.path, " takes ", Http::methodString(r.method))));
        metrics_->Record("method_not_allowed", 405, 0);
        return Pistache::Rest::Route::Result::Ok;
      });
    }
  }
  router_.addNotFoundHandler([this](const Request& req, Http::ResponseWriter writer) {
    writer.headers().add<Http::Header::ContentType>(MIME(Application, Json));
    writer.send(Http::Code::Not_Found, ErrorBody("not_found", absl::StrCat("no route for ", req.resource())));
    metrics_->Record("not_found", 404, 0);
    return Pistache::Rest::Route::Result::Ok;
  });
}

std::optional<HttpServer::Reply> HttpServer::CheckAuth(Auth auth, const Request& req) const {
  if (auth == Auth::kNone) return std::nullopt;
  if (auth == Auth::kClient && !options_.api_keys) return std::nullopt;
  if (auth == Auth::kAdmin && !options_.admin_keys) {
    return Reply{403, ErrorBody("forbidden", "the admin endpoint is disabled: start the server with --admin_keys")};
  }
  auto raw = req.headers().tryGetRaw("X-API-Key");
  if (!raw) return Reply{401, ErrorBody("unauthenticated", "send an X-API-Key header")};
  const std::string& key = raw->value();
  const bool ok = auth == Auth::kAdmin ? options_.admin_keys->Contains(key)
                                       : options_.api_keys->Contains(key) ||
                                             (options_.admin_keys && options_.admin_keys->Contains(key));
  if (!ok) return Reply{403, ErrorBody("forbidden", "this key is not allowed here")};
  return std::nullopt;
}

void HttpServer::Send(Http::ResponseWriter& writer, const Reply& reply) {
  if (!reply.model_version.empty()) writer.headers().add<ModelVersionHeader>(reply.model_version);
  writer.headers().add<Http::Header::ContentType>(Http::Mime::MediaType::fromString(reply.content_type));
  writer.send(static_cast<Http::Code>(reply.status), reply.body);
}

void HttpServer::Handle(const char* endpoint, Auth auth, Fn fn, const Request& req, Http::ResponseWriter w) {
  const auto start = std::chrono::steady_clock::now();
  auto writer = std::make_shared<Http::ResponseWriter>(std::move(w));
  Reply reply;
  if (auto denied = CheckAuth(auth, req)) {
    reply = *denied;
  } else {
    try {
      if (batcher_ && fn == &HttpServer::CustomerRecommendations) {
        if (DeferCustomerRecommendations(req, writer, start, &reply)) return;
      } else if (admin_ && fn == &HttpServer::AdminReload) {
        // Reading a model and building its top lists takes seconds: not on
        // the thread that serves this connection's neighbours.
        RequestInfo info{Http::methodString(req.method()), req.resource(), req.address().host()};
        admin_->Post([this, writer, info, start, endpoint] {
          Reply out;
          try {
            out = ReloadNow();
          } catch (const std::exception& e) {
            out = Reply{500, ErrorBody("internal", e.what())};
          }
          Complete(*writer, info, endpoint, start, out);
        });
        return;
      } else {
        reply = (this->*fn)(req);
      }
    } catch (const HttpError& e) {
      reply = Reply{e.status, ErrorBody(e.code, e.message)};
    } catch (const std::exception& e) {
      reply = Reply{500, ErrorBody("internal", e.what())};
    }
  }
  Complete(*writer, {Http::methodString(req.method()), req.resource(), req.address().host()}, endpoint, start, reply);
}

void HttpServer::Complete(Http::ResponseWriter& writer, const RequestInfo& info, const char* endpoint,
                          std::chrono::steady_clock::time_point start, const Reply& reply) {
  Send(writer, reply);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_->Record(endpoint, reply.status, seconds);
  LogAccess(info, endpoint, reply.status, seconds, reply.model_version);
}

void HttpServer::LogAccess(const RequestInfo& req, const char* endpoint, int status, double seconds,
                           const std::string& model_version) {
  if (options_.access_log == nullptr) return;
  json line = {{"ts", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())},
               {"method", req.method},
               {"path", req.path},
               {"endpoint", endpoint},
               {"status", status},
               {"ms", std::round(seconds * 1e6) / 1e3},
               {"client", req.client}};
  if (!model_version.empty()) line["model_version"] = model_version;
  const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(log_mu_);
  std::fwrite(text.data(), 1, text.size(), options_.access_log);
  std::fflush(options_.access_log);
}

namespace {

std::shared_ptr<const Recommender> Serving(ModelSource* source) {
  auto r = source->Current();
  if (!r) Fail(503, "unavailable", "no model loaded yet");
  return r;
}

size_t CountParam(const Params& p, size_t def, size_t max_count) {
  auto c = p.Number("count");
  if (!c) return def;
  if (*c < 1 || *c > static_cast<double>(max_count) || *c != std::floor(*c)) {
    Fail(400, "invalid_argument", absl::StrCat("count must be an integer in [1, ", max_count, "]"));
  }
  return static_cast<size_t>(*c);
}

RecommendOptions OptionsFrom(const Params& p, size_t max_count, size_t max_id) {
  RecommendOptions o;
  o.count = CountParam(p, o.count, max_count);
  o.categories = p.List("category", max_count, max_id);
  o.exclude_categories = p.List("exclude_category", max_count, max_id);
  if (auto v = p.Number("min_price")) o.min_price = static_cast<float>(*v);
  if (auto v = p.Number("max_price")) o.max_price = static_cast<float>(*v);
  o.in_stock_only = p.Bool("in_stock", false);
  o.exclude = p.List("exclude", max_count, max_id);
  o.explain = p.Bool("explain", false);
  return o;
}

std::string PathId(const Request& req, size_t max_len) {
  std::string id = PercentDecode(req.param(":id").as<std::string>());
  if (id.empty()) Fail(400, "invalid_argument", "empty id");
  if (id.size() > max_len) Fail(400, "invalid_argument", absl::StrCat("id longer than ", max_len));
  return id;
}

}  // namespace

HttpServer::Reply HttpServer::Healthz(const Request&) { return Reply{200, R"({"status":"ok"})"}; }

HttpServer::Reply HttpServer::Readyz(const Request&) {
  auto r = source_->Current();
  if (!r) return Reply{503, ErrorBody("unavailable", "no model loaded yet")};
  return Reply{200, json{{"status", "ready"}, {"model_version", r->model_id()}}.dump(), "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::MetricsText(const Request&) {
  return Reply{200, metrics_->Render(), "text/plain; version=0.0.4"};
}

HttpServer::Reply HttpServer::ModelInfo(const Request&) {
  auto r = Serving(source_);
  const Model& m = r->model();
  json j = {{"model_version", r->model_id()},
            {"customers", m.customers.size()},
            {"products", m.products.size()},
            {"factors", m.num_factors()},
            {"catalog_products", r->catalog() ? r->catalog()->size() : 0},
            {"top_lists", nullptr},
            {"metadata", m.metadata}};
  const TopLists* customers = r->customer_lists();
  const TopLists* products = r->similar_lists();
  if (customers || products) {
    j["top_lists"] = {{"length", customers ? customers->k() : products->k()},
                      {"customers", customers ? customers->size() : 0},
                      {"products", products ? products->size() : 0},
                      {"bytes", (customers ? customers->bytes() : 0) + (products ? products->bytes() : 0)}};
  }
  return Reply{200, j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::CustomerRecommendations(const Request& req) {
  const std::string id = PathId(req, options_.max_id_length);
  RecommendOptions o = OptionsFrom(Params(req), options_.max_count, options_.max_id_length);
  auto r = Serving(source_);
  if (auto now = AnswerNow(*r, id, o)) return *std::move(now);
  auto res = r->ForCustomer(id, o);
  if (!res.ok()) FailStatus(res.status());
  metrics_->RecordAnswer(Metrics::Answer::kScored);
  return Reply{200, RecommendationsBody(*r, &id, *res, o.explain), "application/json", r->model_id()};
}

std::optional<HttpServer::Reply> HttpServer::AnswerNow(const Recommender& r, const std::string& id,
                                                       const RecommendOptions& o) {
  std::optional<RecommendResult> res;
  auto customer = r.CustomerIndex(id);
  if (!customer) {
    auto popular = r.ForCustomer(id, o);
    if (!popular.ok()) FailStatus(popular.status());
    metrics_->RecordAnswer(Metrics::Answer::kPopularity);
    res = *std::move(popular);
  } else {
    res = r.FromTopList(*customer, o);
    if (!res) return std::nullopt;
    metrics_->RecordAnswer(Metrics::Answer::kTopList);
  }
  return Reply{200, RecommendationsBody(r, &id, *res, o.explain), "application/json", r.model_id()};
}

bool HttpServer::DeferCustomerRecommendations(const Request& req, std::shared_ptr<Http::ResponseWriter> writer,
                                              std::chrono::steady_clock::time_point start, Reply* reply) {
  const std::string id = PathId(req, options_.max_id_length);
  RecommendOptions o = OptionsFrom(Params(req), options_.max_count, options_.max_id_length);
  auto r = Serving(source_);
  // Unknown customers (popularity) and requests the top lists determine are
  // cheap: answer now.
  if (auto now = AnswerNow(*r, id, o)) {
    *reply = *std::move(now);
    return false;
  }
  const uint32_t customer = *r->CustomerIndex(id);
  // What the access log needs, copied: the request is gone when the batch answers.
  RequestInfo info{Http::methodString(req.method()), req.resource(), req.address().host()};
  RecommendBatcher::Job job;
  job.recommender = r;
  job.customer = customer;
  job.options = o;
  job.done = [this, r, id, writer, start, info, explain = o.explain](absl::StatusOr<RecommendResult> res) {
    Reply out;
    if (!res.ok()) {
      const int status = res.status().code() == absl::StatusCode::kInvalidArgument ? 400 : 500;
      out = Reply{status, ErrorBody(status == 400 ? "invalid_argument" : "internal", std::string(res.status().message()))};
    } else {
      out = Reply{200, RecommendationsBody(*r, &id, *res, explain), "application/json", r->model_id()};
      metrics_->RecordAnswer(Metrics::Answer::kScored);
    }
    Complete(*writer, info, "customer_recommendations", start, out);
  };
  batcher_->Submit(std::move(job));
  return true;
}

HttpServer::Reply HttpServer::BasketRecommendations(const Request& req) {
  json body = ParseBody(req, options_.max_body_bytes);
  Params p(body);
  std::vector<std::string> products = p.List("products", options_.max_count, options_.max_id_length);
  std::vector<float> weights;
  if (auto it = body.find("weights"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) Fail(400, "invalid_argument", "'weights' must be an array of numbers");
    for (const auto& w : *it) {
      if (!w.is_number()) Fail(400, "invalid_argument", "'weights' must be an array of numbers");
      weights.push_back(w.get<float>());
    }
  }
  RecommendOptions o = OptionsFrom(p, options_.max_count, options_.max_id_length);
  auto r = Serving(source_);
  auto res = r->ForBasket(products, weights, o);
  if (!res.ok()) FailStatus(res.status());
  return Reply{200, RecommendationsBody(*r, nullptr, *res, o.explain), "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::SimilarProducts(const Request& req) {
  const std::string id = PathId(req, options_.max_id_length);
  const size_t count = CountParam(Params(req), 10, options_.max_count);
  auto r = Serving(source_);
  auto res = r->Similar(id, count);
  if (!res.ok()) FailStatus(res.status());
  json items = json::array();
  for (const Recommendation& x : *res) items.push_back(ProductJson(*r, x.product, x.score));
  json j = {{"model_version", r->model_id()}, {"product_id", id}, {"similar", items}};
  return Reply{200, j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::RankProducts(const Request& req) {
  const std::string id = PathId(req, options_.max_id_length);
  json body = ParseBody(req, options_.max_body_bytes);
  std::vector<std::string> products = Params(body).List("products", options_.max_count, options_.max_id_length);
  if (products.empty()) Fail(400, "invalid_argument", "'products' must list at least one product id");
  auto r = Serving(source_);
  bool fallback = false;
  auto res = r->Rank(id, products, &fallback);
  if (!res.ok()) FailStatus(res.status());
  json items = json::array();
  for (const auto& x : *res) {
    items.push_back({{"product_id", x.product_id}, {"score", std::isnan(x.score) ? json(nullptr) : json(x.score)}});
  }
  json j = {{"model_version", r->model_id()},
            {"customer_id", id},
            {"fallback", fallback ? "popularity" : json(nullptr)},
            {"ranked", items}};
  return Reply{200, j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", r->model_id()};
}

HttpServer::Reply HttpServer::AdminReload(const Request&) { return ReloadNow(); }

HttpServer::Reply HttpServer::ReloadNow() {
  bool changed = false;
  absl::Status s = source_->Reload(/*force=*/true, &changed);
  auto r = source_->Current();
  const std::string version = r ? r->model_id() : "";
  if (!s.ok()) {
    return Reply{422,
                 json{{"error", {{"code", "reload_refused"}, {"message", std::string(s.message())}}},
                      {"model_version", version}}
                     .dump(),
                 "application/json", version};
  }
  return Reply{200, json{{"reloaded", changed}, {"model_version", version}}.dump(), "application/json", version};
}

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

std::shared_ptr<const OfferRanker> HttpServer::ServingOffers() const {
  if (!options_.offers) Fail(404, "not_found", "offers are not enabled on this server (start it with --offers)");
  auto r = source_->CurrentOffers();
  if (!r) Fail(503, "unavailable", "no offer catalog loaded yet");
  return r;
}

HttpServer::Reply HttpServer::CustomerOffers(const Request& req) {
  const std::string id = PathId(req, options_.max_id_length);
  Params p(req);
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
  const absl::Span<const Offer> offers = ranker->catalog().offers();
  absl::flat_hash_map<std::string, uint32_t> shown;
  if (options_.impressions != nullptr) shown = options_.impressions->CountsFor(id);
  o.impressions = [&](uint32_t offer) {
    auto it = shown.find(offers[offer].id);
    return it == shown.end() ? 0u : it->second;
  };
  auto res = ranker->ForCustomer(id, o);
  if (!res.ok()) FailStatus(res.status());
  const Recommender& r = ranker->recommender();
  json items = json::array();
  for (const RankedOffer& x : res->offers) {
    const Offer& offer = offers[x.offer];
    json because = json::array();
    for (const OfferDriver& d : x.drivers) {
      json b = {{"product_id", r.model().products.id(d.product)}, {"affinity", d.affinity}};
      if (const CatalogEntry* e = r.Entry(d.product)) {
        if (!e->name.empty()) b["name"] = e->name;
        if (!e->category.empty()) b["category"] = e->category;
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
      j["impressions_left"] = offer.max_impressions - o.impressions(x.offer);
    }
    items.push_back(std::move(j));
  }
  json j = {{"model_version", r.model_id()},
            {"customer_id", id},
            {"fallback", res->fallback ? "popularity" : json(nullptr)},
            {"offers", std::move(items)}};
  return Reply{200, j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", r.model_id()};
}

HttpServer::Reply HttpServer::RecordImpressions(const Request& req) {
  const std::string id = PathId(req, options_.max_id_length);
  json body = ParseBody(req, options_.max_body_bytes);
  std::vector<std::string> ids = Params(body).List("offers", options_.max_count, options_.max_id_length);
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
  json j = {{"model_version", version}, {"customer_id", id}, {"recorded", known.size()}, {"ignored", ignored}};
  return Reply{200, j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", version};
}

}  // namespace aisle

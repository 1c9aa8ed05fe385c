// HttpServer: the JSON API in front of a ModelSource. The routes are listed
// in SetupRoutes(); a request goes transport (server/http_transport.h:
// connections, HTTP/1.1) -> Dispatch (route, method, API key) -> one
// handler, which reads its parameters (server/request_params.h), makes one
// engine call, and writes its body (server/recommendation_json.h,
// server/response_json.h). Handlers hold no model state: they take the
// current Recommender per request. Errors are {"error": {"code",
// "message"}} with a 4xx/5xx status; every model-backed response carries
// "model_version" and an X-Model-Version header. Endpoints, parameters and
// limits: docs/API.md.
// Thread-safe: handlers run on the transport's loop threads, customer
// recommendations on the batcher's, admin reloads on their own thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "server/access_log.h"
#include "server/api_keys.h"
#include "server/http_transport.h"
#include "server/event_request.h"
#include "server/experiment_source.h"
#include "server/exposure_log.h"
#include "server/recommendation_json.h"
#include "live/impression_log.h"
#include "live/live_loop.h"
#include "server/metrics.h"
#include "server/model_source.h"
#include "server/recommend_batcher.h"
#include "server/request_params.h"
#include "server/router.h"
#include "server/task_thread.h"

namespace aisle {

struct HttpServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;        // 0: any free port (see port())
  int threads = 2;             // HTTP event loops
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;  // request line and headers (431 past it)
  size_t max_count = 1000;     // count, list lengths
  size_t max_id_length = 256;
  std::chrono::milliseconds keepalive_timeout{75000};  // idle connections closed after it
  std::chrono::milliseconds request_timeout{60000};    // a request begun must arrive within it (408)
  size_t max_connections = 10000;
  size_t max_buffered_bytes = size_t{256} << 20;  // all connections' buffered requests and answers (503 past it)
  std::optional<ApiKeys> api_keys;    // none: client endpoints are open
  std::optional<ApiKeys> admin_keys;  // none: the admin endpoint is disabled
  FILE* access_log = stdout;          // JSON lines (server/access_log.h); nullptr: none
  int batch_threads = 1;              // threads scoring batched requests; 0: score in the handler
  size_t max_batch = 8;               // requests per batch at most
  bool offers = false;                // the offer endpoints are enabled (ModelSource has an offer catalog)
  // Recommendations leave out products the catalog says are out of stock
  // unless the request says in_stock=false (catalogs without stock: no effect).
  bool default_in_stock = true;
  ImpressionCounts* impressions = nullptr;  // required with offers
  LiveLoop* live = nullptr;           // events, consent, erasure (--events_dir); none: those endpoints are 404
  ExposureLog* exposures = nullptr;   // what was shown (--exposures_dir); none: not recorded
  ExperimentSource* experiments = nullptr;  // online experiments (--experiments); none: no experiment
  EventLimits event_limits;
  // The console (server/console_endpoints.cc): Chart.js as Debian ships it
  // (read at start; empty: the pages show tables without charts), and the
  // experiment report a scheduled `aisle-eval experiment --json --output`
  // writes (empty: none).
  std::string console_chartjs;
  std::string experiment_report;
};

class HttpServer {
 public:
  HttpServer(ModelSource* source, Metrics* metrics, HttpServerOptions options);
  ~HttpServer();

  // Binds and starts serving on background threads. InvalidArgument for a
  // bad address, Unavailable when the port cannot be bound.
  absl::Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Stops accepting, answers what is in flight, closes the connections and
  // joins the threads.
  void Shutdown();

 private:
  enum class Auth { kNone, kClient, kAdmin };
  // A handler's answer: the HTTP response, and the model that made it (for
  // the X-Model-Version header, the metrics and the access log).
  struct Reply {
    Reply(int s = 200, std::string b = "", std::string type = "application/json", std::string version = "")
        : model_version(std::move(version)) {
      http.status = s;
      http.body = std::move(b);
      http.content_type = std::move(type);
    }
    HttpResponse http;
    std::string model_version;
  };
  using Fn = Reply (HttpServer::*)(const HttpRequest&);
  struct Route {
    const char* method;
    const char* path;
    const char* endpoint;  // metrics and access-log name
    Auth auth;
    Fn fn;
  };
  // What the access log needs, copied (a deferred answer outlives the request).
  struct RequestInfo {
    std::string method, path, client;
  };

  void SetupRoutes();
  void Dispatch(HttpRequest req, HttpResponder responder);
  std::optional<Reply> CheckAuth(Auth auth, const HttpRequest& req) const;
  // What the access log records of a request: no query, and for a route of
  // one customer (`route` may be null: none matched) the pattern, not the id.
  static RequestInfo InfoFor(const HttpRequest& req, const Route* route);
  // The transport's head_check: CheckAuth of the route, before the body is read.
  std::optional<HttpResponse> CheckHead(const HttpRequest& head);
  // Runs `f` (which returns a Reply, or nullopt when it answers later),
  // turning HttpError and exceptions into JSON errors.
  template <typename F>
  static std::optional<Reply> Catching(F&& f);
  // Runs a handler.
  Reply Run(Fn fn, const HttpRequest& req);
  // Sends the reply, then records it in the metrics and the access log.
  void Complete(HttpResponder& responder, const RequestInfo& info, const char* endpoint,
                std::chrono::steady_clock::time_point start, Reply reply);
  void LogAccess(const RequestInfo& req, const char* endpoint, int status, double seconds,
                 const std::string& model_version);
  static Reply Error(int status, const std::string& code, const std::string& message);
  // `expose`: a new recommendation id in the body, and the answer recorded
  // in the exposure log (not for the data-access endpoint).
  Reply RecommendationsReply(const Recommender& r, const std::string& id, const absl::StatusOr<CustomerAnswer>& answer,
                             bool explain, absl::string_view fallback_reason = {}, bool expose = true,
                             const ExperimentSource::Choice* choice = nullptr);
  // A new recommendation id for an answer showing `items`, recorded in the
  // exposure log with the endpoint, customer (may be empty) and model.
  std::string Expose(const char* endpoint, const std::string& customer, const std::string& model_version,
                     std::vector<absl::string_view> items, const ExperimentSource::Choice* choice = nullptr);
  // What a personalizing endpoint may use of a customer: consent, and their
  // live events against this model.
  struct Personal {
    bool consent = true;
    std::shared_ptr<const LiveProfile> live;
  };
  Personal PersonalFor(const Recommender& r, const std::string& id);
  bool Consents(const std::string& id) const;
  std::shared_ptr<const LiveProfile> LiveFor(const Recommender& r, const std::string& id) const;
  // The experiment arm a request is in (none without consent or a unit), and the model serving it.
  struct Arm {
    ExperimentSource::Choice choice;
    std::shared_ptr<const Recommender> r;
  };
  Arm ArmFor(const char* endpoint, const std::string& unit, bool consent) const;
  static AnswerLabels Labels(const ExperimentSource::Choice* choice, absl::string_view fallback,
                             absl::string_view recommendation_id);
  static absl::StatusOr<CustomerAnswer> PopularAnswer(const Recommender& r, const RecommendOptions& o);
  // Popularity for a customer without consent.
  Reply NoConsentRecommendations(const Recommender& r, const std::string& id, const RecommendOptions& o,
                                 bool expose = true);

  Reply Healthz(const HttpRequest& req);
  Reply Readyz(const HttpRequest& req);
  Reply MetricsText(const HttpRequest& req);
  Reply OpenApi(const HttpRequest& req);
  // The console and what only it needs (server/console_endpoints.cc).
  Reply ConsolePage(const HttpRequest& req);
  Reply ConsoleFile(const HttpRequest& req);
  Reply AdminModels(const HttpRequest& req);
  Reply AdminRollback(const HttpRequest& req);
  Reply AdminExperiments(const HttpRequest& req);
  Reply ModelInfo(const HttpRequest& req);
  Reply CustomerRecommendations(const HttpRequest& req);
  // Customer recommendations through the batcher when they need scoring:
  // nullopt when the request was handed over (answered later).
  // o's in_stock_only from the request, or by default the server's rule
  // for r's catalog.
  void StockDefault(const Params& p, const Recommender& r, RecommendOptions* o) const;
  std::optional<Reply> DeferCustomerRecommendations(const HttpRequest& req, std::shared_ptr<HttpResponder> responder,
                                                    const RequestInfo& info,
                                                    std::chrono::steady_clock::time_point start);
  Reply BasketRecommendations(const HttpRequest& req);
  Reply SimilarProducts(const HttpRequest& req);
  Reply RankProducts(const HttpRequest& req);
  Reply AdminReload(const HttpRequest& req);
  // The offer endpoints (server/offer_endpoints.cc).
  Reply CustomerOffers(const HttpRequest& req);
  Reply RecordImpressions(const HttpRequest& req);
  std::shared_ptr<const OfferRanker> ServingOffers() const;
  // The live loop's endpoints (server/customer_endpoints.cc).
  LiveLoop& Live() const;
  // POST /v1/events: answered once the events are durable (nullopt: later).
  std::optional<Reply> PostEvents(const HttpRequest& req, std::shared_ptr<HttpResponder> responder,
                                  const RequestInfo& info, std::chrono::steady_clock::time_point start);
  Reply EventsDeferred(const HttpRequest& req);  // the route's placeholder (never called)
  Reply GetConsent(const HttpRequest& req);
  Reply PutConsent(const HttpRequest& req);
  Reply EraseCustomer(const HttpRequest& req);
  Reply CustomerData(const HttpRequest& req);

  ModelSource* source_;
  Metrics* metrics_;
  // Published versions' summaries, by path and file identity (mapping a
  // version checks its checksums: done once per file).
  std::mutex versions_mu_;
  std::map<std::string, std::pair<std::string, nlohmann::json>> versions_cache_;
  HttpServerOptions options_;
  Router router_;
  std::vector<Route> routes_;  // by Router index
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<RecommendBatcher> batcher_;
  std::unique_ptr<TaskThread> admin_;  // admin reloads: seconds of work, off the loop threads
  std::unique_ptr<TaskThread> ledger_; // consent changes and erasures: file syncs, off the loop threads
  std::unique_ptr<AccessLog> access_log_;  // null: no access log
};

}  // namespace aisle

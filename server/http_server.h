// HttpServer: the JSON API over HTTP (Pistache) in front of a ModelSource.
// All routes are listed in SetupRoutes(); each handler validates its input,
// makes one engine call, maps the status to HTTP and serializes. Handlers
// hold no model state: they take the current Recommender per request.
// Errors are {"error": {"code", "message"}} with a 4xx/5xx status; every
// model-backed response carries "model_version" and an X-Model-Version
// header. Endpoints, parameters and limits: docs/API.md.
// Thread-safe: Pistache runs handlers on its worker threads.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <pistache/endpoint.h>
#include <pistache/router.h>

#include "absl/status/status.h"
#include "server/api_keys.h"
#include "server/impression_log.h"
#include "server/metrics.h"
#include "server/model_source.h"
#include "server/recommend_batcher.h"
#include "server/task_thread.h"

namespace aisle {

struct HttpServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;        // 0: any free port (see port())
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  size_t max_count = 1000;     // count, list lengths
  size_t max_id_length = 256;
  std::optional<ApiKeys> api_keys;    // none: client endpoints are open
  std::optional<ApiKeys> admin_keys;  // none: the admin endpoint is disabled
  FILE* access_log = stdout;          // JSON lines; nullptr: none
  int batch_threads = 1;              // threads scoring batched requests; 0: score in the handler
  size_t max_batch = 8;               // requests per batch at most
  bool offers = false;                // the offer endpoints are enabled (ModelSource has an offer catalog)
  ImpressionLog* impressions = nullptr;  // required with offers
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
  // Stops accepting and joins the worker threads.
  void Shutdown();

 private:
  enum class Auth { kNone, kClient, kAdmin };
  struct Reply {
    Reply(int s = 200, std::string b = "", std::string type = "application/json", std::string version = "")
        : status(s), body(std::move(b)), content_type(std::move(type)), model_version(std::move(version)) {}
    int status;
    std::string body;
    std::string content_type;
    std::string model_version;
  };
  using Fn = Reply (HttpServer::*)(const Pistache::Rest::Request&);

  void SetupRoutes();
  void Handle(const char* endpoint, Auth auth, Fn fn, const Pistache::Rest::Request& req,
              Pistache::Http::ResponseWriter writer);
  std::optional<Reply> CheckAuth(Auth auth, const Pistache::Rest::Request& req) const;
  struct RequestInfo {
    std::string method, path, client;
  };
  void LogAccess(const RequestInfo& req, const char* endpoint, int status, double seconds,
                 const std::string& model_version);

  Reply Healthz(const Pistache::Rest::Request& req);
  Reply Readyz(const Pistache::Rest::Request& req);
  Reply MetricsText(const Pistache::Rest::Request& req);
  Reply ModelInfo(const Pistache::Rest::Request& req);
  Reply CustomerRecommendations(const Pistache::Rest::Request& req);
  // The answer without scoring: popularity for an unknown customer, or the
  // precomputed top list when it determines the answer; nullopt otherwise.
  std::optional<Reply> AnswerNow(const Recommender& r, const std::string& id, const RecommendOptions& o);
  Reply BasketRecommendations(const Pistache::Rest::Request& req);
  Reply SimilarProducts(const Pistache::Rest::Request& req);
  Reply RankProducts(const Pistache::Rest::Request& req);
  Reply AdminReload(const Pistache::Rest::Request& req);
  Reply ReloadNow();  // AdminReload's work, on the admin thread
  Reply CustomerOffers(const Pistache::Rest::Request& req);
  Reply RecordImpressions(const Pistache::Rest::Request& req);
  // Customer recommendations through the batcher: true when the request was
  // handed over (the reply is sent later), false to answer now (`*reply`).
  bool DeferCustomerRecommendations(const Pistache::Rest::Request& req,
                                    std::shared_ptr<Pistache::Http::ResponseWriter> writer,
                                    std::chrono::steady_clock::time_point start, Reply* reply);
  void Send(Pistache::Http::ResponseWriter& writer, const Reply& reply);
  // Sends the reply, then records it in the metrics and the access log.
  void Complete(Pistache::Http::ResponseWriter& writer, const RequestInfo& info, const char* endpoint,
                std::chrono::steady_clock::time_point start, const Reply& reply);
  std::shared_ptr<const OfferRanker> ServingOffers() const;

  ModelSource* source_;
  Metrics* metrics_;
  HttpServerOptions options_;
  Pistache::Rest::Router router_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
  std::unique_ptr<RecommendBatcher> batcher_;
  std::unique_ptr<TaskThread> admin_;  // admin reloads: seconds of work, off the reactor threads
  std::mutex log_mu_;
};

}  // namespace aisle

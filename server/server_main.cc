// aisle-server: serves recommendations from a model file or a publish
// directory over HTTP/JSON (docs/API.md), and offers from an offer catalog
// (--offers). SIGHUP reloads the model and catalogs,
// SIGTERM/SIGINT stop gracefully. Exit status 0 after a clean stop, 1 when
// the model or keys cannot be loaded or the port cannot be bound, 2 on bad flags.
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/atomic_file.h"
#include "engine/batch_scoring.h"
#include "server/http_server.h"
#include "live/impression_log.h"
#include "server/experiment_source.h"
#include "live/live_loop.h"
#include "live/redis_impressions.h"
#include "server/metrics.h"
#include "server/model_source.h"
#include "engine/program_usage.h"

ABSL_FLAG(std::string, model, "",
          "A model file, or a publish directory (aisle-train --publish_dir) whose `current` model is "
          "served and followed.");
ABSL_FLAG(std::string, catalog, "",
          "Product catalog (CSV, or JSON lines with a .jsonl name) for filters and product details; "
          "reloaded when it changes.");
ABSL_FLAG(int, port, 8080, "TCP port (0: any free port, printed at start).");
ABSL_FLAG(std::string, bind, "127.0.0.1",
          "Address to listen on. Without --api_keys the server listens on loopback only.");
ABSL_FLAG(int, threads, 2, "HTTP event-loop threads (1 to 64).");
ABSL_FLAG(int, keepalive_timeout_s, 75,
          "Idle keep-alive connections are closed after this many seconds (nginx's default).");
ABSL_FLAG(int, request_timeout_s, 60,
          "A request begun must arrive whole within this many seconds, or it is answered 408 and the "
          "connection closed.");
ABSL_FLAG(int, max_header_bytes, 16 << 10, "Largest request line plus headers accepted (431 past it).");
ABSL_FLAG(int, max_connections, 10000, "Connections open at once; more are closed as they arrive.");
ABSL_FLAG(int, max_buffered_mb, 256,
          "Bytes of requests being received and answers not yet taken, all connections together; past it, requests "
          "still arriving get 503 and their connection closes.");
ABSL_FLAG(std::string, api_keys, "",
          "File of client API keys, one per line: clients must send one in X-API-Key (401 without, "
          "403 wrong).");
ABSL_FLAG(std::string, admin_keys, "",
          "File of admin keys for POST /v1/admin/reload, DELETE /v1/customers/{id} and GET "
          "/v1/customers/{id}/data (disabled without it).");
ABSL_FLAG(int, watch_interval_ms, 2000, "How often to check the model and catalog files for changes.");
ABSL_FLAG(int, max_body_bytes, 1 << 20, "Largest request body accepted.");
ABSL_FLAG(int, batch_threads, 1,
          "Threads scoring customer recommendations in batches (concurrent requests share one matrix "
          "product); 0 scores each request on its HTTP thread.");
ABSL_FLAG(int, max_batch, 8,
          "Most customer requests scored in one batch (8: one pass of the fused kernel; larger batches "
          "measured slower per request, docs/BENCHMARKS.md).");
ABSL_FLAG(std::string, scoring, aisle::Bf16ScoringIsNative() ? "bf16" : "float32",
          "How batches of customer requests are scored: float32; bf16 (AVX512_BF16 dot products) or "
          "int8 (AVX512_VNNI), each selecting a wider pool of candidates that is re-ranked exactly "
          "in float32, so the answers are the float32 ones. Default: bf16 when the CPU and build "
          "support it.");
ABSL_FLAG(int, top_lists, 32,
          "Cache each customer's best N products (and each product's N most similar) when a request "
          "computes them, and in the background after each model load (most active customers first): "
          "a request a list determines (count <= N, unfiltered or with filters leaving count of them) "
          "is answered from it without scoring. 0: score every request.");
ABSL_FLAG(int, top_lists_max_mb, 1024,
          "Memory budget of the cached lists (4/5 customers, 1/5 products; about 8 bytes per list "
          "entry plus 130 per list); the least recently used lists are evicted beyond it.");
ABSL_FLAG(bool, warm_lists, true, "Fill the cached lists in the background after each model load.");
ABSL_FLAG(bool, default_in_stock, true,
          "When the catalog says which products are in stock (--catalog with an in_stock column or field): "
          "recommend only those unless a request says in_stock=false (customer and basket recommendations, "
          "popularity answers included).");
ABSL_FLAG(int, index_min_products, 200000,
          "Catalogs of at least this many products are searched through a cluster index built at "
          "load (engine/cluster_index.h) instead of scoring every product; 0: never.");
ABSL_FLAG(bool, exact_search, false,
          "With the index: exact pruned search (the same answers as scoring every product; slower "
          "when the model has little structure) instead of approximate (recall@10 measured in "
          "docs/BENCHMARKS.md).");
ABSL_FLAG(int, search_min_scanned, 0,
          "Approximate search: products scanned at least before stopping (0: 2% of the catalog).");
ABSL_FLAG(std::string, offers, "",
          "Offer catalog (JSON, data/FORMATS.md) for GET /v1/customers/{id}/offers; reloaded when it "
          "changes (a malformed new version is refused and the previous one keeps serving).");
ABSL_FLAG(std::string, impressions_log, "",
          "Append-only log of offer impressions (POST /v1/customers/{id}/offers/impressions), "
          "replayed at start so per-customer caps survive restarts. Without it, with --offers, "
          "impressions are counted in memory only (and a warning says so).");
ABSL_FLAG(bool, impressions_fsync, true,
          "fdatasync the impression log before answering each impression request.");
ABSL_FLAG(std::string, events_dir, "",
          "Directory of the live loop: the event journal (POST /v1/events, segments aisle-train "
          "--events_dir reads), consent and erasure records. Without it the live-loop endpoints are 404.");
ABSL_FLAG(std::string, live_store, "",
          "Where live state is kept: empty for --events_dir (one server), or redis://HOST[:PORT][/DB] or "
          "redis+unix:///PATH[?db=N] for a Redis that several servers share (docs/OPERATIONS.md); it "
          "turns the live-loop endpoints on without --events_dir.");
ABSL_FLAG(std::string, redis_password_file, "", "File holding the Redis password (AUTH), if it needs one.");
ABSL_FLAG(std::string, redis_prefix, "aisle:", "Prefix of every Redis key the servers of one store share.");
ABSL_FLAG(int, redis_wait_replicas, 0,
          "Answer a write once this many Redis replicas have it too (WAIT); with 1 or more, "
          "appendfsync everysec is enough.");
ABSL_FLAG(int, redis_timeout_ms, 2000, "Timeout of each Redis command.");
ABSL_FLAG(bool, redis_allow_unsafe, false,
          "Start even when Redis's settings could lose acknowledged events (appendonly no, appendfsync "
          "everysec without replicas, an evicting maxmemory-policy).");
ABSL_FLAG(std::string, default_consent, "granted",
          "Personalization for customers who never said (PUT /v1/customers/{id}/consent): granted, or "
          "denied for stores that need opt-in.");
ABSL_FLAG(int, events_segment_mb, 64, "Close the journal segment being written past this size (and daily).");
ABSL_FLAG(bool, events_fsync, true,
          "fdatasync the journal before acknowledging events (group commit: concurrent requests share one).");
ABSL_FLAG(int, live_memory_mb, 256,
          "Memory for customers' live events; past it the least recently active customers lose their live "
          "effect (their events stay in the journal).");
ABSL_FLAG(int, max_events_per_request, 1000, "Most events in one POST /v1/events.");
ABSL_FLAG(int, max_event_future_s, 300, "Event timestamps later than now plus this are refused.");
ABSL_FLAG(int, event_id_window_h, 168, "Retries of an event_id are recognized within this many hours.");
ABSL_FLAG(int, max_event_ids, 2000000,
          "At most this many (customer, event id) pairs are remembered for retries (about 80 bytes each, "
          "aisle_event_id_bytes); the oldest are forgotten first.");
ABSL_FLAG(std::string, experiments, "",
          "Experiments file (JSON, data/FORMATS.md): online experiments with variants serving the main model, "
          "another model, the popularity ranking or another offer catalog; reloaded when it changes (a malformed "
          "new version is refused and the previous experiments keep running).");
ABSL_FLAG(std::string, exposures_dir, "",
          "Directory of the exposure log: one JSON line per personalized answer (recommendation_id, time, "
          "endpoint, customer, model, experiment, variant, items shown) for experiment analysis; written in the "
          "background. Without it nothing is recorded (answers still carry a recommendation_id).");
ABSL_FLAG(int, exposure_flush_ms, 1000,
          "How often the exposure log is written and synced: a crash loses at most this much; a clean stop none.");
ABSL_FLAG(std::string, console_chartjs, "/usr/share/javascript/chart.js/chart.min.js",
          "Chart.js for the console's charts (/console), as Debian's libjs-chart.js installs it; missing: the "
          "console shows tables.");
ABSL_FLAG(std::string, experiment_report, "",
          "The experiment report the console shows (GET /v1/admin/experiments), written by a scheduled "
          "aisle-eval experiment --json --output FILE.");
ABSL_FLAG(std::string, access_log, "-", "Access log (JSON lines): a file, '-' for stdout, '' for none.");

namespace aisle {
namespace {

int Main() {
  const std::string model = absl::GetFlag(FLAGS_model);
  if (model.empty()) {
    std::fprintf(stderr, "aisle-server: --model is required (see --help)\n");
    return 2;
  }
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535 || absl::GetFlag(FLAGS_threads) < 1 || absl::GetFlag(FLAGS_threads) > 64 || absl::GetFlag(FLAGS_max_body_bytes) < 1024 ||
      absl::GetFlag(FLAGS_watch_interval_ms) < 10) {
    std::fprintf(stderr, "aisle-server: bad --port, --threads, --max_body_bytes or --watch_interval_ms\n");
    return 2;
  }
  HttpServerOptions o;
  o.default_in_stock = absl::GetFlag(FLAGS_default_in_stock);
  o.port = static_cast<uint16_t>(port);
  o.threads = absl::GetFlag(FLAGS_threads);
  if (absl::GetFlag(FLAGS_keepalive_timeout_s) < 1 || absl::GetFlag(FLAGS_request_timeout_s) < 1 ||
      absl::GetFlag(FLAGS_max_header_bytes) < 1024 || absl::GetFlag(FLAGS_max_connections) < 1 ||
      absl::GetFlag(FLAGS_max_buffered_mb) < 1) {
    std::fprintf(stderr, "aisle-server: bad --keepalive_timeout_s, --request_timeout_s, --max_header_bytes or "
                         "--max_connections or --max_buffered_mb\n");
    return 2;
  }
  o.keepalive_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_keepalive_timeout_s));
  o.request_timeout = std::chrono::seconds(absl::GetFlag(FLAGS_request_timeout_s));
  o.max_header_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_header_bytes));
  o.max_connections = static_cast<size_t>(absl::GetFlag(FLAGS_max_connections));
  o.max_buffered_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_buffered_mb)) << 20;
  o.max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  o.bind = absl::GetFlag(FLAGS_bind);
  o.batch_threads = absl::GetFlag(FLAGS_batch_threads);
  o.max_batch = static_cast<size_t>(absl::GetFlag(FLAGS_max_batch));
  if (o.batch_threads < 0 || o.max_batch < 1) {
    std::fprintf(stderr, "aisle-server: bad --batch_threads or --max_batch\n");
    return 2;
  }
  if (const std::string f = absl::GetFlag(FLAGS_api_keys); !f.empty()) {
    auto k = ApiKeys::Load(f);
    if (!k.ok()) {
      std::fprintf(stderr, "aisle-server: %s\n", std::string(k.status().message()).c_str());
      return 1;
    }
    o.api_keys = std::move(*k);
  } else if (o.bind != "127.0.0.1" && o.bind != "localhost" && o.bind != "::1") {
    std::fprintf(stderr, "aisle-server: no --api_keys: listening on 127.0.0.1 only, not %s\n", o.bind.c_str());
    o.bind = "127.0.0.1";
  }
  if (const std::string f = absl::GetFlag(FLAGS_admin_keys); !f.empty()) {
    auto k = ApiKeys::Load(f);
    if (!k.ok()) {
      std::fprintf(stderr, "aisle-server: %s\n", std::string(k.status().message()).c_str());
      return 1;
    }
    o.admin_keys = std::move(*k);
  }
  FILE* log = nullptr;
  if (const std::string f = absl::GetFlag(FLAGS_access_log); f == "-") {
    o.access_log = stdout;
  } else if (f.empty()) {
    o.access_log = nullptr;
  } else {
    log = std::fopen(f.c_str(), "a");
    if (log == nullptr) {
      std::fprintf(stderr, "aisle-server: cannot open access log %s\n", f.c_str());
      return 1;
    }
    o.access_log = log;
  }

  // Signals go to one thread (sigwait below), blocked before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Metrics metrics;
  Recommender::Options ro;
  if (const std::string s = absl::GetFlag(FLAGS_scoring); s == "float32") {
    ro.scoring = Recommender::Scoring::kFloat32;
  } else if (s == "bf16") {
    ro.scoring = Recommender::Scoring::kBf16;
  } else if (s == "int8") {
    ro.scoring = Recommender::Scoring::kInt8;
  } else {
    std::fprintf(stderr, "aisle-server: --scoring must be float32, bf16 or int8\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_top_lists) < 0 || absl::GetFlag(FLAGS_top_lists) > 1000 ||
      absl::GetFlag(FLAGS_top_lists_max_mb) < 0) {
    std::fprintf(stderr, "aisle-server: --top_lists must be in [0, 1000] (the largest count) and "
                         "--top_lists_max_mb >= 0\n");
    return 2;
  }
  ro.top_list_length = static_cast<size_t>(absl::GetFlag(FLAGS_top_lists));
  ro.top_list_max_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_top_lists_max_mb)) << 20;
  if (absl::GetFlag(FLAGS_index_min_products) < 0 || absl::GetFlag(FLAGS_search_min_scanned) < 0) {
    std::fprintf(stderr, "aisle-server: --index_min_products and --search_min_scanned must be >= 0\n");
    return 2;
  }
  ro.index_min_products = static_cast<size_t>(absl::GetFlag(FLAGS_index_min_products));
  ro.exact_search = absl::GetFlag(FLAGS_exact_search);
  ro.search_min_scanned = static_cast<size_t>(absl::GetFlag(FLAGS_search_min_scanned));
  ModelSource source(model, absl::GetFlag(FLAGS_catalog), &metrics, ro);
  std::unique_ptr<ImpressionCounts> impressions;
  const bool shared_live = !absl::GetFlag(FLAGS_live_store).empty();
  if (shared_live && !absl::GetFlag(FLAGS_impressions_log).empty()) {
    std::fprintf(stderr, "aisle-server: with --live_store, offer impressions are counted in Redis: drop --impressions_log\n");
    return 2;
  }
  if (const std::string f = absl::GetFlag(FLAGS_offers); !f.empty()) {
    source.SetOfferCatalog(f);
    o.offers = true;
    if (shared_live) {
      // Counted in the shared live store, once it is open (below).
    } else if (const std::string path = absl::GetFlag(FLAGS_impressions_log); !path.empty()) {
      ImpressionLog::Options io;
      io.sync = absl::GetFlag(FLAGS_impressions_fsync);
      ImpressionLog::OpenStats st;
      auto l = ImpressionLog::Open(path, io, &st);
      if (!l.ok()) {
        std::fprintf(stderr, "aisle-server: %s\n", std::string(l.status().message()).c_str());
        return 1;
      }
      std::fprintf(stderr, "aisle-server: impression log %s: %llu records replayed%s\n", path.c_str(),
                   static_cast<unsigned long long>(st.records),
                   st.torn_bytes > 0 ? ", a torn last record cut off" : "");
      impressions = std::move(*l);
    } else {
      std::fprintf(stderr, "aisle-server: no --impressions_log: offer impressions are kept in memory only\n");
      impressions = ImpressionLog::InMemory();
    }
    o.impressions = impressions.get();
  }
  if (const std::string js = absl::GetFlag(FLAGS_console_chartjs); !js.empty()) {
    if (absl::Status cs = ReadFileToString(js, &o.console_chartjs, size_t{4} << 20); !cs.ok()) {
      std::fprintf(stderr, "aisle-server: no Chart.js for the console (%s): it shows tables instead\n",
                   std::string(cs.message()).c_str());
    }
  }
  o.experiment_report = absl::GetFlag(FLAGS_experiment_report);
  source.SetWarmLists(absl::GetFlag(FLAGS_warm_lists));
  metrics.AddExtra([&source] { return source.RenderMetrics(); });
  // SIGTERM/SIGINT during the first load (minutes for a large model without
  // a stored index) cancel it: the server stops within a second at any moment.
  std::atomic<bool> starting{true}, stop_at_start{false};
  std::thread startup_signals([&] {
    const timespec tick = {0, 50 * 1000 * 1000};
    while (starting.load()) {
      siginfo_t info;
      const int sig = sigtimedwait(&signals, &info, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        stop_at_start = true;
        source.Cancel();
        return;
      }
      if (sig == SIGHUP) source.RequestReload();
    }
  });
  const absl::Status loaded = source.Reload(/*force=*/true);
  starting = false;
  startup_signals.join();
  if (stop_at_start) {
    std::fprintf(stderr, "aisle-server: stopped during start-up\n");
    metrics.ClearExtras();
    return 0;
  }
  if (!loaded.ok()) {
    std::fprintf(stderr, "aisle-server: cannot load the model or catalogs: %s\n", std::string(loaded.message()).c_str());
    return 1;
  }
  std::unique_ptr<LiveLoop> live;
  if (const std::string dir = absl::GetFlag(FLAGS_events_dir), store = absl::GetFlag(FLAGS_live_store);
      !dir.empty() || !store.empty()) {
    const std::string consent = absl::GetFlag(FLAGS_default_consent);
    if ((consent != "granted" && consent != "denied") || absl::GetFlag(FLAGS_events_segment_mb) < 1 ||
        absl::GetFlag(FLAGS_live_memory_mb) < 1 || absl::GetFlag(FLAGS_max_events_per_request) < 1 ||
        absl::GetFlag(FLAGS_max_event_future_s) < 0 || absl::GetFlag(FLAGS_event_id_window_h) < 0) {
      std::fprintf(stderr, "aisle-server: bad --default_consent (granted or denied), --events_segment_mb, "
                           "--live_memory_mb, --max_events_per_request, --max_event_future_s or --event_id_window_h\n");
      return 2;
    }
    LiveLoopOptions lo;
    lo.dir = dir;
    lo.default_consent = consent == "granted";
    lo.journal.segment_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_events_segment_mb)) << 20;
    lo.journal.sync = absl::GetFlag(FLAGS_events_fsync);
    lo.live.max_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_live_memory_mb)) << 20;
    lo.event_id_window_ms = int64_t{absl::GetFlag(FLAGS_event_id_window_h)} * 3600 * 1000;
    lo.max_event_ids = static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_max_event_ids)));
    if (!store.empty()) {
      auto configured = RedisLiveStore::Configure(store, absl::GetFlag(FLAGS_redis_password_file),
                                                  absl::GetFlag(FLAGS_redis_prefix));
      if (!configured.ok()) {
        std::fprintf(stderr, "aisle-server: --live_store: %s\n", std::string(configured.status().message()).c_str());
        return 2;
      }
      if (absl::GetFlag(FLAGS_redis_wait_replicas) < 0 || absl::GetFlag(FLAGS_redis_timeout_ms) < 1) {
        std::fprintf(stderr, "aisle-server: bad --redis_wait_replicas or --redis_timeout_ms\n");
        return 2;
      }
      RedisLiveStore::Options ro = *configured;
      ro.wait_replicas = absl::GetFlag(FLAGS_redis_wait_replicas);
      ro.timeout = absl::Milliseconds(absl::GetFlag(FLAGS_redis_timeout_ms));
      ro.allow_unsafe_config = absl::GetFlag(FLAGS_redis_allow_unsafe);
      lo.redis = ro;
    }
    LiveLoop::OpenStats st;
    auto l = LiveLoop::Open(lo, &source.Current()->model(), &st);
    if (!l.ok()) {
      std::fprintf(stderr, "aisle-server: %s\n", std::string(l.status().message()).c_str());
      return 1;
    }
    live = std::move(*l);
    if (lo.redis) {
      std::fprintf(stderr, "aisle-server: live store %s (prefix %s): %llu events live\n",
                   lo.redis->address.ToString().c_str(), lo.redis->prefix.c_str(),
                   static_cast<unsigned long long>(st.replayed));
    } else {
      std::fprintf(stderr,
                 "aisle-server: event journal %s: %llu closed segments, %llu events live, %llu lines recovered "
                 "from an interrupted segment%s%s\n",
                 dir.c_str(), static_cast<unsigned long long>(st.journal.closed_segments),
                 static_cast<unsigned long long>(st.replayed), static_cast<unsigned long long>(st.journal.recovered_lines),
                 st.journal.torn_bytes > 0 ? ", a torn end cut off" : "",
                 st.damaged_lines > 0 ? absl::StrCat(", ", st.damaged_lines, " damaged lines skipped").c_str() : "");
    }
    LiveLoop* lp = live.get();
    if (o.offers && lo.redis) {
      impressions = std::make_unique<RedisImpressions>(static_cast<RedisLiveStore*>(&lp->store()));
      o.impressions = impressions.get();
    }
    source.SetModelHooks([lp](const Model& m) { lp->ModelLoading(m); }, [lp](const Model& m) { lp->ModelServing(m); });
    metrics.AddExtra([lp] { return lp->RenderMetrics(); });
    o.live = lp;
    o.event_limits.max_events = static_cast<size_t>(absl::GetFlag(FLAGS_max_events_per_request));
    o.event_limits.max_future_seconds = absl::GetFlag(FLAGS_max_event_future_s);
    o.event_limits.max_id_length = o.max_id_length;
  }
  std::unique_ptr<ExposureLog> exposures;
  if (const std::string dir = absl::GetFlag(FLAGS_exposures_dir); !dir.empty()) {
    if (absl::GetFlag(FLAGS_exposure_flush_ms) < 1) {
      std::fprintf(stderr, "aisle-server: --exposure_flush_ms must be at least 1\n");
      return 2;
    }
    ExposureLog::Options eo;
    eo.dir = dir;
    eo.flush_interval = std::chrono::milliseconds(absl::GetFlag(FLAGS_exposure_flush_ms));
    EventJournal::OpenStats st;
    auto e = ExposureLog::Open(eo, &st);
    if (!e.ok()) {
      std::fprintf(stderr, "aisle-server: %s\n", std::string(e.status().message()).c_str());
      return 1;
    }
    exposures = std::move(*e);
    o.exposures = exposures.get();
    std::fprintf(stderr, "aisle-server: exposure log %s: %llu closed segments%s\n", dir.c_str(),
                 static_cast<unsigned long long>(st.closed_segments), st.torn_bytes > 0 ? ", a torn end cut off" : "");
  }
  std::unique_ptr<ExperimentSource> experiments;
  if (const std::string f = absl::GetFlag(FLAGS_experiments); !f.empty()) {
    experiments = std::make_unique<ExperimentSource>(
        f, ExperimentSource::MainServing{&source, model, absl::GetFlag(FLAGS_catalog), absl::GetFlag(FLAGS_offers), ro});
    if (absl::Status s = experiments->Reload(/*force=*/true); !s.ok()) {
      std::fprintf(stderr, "aisle-server: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    ExperimentSource* e = experiments.get();
    source.SetTickHook([e](bool force) { e->Reload(force).IgnoreError(); });  // logged inside
    metrics.AddExtra([e] { return e->RenderMetrics(); });
    o.experiments = e;
  }
  HttpServer server(&source, &metrics, o);
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "aisle-server: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  source.StartWatching(absl::GetFlag(FLAGS_watch_interval_ms));
  std::fprintf(stderr, "aisle-server: listening on %s:%u%s\n", o.bind.c_str(), server.port(),
               o.api_keys ? "" : " (no API keys: loopback only)");
  std::fflush(stderr);
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      source.RequestReload();
      continue;
    }
    break;
  }
  std::fprintf(stderr, "aisle-server: stopping\n");
  source.Cancel();  // a reload in progress is abandoned, not waited for
  source.StopWatching();
  server.Shutdown();
  metrics.ClearExtras();
  live.reset();  // writes what is queued and closes the journal segment
  exposures.reset();  // writes what is buffered
  if (log != nullptr) std::fclose(log);
  return 0;
}

}  // namespace
}  // namespace aisle

int main(int argc, char** argv) {
  // Fixed glibc malloc thresholds. With the default dynamic ones, a burst of
  // one kind of request (64 connections of scored recommendations) left the
  // heap in a state where every later request's 200 KB score arrays were
  // mmapped or trimmed again, page fault by page fault: similar products
  // then ran at 1.3k requests/s instead of 5.6k (bench/load_test.sh).
  // Blocks under 64 MB come from the arenas and freed memory is kept up to
  // 256 MB; models and top lists (larger) are still mapped and unmapped.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  aisle::SetProgramUsage("aisle-server", "Serves recommendations over HTTP.\nUsage: aisle-server --model MODEL_OR_DIR [flags]",
                         [](absl::string_view f) { return absl::StrContains(f, "server_main.cc"); });
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() > 1) {
    std::fprintf(stderr, "aisle-server: unexpected argument '%s'\n", args[1]);
    return 2;
  }
  return aisle::Main();
}

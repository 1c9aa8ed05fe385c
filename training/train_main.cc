// aisle-train: reads purchase history, trains an iALS model and writes the
// model file atomically, or publishes it as a new version of a publish
// directory behind an evaluation gate; `aisle-train tune` searches
// hyperparameters on a validation split.
// Exit status: 0 success, 1 failure, 2 bad usage, 4 refused by the gate.
#include <omp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/model_io.h"
#include "engine/model_registry.h"
#include "live/live_archive.h"
#include "training/event_compaction.h"
#include "training/publish_gate.h"
#include "evaluation/split.h"
#include "training/train_job.h"
#include "training/tuner.h"
#include "engine/program_usage.h"

ABSL_FLAG(std::string, input, "",
          "Event file(s) to train on, comma-separated; all must have the same --format.");
ABSL_FLAG(std::string, output, "", "Where to write the model file (written atomically).");
ABSL_FLAG(std::string, format, "events",
          "Input format: events (CSV with a header naming the columns), online_retail (UCI Online "
          "Retail / Online Retail II as published) or ncf (tab-separated user item rating "
          "[timestamp], no header). See data/FORMATS.md.");
ABSL_FLAG(std::string, separator, "",
          "Field separator, one character or 'tab'; default ',' (tab for --format=ncf).");
ABSL_FLAG(std::string, customer_column, "customer_id", "events format: customer id column.");
ABSL_FLAG(std::string, product_column, "product_id", "events format: product id column.");
ABSL_FLAG(std::string, timestamp_column, "timestamp",
          "events format: timestamp column (ISO-8601 or Unix seconds).");
ABSL_FLAG(std::string, quantity_column, "quantity",
          "events format: quantity column (optional in the file; 1 when absent).");
ABSL_FLAG(std::string, price_column, "price", "events format: unit price column (optional).");
ABSL_FLAG(std::string, event_column, "event",
          "events format: event type column (optional): purchase, cart, view, return or click.");
ABSL_FLAG(std::string, channel_column, "channel",
          "events format: channel column (optional): web, app, store, email, phone, social, marketplace or other.");
ABSL_FLAG(std::string, country_column, "country", "events format: country column (optional).");
ABSL_FLAG(bool, strict, false,
          "Stop at the first malformed row, naming file, line and reason. By default malformed "
          "rows are skipped and counted per reason.");
ABSL_FLAG(double, max_malformed_fraction, 0.01,
          "Without --strict, fail when more than this share of rows is malformed.");
ABSL_FLAG(int, max_id_length, 256, "Customer or product ids longer than this are malformed.");

ABSL_FLAG(std::string, exposures_dir, "",
          "compact-events: the server's exposure log (aisle-server --exposures_dir), whose closed segments are "
          "rewritten without what was shown to erased customers.");
ABSL_FLAG(std::string, events_dir, "",
          "The server's live-loop directory (aisle-server --events_dir): its closed event journal segments "
          "are read as more inputs, customers without consent are left out and erased customers' events "
          "dropped. compact-events: the directory to compact.");
ABSL_FLAG(std::string, live_store, "",
          "archive-live: the live store the servers share (aisle-server --live_store redis://...).");
ABSL_FLAG(std::string, redis_password_file, "", "archive-live: file holding the Redis password.");
ABSL_FLAG(std::string, redis_prefix, "aisle:", "archive-live: the servers' --redis_prefix.");
ABSL_FLAG(int, archive_lag_s, 600,
          "archive-live: stream entries younger than this stay in Redis (every server has read them long before).");
ABSL_FLAG(std::string, default_consent, "granted",
          "With --events_dir: personalization for customers who never said, as the server's "
          "--default_consent (denied: only customers who opted in are trained on).");
ABSL_FLAG(double, purchase_weight, 1.0, "Weight of a purchase event.");
ABSL_FLAG(double, cart_weight, 0.3, "Weight of an add-to-cart event.");
ABSL_FLAG(double, view_weight, 0.1, "Weight of a product view event.");
ABSL_FLAG(double, return_weight, 1.0, "Weight subtracted for a return (or cancellation).");
ABSL_FLAG(double, click_weight, 0.05, "Weight of a click on a recommendation or offer.");
ABSL_FLAG(std::string, quantity_scaling, "log",
          "How quantity scales an event's weight: none, linear or log (log(1 + quantity)).");
ABSL_FLAG(bool, buy_again, true,
          "Learn buy-again (products bought before shown when due) on each customer's newest basket: a second "
          "model is trained without those baskets first (about twice the training time).");
ABSL_FLAG(double, half_life_days, 0,
          "Recency half-life in days: an event this old counts half. 0 disables decay.");
ABSL_FLAG(int64_t, reference_time, 0,
          "Reference time (Unix seconds) for the half-life; 0 means the latest event.");

ABSL_FLAG(std::string, algorithm, "ials",
          "What to train: ials (customer and product factors), item_knn (each product's most similar products "
          "by co-purchase), ease (Steck's closed-form item-item weights; catalogs over --ease_max_products "
          "are weighted on their most bought products), or auto (each candidate trained without each customer's "
          "newest basket and the best on those baskets kept; the figures go into the model's metadata).");
ABSL_FLAG(int, item_knn_k, 100, "item_knn: neighbours kept per product.");
ABSL_FLAG(double, item_knn_shrink, 10, "item_knn: added to the cosine's denominator (rare pairs count less).");
ABSL_FLAG(double, ease_lambda, 200, "ease: L2 regularization.");
ABSL_FLAG(int, ease_k, 200, "ease: weights kept per product (largest magnitude).");
ABSL_FLAG(int, ease_max_products, 20000,
          "ease: products weighted (the most bought); time grows as its cube, memory as 8 bytes x its square.");
ABSL_FLAG(int, factors, 64, "Latent factors per customer and product.");
ABSL_FLAG(double, regularization, 0.01, "L2 regularization (lambda).");
ABSL_FLAG(bool, frequency_scaled_regularization, false,
          "Scale each row's lambda by (its interactions + unobserved_weight x columns)^"
          "regularization_exponent, as in Rendle et al. 2022.");
ABSL_FLAG(double, regularization_exponent, 1.0,
          "Exponent nu of the frequency scaling (with --frequency_scaled_regularization).");
ABSL_FLAG(double, alpha, 1.0, "Confidence scale: an interaction of weight w counts 1 + alpha x w.");
ABSL_FLAG(double, unobserved_weight, 1.0,
          "Weight alpha0 of every unobserved (customer, product) pair pulled towards 0.");
ABSL_FLAG(int, iterations, 15, "ALS iterations (each solves all customers, then all products).");
ABSL_FLAG(std::string, solver, "cg", "Per-row solver: cg (conjugate gradient) or cholesky (exact).");
ABSL_FLAG(int, cg_steps, 3, "Conjugate-gradient steps per row and iteration.");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the initial factors.");
ABSL_FLAG(int, threads, 0, "Worker threads; 0 uses all cores (or OMP_NUM_THREADS).");
ABSL_FLAG(bool, huge_pages, true,
          "Keep the factor matrices on transparent huge pages (fewer TLB misses when rows are gathered; needs THP in \"always\" or \"madvise\" mode).");
ABSL_FLAG(bool, quiet, false, "Print only errors.");

ABSL_FLAG(std::string, publish_dir, "",
          "Publish into this directory instead of --output: the model becomes the next numbered "
          "version (DIR/models/model-NNNNNN.model) and DIR/current is switched to it atomically.");
ABSL_FLAG(int, keep_versions, 5, "With --publish_dir: how many versions to keep (the current one always).");
ABSL_FLAG(std::string, gate_metric, "",
          "With --publish_dir: before publishing, train on all but the newest events, evaluate this "
          "metric (e.g. ndcg@10) for the candidate and the current model on those newest events, and "
          "refuse (exit 4) when the candidate is worse by more than --max_drop.");
ABSL_FLAG(double, max_drop, 0.01, "Gate: tolerated drop of --gate_metric.");
ABSL_FLAG(double, gate_holdout_fraction, 0.1,
          "Gate: share of the newest events held out for the check; when the current model was "
          "trained on later events than that, only the events after them are held out.");
ABSL_FLAG(int, gate_min_customers, 20,
          "Gate: refuse when fewer held-out customers can be ranked by both models.");
ABSL_FLAG(bool, gate_retrain_on_all, true,
          "Gate: once passed, retrain on all events (the newest included) with the same flags and "
          "publish that; false publishes the evaluated candidate itself.");

ABSL_FLAG(std::string, validation, "",
          "tune: validation events (same format as --input), e.g. from aisle-eval split --validation_out.");
ABSL_FLAG(std::string, tune_factors, "32,64,128", "tune: factor counts to try.");
ABSL_FLAG(std::string, tune_regularization, "0.01,0.1,1", "tune: regularization values to try.");
ABSL_FLAG(std::string, tune_alpha, "1,5", "tune: alpha values to try.");
ABSL_FLAG(std::string, tune_unobserved_weight, "1", "tune: unobserved weights to try.");
ABSL_FLAG(std::string, tune_iterations, "5,10,15", "tune: iteration counts to evaluate.");
ABSL_FLAG(int, trials, 0, "tune: 0 tries the whole grid; N tries N grid points chosen at random.");
ABSL_FLAG(int, parallel, 0, "tune: concurrent trials; 0 uses one per thread.");
ABSL_FLAG(std::string, metric, "ndcg@10", "tune: validation metric to maximize.");

namespace aisle {
namespace {

absl::StatusOr<char> ParseSeparator(const std::string& s) {
  if (s.empty()) return '\0';
  if (s == "tab" || s == "\\t") return '\t';
  if (s.size() == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r') return s[0];
  return absl::InvalidArgumentError(absl::StrCat("bad --separator '", s, "': one character or 'tab'"));
}

absl::StatusOr<TrainJobOptions> OptionsFromFlags() {
  TrainJobOptions o;
  o.buy_again = absl::GetFlag(FLAGS_buy_again);
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_input), ',', absl::SkipEmpty())) {
    o.inputs.emplace_back(p);
  }
  if (o.inputs.empty()) return absl::InvalidArgumentError("--input is required");
  o.events_dir = absl::GetFlag(FLAGS_events_dir);
  const std::string consent = absl::GetFlag(FLAGS_default_consent);
  if (consent != "granted" && consent != "denied") {
    return absl::InvalidArgumentError("--default_consent must be granted or denied");
  }
  o.default_consent = consent == "granted";
  auto format = ParseInputFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return format.status();
  o.load.format = *format;
  auto sep = ParseSeparator(absl::GetFlag(FLAGS_separator));
  if (!sep.ok()) return sep.status();
  o.load.separator = *sep;
  o.load.columns.customer = absl::GetFlag(FLAGS_customer_column);
  o.load.columns.product = absl::GetFlag(FLAGS_product_column);
  o.load.columns.timestamp = absl::GetFlag(FLAGS_timestamp_column);
  o.load.columns.quantity = absl::GetFlag(FLAGS_quantity_column);
  o.load.columns.price = absl::GetFlag(FLAGS_price_column);
  o.load.columns.event = absl::GetFlag(FLAGS_event_column);
  o.load.columns.channel = absl::GetFlag(FLAGS_channel_column);
  o.load.columns.country = absl::GetFlag(FLAGS_country_column);
  o.load.strict = absl::GetFlag(FLAGS_strict);
  if (absl::GetFlag(FLAGS_max_id_length) < 1) return absl::InvalidArgumentError("--max_id_length must be >= 1");
  o.load.max_id_length = static_cast<size_t>(absl::GetFlag(FLAGS_max_id_length));
  o.max_malformed_fraction = absl::GetFlag(FLAGS_max_malformed_fraction);
  if (!(o.max_malformed_fraction >= 0 && o.max_malformed_fraction <= 1)) {
    return absl::InvalidArgumentError("--max_malformed_fraction must be in [0, 1]");
  }

  WeightingOptions& w = o.weighting;
  w.purchase_weight = static_cast<float>(absl::GetFlag(FLAGS_purchase_weight));
  w.cart_weight = static_cast<float>(absl::GetFlag(FLAGS_cart_weight));
  w.view_weight = static_cast<float>(absl::GetFlag(FLAGS_view_weight));
  w.return_weight = static_cast<float>(absl::GetFlag(FLAGS_return_weight));
  w.click_weight = static_cast<float>(absl::GetFlag(FLAGS_click_weight));
  for (double v : {w.purchase_weight, w.cart_weight, w.view_weight, w.return_weight, w.click_weight}) {
    if (!(v >= 0)) return absl::InvalidArgumentError("event weights must be >= 0");
  }
  auto scaling = ParseQuantityScaling(absl::GetFlag(FLAGS_quantity_scaling));
  if (!scaling.ok()) return scaling.status();
  w.quantity_scaling = *scaling;
  w.half_life_days = absl::GetFlag(FLAGS_half_life_days);
  if (!(w.half_life_days >= 0)) return absl::InvalidArgumentError("--half_life_days must be >= 0");
  w.reference_time = absl::GetFlag(FLAGS_reference_time);

  if (absl::GetFlag(FLAGS_algorithm) == "auto") {
    o.auto_algorithm = true;
  } else {
    auto algorithm = ParseAlgorithm(absl::GetFlag(FLAGS_algorithm));
    if (!algorithm.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--algorithm: ", algorithm.status().message(), " or auto"));
    }
    o.algorithm = *algorithm;
  }
  ItemItemOptions& ii = o.item_item;
  ii.knn.k = static_cast<uint32_t>(std::max(0, absl::GetFlag(FLAGS_item_knn_k)));
  ii.knn.shrink = static_cast<float>(absl::GetFlag(FLAGS_item_knn_shrink));
  ii.ease.lambda = static_cast<float>(absl::GetFlag(FLAGS_ease_lambda));
  ii.ease.k = static_cast<uint32_t>(std::max(0, absl::GetFlag(FLAGS_ease_k)));
  ii.ease.max_products = static_cast<uint32_t>(std::max(0, absl::GetFlag(FLAGS_ease_max_products)));
  if (absl::Status s = ii.Validate(); !s.ok()) return s;

  IalsOptions& t = o.ials;
  t.factors = absl::GetFlag(FLAGS_factors);
  t.objective.regularization = static_cast<float>(absl::GetFlag(FLAGS_regularization));
  t.objective.regularization_exponent =
      absl::GetFlag(FLAGS_frequency_scaled_regularization)
          ? static_cast<float>(absl::GetFlag(FLAGS_regularization_exponent))
          : 0.0f;
  t.objective.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
  t.objective.unobserved_weight = static_cast<float>(absl::GetFlag(FLAGS_unobserved_weight));
  t.iterations = absl::GetFlag(FLAGS_iterations);
  const std::string solver = absl::GetFlag(FLAGS_solver);
  if (solver == "cg") {
    t.solve.solver = AlsSolver::kConjugateGradient;
  } else if (solver == "cholesky") {
    t.solve.solver = AlsSolver::kCholesky;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown --solver '", solver, "' (expected cg or cholesky)"));
  }
  t.solve.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  t.seed = absl::GetFlag(FLAGS_seed);
  t.threads = absl::GetFlag(FLAGS_threads);
  t.huge_pages = absl::GetFlag(FLAGS_huge_pages);
  if (absl::Status s = t.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bad training flags: ", s.message()));
  }
  if (absl::GetFlag(FLAGS_quiet)) o.log = nullptr;
  return o;
}

void Say(const TrainJobOptions& o, const std::string& line) {
  if (o.log != nullptr) std::fprintf(o.log, "%s\n", line.c_str());
}

int Error(const absl::Status& s) {
  std::fprintf(stderr, "aisle-train: %s\n", std::string(s.message()).c_str());
  return 1;
}

// Trains on all inputs, behind the gate when asked, and publishes.
int Publish(const TrainJobOptions& options, const std::string& dir) {
  const std::string gate_metric = absl::GetFlag(FLAGS_gate_metric);
  EventLog log;
  LoadStats stats;
  if (absl::Status s = LoadInputs(options, &log, &stats); !s.ok()) return Error(s);
  Say(options, "loaded: " + stats.Summary());
  nlohmann::json gate_meta;
  absl::StatusOr<TrainJobResult> result;
  auto current_path = CurrentModelPath(dir);
  absl::StatusOr<Model> current = absl::NotFoundError("none");
  if (current_path.ok()) current = ReadModel(*current_path);
  if (!gate_metric.empty() && current.ok()) {
    GateOptions g;
    g.metric = gate_metric;
    g.max_drop = absl::GetFlag(FLAGS_max_drop);
    g.holdout_fraction = absl::GetFlag(FLAGS_gate_holdout_fraction);
    g.min_customers = static_cast<uint64_t>(std::max(1, absl::GetFlag(FLAGS_gate_min_customers)));
    const int64_t current_last = current->last_event_unix;
    SplitOptions so;
    so.method = SplitMethod::kTime;
    so.cutoff = GateCutoff(log, g.holdout_fraction, current_last);
    SplitResult split = SplitEvents(log, so);
    EventLog train = SubsetLog(log, split.part, SplitPart::kTrain);
    EventLog holdout = SubsetLog(log, split.part, SplitPart::kTest);
    Say(options, absl::StrFormat("gate: training the candidate on %d events before %s, holding out the %d "
                                 "newer events (neither model has seen them)",
                                 train.events.size(), absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                 absl::FromUnixSeconds(so.cutoff), absl::UTCTimeZone()), holdout.events.size()));
    auto candidate = TrainOnLog(train, stats, options);
    if (!candidate.ok()) return Error(candidate.status());
    auto verdict = EvaluateGate(candidate->model, *current, holdout, g);
    if (!verdict.ok()) return Error(verdict.status());
    std::fprintf(stderr, "gate: %s\n", verdict->reason.c_str());
    if (!verdict->passed) {
      std::fprintf(stderr, "aisle-train: refusing to publish; %s still serves %s\n", dir.c_str(),
                   current_path->c_str());
      return 4;
    }
    gate_meta = {{"metric", g.metric}, {"candidate", verdict->candidate}, {"current", verdict->current},
                 {"customers", verdict->customers}, {"max_drop", g.max_drop},
                 {"current_model_id", current->model_id}};
    result = absl::GetFlag(FLAGS_gate_retrain_on_all) ? TrainOnLog(std::move(log), stats, options) : std::move(candidate);
  } else {
    if (!gate_metric.empty()) {
      Say(options, current_path.ok()
                       ? absl::StrCat("gate: the current model cannot be read (", current.status().message(),
                                      "); publishing without a comparison")
                       : "gate: nothing published yet; publishing the first version");
    }
    result = TrainOnLog(std::move(log), stats, options);
  }
  if (!result.ok()) return Error(result.status());
  if (!gate_meta.is_null()) result->model.metadata["gate"] = gate_meta;
  auto published = PublishModel(result->model, dir, absl::GetFlag(FLAGS_keep_versions));
  if (!published.ok()) return Error(published.status());
  Say(options, absl::StrFormat("published %s as version %d (%s)",
                               result->model.model_id,
                               published->published.version, published->published.path));
  for (const std::string& r : published->removed) Say(options, "removed old version " + r);
  return 0;
}

template <typename T>
absl::StatusOr<std::vector<T>> ParseList(const std::string& flag, const std::string& value) {
  std::vector<T> out;
  for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    double v;
    if (!absl::SimpleAtod(part, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": bad value '", part, "'"));
    }
    out.push_back(static_cast<T>(v));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, " is empty"));
  return out;
}

int TuneCommand(const TrainJobOptions& options) {
  const std::string validation = absl::GetFlag(FLAGS_validation);
  if (validation.empty()) {
    std::fprintf(stderr, "aisle-train: tune needs --validation (see aisle-eval split --validation_out)\n");
    return 2;
  }
  TuneOptions t;
  t.base = options.ials;
  t.metric = absl::GetFlag(FLAGS_metric);
  t.trials = absl::GetFlag(FLAGS_trials);
  t.parallel = absl::GetFlag(FLAGS_parallel);
  t.threads = options.ials.threads;
  t.seed = options.ials.seed;
  auto f = ParseList<int>("tune_factors", absl::GetFlag(FLAGS_tune_factors));
  auto r = ParseList<float>("tune_regularization", absl::GetFlag(FLAGS_tune_regularization));
  auto a = ParseList<float>("tune_alpha", absl::GetFlag(FLAGS_tune_alpha));
  auto u = ParseList<float>("tune_unobserved_weight", absl::GetFlag(FLAGS_tune_unobserved_weight));
  auto it = ParseList<int>("tune_iterations", absl::GetFlag(FLAGS_tune_iterations));
  for (const absl::Status& s : {f.status(), r.status(), a.status(), u.status(), it.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "aisle-train: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  t.space = {*f, *r, *a, *u, *it};
  EventLog train, val;
  LoadStats stats, vstats;
  if (absl::Status s = LoadInputs(options, &train, &stats); !s.ok()) return Error(s);
  // The validation file shares the training log's id maps.
  val.customers = train.customers;
  val.products = train.products;
  val.countries = train.countries;
  if (absl::Status s = LoadEventsFile(validation, options.load, &val, &vstats); !s.ok()) return Error(s);
  auto result = Tune(train, val, options.weighting, t, [&](const TrialResult& tr, size_t done, size_t total) {
    std::string curve;
    for (auto [i, v] : tr.by_iterations) absl::StrAppendFormat(&curve, " %d:%.4f", i, v);
    std::printf("trial %zu/%zu  %s  %s %.4f  (%s)  %.1f s\n", done, total, TrialFlags(tr.ials).c_str(),
                t.metric.c_str(), tr.best, curve.c_str(), tr.seconds);
    std::fflush(stdout);
  });
  if (!result.ok()) return Error(result.status());
  const TrialResult& best = result->trials[result->best];
  std::printf("best %s %.4f on %llu validation customers:\n%s\n", t.metric.c_str(), best.best,
              static_cast<unsigned long long>(result->validation_customers), TrialFlags(best.ials).c_str());
  return 0;
}

// aisle-train compact-events: rewrites closed journal segments without
// erased customers, and removes old model versions that hold one.
int CompactCommand() {
  const std::string dir = absl::GetFlag(FLAGS_events_dir);
  if (dir.empty()) {
    std::fprintf(stderr, "aisle-train: compact-events needs --events_dir (and --publish_dir for old models)\n");
    return 2;
  }
  auto r = CompactEvents(dir, absl::GetFlag(FLAGS_publish_dir), absl::GetFlag(FLAGS_exposures_dir));
  if (!r.ok()) return Error(r.status());
  std::fprintf(stderr, "compact-events: %llu closed segments, %llu rewritten, %llu events of erased customers removed%s\n",
               static_cast<unsigned long long>(r->segments), static_cast<unsigned long long>(r->segments_rewritten),
               static_cast<unsigned long long>(r->events_removed),
               r->damaged_lines > 0 ? absl::StrCat(", ", r->damaged_lines, " damaged lines kept as they were").c_str() : "");
  if (!absl::GetFlag(FLAGS_exposures_dir).empty()) {
    std::fprintf(stderr, "compact-events: exposure log: %llu closed segments, %llu rewritten, %llu records of erased "
                 "customers removed\n",
                 static_cast<unsigned long long>(r->exposure_segments),
                 static_cast<unsigned long long>(r->exposure_segments_rewritten),
                 static_cast<unsigned long long>(r->exposures_removed));
  }
  for (const std::string& m : r->models_removed) std::fprintf(stderr, "compact-events: removed %s\n", m.c_str());
  if (r->current_model_erased_customers > 0) {
    std::fprintf(stderr,
                 "aisle-train: the current model still holds %llu erased customers: publish a new model "
                 "(aisle-train --events_dir %s --publish_dir ...) and run compact-events again\n",
                 static_cast<unsigned long long>(r->current_model_erased_customers), dir.c_str());
    return 1;
  }
  return 0;
}

// aisle-train archive-live: drains the shared live store's stream into
// --events_dir (segments and the customer ledger the trainer reads).
int ArchiveCommand() {
  const std::string dir = absl::GetFlag(FLAGS_events_dir), store = absl::GetFlag(FLAGS_live_store);
  if (dir.empty() || store.empty() || absl::GetFlag(FLAGS_archive_lag_s) < 0) {
    std::fprintf(stderr, "aisle-train: archive-live needs --live_store URL and --events_dir DIR (and --archive_lag_s >= 0)\n");
    return 2;
  }
  auto configured =
      RedisLiveStore::Configure(store, absl::GetFlag(FLAGS_redis_password_file), absl::GetFlag(FLAGS_redis_prefix));
  if (!configured.ok()) return Error(configured.status());
  LiveArchiveOptions o;
  o.store = *configured;
  o.dir = dir;
  o.lag = absl::Seconds(absl::GetFlag(FLAGS_archive_lag_s));
  auto r = ArchiveLiveStore(o);
  if (!r.ok()) return Error(r.status());
  std::fprintf(stderr,
               "archive-live: %llu stream entries through %s: %llu events%s, %llu left out (erased since), %llu consent "
               "changes, %llu erasures; %llu entries trimmed from the stream%s\n",
               static_cast<unsigned long long>(r->entries), r->through.empty() ? "(nothing new)" : r->through.c_str(),
               static_cast<unsigned long long>(r->events),
               r->segment > 0 ? absl::StrFormat(" to segment %06d", r->segment).c_str() : "",
               static_cast<unsigned long long>(r->events_of_erased), static_cast<unsigned long long>(r->consent_changes),
               static_cast<unsigned long long>(r->erasures), static_cast<unsigned long long>(r->trimmed),
               r->finished_earlier_run ? " (an interrupted run finished first)" : "");
  return 0;
}

int Main(bool tune) {
  const std::string output = absl::GetFlag(FLAGS_output);
  const std::string dir = absl::GetFlag(FLAGS_publish_dir);
  auto options = OptionsFromFlags();
  if (options.ok() && !tune && output.empty() == dir.empty()) {
    options = absl::InvalidArgumentError("give exactly one of --output and --publish_dir");
  }
  if (options.ok() && !absl::GetFlag(FLAGS_gate_metric).empty()) {
    if (dir.empty()) options = absl::InvalidArgumentError("--gate_metric needs --publish_dir");
    const double f = absl::GetFlag(FLAGS_gate_holdout_fraction);
    if (!(f > 0 && f < 1)) options = absl::InvalidArgumentError("--gate_holdout_fraction must be in (0, 1)");
  }
  if (!options.ok()) {
    std::fprintf(stderr, "aisle-train: %s\n(see aisle-train --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  if (tune) return TuneCommand(*options);
  if (!dir.empty()) return Publish(*options, dir);
  auto result = RunTrainJob(*options);
  if (!result.ok()) return Error(result.status());
  if (absl::Status s = WriteModel(result->model, output); !s.ok()) return Error(s);
  Say(*options, absl::StrFormat("wrote model %s to %s", result->model.model_id,
                                output));
  return 0;
}

}  // namespace
}  // namespace aisle

int main(int argc, char** argv) {
  aisle::SetProgramUsage("aisle-train",
      "Trains an implicit-feedback recommendation model from purchase history.\n"
      "Usage: aisle-train --input FILE[,FILE...] --output MODEL [flags]\n"
      "       aisle-train --input FILE --publish_dir DIR [--gate_metric ndcg@10 --max_drop 0.01] [flags]\n"
      "       aisle-train tune --input TRAIN --validation VALIDATION [--tune_factors 32,64 ...] [flags]\n"
      "       aisle-train compact-events --events_dir DIR [--publish_dir DIR] [--exposures_dir DIR]\n"
      "       aisle-train archive-live --live_store redis://HOST:PORT/DB --events_dir DIR [--redis_password_file F]",
                         [](absl::string_view f) { return absl::StrContains(f, "train_main.cc"); }, "aisle-train 0.1.0");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() == 2 && std::string(positional[1]) == "compact-events") return aisle::CompactCommand();
  if (positional.size() == 2 && std::string(positional[1]) == "archive-live") return aisle::ArchiveCommand();
  const bool tune = positional.size() == 2 && std::string(positional[1]) == "tune";
  if (positional.size() > 1 && !tune) {
    std::fprintf(stderr, "aisle-train: unexpected argument '%s' (see --help)\n", positional[1]);
    return 2;
  }
  return aisle::Main(tune);
}

#include "training/train_job.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/checksum.h"
#include "engine/cluster_index.h"
#include "engine/recommender.h"
#include "engine/stopwatch.h"
#include "events/customer_ledger.h"
#include "events/event_journal.h"
#include "training/algorithm_choice.h"
#include "training/item_item_trainer.h"
#include "training/purchase_days.h"

namespace aisle {
namespace {

const char* FormatName(InputFormat f) {
  switch (f) {
    case InputFormat::kEvents: return "events";
    case InputFormat::kOnlineRetail: return "online_retail";
    case InputFormat::kNcf: return "ncf";
  }
  return "?";
}


// A float flag value as the user wrote it (0.01, not 0.009999999776).
double Clean(float f) { return std::strtod(absl::StrFormat("%.7g", f).c_str(), nullptr); }

std::string IsoTime(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(unix_seconds), absl::UTCTimeZone());
}

}  // namespace

absl::Status LoadInputs(const TrainJobOptions& options, EventLog* log, LoadStats* stats) {
  if (options.inputs.empty()) return absl::InvalidArgumentError("no input files given");
  for (const std::string& path : options.inputs) {
    LoadStats file_stats;
    absl::Status s = LoadEventsFile(path, options.load, log, &file_stats);
    stats->Merge(file_stats);
    if (!s.ok()) return s;
  }
  if (!options.events_dir.empty()) {
    auto segments = EventJournal::ListSegments(options.events_dir, /*include_open=*/false);
    if (!segments.ok()) return segments.status();
    LoadOptions journal;  // the journal's own format, whatever the other inputs'
    journal.strict = options.load.strict;
    journal.max_id_length = options.load.max_id_length;
    for (const EventJournal::Segment& seg : *segments) {
      LoadStats file_stats;
      absl::Status s = LoadEventsFile(seg.path, journal, log, &file_stats);
      stats->Merge(file_stats);
      if (!s.ok()) return s;
      log->journal_through_segment = std::max(log->journal_through_segment, seg.number);
    }
    auto ledger = CustomerLedger::Read(options.events_dir);
    if (!ledger.ok()) return ledger.status();
    const LedgerFilterStats f = ApplyLedger(*ledger, options.default_consent, log);
    if (options.log != nullptr) {
      std::fprintf(options.log,
                   "events dir %s: %zu journal segments; left out %llu events of %llu customers without consent "
                   "and %llu events of %llu erased customers\n",
                   options.events_dir.c_str(), segments->size(), static_cast<unsigned long long>(f.no_consent_events),
                   static_cast<unsigned long long>(f.no_consent_customers),
                   static_cast<unsigned long long>(f.erased_events),
                   static_cast<unsigned long long>(f.erased_customers));
    }
  }
  if (!options.load.strict && stats->records > 0) {
    const double frac = static_cast<double>(stats->malformed()) / static_cast<double>(stats->records);
    if (frac > options.max_malformed_fraction) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%d of %d rows (%.2f%%) are malformed, more than the allowed %.2f%%; refusing to train.\n%s",
          stats->malformed(), stats->records, 100 * frac, 100 * options.max_malformed_fraction,
          stats->Summary()));
    }
  }
  return absl::OkStatus();
}

Model AssembleModel(const EventLog& log, Interactions interactions, FactorMatrix user_factors,
                    FactorMatrix item_factors) {
  Model m;
  m.customers.Reserve(interactions.customers.size());
  for (uint32_t c : interactions.customers) m.customers.Insert(log.customers.id_view(c));
  m.products.Reserve(interactions.products.size());
  for (uint32_t p : interactions.products) m.products.Insert(log.products.id_view(p));
  m.user_factors = std::move(user_factors);
  m.item_factors = std::move(item_factors);
  m.purchased = std::move(interactions.purchased);
  m.item_popularity = std::move(interactions.item_popularity);
  return m;
}

absl::StatusOr<TrainJobResult> RunTrainJob(const TrainJobOptions& options) {
  if (absl::Status s = options.ials.Validate(); !s.ok()) return s;
  EventLog log;
  LoadStats stats;
  const Stopwatch t;
  if (absl::Status s = LoadInputs(options, &log, &stats); !s.ok()) return s;
  if (options.log != nullptr) {
    std::fprintf(options.log, "loaded %s in %.3f s: %s\n", absl::StrJoin(options.inputs, ", ").c_str(),
                 t.Seconds(), stats.Summary().c_str());
  }
  return TrainOnLog(std::move(log), stats, options);
}

namespace {

absl::StatusOr<TrainJobResult> Train(const EventLog& log, std::vector<Event>* release, const LoadStats& stats,
                                     const TrainJobOptions& options);

}  // namespace

absl::StatusOr<TrainJobResult> TrainOnLog(const EventLog& log, const LoadStats& stats,
                                          const TrainJobOptions& options) {
  return Train(log, nullptr, stats, options);
}

absl::StatusOr<TrainJobResult> TrainOnLog(EventLog&& log, const LoadStats& stats, const TrainJobOptions& options) {
  return Train(log, &log.events, stats, options);
}

namespace {

absl::StatusOr<TrainJobResult> Train(const EventLog& log, std::vector<Event>* release, const LoadStats& stats,
                                     const TrainJobOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.log != nullptr) std::fprintf(options.log, "%s\n", line.c_str());
  };
  if (absl::Status s = options.ials.Validate(); !s.ok()) return s;
  const Stopwatch start;
  TrainJobResult result;
  result.load_stats = stats;
  Stopwatch t;
  if (log.events.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no events in ", absl::StrJoin(options.inputs, ", "),
                                                   ": nothing to train on"));
  }

  // Buy-again's weights, learnt on a model trained without each customer's
  // newest basket, before the events are released.
  if (options.auto_algorithm) {
    auto choice = ChooseAlgorithm(log, stats, options);
    if (!choice.ok()) return choice.status();
    auto chosen = Train(log, release, stats, choice->options);
    if (!chosen.ok()) return chosen.status();
    nlohmann::json meta = chosen->model.metadata;
    meta["auto"] = std::move(choice->report);
    meta["job_seconds"] = start.Seconds();
    if (absl::Status s = chosen->model.SetMetadata(std::move(meta)); !s.ok()) return s;
    return chosen;
  }
  std::optional<BuyAgainFit> buy_again = options.buy_again_fitted;
  if (options.buy_again && !buy_again) {
    t.Reset();
    ValidationSplit split = SplitNewestBasket(log);
    if (split.baskets.size() < options.buy_again_min_customers) {
      say(absl::StrFormat("buy-again not learnt: %d customers bought on two days or more (at least %d needed)",
                          split.baskets.size(), options.buy_again_min_customers));
    } else {
      TrainJobOptions inner = options;
      inner.buy_again = false;
      inner.log = nullptr;
      auto held = TrainOnLog(split.train, stats, inner);
      if (!held.ok()) return held.status();
      std::vector<HeldOutBasket> baskets = ResolveBaskets(split, log, held->model);
      auto fit = FitBuyAgain(held->model, baskets, options.buy_again_fit);
      if (fit.ok()) {
        buy_again = *std::move(fit);
        say(absl::StrFormat("buy-again learnt on %d held-out baskets in %.3f s: %s", baskets.size(), t.Seconds(),
                            buy_again->report.dump()));
      } else {
        say(absl::StrCat("buy-again not learnt: ", fit.status().message()));
      }
    }
  }
  PurchaseDays days = CollectPurchaseDays(log);

  t.Reset();
  Interactions data = BuildInteractions(log, options.weighting, release);
  say(absl::StrFormat("aggregated into %d customers x %d products, %d interactions (%d pairs with no "
                      "positive weight dropped) in %.3f s",
                      data.user_items.rows, data.user_items.cols, data.user_items.nnz(),
                      data.dropped_pairs, t.Seconds()));
  if (data.user_items.nnz() == 0) {
    return absl::InvalidArgumentError("no (customer, product) pair has a positive weight: nothing to train on");
  }

  const int threads = options.ials.threads > 0 ? options.ials.threads : omp_get_max_threads();
  const double nnz = static_cast<double>(data.user_items.nnz());
  double train_seconds = 0, final_loss = NAN;
  FactorMatrix user_factors, item_factors;
  std::optional<ItemItemResult> item_item;
  if (ScoresByItems(options.algorithm)) {
    auto trained = TrainItemItem(options.algorithm, data.purchased, data.item_popularity, options.item_item);
    if (!trained.ok()) return trained.status();
    item_item = *std::move(trained);
    train_seconds = item_item->seconds;
    say(absl::StrFormat("trained %s: %d weights over %d of %d products in %.3f s", AlgorithmName(options.algorithm),
                        item_item->weights.similar.nnz(), item_item->weighted_products, data.purchased.cols,
                        item_item->seconds));
    user_factors.resize(data.purchased.rows, 0);
    item_factors.resize(data.purchased.cols, 0);
  } else {
    IalsTrainer trainer(data.user_items, data.item_users, options.ials);
    if (absl::Status s = trainer.Init(); !s.ok()) return s;
    say(absl::StrFormat("training iALS: %d factors, %s solver%s, %d iterations, %d threads",
                        options.ials.factors,
                        options.ials.solve.solver == AlsSolver::kCholesky ? "Cholesky" : "CG",
                        options.ials.solve.solver == AlsSolver::kCholesky
                            ? ""
                            : absl::StrCat(" (", options.ials.solve.cg_steps, " steps)"),
                        options.ials.iterations, threads));
    for (int it = 0; it < options.ials.iterations; ++it) {
      IterationStats st = trainer.Iterate(/*compute_loss=*/true);
      train_seconds += st.seconds;
      say(absl::StrFormat("iteration %d/%d: loss %.6g (%.5f per interaction), %.3f s", st.iteration,
                          options.ials.iterations, st.loss, st.loss / nnz, st.seconds));
      if (!std::isfinite(st.loss)) {
        return absl::InternalError(absl::StrCat(
            "training diverged at iteration ", st.iteration,
            " (loss is not finite); try a larger --regularization or a smaller --alpha"));
      }
      if (st.cholesky_failures > 0) {
        say(absl::StrCat("warning: ", st.cholesky_failures,
                         " rows could not be factorized and kept their previous value; "
                         "consider a larger --regularization"));
      }
      result.iterations.push_back(st);
    }
    final_loss = result.iterations.empty() ? trainer.Loss() : result.iterations.back().loss;
    user_factors = trainer.TakeUserFactors();
    item_factors = trainer.TakeItemFactors();
  }

  const int64_t first_ts = data.first_timestamp, last_ts = data.last_timestamp;
  const uint64_t interactions = data.user_items.nnz();
  const uint64_t purchased = data.purchased.nnz();
  const uint64_t dropped = data.dropped_pairs;
  PurchaseHistory history = AlignPurchaseHistory(days, data, PurchaseDay(last_ts));
  days = {};
  Model model = AssembleModel(log, std::move(data), std::move(user_factors), std::move(item_factors));
  model.history = std::move(history);
  model.algorithm = options.algorithm;  // (the metadata below says the same)
  if (item_item) model.item_weights = std::move(item_item->weights);
  t.Reset();
  model.neighbours = BuildItemNeighbours(model.purchased, static_cast<uint32_t>(model.products.size()), options.neighbours);
  say(absl::StrFormat("product neighbours by co-purchase: %d kept (at most %d per product) in %.3f s",
                      model.neighbours.similar.nnz(), options.neighbours.k, t.Seconds()));
  if (absl::Status s = model.Validate(); !s.ok()) {
    return absl::InternalError(absl::StrCat("trained model is invalid: ", s.message(),
                                            "; try a larger --regularization"));
  }

  if (!item_item) {
    // The serving index's clusters (engine/cluster_index.h), stored in the
    // model so a server need not run k-means at every load.
    t.Reset();
    auto clusters = ClusterIndex::Build(model.item_factors, {});
    auto similar = ClusterIndex::Build(UnitRows(model.item_factors), {});
    if (!clusters.ok() || !similar.ok()) return absl::InternalError("clustering the product vectors failed");
    model.item_clusters = clusters->ToClusters();
    model.similar_clusters = similar->ToClusters();
    say(absl::StrFormat("clustered %d products for the search index (%d clusters) in %.3f s", model.products.size(),
                        clusters->clusters(), t.Seconds()));
  }

  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::vector<float>& weights = model.item_weights.similar.values;
  const uint32_t fingerprint =
      item_item ? Crc32c(0, weights.data(), weights.size() * sizeof(float))
                : Crc32c(0, model.item_factors.data(), model.item_factors.size() * sizeof(float));
  const IalsOptions& io = options.ials;
  const WeightingOptions& w = options.weighting;
  nlohmann::json meta;
  meta["model_id"] = absl::StrFormat("%s-%08x", absl::FormatTime("%Y%m%dT%H%M%SZ", absl::FromUnixSeconds(now),
                                                                  absl::UTCTimeZone()),
                                     fingerprint);
  meta["algorithm"] = std::string(AlgorithmName(options.algorithm));
  meta["created_at"] = IsoTime(now);
  meta["training_seconds"] = train_seconds;
  meta["job_seconds"] = start.Seconds();
  if (!item_item) meta["final_loss"] = final_loss;
  const ItemItemOptions& ii = options.item_item;
  if (options.algorithm == Algorithm::kItemKnn) {
    meta["hyperparameters"] = {{"k", ii.knn.k}, {"shrink", Clean(ii.knn.shrink)}, {"threads", threads}};
  } else if (options.algorithm == Algorithm::kEase) {
    meta["hyperparameters"] = {{"lambda", Clean(ii.ease.lambda)},
                               {"k", ii.ease.k},
                               {"max_products", ii.ease.max_products},
                               {"weighted_products", item_item->weighted_products},
                               {"threads", threads}};
  } else {
  meta["hyperparameters"] = {
      {"factors", io.factors},
      {"regularization", Clean(io.objective.regularization)},
      {"regularization_exponent", Clean(io.objective.regularization_exponent)},
      {"alpha", Clean(io.objective.alpha)},
      {"unobserved_weight", Clean(io.objective.unobserved_weight)},
      {"iterations", io.iterations},
      {"solver", io.solve.solver == AlsSolver::kCholesky ? "cholesky" : "cg"},
      {"cg_steps", io.solve.cg_steps},
      {"seed", io.seed},
      {"threads", threads},
  };
  }
  meta["weighting"] = {
      {"purchase_weight", Clean(w.purchase_weight)}, {"cart_weight", Clean(w.cart_weight)},
      {"view_weight", Clean(w.view_weight)},         {"return_weight", Clean(w.return_weight)},
      {"click_weight", Clean(w.click_weight)},
      {"quantity_scaling", QuantityScalingName(w.quantity_scaling)},
      {"half_life_days", w.half_life_days},   {"reference_time", w.reference_time},
  };
  meta["data"] = {
      {"inputs", options.inputs},
      {"format", FormatName(options.load.format)},
      {"rows", result.load_stats.records},
      {"events", result.load_stats.loaded},
      {"malformed_rows", result.load_stats.malformed()},
      {"filtered_rows", result.load_stats.filtered()},
      {"customers", model.customers.size()},
      {"products", model.products.size()},
      {"interactions", interactions},
      {"purchased_pairs", purchased},
      {"dropped_pairs", dropped},
      {"first_event", IsoTime(first_ts)},
      {"last_event", IsoTime(last_ts)},
      {"last_event_unix", last_ts},
  };
  if (buy_again) {
    meta["buy_again"] = buy_again->params.ToJson();
    meta["buy_again"]["validation"] = buy_again->report;
  }
  if (log.journal_through_segment > 0) {
    meta["data"]["events_dir"] = options.events_dir;
    meta["data"]["events_through_segment"] = log.journal_through_segment;
  }
  if (absl::Status s = model.SetMetadata(std::move(meta)); !s.ok()) return s;
  result.model = std::move(model);
  return result;
}

}  // namespace

}  // namespace aisle

// aisle-eval: offline evaluation of models. Subcommands:
//   evaluate --model M --test FILE      ranking metrics, with popularity and random baselines
//   compare  --a M1 --b M2 --test FILE  paired comparison with bootstrap intervals; gating
//   split    --input FILE --train_out F --test_out F [--validation_out F]
//   ncf      --model M --test NAME.test.rating --negatives NAME.test.negative
//   offers   --model M --offers FILE --test FILE  offer hit rate vs popular and random offers
//   info     --model M                  model metadata
//   recommend --model M [--customers a,b] [--count N]
// JSON schemas: docs/EVALUATION.md. Exit status: 0 success, 1 failure, 2 bad
// usage, 3 a --fail_if_worse gate tripped.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/atomic_file.h"
#include "engine/mapped_file.h"
#include "engine/model_io.h"
#include "engine/recommender.h"
#include "evaluation/bootstrap.h"
#include "evaluation/evaluation.h"
#include "evaluation/live_evaluation.h"
#include "events/event_loader.h"
#include "engine/offer_ranker.h"
#include "evaluation/ncf_protocol.h"
#include "evaluation/offer_evaluation.h"
#include "evaluation/scorer.h"
#include "evaluation/split.h"
#include "events/timestamp.h"
#include "engine/program_usage.h"

ABSL_FLAG(std::string, model, "", "Model file (info, recommend, evaluate, ncf).");
ABSL_FLAG(std::string, a, "", "compare: the baseline model A.");
ABSL_FLAG(std::string, b, "", "compare: the candidate model B.");
ABSL_FLAG(std::string, test, "", "evaluate, compare: test events file; ncf: NAME.test.rating.");
ABSL_FLAG(std::string, negatives, "", "ncf: NAME.test.negative.");
ABSL_FLAG(std::string, format, "events", "Format of --test / --input: events, online_retail or ncf.");
ABSL_FLAG(std::string, separator, "", "Field separator of --test / --input ('tab' for a tab).");
ABSL_FLAG(std::string, k, "5,10,20", "Cut-offs for the @k metrics (ncf: the first one is used).");
ABSL_FLAG(bool, include_train, false,
          "evaluate, compare: rank training purchases too (by default they are excluded from "
          "the ranking and from the relevant products).");
ABSL_FLAG(std::string, segment, "", "compare: also compare per segment: country or channel.");
ABSL_FLAG(int, resamples, 2000, "compare: bootstrap resamples.");
ABSL_FLAG(std::string, fail_if_worse, "",
          "compare: comma-separated metrics; exit 3 when B is worse than A on one of them by more "
          "than --max_drop with 95% confidence (the interval's upper end is below -max_drop).");
ABSL_FLAG(double, max_drop, 0.0, "compare: tolerated drop for --fail_if_worse.");
ABSL_FLAG(bool, json, false, "Print one JSON object instead of a table.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the random baseline, the bootstrap and random splits.");
ABSL_FLAG(std::string, input, "", "split: the events file to split.");
ABSL_FLAG(std::string, method, "time", "split: time, last_basket or leave_one_out.");
ABSL_FLAG(std::string, cutoff, "", "split (time): cutoff time (ISO-8601 or Unix seconds); "
                                   "default: the (1 - test_fraction) quantile of event times.");
ABSL_FLAG(double, test_fraction, 0.1, "split (time): share of events in the test part.");
ABSL_FLAG(std::string, train_out, "", "split: where to write the training rows.");
ABSL_FLAG(std::string, test_out, "", "split: where to write the test rows.");
ABSL_FLAG(std::string, validation_out, "",
          "split: where to write validation rows carved from the training part (optional).");
ABSL_FLAG(std::string, offers, "", "offers: the offer catalog (JSON).");
ABSL_FLAG(std::string, catalog, "",
          "offers: product catalog, for offers defined by category and for repurchasable categories.");
ABSL_FLAG(int, n, 3, "offers: offers shown per customer.");
ABSL_FLAG(int, drivers, 3, "offers: driving products per offer (its score and explanation).");
ABSL_FLAG(std::string, at, "",
          "offers: when the offers are shown, for validity windows (ISO-8601 or Unix seconds); "
          "default: the time of the first test event.");
ABSL_FLAG(bool, use_country, true,
          "offers: pass each customer's most frequent test country as the request's country.");
ABSL_FLAG(std::string, customers, "", "recommend: comma-separated customer ids.");
ABSL_FLAG(int, sample, 3, "recommend: how many customers to show when --customers is empty.");
ABSL_FLAG(int, count, 5, "recommend: products per customer.");

namespace aisle {
int BatchCommand();       // batch_command.cc
int ExperimentCommand();  // experiment_command.cc
namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "aisle-eval: %s\n", std::string(s.message()).c_str());
  return 1;
}
int Usage(const std::string& msg) {
  std::fprintf(stderr, "aisle-eval: %s (see --help)\n", msg.c_str());
  return 2;
}

absl::StatusOr<LoadOptions> LoadOptionsFromFlags() {
  LoadOptions o;
  auto f = ParseInputFormat(absl::GetFlag(FLAGS_format));
  if (!f.ok()) return f.status();
  o.format = *f;
  const std::string sep = absl::GetFlag(FLAGS_separator);
  if (sep == "tab") {
    o.separator = '\t';
  } else if (sep.size() == 1) {
    o.separator = sep[0];
  } else if (!sep.empty()) {
    return absl::InvalidArgumentError("--separator must be one character or 'tab'");
  }
  return o;
}

absl::StatusOr<EventLog> LoadTest(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("--test is required");
  auto o = LoadOptionsFromFlags();
  if (!o.ok()) return o.status();
  EventLog log;
  LoadStats stats;
  if (absl::Status s = LoadEventsFile(path, *o, &log, &stats); !s.ok()) return s;
  if (stats.malformed() > 0) std::fprintf(stderr, "%s: %s", path.c_str(), stats.Summary().c_str());
  return log;
}

const char* kSchemaEvaluate = "aisle.evaluate.v1";
const char* kSchemaCompare = "aisle.compare.v1";
const char* kSchemaOffers = "aisle.offers.v1";
const char* kSchemaLive = "aisle.live.v1";

nlohmann::json DifferenceJson(const PairedDifference& d) {
  return {{"diff", d.diff}, {"ci_low", d.ci_low}, {"ci_high", d.ci_high}, {"p_value", d.p_value}};
}

// aisle-eval live: the model's answers against the live loop's on the
// held-out events (evaluation/live_evaluation.h).
int LiveCommand() {
  if (absl::GetFlag(FLAGS_model).empty() || absl::GetFlag(FLAGS_test).empty()) return Usage("live needs --model and --test");
  auto ks = ParseKs(absl::GetFlag(FLAGS_k));
  if (!ks.ok()) return Usage(std::string(ks.status().message()));
  auto model = ReadModel(absl::GetFlag(FLAGS_model));
  if (!model.ok()) return Fail(model.status());
  auto rec = Recommender::Create(std::make_shared<const Model>(std::move(*model)), nullptr);
  if (!rec.ok()) return Fail(rec.status());
  auto test = LoadTest(absl::GetFlag(FLAGS_test));
  if (!test.ok()) return Fail(test.status());
  LiveEvaluationOptions o;
  o.k = static_cast<size_t>(ks->front());
  o.resamples = absl::GetFlag(FLAGS_resamples);
  o.seed = absl::GetFlag(FLAGS_seed);
  const LiveEvaluationResult r = EvaluateLive(**rec, *test, o);
  const std::pair<const char*, const LiveComparison*> groups[] = {
      {"all", &r.all}, {"with_history", &r.with_history}, {"known", &r.known}, {"unknown", &r.unknown}};
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {{"schema", kSchemaLive},
                        {"model_id", (*rec)->model_id()},
                        {"test", absl::GetFlag(FLAGS_test)},
                        {"k", o.k},
                        {"test_customers", r.test_customers},
                        {"test_events", r.test_events}};
    for (const auto& [name, c] : groups) {
      j[name] = {{"points", c->points},
                 {"customers", c->customers},
                 {"hr_static", c->hr.mean_a},
                 {"hr_live", c->hr.mean_b},
                 {"hr_live_minus_static", DifferenceJson(c->hr)},
                 {"ndcg_static", c->ndcg.mean_a},
                 {"ndcg_live", c->ndcg.mean_b},
                 {"ndcg_live_minus_static", DifferenceJson(c->ndcg)}};
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%llu test customers, %llu events; prediction points: a customer's day with a new purchase\n",
              static_cast<unsigned long long>(r.test_customers), static_cast<unsigned long long>(r.test_events));
  std::printf("%-13s %7s %9s  %8s %8s %-28s  %9s %9s %-30s\n", "points", "n", "customers", "HR static", "HR live",
              "live - static [95% CI]", "NDCG stat", "NDCG live", "live - static [95% CI]");
  for (const auto& [name, c] : groups) {
    std::printf("%-13s %7llu %9llu  %8.4f %8.4f %+.4f [%+.4f, %+.4f]  %9.4f %9.4f %+.4f [%+.4f, %+.4f]\n", name,
                static_cast<unsigned long long>(c->points), static_cast<unsigned long long>(c->customers), c->hr.mean_a,
                c->hr.mean_b, c->hr.diff, c->hr.ci_low, c->hr.ci_high, c->ndcg.mean_a, c->ndcg.mean_b, c->ndcg.diff,
                c->ndcg.ci_low, c->ndcg.ci_high);
  }
  return 0;
}

int OffersCommand() {
  const std::string offers_path = absl::GetFlag(FLAGS_offers);
  if (absl::GetFlag(FLAGS_model).empty() || offers_path.empty()) return Usage("offers needs --model, --offers and --test");
  if (absl::GetFlag(FLAGS_n) < 1 || absl::GetFlag(FLAGS_drivers) < 1) return Usage("--n and --drivers must be at least 1");
  auto model = ReadModel(absl::GetFlag(FLAGS_model));
  if (!model.ok()) return Fail(model.status());
  auto offer_catalog = OfferCatalog::Load(offers_path);
  if (!offer_catalog.ok()) return Fail(offer_catalog.status());
  std::shared_ptr<const Catalog> catalog;
  if (const std::string c = absl::GetFlag(FLAGS_catalog); !c.empty()) {
    auto cat = Catalog::Load(c);
    if (!cat.ok()) return Fail(cat.status());
    catalog = std::make_shared<const Catalog>(std::move(*cat));
  }
  auto shared_model = std::make_shared<const Model>(std::move(*model));
  auto rec = Recommender::Create(shared_model, catalog);
  if (!rec.ok()) return Fail(rec.status());
  auto ranker = OfferRanker::Create(*rec, std::make_shared<const OfferCatalog>(std::move(*offer_catalog)));
  if (!ranker.ok()) return Fail(ranker.status());
  auto test = LoadTest(absl::GetFlag(FLAGS_test));
  if (!test.ok()) return Fail(test.status());
  OfferEvaluationOptions o;
  o.n = static_cast<size_t>(absl::GetFlag(FLAGS_n));
  o.drivers = static_cast<size_t>(absl::GetFlag(FLAGS_drivers));
  o.use_country = absl::GetFlag(FLAGS_use_country);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.resamples = absl::GetFlag(FLAGS_resamples);
  if (const std::string at = absl::GetFlag(FLAGS_at); !at.empty()) {
    auto t = ParseTimestamp(at);
    if (!t) return Usage(absl::StrCat("bad --at '", at, "'"));
    o.at = absl::FromUnixSeconds(*t);
  } else {
    int64_t first = INT64_MAX;
    for (const Event& e : test->events) first = std::min<int64_t>(first, e.timestamp);
    o.at = first == INT64_MAX ? absl::Now() : absl::FromUnixSeconds(first);
  }
  // Relevant: every product bought in the test period, repurchases included
  // (an offer on a product the customer buys again is used all the same).
  TestSet ts = BuildTestSet(*shared_model, *test, /*exclude_train=*/false,
                            o.use_country ? Segmentation::kCountry : Segmentation::kNone);
  if (ts.customers.empty()) return Fail(absl::FailedPreconditionError("no test customer is known to the model"));
  OfferEvaluationResult r = EvaluateOffers(**ranker, ts, o);
  const std::string at_text = absl::FormatTime(absl::RFC3339_sec, o.at, absl::UTCTimeZone());
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {
        {"schema", kSchemaOffers},
        {"model_id", shared_model->model_id},
        {"offers", offers_path},
        {"test", absl::GetFlag(FLAGS_test)},
        {"n", o.n},
        {"drivers", o.drivers},
        {"at", at_text},
        {"customers", r.customers},
        {"unknown_customers", ts.unknown_customers},
        {"hit_rate_personalized", r.hit_personalized},
        {"hit_rate_popular", r.hit_popular},
        {"hit_rate_random", r.hit_random},
        {"personalized_vs_popular", DifferenceJson(r.vs_popular)},
        {"personalized_vs_random", DifferenceJson(r.vs_random)},
        {"distinct_offers_personalized", r.offers_shown_personalized},
        {"distinct_offers_popular", r.offers_shown_popular},
        {"mean_offers_per_customer", r.mean_offers_personalized},
        {"resamples", o.resamples},
        {"confidence", 0.95},
    };
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("offer hit rate @%zu on %llu test customers (offers shown at %s; %llu test customers unknown to "
                "the model left out)\n",
                o.n, static_cast<unsigned long long>(r.customers), at_text.c_str(),
                static_cast<unsigned long long>(ts.unknown_customers));
    std::printf("  %-13s %8s %8s\n", "ranking", "hit rate", "offers");
    std::printf("  %-13s %8.4f %8llu\n", "personalized", r.hit_personalized,
                static_cast<unsigned long long>(r.offers_shown_personalized));
    std::printf("  %-13s %8.4f %8llu\n", "popular", r.hit_popular,
                static_cast<unsigned long long>(r.offers_shown_popular));
    std::printf("  %-13s %8.4f\n", "random", r.hit_random);
    std::printf("  personalized - popular: %+.4f  95%% interval [%+.4f, %+.4f]  p %.4f\n", r.vs_popular.diff,
                r.vs_popular.ci_low, r.vs_popular.ci_high, r.vs_popular.p_value);
    std::printf("  personalized - random:  %+.4f  95%% interval [%+.4f, %+.4f]  p %.4f\n", r.vs_random.diff,
                r.vs_random.ci_low, r.vs_random.ci_high, r.vs_random.p_value);
  }
  return 0;
}

int EvaluateCommand() {
  auto model = ReadModel(absl::GetFlag(FLAGS_model));
  if (!model.ok()) return Fail(model.status());
  auto ks = ParseKs(absl::GetFlag(FLAGS_k));
  if (!ks.ok()) return Usage(std::string(ks.status().message()));
  auto test = LoadTest(absl::GetFlag(FLAGS_test));
  if (!test.ok()) return Fail(test.status());
  EvaluationOptions eo;
  eo.ks = *ks;
  eo.exclude_train = !absl::GetFlag(FLAGS_include_train);
  TestSet ts = BuildTestSet(*model, *test, eo.exclude_train, Segmentation::kNone);
  if (ts.customers.empty()) {
    return Fail(absl::FailedPreconditionError("no test customer is known to the model and bought something new"));
  }
  std::vector<std::pair<std::string, std::unique_ptr<Scorer>>> scorers;
  // The model as it serves (with buy-again when it learnt it), the model's
  // factors alone, and the simple baselines it must beat.
  // New products only (training purchases excluded, as the server's
  // exclude_purchased=all): the factors' ranking is the model's.
  const bool blended = !eo.exclude_train && model->buy_again.learnt() && !model->history.empty();
  scorers.emplace_back("model", blended ? MakeBuyAgainScorer(*model) : MakeModelScorer(*model));
  if (blended) scorers.emplace_back("factors", MakeModelScorer(*model));
  scorers.emplace_back("ptopfreq", MakePersonalTopFrequencyScorer(*model));
  scorers.emplace_back("topfreq", MakeTopFrequencyScorer(*model));
  scorers.emplace_back("popularity", MakePopularityScorer(*model));
  scorers.emplace_back("random", MakeRandomScorer(*model, absl::GetFlag(FLAGS_seed)));
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<std::map<std::string, double>> means;
  std::vector<EvaluationResult> results;
  for (auto& [name, scorer] : scorers) {
    EvaluationResult r = Evaluate(*model, *scorer, ts, eo);
    results.push_back(r);
    if (!ts.has_prices) {
      for (int k : eo.ks) r.means.erase(absl::StrCat("revenue@", k));
    }
    metrics[name] = r.means;
    means.push_back(r.means);
  }
  // The model against each other ranking, paired by customer: model minus
  // it, with a bootstrap interval, on recall and NDCG at the largest k.
  nlohmann::json versus = nlohmann::json::object();
  const int kmax = eo.ks.back();
  for (size_t b = 1; b < scorers.size(); ++b) {
    for (const std::string& metric : {absl::StrCat("recall@", kmax), absl::StrCat("ndcg@", kmax)}) {
      const size_t m = std::find(results[0].names.begin(), results[0].names.end(), metric) - results[0].names.begin();
      PairedDifference d = PairedBootstrap(results[b].values[m], results[0].values[m], absl::GetFlag(FLAGS_resamples),
                                           absl::GetFlag(FLAGS_seed));
      versus[scorers[b].first][metric] = {{"diff", d.diff}, {"ci_low", d.ci_low}, {"ci_high", d.ci_high},
                                          {"relative", d.mean_a > 0 ? d.diff / d.mean_a : 0.0}};
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {
        {"schema", kSchemaEvaluate},
        {"model_minus", versus},
        {"model_id", model->model_id},
        {"test", absl::GetFlag(FLAGS_test)},
        {"ks", eo.ks},
        {"exclude_train", eo.exclude_train},
        {"customers", ts.customers.size()},
        {"skipped_unknown_customers", ts.unknown_customers},
        {"skipped_no_relevant", ts.no_relevant},
        {"has_prices", ts.has_prices},
        {"metrics", metrics},
    };
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model %s on %s: %zu customers (%llu unknown to the model, %llu with nothing new "
              "bought skipped)\n",
              (model->model_id.empty() ? "?" : model->model_id.c_str()), absl::GetFlag(FLAGS_test).c_str(),
              ts.customers.size(), static_cast<unsigned long long>(ts.unknown_customers),
              static_cast<unsigned long long>(ts.no_relevant));
  std::printf("%-18s", "metric");
  for (const auto& [name, scorer] : scorers) std::printf(" %11s", name.c_str());
  std::printf("\n");
  for (const auto& [name, v] : means[0]) {
    std::printf("%-18s", name.c_str());
    for (const auto& m : means) std::printf(" %11.4f", m.at(name));
    std::printf("\n");
  }
  for (const auto& [other, by_metric] : versus.items()) {
    for (const auto& [metric, d] : by_metric.items()) {
      std::printf("model - %-10s %-9s %+.4f  95%% interval [%+.4f, %+.4f]  (%+.1f%%)\n", other.c_str(), metric.c_str(),
                  d["diff"].get<double>(), d["ci_low"].get<double>(), d["ci_high"].get<double>(),
                  100 * d["relative"].get<double>());
    }
  }
  return 0;
}

// Pairs of positions (in A's test set, in B's) of the customers both models evaluate.
using Aligned = std::vector<std::pair<size_t, size_t>>;

nlohmann::json CompareMetrics(const EvaluationResult& ra, const EvaluationResult& rb, const Aligned& al,
                              const std::vector<size_t>& subset, bool has_prices, int resamples, uint64_t seed) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t m = 0; m < ra.names.size(); ++m) {
    if (!has_prices && absl::StartsWith(ra.names[m], "revenue@")) continue;
    std::vector<float> va, vb;
    for (size_t s : subset) {
      const float a = ra.values[m][al[s].first], b = rb.values[m][al[s].second];
      if (std::isnan(a) || std::isnan(b)) continue;  // a repeat/new metric of a customer without that part
      va.push_back(a);
      vb.push_back(b);
    }
    if (va.empty()) continue;
    PairedDifference d = PairedBootstrap(va, vb, resamples, seed);
    out[ra.names[m]] = {{"a", d.mean_a}, {"b", d.mean_b}, {"diff", d.diff},
                        {"ci_low", d.ci_low}, {"ci_high", d.ci_high}, {"p_value", d.p_value}};
  }
  return out;
}

int Compare() {
  auto ma = ReadModel(absl::GetFlag(FLAGS_a));
  if (!ma.ok()) return Fail(ma.status());
  auto mb = ReadModel(absl::GetFlag(FLAGS_b));
  if (!mb.ok()) return Fail(mb.status());
  auto ks = ParseKs(absl::GetFlag(FLAGS_k));
  if (!ks.ok()) return Usage(std::string(ks.status().message()));
  Segmentation seg = Segmentation::kNone;
  const std::string seg_flag = absl::GetFlag(FLAGS_segment);
  if (seg_flag == "country") {
    seg = Segmentation::kCountry;
  } else if (seg_flag == "channel") {
    seg = Segmentation::kChannel;
  } else if (!seg_flag.empty()) {
    return Usage("--segment must be country or channel");
  }
  std::vector<std::string> gates;
  for (absl::string_view g : absl::StrSplit(absl::GetFlag(FLAGS_fail_if_worse), ',', absl::SkipEmpty())) {
    gates.emplace_back(g);
  }
  const std::vector<std::string> names = PerCustomerMetricNames(*ks);
  for (const std::string& g : gates) {
    if (std::find(names.begin(), names.end(), g) == names.end()) {
      return Usage(absl::StrCat("--fail_if_worse: unknown metric '", g, "' for --k ", absl::GetFlag(FLAGS_k)));
    }
  }
  auto test = LoadTest(absl::GetFlag(FLAGS_test));
  if (!test.ok()) return Fail(test.status());
  EvaluationOptions eo;
  eo.ks = *ks;
  eo.exclude_train = !absl::GetFlag(FLAGS_include_train);
  TestSet ta = BuildTestSet(*ma, *test, eo.exclude_train, seg);
  TestSet tb = BuildTestSet(*mb, *test, eo.exclude_train, seg);
  Aligned al = AlignCustomers(ta, tb);
  if (al.empty()) return Fail(absl::FailedPreconditionError("no test customer is evaluable with both models"));
  EvaluationResult ra = Evaluate(*ma, *MakeBuyAgainScorer(*ma), ta, eo);
  EvaluationResult rb = Evaluate(*mb, *MakeBuyAgainScorer(*mb), tb, eo);
  const int resamples = absl::GetFlag(FLAGS_resamples);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const bool prices = ta.has_prices;
  std::vector<size_t> all(al.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  nlohmann::json metrics = CompareMetrics(ra, rb, al, all, prices, resamples, seed);
  nlohmann::json segments = nlohmann::json::object();
  if (seg != Segmentation::kNone) {
    std::map<std::string, std::vector<size_t>> by_seg;
    for (size_t i = 0; i < al.size(); ++i) {
      const std::string& s = ta.customers[al[i].first].segment;
      by_seg[s.empty() ? "(none)" : s].push_back(i);
    }
    for (const auto& [s, idx] : by_seg) {
      segments[s] = {{"customers", idx.size()}, {"metrics", CompareMetrics(ra, rb, al, idx, prices, resamples, seed)}};
    }
  }
  const double max_drop = absl::GetFlag(FLAGS_max_drop);
  std::vector<std::string> tripped;
  for (const std::string& g : gates) {
    if (metrics[g]["ci_high"].get<double>() < -max_drop) tripped.push_back(g);
  }
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {
        {"schema", kSchemaCompare},
        {"a", {{"path", absl::GetFlag(FLAGS_a)}, {"model_id", ma->model_id}}},
        {"b", {{"path", absl::GetFlag(FLAGS_b)}, {"model_id", mb->model_id}}},
        {"test", absl::GetFlag(FLAGS_test)},
        {"customers", al.size()},
        {"resamples", resamples},
        {"confidence", 0.95},
        {"metrics", metrics},
        {"gate", {{"metrics", gates}, {"max_drop", max_drop}, {"failed", tripped}}},
    };
    if (seg != Segmentation::kNone) j["segments"] = segments;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("A %s vs B %s on %zu customers (paired bootstrap, %d resamples)\n",
                (ma->model_id.empty() ? "?" : ma->model_id.c_str()), (mb->model_id.empty() ? "?" : mb->model_id.c_str()),
                al.size(), resamples);
    auto table = [](const nlohmann::json& m) {
      std::printf("  %-14s %9s %9s %9s  %-21s %7s\n", "metric", "A", "B", "B-A", "95% interval", "p");
      for (const auto& [name, v] : m.items()) {
        std::printf("  %-14s %9.4f %9.4f %+9.4f  [%+8.4f, %+8.4f] %7.4f\n", name.c_str(), v["a"].get<double>(),
                    v["b"].get<double>(), v["diff"].get<double>(), v["ci_low"].get<double>(),
                    v["ci_high"].get<double>(), v["p_value"].get<double>());
      }
    };
    table(metrics);
    for (const auto& [s, v] : segments.items()) {
      std::printf("segment %s (%d customers)\n", s.c_str(), v["customers"].get<int>());
      table(v["metrics"]);
    }
    for (const std::string& g : tripped) {
      std::printf("GATE: B is worse than A on %s beyond --max_drop %.4f\n", g.c_str(), max_drop);
    }
  }
  return tripped.empty() ? 0 : 3;
}

int Split() {
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string train_out = absl::GetFlag(FLAGS_train_out), test_out = absl::GetFlag(FLAGS_test_out);
  const std::string val_out = absl::GetFlag(FLAGS_validation_out);
  if (input.empty() || train_out.empty() || test_out.empty()) {
    return Usage("split needs --input, --train_out and --test_out");
  }
  SplitOptions so;
  auto method = ParseSplitMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok()) return Usage(std::string(method.status().message()));
  so.method = *method;
  so.test_fraction = absl::GetFlag(FLAGS_test_fraction);
  if (!(so.test_fraction > 0 && so.test_fraction < 1)) return Usage("--test_fraction must be in (0, 1)");
  if (const std::string c = absl::GetFlag(FLAGS_cutoff); !c.empty()) {
    auto t = ParseTimestamp(c);
    if (!t) return Usage(absl::StrCat("bad --cutoff '", c, "'"));
    so.cutoff = *t;
  }
  so.validation = !val_out.empty();
  so.seed = absl::GetFlag(FLAGS_seed);
  auto lo = LoadOptionsFromFlags();
  if (!lo.ok()) return Usage(std::string(lo.status().message()));
  auto file = MappedFile::Open(input);
  if (!file.ok()) return Fail(file.status());
  EventLog log;
  LoadStats stats;
  std::vector<absl::string_view> records;
  absl::string_view header;
  if (absl::Status s = LoadEventsBuffer(file->data(), input, *lo, &log, &stats, &records, &header); !s.ok()) {
    return Fail(s);
  }
  SplitResult r = SplitEvents(log, so);
  std::string parts[3];
  for (std::string& p : parts) {
    if (lo->format != InputFormat::kNcf) absl::StrAppend(&p, header, "\n");
  }
  for (size_t e = 0; e < records.size(); ++e) {
    const int p = static_cast<int>(r.part[e]);
    if (p < 3) absl::StrAppend(&parts[p], records[e], "\n");
  }
  const std::pair<std::string, int> outs[] = {{train_out, 0}, {test_out, 1}, {val_out, 2}};
  for (const auto& [path, p] : outs) {
    if (path.empty()) continue;
    if (absl::Status s = WriteFileAtomically(path, parts[p]); !s.ok()) return Fail(s);
  }
  nlohmann::json j = {{"method", absl::GetFlag(FLAGS_method)},
                      {"rows_read", stats.records},
                      {"rows_not_loaded", stats.records - stats.loaded},
                      {"train", r.counts[0]},
                      {"test", r.counts[1]},
                      {"validation", r.counts[2]},
                      {"dropped", r.counts[3]}};
  if (so.method == SplitMethod::kTime) {
    j["test_cutoff"] = r.test_cutoff;
    if (so.validation) j["validation_cutoff"] = r.validation_cutoff;
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

int Info(const Model& m) {
  nlohmann::json j = m.metadata;
  j["customers"] = m.customers.size();
  j["products"] = m.products.size();
  j["factors"] = m.num_factors();
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

int Recommend(Model model) {
  auto rec = Recommender::Create(std::make_shared<const Model>(std::move(model)), nullptr);
  if (!rec.ok()) return Fail(rec.status());
  const Model& m = (*rec)->model();
  std::vector<std::string> ids;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_customers), ',', absl::SkipEmpty())) {
    ids.emplace_back(s);
  }
  for (int i = 0; ids.empty() && i < absl::GetFlag(FLAGS_sample) && i < static_cast<int>(m.customers.size()); ++i) {
    ids.push_back(m.customers.id(static_cast<uint32_t>(i)));
  }
  const int count = absl::GetFlag(FLAGS_count);
  if (count < 1 || count > 1000) return Usage("--count must be in [1, 1000]");
  RecommendOptions o;
  o.count = static_cast<size_t>(count);
  int status = 0;
  for (const std::string& id : ids) {
    auto res = (*rec)->ForCustomer(id, o);
    if (!res.ok()) return Fail(res.status());
    if (res->fallback) {
      std::printf("customer %s: unknown; most popular products instead:\n", id.c_str());
      status = 1;
    } else {
      std::printf("customer %s (%u products bought):\n", id.c_str(), m.purchased.RowLength(*m.customers.Find(id)));
    }
    for (const Recommendation& r : res->items) {
      std::printf("  %-16s %s %.4f\n", m.products.id(r.product).c_str(), res->fallback ? "popularity" : "score",
                  r.score);
    }
  }
  return status;
}

int Ncf() {
  auto m = ReadModel(absl::GetFlag(FLAGS_model));
  if (!m.ok()) return Fail(m.status());
  auto cases = ReadNcfCases(absl::GetFlag(FLAGS_negatives), absl::GetFlag(FLAGS_test));
  if (!cases.ok()) return Fail(cases.status());
  auto ks = ParseKs(absl::GetFlag(FLAGS_k));
  if (!ks.ok()) return Usage(std::string(ks.status().message()));
  const int k = absl::GetFlag(FLAGS_k).find(',') == std::string::npos ? ks->front() : 10;
  NcfResult r = EvaluateNcf(*m, *MakeModelScorer(*m), *cases, k);
  NcfResult pop = EvaluateNcf(*m, *MakePopularityScorer(*m), *cases, k);
  NcfResult rnd = EvaluateNcf(*m, *MakeRandomScorer(*m, absl::GetFlag(FLAGS_seed)), *cases, k);
  const std::string hr = absl::StrCat("hr@", k), ndcg = absl::StrCat("ndcg@", k);
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json j = {
        {"schema", "aisle.ncf.v1"},
        {"model_id", m->model_id},
        {"k", k},
        {"users", r.users},
        {hr, r.hit_rate},
        {ndcg, r.ndcg},
        {"unknown_users", r.unknown_users},
        {"unknown_test_items", r.unknown_test_items},
        {"unknown_negatives", r.unknown_negatives},
        {"test_item_in_negatives", r.test_item_in_negatives},
        {"baselines",
         {{"popularity", {{hr, pop.hit_rate}, {ndcg, pop.ndcg}}}, {"random", {{hr, rnd.hit_rate}, {ndcg, rnd.ndcg}}}}},
    };
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("NCF protocol, %llu users, k = %d\n", static_cast<unsigned long long>(r.users), k);
  std::printf("%-12s %8s %8s\n", "ranking", hr.c_str(), ndcg.c_str());
  std::printf("%-12s %8.4f %8.4f\n", "model", r.hit_rate, r.ndcg);
  std::printf("%-12s %8.4f %8.4f\n", "popularity", pop.hit_rate, pop.ndcg);
  std::printf("%-12s %8.4f %8.4f\n", "random", rnd.hit_rate, rnd.ndcg);
  std::printf("unknown users %llu, unknown test items %llu, unknown negatives %llu, test item among its "
              "negatives %llu\n",
              static_cast<unsigned long long>(r.unknown_users), static_cast<unsigned long long>(r.unknown_test_items),
              static_cast<unsigned long long>(r.unknown_negatives),
              static_cast<unsigned long long>(r.test_item_in_negatives));
  return 0;
}

}  // namespace
}  // namespace aisle

int main(int argc, char** argv) {
    aisle::SetProgramUsage("aisle-eval",
      "Offline evaluation of aisle models.\n"
      "Usage: aisle-eval evaluate --model M --test FILE [--k 5,10,20] [--json]\n"
      "       aisle-eval compare --a M1 --b M2 --test FILE [--segment country] [--fail_if_worse ndcg@10]\n"
      "       aisle-eval split --input FILE --method time|last_basket|leave_one_out --train_out F --test_out F\n"
      "       aisle-eval ncf --model M --test NAME.test.rating --negatives NAME.test.negative\n"
      "       aisle-eval offers --model M --offers FILE --test FILE [--n 3] [--at TIME] [--json]\n"
      "       aisle-eval live --model M --test FILE [--k 10] [--json]\n"
      "       aisle-eval batch --model M --count N --output FILE [--offers F] [--events_dir DIR] [--customers_file F]\n"
      "       aisle-eval experiment --exposures DIR --events DIR [--experiments_file F] [--window 7d] [--json [--output FILE]]\n"
      "       aisle-eval info --model M\n"
      "       aisle-eval recommend --model M [--customers ID,...] [--count N]",
                         [](absl::string_view f) {
                           return absl::StrContains(f, "eval_main.cc") || absl::StrContains(f, "batch_command.cc") ||
                                  absl::StrContains(f, "experiment_command.cc");
                         });
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) return aisle::Usage("expected one subcommand");
  const std::string cmd = args[1];
  if (cmd == "evaluate") return aisle::EvaluateCommand();
  if (cmd == "compare") return aisle::Compare();
  if (cmd == "split") return aisle::Split();
  if (cmd == "ncf") return aisle::Ncf();
  if (cmd == "offers") return aisle::OffersCommand();
  if (cmd == "live") return aisle::LiveCommand();
  if (cmd == "batch") return aisle::BatchCommand();
  if (cmd == "experiment") return aisle::ExperimentCommand();
  if (cmd == "info" || cmd == "recommend") {
    auto model = aisle::ReadModel(absl::GetFlag(FLAGS_model));
    if (!model.ok()) return aisle::Fail(model.status());
    return cmd == "info" ? aisle::Info(*model) : aisle::Recommend(std::move(*model));
  }
  return aisle::Usage(absl::StrCat("unknown subcommand '", cmd, "'"));
}

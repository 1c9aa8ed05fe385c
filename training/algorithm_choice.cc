#include "training/algorithm_choice.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/stopwatch.h"

namespace aisle {
namespace {

// The candidates, from the caller's options.
std::vector<TrainJobOptions> Candidates(const TrainJobOptions& base, uint64_t products) {
  std::vector<TrainJobOptions> out;
  TrainJobOptions o = base;
  o.auto_algorithm = false;
  o.buy_again = false;
  o.buy_again_fitted.reset();
  o.log = nullptr;
  o.algorithm = Algorithm::kIals;
  out.push_back(o);
  TrainJobOptions wide = o;
  wide.ials.factors = std::min(2 * o.ials.factors, 256);
  if (wide.ials.factors != o.ials.factors) out.push_back(wide);
  TrainJobOptions strong = o;
  strong.ials.objective.regularization = 10 * o.ials.objective.regularization;
  out.push_back(strong);
  TrainJobOptions knn = o;
  knn.algorithm = Algorithm::kItemKnn;
  out.push_back(knn);
  if (products <= base.item_item.ease.max_products) {
    TrainJobOptions ease = o;
    ease.algorithm = Algorithm::kEase;
    out.push_back(ease);
    ease.item_item.ease.lambda = 4 * o.item_item.ease.lambda;
    out.push_back(ease);
  }
  return out;
}

}  // namespace

absl::StatusOr<AlgorithmChoice> ChooseAlgorithm(const EventLog& log, const LoadStats& stats,
                                                const TrainJobOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.log != nullptr) std::fprintf(options.log, "%s\n", line.c_str());
  };
  const ValidationSplit split = SplitNewestBasket(log);
  if (split.baskets.size() < options.buy_again_min_customers) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--algorithm auto: %d customers bought on two days or more, at least %d needed to validate on their newest "
        "baskets; choose an --algorithm",
        split.baskets.size(), options.buy_again_min_customers));
  }
  const int k = options.buy_again_fit.k;
  const std::string recall_key = absl::StrCat("recall@", k), ndcg_key = absl::StrCat("ndcg@", k);
  say(absl::StrFormat("auto: validating candidates on the newest baskets of %d customers (%s)", split.baskets.size(),
                      ndcg_key));
  const std::vector<TrainJobOptions> candidates = Candidates(options, log.products.size());
  nlohmann::json reports = nlohmann::json::array();
  std::optional<size_t> best;
  double best_ndcg = -1;
  std::vector<std::optional<BuyAgainFit>> fits(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Stopwatch t;
    const TrainJobOptions& c = candidates[i];
    auto trained = TrainOnLog(split.train, stats, c);
    if (!trained.ok()) {
      say(absl::StrCat("auto: ", AlgorithmName(c.algorithm), " failed: ", trained.status().message()));
      reports.push_back({{"algorithm", AlgorithmName(c.algorithm)}, {"error", trained.status().message()}});
      continue;
    }
    const Model& model = trained->model;
    const std::vector<HeldOutBasket> baskets = ResolveBaskets(split, log, model);
    double recall = 0, ndcg = 0;
    bool blended = false;
    if (options.buy_again) {
      auto fit = FitBuyAgain(model, baskets, options.buy_again_fit);
      if (fit.ok()) {
        // The chosen rule's figures: what the final model would serve.
        for (const auto& rule : fit->report["rules"]) {
          if (rule["min_due_fraction"].get<float>() == fit->params.min_due_fraction) {
            recall = rule[recall_key].get<double>();
            ndcg = rule[ndcg_key].get<double>();
            blended = true;
          }
        }
        fits[i] = *std::move(fit);
      }
    }
    if (!blended) {
      const HeldOutFigures alone = ScoreModelAlone(model, baskets, k);
      recall = alone.recall;
      ndcg = alone.ndcg;
    }
    const double seconds = t.Seconds();
    reports.push_back({{"algorithm", AlgorithmName(c.algorithm)},
                       {"hyperparameters", model.metadata["hyperparameters"]},
                       {"buy_again", blended},
                       {recall_key, recall},
                       {ndcg_key, ndcg},
                       {"seconds", seconds}});
    say(absl::StrFormat("auto: %s %s: %s %.4f, %s %.4f%s (%.1f s)", AlgorithmName(c.algorithm),
                        model.metadata["hyperparameters"].dump(), recall_key, recall, ndcg_key, ndcg,
                        blended ? " with buy-again" : "", seconds));
    if (ndcg > best_ndcg) {
      best_ndcg = ndcg;
      best = i;
    }
  }
  if (!best) return absl::InvalidArgumentError("--algorithm auto: every candidate failed to train");
  AlgorithmChoice out;
  out.options = candidates[*best];
  out.options.log = options.log;
  out.options.buy_again_fitted = std::move(fits[*best]);
  out.options.buy_again = out.options.buy_again_fitted.has_value();
  out.report = {{"metric", ndcg_key},
                {"held_out_baskets", split.baskets.size()},
                {"candidates", reports},
                {"chosen", *best}};
  say(absl::StrFormat("auto: chose %s (%s %.4f)", AlgorithmName(out.options.algorithm), ndcg_key, best_ndcg));
  return out;
}

}  // namespace aisle

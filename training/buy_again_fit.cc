#include "training/buy_again_fit.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/topk.h"
#include "engine/product_scorer.h"
#include "evaluation/scorer.h"

namespace aisle {

ValidationSplit SplitNewestBasket(const EventLog& log) {
  ValidationSplit out;
  const size_t nc = log.customers.size();
  constexpr int32_t kNone = INT32_MIN;
  std::vector<int32_t> newest(nc, kNone), previous(nc, kNone);
  for (const Event& e : log.events) {
    if (e.type != EventType::kPurchase) continue;
    const int32_t d = PurchaseDay(e.timestamp);
    if (d > newest[e.customer]) {
      previous[e.customer] = newest[e.customer];
      newest[e.customer] = d;
    } else if (d < newest[e.customer] && d > previous[e.customer]) {
      previous[e.customer] = d;
    }
  }
  // Customers bought on two days or more lose their newest.
  std::vector<char> held(nc, 0);
  for (size_t c = 0; c < nc; ++c) held[c] = previous[c] != kNone;
  out.train.customers = log.customers;
  out.train.products = log.products;
  out.train.countries = log.countries;
  out.train.journal_through_segment = log.journal_through_segment;
  std::vector<std::vector<uint32_t>> basket(nc);
  for (const Event& e : log.events) {
    if (held[e.customer] && PurchaseDay(e.timestamp) >= newest[e.customer]) {
      if (e.type == EventType::kPurchase && PurchaseDay(e.timestamp) == newest[e.customer]) {
        basket[e.customer].push_back(e.product);
      }
      continue;
    }
    out.train.events.push_back(e);
  }
  for (uint32_t c = 0; c < nc; ++c) {
    if (!held[c]) continue;
    std::vector<uint32_t>& b = basket[c];
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    out.baskets.push_back({c, newest[c], std::move(b)});
  }
  return out;
}

std::vector<HeldOutBasket> ResolveBaskets(const ValidationSplit& split, const EventLog& log, const Model& model) {
  std::vector<HeldOutBasket> out;
  for (const ValidationSplit::Basket& b : split.baskets) {
    auto c = model.customers.Find(log.customers.id_view(b.customer));
    if (!c) continue;
    HeldOutBasket h{*c, b.day, {}, 0};
    for (uint32_t p : b.products) {
      if (auto m = model.products.Find(log.products.id_view(p))) {
        h.products.push_back(*m);
      } else {
        ++h.unknown;
      }
    }
    std::sort(h.products.begin(), h.products.end());
    out.push_back(std::move(h));
  }
  return out;
}

namespace {

// The conditional logit's penalized negative log-likelihood at `w`, and
// (when `g` is given) its gradient and Hessian: each group is one basket's
// candidates, each positive a draw from the softmax over them.
double ConditionalLogitLoss(const std::vector<BuyAgainVector>& x, const std::vector<uint8_t>& y,
                            const std::vector<size_t>& groups, double ridge, const Eigen::VectorXd& w,
                            Eigen::VectorXd* g, Eigen::MatrixXd* h) {
  constexpr int d = kNumBuyAgainFeatures;
  double loss = 0.5 * ridge * w.squaredNorm();
  if (g != nullptr) {
    *g = ridge * w;
    *h = Eigen::MatrixXd::Identity(d, d) * ridge;
  }
  std::vector<double> z;
  for (size_t gi = 0; gi + 1 < groups.size(); ++gi) {
    const size_t b = groups[gi], e = groups[gi + 1];
    double npos = 0;
    for (size_t r = b; r < e; ++r) npos += y[r];
    if (npos == 0 || e - b < 2) continue;
    z.assign(e - b, 0);
    double top = -INFINITY;
    for (size_t r = b; r < e; ++r) {
      Eigen::Map<const Eigen::Matrix<float, d, 1>> xr(x[r].data());
      z[r - b] = w.dot(xr.cast<double>());
      top = std::max(top, z[r - b]);
    }
    double sum = 0;
    for (double v : z) sum += std::exp(v - top);
    const double log_sum = top + std::log(sum);
    for (size_t r = b; r < e; ++r) {
      if (y[r]) loss += log_sum - z[r - b];
    }
    if (g == nullptr) continue;
    Eigen::VectorXd mean = Eigen::VectorXd::Zero(d);
    Eigen::MatrixXd second = Eigen::MatrixXd::Zero(d, d);
    for (size_t r = b; r < e; ++r) {
      Eigen::Map<const Eigen::Matrix<float, d, 1>> xr(x[r].data());
      const Eigen::VectorXd xd = xr.cast<double>();
      const double p = std::exp(z[r - b] - log_sum);
      mean += p * xd;
      second.selfadjointView<Eigen::Lower>().rankUpdate(xd, p);
      if (y[r]) *g -= xd;
    }
    *g += npos * mean;
    second = second.selfadjointView<Eigen::Lower>();
    *h += npos * (second - mean * mean.transpose());
  }
  return loss;
}

}  // namespace

BuyAgainVector FitConditionalLogit(const std::vector<BuyAgainVector>& x, const std::vector<uint8_t>& y,
                                   const std::vector<size_t>& groups, double l2) {
  constexpr int d = kNumBuyAgainFeatures;
  double positives = 0;
  for (uint8_t v : y) positives += v;
  // At least a unit ridge: features constant within every basket (no
  // times in the data) or baskets separated perfectly leave the likelihood
  // flat in some direction; the ridge keeps the weights finite and small there.
  const double ridge = std::max(1.0, l2 * positives);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d), g;
  Eigen::MatrixXd h;
  double loss = ConditionalLogitLoss(x, y, groups, ridge, w, &g, &h);
  for (int iter = 0; iter < 50; ++iter) {
    const Eigen::VectorXd step = h.ldlt().solve(g);
    if (!step.allFinite()) break;
    // Newton with backtracking: halve the step until the loss falls.
    double t = 1;
    Eigen::VectorXd next;
    double next_loss = INFINITY;
    for (int halving = 0; halving < 30; ++halving, t /= 2) {
      next = w - t * step;
      next_loss = ConditionalLogitLoss(x, y, groups, ridge, next, nullptr, nullptr);
      if (std::isfinite(next_loss) && next_loss <= loss) break;
    }
    if (!(next_loss <= loss)) break;
    const bool converged = loss - next_loss < 1e-9 * (1 + std::abs(loss));
    w = next;
    loss = ConditionalLogitLoss(x, y, groups, ridge, w, &g, &h);
    if (converged) break;
  }
  BuyAgainVector out{};
  for (int f = 0; f < d; ++f) out[f] = static_cast<float>(std::clamp(w[f], -1e3, 1e3));
  return out;
}

BuyAgainVector RefitOnBest(const std::vector<BuyAgainVector>& x, const std::vector<uint8_t>& y,
                           const std::vector<size_t>& groups, const BuyAgainVector& weights, size_t keep, double l2) {
  BuyAgainParams logit;
  logit.weights = weights;
  std::vector<BuyAgainVector> bx;
  std::vector<uint8_t> by;
  std::vector<size_t> bg = {0};
  std::vector<std::pair<float, size_t>> order;
  for (size_t g = 0; g + 1 < groups.size(); ++g) {
    order.clear();
    for (size_t r = groups[g]; r < groups[g + 1]; ++r) order.push_back({-logit.Logit(x[r]), r});
    const size_t n = std::min(keep, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(n), order.end());
    for (size_t j = 0; j < n; ++j) {
      bx.push_back(x[order[j].second]);
      by.push_back(y[order[j].second]);
    }
    bg.push_back(bx.size());
  }
  return FitConditionalLogit(bx, by, bg, l2);
}

namespace {

// Baskets scored together (ProductScorer::Customers): 64 x 50k products
// is 12.8 MB a thread, and the product factors are packed once per 64.
constexpr long kBlock = 64;

struct Figures {
  double recall = 0, ndcg = 0;
};

// Recall and NDCG at k of a ranking (NaN scores never shown) against a basket.
void Score(const std::vector<float>& scores, const HeldOutBasket& b, int k, Figures* sum) {
  std::vector<ScoredItem> top = SelectTopK(scores, static_cast<size_t>(k));
  const size_t relevant = b.products.size() + b.unknown;
  if (relevant == 0) return;
  double hits = 0, dcg = 0, idcg = 0;
  for (size_t pos = 0; pos < top.size(); ++pos) {
    if (std::binary_search(b.products.begin(), b.products.end(), top[pos].index)) {
      hits += 1;
      dcg += 1 / std::log2(pos + 2.0);
    }
  }
  for (size_t pos = 0; pos < std::min<size_t>(k, relevant); ++pos) idcg += 1 / std::log2(pos + 2.0);
  sum->recall += hits / static_cast<double>(relevant);
  sum->ndcg += dcg / idcg;
}

// The model's scores of held-out baskets' customers, for one thread of a
// loop that hands out baskets in chunks of kBlock (schedule(dynamic,
// kBlock)): the chunk's customers are scored in one matrix product at its
// first basket and read from the cache after (the product factors once per
// chunk, not once per basket).
class BlockScores {
 public:
  BlockScores(const ProductScorer& scorer, const std::vector<HeldOutBasket>& baskets)
      : scorer_(scorer), baskets_(baskets) {}
  // Basket j's customer's scores into *s.
  void Of(long j, std::vector<float>* s) {
    const size_t np = scorer_.num_products();
    const long first = j - j % kBlock;
    if (first_ != first) {
      std::vector<uint32_t> customers;
      const long end = std::min(static_cast<long>(baskets_.size()), first + kBlock);
      for (long i = first; i < end; ++i) customers.push_back(baskets_[static_cast<size_t>(i)].customer);
      scores_.resize(customers.size() * np);
      scorer_.Customers(customers, scores_.data());
      first_ = first;
    }
    const float* row = scores_.data() + static_cast<size_t>(j - first) * np;
    s->assign(row, row + np);
  }

 private:
  const ProductScorer& scorer_;
  const std::vector<HeldOutBasket>& baskets_;
  long first_ = -1;
  std::vector<float> scores_;
};

}  // namespace

absl::StatusOr<BuyAgainFit> FitBuyAgain(const Model& model, const std::vector<HeldOutBasket>& all_baskets,
                                        const BuyAgainFitOptions& options) {
  // At most max_baskets of them, evenly spread (deterministic).
  std::vector<HeldOutBasket> sampled;
  if (options.max_baskets > 0 && all_baskets.size() > options.max_baskets) {
    sampled.reserve(options.max_baskets);
    for (size_t i = 0; i < options.max_baskets; ++i) {
      sampled.push_back(all_baskets[i * all_baskets.size() / options.max_baskets]);
    }
  }
  const std::vector<HeldOutBasket>& baskets = sampled.empty() ? all_baskets : sampled;
  if (model.history.empty()) return absl::InvalidArgumentError("the model has no purchase history");
  const size_t np = model.products.size();
  const long n = static_cast<long>(baskets.size());
  const ProductScorer scorer(model);
  BuyAgainFit best;
  double best_recall = -1;
  struct Candidate {
    BuyAgainParams params;
    double recall;
  };
  std::vector<Candidate> fits;
  nlohmann::json rules = nlohmann::json::array();
  for (float fraction : options.due_fractions) {
    BuyAgainParams params;
    params.min_due_fraction = fraction;
    params.min_repeat_rate = options.min_repeat_rate;
    const BuyAgain rule(model.purchased, model.history, static_cast<uint32_t>(np), params, &model.neighbours);
    std::vector<std::vector<BuyAgainVector>> xs(static_cast<size_t>(n));
    std::vector<std::vector<uint8_t>> ys(static_cast<size_t>(n));
#pragma omp parallel
    {
      std::vector<float> s, affinity(np);
      BlockScores scores_of(scorer, baskets);
#pragma omp for schedule(dynamic, kBlock)
      for (long j = 0; j < n; ++j) {
        const HeldOutBasket& b = baskets[static_cast<size_t>(j)];
        scores_of.Of(j, &s);
        const BoughtBefore before = BoughtBeforeOf(model.purchased, model.history, b.customer);
        const std::vector<uint32_t>& bought = before.products;
        rule.Affinities(before, affinity.data(), np);
        auto label = [&](uint32_t p) {
          return static_cast<uint8_t>(std::binary_search(b.products.begin(), b.products.end(), p));
        };
        for (size_t q = 0; q < bought.size(); ++q) {
          if (rule.Excluded(bought[q], before.pairs[q], b.day)) continue;
          xs[j].push_back(rule.Features(before, q, b.day, s[bought[q]], affinity[bought[q]]));
          ys[j].push_back(label(bought[q]));
        }
        // The model's best new products and those the customer's
        // neighbourhood likes best, each with its rank by the model's score.
        const std::vector<ScoredItem> by_score = SelectTopK(s, BuyAgain::kMaxNewRank, bought);
        std::vector<uint32_t> taken;
        for (size_t r = 0; r < by_score.size() && r < options.new_candidates; ++r) {
          const ScoredItem& t = by_score[r];
          xs[j].push_back(rule.NewFeatures(t.index, t.score, r, affinity[t.index]));
          ys[j].push_back(label(t.index));
          taken.push_back(t.index);
        }
        std::sort(taken.begin(), taken.end());
        for (const ScoredItem& t : SelectTopK(affinity, options.new_candidates, bought)) {
          if (t.score <= 0 || std::binary_search(taken.begin(), taken.end(), t.index)) continue;
          size_t r = 0;
          while (r < by_score.size() && by_score[r].index != t.index) ++r;
          xs[j].push_back(rule.NewFeatures(t.index, s[t.index], r, affinity[t.index]));
          ys[j].push_back(label(t.index));
        }
      }
    }
    std::vector<BuyAgainVector> x;
    std::vector<uint8_t> y;
    std::vector<size_t> groups = {0};
    size_t rows = 0;
    for (const auto& v : xs) rows += v.size();
    x.reserve(rows);
    for (long j = 0; j < n; ++j) {
      x.insert(x.end(), xs[j].begin(), xs[j].end());
      y.insert(y.end(), ys[j].begin(), ys[j].end());
      groups.push_back(x.size());
    }
    std::vector<std::vector<BuyAgainVector>>().swap(xs);  // the rows now live in x only
    if (x.empty() || std::count(y.begin(), y.end(), 1) == 0) continue;
    params.weights = FitConditionalLogit(x, y, groups, options.l2);
    // Refits on each basket's best candidates by the last fit (its hard
    // negatives): what decides the first k places is how the best
    // candidates compare, not how far below them the rest lie.
    for (int round = 0; round < options.refit_rounds; ++round) {
      params.weights = RefitOnBest(x, y, groups, params.weights, options.refit_candidates, options.l2);
    }
    const BuyAgain fitted(model.purchased, model.history, static_cast<uint32_t>(np), params, &model.neighbours);
    Figures sum;
#pragma omp parallel
    {
      std::vector<float> s;
      BlockScores scores_of(scorer, baskets);
      Figures local;
#pragma omp for schedule(dynamic, kBlock)
      for (long j = 0; j < n; ++j) {
        const HeldOutBasket& b = baskets[static_cast<size_t>(j)];
        scores_of.Of(j, &s);
        fitted.Blend(BoughtBeforeOf(model.purchased, model.history, b.customer), b.day, s.data(), np);
        Score(s, b, options.k, &local);
      }
#pragma omp critical
      {
        sum.recall += local.recall;
        sum.ndcg += local.ndcg;
      }
    }
    const double recall = sum.recall / static_cast<double>(n), ndcg = sum.ndcg / static_cast<double>(n);
    rules.push_back({{"min_due_fraction", fraction},
                     {absl::StrCat("recall@", options.k), recall},
                     {absl::StrCat("ndcg@", options.k), ndcg},
                     {"examples", x.size()}});
    fits.push_back({params, recall});
  }
  if (fits.empty()) return absl::InvalidArgumentError("no held-out basket holds a candidate to learn buy-again from");
  // The strictest rule (the largest fraction) within the tolerance of the
  // best recall: the seeds' "not again soon" wherever the data does not
  // clearly argue against it (validation cannot see a visit the day after
  // a purchase when customers never made one).
  double top = 0;
  for (const Candidate& f : fits) top = std::max(top, f.recall);
  for (const Candidate& f : fits) {
    if (f.recall >= top * (1 - options.rule_tolerance) &&
        (best_recall < 0 || f.params.min_due_fraction > best.params.min_due_fraction)) {
      best_recall = f.recall;
      best.params = f.params;
    }
  }
  // The baselines on the same baskets: the model alone, P-TopFreq.
  const HeldOutFigures model_alone = ScoreModelAlone(model, baskets, options.k);
  Figures alone{model_alone.recall * n, model_alone.ndcg * n}, frequent;
  const std::unique_ptr<Scorer> ptop = MakePersonalTopFrequencyScorer(model);
#pragma omp parallel
  {
    std::vector<float> s(np);
    Figures f;
#pragma omp for schedule(dynamic, kBlock)
    for (long j = 0; j < n; ++j) {
      const HeldOutBasket& b = baskets[static_cast<size_t>(j)];
      ptop->ScoreAll(b.customer, s.data());
      Score(s, b, options.k, &f);
    }
#pragma omp critical
    {
      frequent.recall += f.recall;
      frequent.ndcg += f.ndcg;
    }
  }
  const std::string r = absl::StrCat("recall@", options.k), g = absl::StrCat("ndcg@", options.k);
  if (best_recall < alone.recall / n) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "on %d held-out baskets buy-again's recall@%d (%.4f) is below the model's alone (%.4f): not used", n,
        options.k, best_recall, alone.recall / n));
  }
  best.report = {{"customers", n},
                 {"baskets_held_out", all_baskets.size()},
                 {"rules", rules},
                 {"chosen", {{"min_due_fraction", best.params.min_due_fraction}, {r, best_recall}}},
                 {"model_new_only", {{r, alone.recall / n}, {g, alone.ndcg / n}}},
                 {"personal_top_frequency", {{r, frequent.recall / n}, {g, frequent.ndcg / n}}}};
  return best;
}

HeldOutFigures ScoreModelAlone(const Model& model, const std::vector<HeldOutBasket>& baskets, int k) {
  const ProductScorer scorer(model);
  const long n = static_cast<long>(baskets.size());
  Figures sum;
#pragma omp parallel
  {
    std::vector<float> s;
    BlockScores scores_of(scorer, baskets);
    Figures local;
#pragma omp for schedule(dynamic, kBlock)
    for (long j = 0; j < n; ++j) {
      const HeldOutBasket& b = baskets[static_cast<size_t>(j)];
      scores_of.Of(j, &s);
      for (uint32_t p : model.purchased.RowIndices(b.customer)) s[p] = NAN;
      Score(s, b, k, &local);
    }
#pragma omp critical
    {
      sum.recall += local.recall;
      sum.ndcg += local.ndcg;
    }
  }
  HeldOutFigures out;
  out.customers = baskets.size();
  if (n > 0) {
    out.recall = sum.recall / static_cast<double>(n);
    out.ndcg = sum.ndcg / static_cast<double>(n);
  }
  return out;
}

}  // namespace aisle

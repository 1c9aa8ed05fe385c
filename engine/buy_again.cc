#include "engine/buy_again.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace aisle {
namespace {

// Prior weights: a product's rate counts as this many purchases at the
// catalog's rate, its interval as this many gaps of the catalog's median.
constexpr double kRatePrior = 5;
constexpr double kIntervalPrior = 3;
// A customer's own mean gap counts as this many of the product's.
constexpr double kOwnIntervalPrior = 2;

float Median(std::vector<float>* v) {
  if (v->empty()) return 0;
  auto mid = v->begin() + static_cast<ptrdiff_t>(v->size() / 2);
  std::nth_element(v->begin(), mid, v->end());
  return *mid;
}

const char* const kNames[kNumBuyAgainFeatures] = {
    "repeat_bias", "log_times",     "log_share", "log_customer_days", "customer_repeat", "log_since", "log_since_squared", "log_recent", "log_lag", "due",      "due_squared", "repeat_logit",
    "repeat_score", "repeat_buyers", "repeat_neighbours", "new_bias",  "new_score", "new_rank", "new_buyers", "new_neighbours"};

// The floor under an affinity before its log.
constexpr double kAffinityFloor = 1e-3;

}  // namespace

void BoughtBefore::Finish() {
  last_day = INT32_MIN;
  affinity_weights.resize(pairs.size());
  double sum = 0, occasions = 0, repeats = 0;
  for (size_t j = 0; j < pairs.size(); ++j) {
    last_day = std::max(last_day, pairs[j].last_day);
    occasions += pairs[j].days;
    repeats += pairs[j].days > 0 ? pairs[j].days - 1 : 0;
    affinity_weights[j] = std::max(pairs[j].recent, 1e-6f);
    sum += affinity_weights[j];
  }
  for (float& x : affinity_weights) x = static_cast<float>(x / sum);
  repeat_logit = static_cast<float>(std::log((repeats + 1) / (occasions - repeats + 1)));
}

BoughtBefore BoughtBeforeOf(const CsrMatrix& purchased, const PurchaseHistory& h, uint32_t c) {
  BoughtBefore b;
  auto row = purchased.RowIndices(c);
  b.products.assign(row.begin(), row.end());
  b.pairs.reserve(row.size());
  for (uint64_t p = purchased.indptr[c]; p < purchased.indptr[c + 1]; ++p) b.pairs.push_back(PairAt(h, p));
  b.customer_days = h.customer_days[c];
  b.Finish();
  return b;
}

bool BuyAgainParams::learnt() const {
  return std::any_of(weights.begin(), weights.end(), [](float w) { return w != 0; });
}

nlohmann::json BuyAgainParams::ToJson() const {
  nlohmann::json w = nlohmann::json::object();
  for (int f = 0; f < kNumBuyAgainFeatures; ++f) w[kNames[f]] = weights[f];
  return {{"weights", w}, {"min_repeat_rate", min_repeat_rate}, {"min_due_fraction", min_due_fraction}};
}

absl::StatusOr<BuyAgainParams> BuyAgainParams::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("metadata buy_again is not an object");
  BuyAgainParams p;
  auto number = [&](const nlohmann::json& v, const std::string& what, double lo, double hi) -> absl::StatusOr<float> {
    const double x = v.is_number() ? v.get<double>() : NAN;
    if (!(x >= lo && x <= hi)) {
      return absl::InvalidArgumentError(absl::StrCat("metadata buy_again ", what, " is not a number in [", lo, ", ", hi, "]"));
    }
    return static_cast<float>(x);
  };
  if (auto w = j.find("weights"); w != j.end()) {
    if (!w->is_object()) return absl::InvalidArgumentError("metadata buy_again weights is not an object");
    for (int f = 0; f < kNumBuyAgainFeatures; ++f) {
      auto it = w->find(kNames[f]);
      if (it == w->end()) continue;
      auto x = number(*it, absl::StrCat("weight ", kNames[f]), -1e4, 1e4);
      if (!x.ok()) return x.status();
      p.weights[f] = *x;
    }
  }
  for (auto [name, field] : {std::pair{"min_repeat_rate", &p.min_repeat_rate}, {"min_due_fraction", &p.min_due_fraction}}) {
    auto it = j.find(name);
    if (it == j.end()) continue;
    auto x = number(*it, name, 0, 1);
    if (!x.ok()) return x.status();
    *field = *x;
  }
  return p;
}

BuyAgain::BuyAgain(const CsrMatrix& purchased, const PurchaseHistory& history, uint32_t num_products,
                   const BuyAgainParams& params, const ItemNeighbours* neighbours)
    : params_(params), neighbours_(neighbours), reference_day_(history.reference_day) {
  if (history.days.size() != purchased.nnz() || history.days.empty()) return;
  std::vector<double> occasions(num_products, 0), repeats(num_products, 0), buyers(num_products, 0);
  std::vector<uint32_t> gap_count(num_products + 1, 0);
  for (uint64_t p = 0; p < purchased.nnz(); ++p) {
    const uint32_t i = purchased.indices[p];
    occasions[i] += history.days[p];
    repeats[i] += history.days[p] - 1;
    buyers[i] += 1;
    if (history.days[p] >= 2) ++gap_count[i + 1];
  }
  // Mean gaps of repeat buyers, bucketed by product.
  for (uint32_t i = 0; i < num_products; ++i) gap_count[i + 1] += gap_count[i];
  std::vector<float> gaps(gap_count[num_products]);
  std::vector<uint32_t> next(gap_count.begin(), gap_count.end() - 1);
  for (uint64_t p = 0; p < purchased.nnz(); ++p) {
    if (history.days[p] < 2) continue;
    gaps[next[purchased.indices[p]]++] =
        static_cast<float>(history.last_day[p] - history.first_day[p]) / static_cast<float>(history.days[p] - 1);
  }
  double all_occasions = 0, all_repeats = 0;
  for (uint32_t i = 0; i < num_products; ++i) {
    all_occasions += occasions[i];
    all_repeats += repeats[i];
  }
  const double global_rate = all_occasions > 0 ? all_repeats / all_occasions : 0;
  std::vector<float> all_gaps = gaps;
  const double global_interval = all_gaps.empty() ? 30.0 : Median(&all_gaps);
  stats_.resize(num_products);
  for (uint32_t i = 0; i < num_products; ++i) {
    RepurchaseStats& s = stats_[i];
    s.log_buyers = static_cast<float>(std::log1p(buyers[i]));
    s.observed_rate = occasions[i] > 0 ? static_cast<float>(repeats[i] / occasions[i]) : 0.0f;
    s.repeat_rate = static_cast<float>((repeats[i] + kRatePrior * global_rate) / (occasions[i] + kRatePrior));
    std::vector<float> own(gaps.begin() + gap_count[i], gaps.begin() + gap_count[i + 1]);
    const double m = static_cast<double>(own.size());
    s.interval_days =
        static_cast<float>((m * (own.empty() ? 0.0 : Median(&own)) + kIntervalPrior * global_interval) / (m + kIntervalPrior));
  }
}

float BuyAgain::Interval(uint32_t product, const PairHistory& h) const {
  const double base = stats_[product].interval_days;
  if (h.days < 2) return static_cast<float>(base);
  const double n = h.days - 1;
  const double own = static_cast<double>(h.last_day - h.first_day) / n;
  return static_cast<float>((n * own + kOwnIntervalPrior * base) / (n + kOwnIntervalPrior));
}

bool BuyAgain::Excluded(uint32_t product, const PairHistory& h, int32_t now_day) const {
  if (!Repurchasable(product)) return true;
  const double since = std::max<int64_t>(0, static_cast<int64_t>(now_day) - h.last_day);
  // Never on the day it was bought, whatever the fraction.
  return since < 1 || since < params_.min_due_fraction * Interval(product, h);
}

void BuyAgain::FindAffinities(BoughtBefore* b) const {
  b->affinity.clear();
  b->affinity_dense.clear();
  if (neighbours_ == nullptr || neighbours_->empty()) return;
  const CsrMatrix& m = neighbours_->similar;
  size_t entries = 0;
  for (uint32_t s : b->products) entries += s < m.rows ? m.RowLength(s) : 0;
  // Zeroing a small catalog's floats is cheaper than hashing the entries
  // (Online Retail: 3,665 products, 4,500 entries for a typical customer).
  if (m.rows <= 16 * entries) {
    b->affinity_dense.assign(m.rows, 0.0f);
    neighbours_->Accumulate(b->products, b->affinity_weights, b->affinity_dense.data());
    return;
  }
  b->affinity.reserve(entries);
  neighbours_->ForEachWeighted(b->products, b->affinity_weights,
                               [b](uint32_t t, float x) { b->affinity[t] += x; });
}

void BuyAgain::FindAffinities(BoughtBefore* b, absl::Span<const uint32_t> targets) const {
  b->affinity.clear();
  b->affinity_dense.clear();
  if (neighbours_ == nullptr || neighbours_->empty() || targets.empty()) return;
  const CsrMatrix& m = neighbours_->similar;
  // The targets as a bitset over the products with a running count per
  // word (a few KB, in L1): each neighbour entry is one bit test, and a
  // target's position is its rank, the targets in the words before it plus
  // those below it in its word (a branchy merge of each list with the
  // targets cost a third of a default answer's CPU on a 50k-product
  // catalog; a binary search per hit, twice the merge's time where most
  // neighbours are bought too).
  const size_t words = (m.rows + 63) / 64;
  std::vector<uint64_t> is_target(words, 0);
  for (uint32_t t : targets) {
    if (t < m.rows) is_target[t >> 6] |= uint64_t{1} << (t & 63);
  }
  std::vector<uint32_t> before(words);
  uint32_t running = 0;
  for (size_t w = 0; w < words; ++w) {
    before[w] = running;
    running += static_cast<uint32_t>(std::popcount(is_target[w]));
  }
  // Targets past the catalog have no neighbours: their sums stay 0.
  std::vector<float> sum(targets.size(), 0.0f);
  // The map's sums: for each target, the same terms in the same order.
  for (size_t j = 0; j < b->products.size(); ++j) {
    const uint32_t s = b->products[j];
    if (s >= m.rows) continue;
    const float w = b->affinity_weights.empty() ? 1.0f : b->affinity_weights[j];
    for (uint64_t e = m.indptr[s], end = m.indptr[s + 1]; e < end; ++e) {
      const uint32_t t = m.indices[e];
      const uint64_t word = is_target[t >> 6];
      const uint64_t bit = uint64_t{1} << (t & 63);
      if (!(word & bit)) continue;
      sum[before[t >> 6] + std::popcount(word & (bit - 1))] += w * m.values[e];
    }
  }
  b->affinity.reserve(targets.size());
  for (size_t t = 0; t < targets.size(); ++t) {
    if (sum[t] != 0) b->affinity[targets[t]] = sum[t];
  }
}

size_t RepurchaseState::Bytes() const {
  return sizeof(*this) + history.products.capacity() * sizeof(uint32_t) +
         history.pairs.capacity() * sizeof(PairHistory) + history.affinity_weights.capacity() * sizeof(float) +
         (scores.capacity() + affinities.capacity() + list_affinities.capacity()) * sizeof(float) +
         sizeof(DueOnDay) + 32 + history.products.size() * sizeof(DueItem);
}

void BuyAgain::Affinities(const BoughtBefore& b, float* out, size_t num_products) const {
  std::fill(out, out + num_products, 0.0f);
  if (neighbours_ != nullptr) neighbours_->Accumulate(b.products, b.affinity_weights, out);
}

BuyAgainVector BuyAgain::Features(const BoughtBefore& b, size_t j, int32_t now_day, float model_score,
                                  float affinity) const {
  const uint32_t product = b.products[j];
  const PairHistory& h = b.pairs[j];
  const uint32_t customer_days = b.customer_days;
  BuyAgainVector x{};
  const double times = std::max<uint32_t>(1, h.days);
  const double since = std::max<int64_t>(0, static_cast<int64_t>(now_day) - h.last_day);
  const double interval = Interval(product, h);
  const double rate = std::clamp<double>(stats_[product].repeat_rate, 1e-4, 1 - 1e-4);
  const double due = std::clamp(std::log((since + 1) / (interval + 1)), -4.0, 4.0);
  x[kRepeatBias] = 1;
  x[kLogTimes] = static_cast<float>(std::log(times));
  x[kLogShare] = static_cast<float>(std::log(times / std::max<double>(times, customer_days)));
  x[kCustomerDays] = static_cast<float>(std::log(std::max<double>(times, customer_days)));
  x[kCustomerRepeat] = b.repeat_logit;
  x[kLogSince] = static_cast<float>(std::log1p(since));
  x[kLogSinceSquared] = x[kLogSince] * x[kLogSince];
  // Recency-weighted days, aged from the history's reference day to now.
  const double aged = std::max<double>(h.recent, 1e-6) * RecencyWeight(static_cast<double>(now_day) - reference_day_);
  x[kLogRecent] = static_cast<float>(std::log(std::max(aged, 1e-12)));
  x[kLogLag] = static_cast<float>(std::log1p(std::max<double>(0, static_cast<double>(b.last_day) - h.last_day)));
  x[kDue] = static_cast<float>(due);
  x[kDueSquared] = static_cast<float>(due * due);
  x[kRepeatLogit] = static_cast<float>(std::log(rate / (1 - rate)));
  x[kRepeatScore] = std::isfinite(model_score) ? model_score : 0.0f;
  x[kRepeatBuyers] = stats_[product].log_buyers;
  x[kRepeatNeighbours] = static_cast<float>(std::log(kAffinityFloor + std::max(0.0f, affinity)));
  return x;
}

BuyAgainVector BuyAgain::NewFeatures(uint32_t product, float model_score, size_t rank, float affinity) const {
  BuyAgainVector x{};
  x[kNewBias] = 1;
  x[kNewScore] = std::isfinite(model_score) ? model_score : 0.0f;
  x[kNewRank] = static_cast<float>(std::log1p(static_cast<double>(std::min(rank, kMaxNewRank))));
  x[kNewBuyers] = stats_.empty() ? 0.0f : stats_[product].log_buyers;
  x[kNewNeighbours] = static_cast<float>(std::log(kAffinityFloor + std::max(0.0f, affinity)));
  return x;
}

float BuyAgain::NewLogit(uint32_t product, float model_score, size_t rank, float affinity) const {
  // Logit(NewFeatures(...)) term by term in the same order and precision
  // (the repeat features are zero for a new product and add nothing), with
  // the two logarithms taken once for the common cases: a rank past
  // kMaxNewRank and no affinity.
  static const float kTailRank = static_cast<float>(std::log1p(static_cast<double>(kMaxNewRank)));
  static const float kNoAffinity = static_cast<float>(std::log(kAffinityFloor));
  const BuyAgainVector& w = params_.weights;
  const float rank_x =
      rank >= kMaxNewRank ? kTailRank : static_cast<float>(std::log1p(static_cast<double>(rank)));
  const float affinity_x =
      affinity > 0 ? static_cast<float>(std::log(kAffinityFloor + affinity)) : kNoAffinity;
  // Logit's sum up to here: +0 plus zero terms, then the bias's weight x 1.
  double s = static_cast<double>(w[kNewBias]);
  s += static_cast<double>(w[kNewScore]) * (std::isfinite(model_score) ? model_score : 0.0f);
  s += static_cast<double>(w[kNewRank]) * rank_x;
  s += static_cast<double>(w[kNewBuyers]) * (stats_.empty() ? 0.0f : stats_[product].log_buyers);
  s += static_cast<double>(w[kNewNeighbours]) * affinity_x;
  return static_cast<float>(s);
}

float BuyAgainParams::Logit(const BuyAgainVector& x) const {
  double s = 0;
  for (int f = 0; f < kNumBuyAgainFeatures; ++f) s += static_cast<double>(weights[f]) * x[f];
  return static_cast<float>(s);
}

void BuyAgain::Blend(const BoughtBefore& b, int32_t now_day, float* scores, size_t num_products) const {
  const std::vector<uint32_t>& bought = b.products;
  std::vector<float> affinity(num_products);
  Affinities(b, affinity.data(), num_products);
  std::vector<float> repeat(bought.size());
  for (size_t j = 0; j < bought.size(); ++j) {
    repeat[j] = Excluded(bought[j], b.pairs[j], now_day)
                    ? NAN
                    : Logit(Features(b, j, now_day, scores[bought[j]], affinity[bought[j]]));
  }
  // New products in score order (NaN last), for their ranks.
  std::vector<char> is_bought(num_products, 0);
  for (uint32_t p : bought) {
    if (p < num_products) is_bought[p] = 1;
  }
  std::vector<uint32_t> order;
  order.reserve(num_products);
  for (uint32_t i = 0; i < num_products; ++i) {
    if (!is_bought[i]) order.push_back(i);
  }
  auto better = [scores](uint32_t a, uint32_t b) {
    const float x = std::isnan(scores[a]) ? -INFINITY : scores[a], y = std::isnan(scores[b]) ? -INFINITY : scores[b];
    return x != y ? x > y : a < b;
  };
  const size_t ranked = std::min(order.size(), kMaxNewRank);
  std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(ranked), order.end(), better);
  for (size_t r = 0; r < order.size(); ++r) {
    const uint32_t i = order[r];
    scores[i] = NewLogit(i, scores[i], r, affinity[i]);
  }
  for (size_t j = 0; j < bought.size(); ++j) scores[bought[j]] = repeat[j];
}

Repurchase BuyAgain::Explain(uint32_t product, const PairHistory& h, int32_t now_day) const {
  Repurchase r;
  r.times = h.days;
  r.every_days = Interval(product, h);
  r.days_since = static_cast<int32_t>(std::max<int64_t>(0, static_cast<int64_t>(now_day) - h.last_day));
  return r;
}

}  // namespace aisle

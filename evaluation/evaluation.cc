#include "evaluation/evaluation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/topk.h"

namespace aisle {

TestSet BuildTestSet(const Model& model, const EventLog& test, bool exclude_train, Segmentation seg) {
  TestSet out;
  struct Acc {
    absl::flat_hash_map<uint32_t, std::pair<double, double>> by_product;  // test product -> (qty, revenue)
    absl::flat_hash_map<std::string, int> segments;
    int64_t first = INT64_MAX;
  };
  absl::flat_hash_map<uint32_t, Acc> by_customer;  // test log customer index
  for (const Event& e : test.events) {
    if (e.type != EventType::kPurchase && e.type != EventType::kReturn) continue;
    Acc& a = by_customer[e.customer];
    const double sign = e.type == EventType::kPurchase ? 1.0 : -1.0;
    auto& [qty, rev] = a.by_product[e.product];
    qty += sign * e.quantity;
    if (e.type == EventType::kPurchase) a.first = std::min<int64_t>(a.first, e.timestamp);
    if (!std::isnan(e.price)) {
      rev += sign * e.quantity * e.price;
      out.has_prices = true;
    }
    if (seg == Segmentation::kCountry && e.country != kNoCountry) ++a.segments[test.countries.id(e.country)];
    if (seg == Segmentation::kChannel && e.channel != Channel::kUnknown) ++a.segments[std::string(ChannelName(e.channel))];
  }
  for (auto& [tc, acc] : by_customer) {
    const absl::string_view id = test.customers.id_view(tc);
    auto mc = model.customers.Find(id);
    if (!mc) {
      ++out.unknown_customers;
      continue;
    }
    TestCustomer c;
    c.id = std::string(id);
    c.index = *mc;
    c.time = acc.first != INT64_MAX ? acc.first : model.last_event_unix;
    auto bought = model.purchased.RowIndices(*mc);
    std::vector<std::pair<uint32_t, double>> rel;
    for (const auto& [tp, qr] : acc.by_product) {
      if (qr.first <= 0) continue;
      auto mp = model.products.Find(test.products.id_view(tp));
      if (!mp) {
        ++c.unknown_relevant;
        continue;
      }
      if (exclude_train && std::binary_search(bought.begin(), bought.end(), *mp)) continue;
      rel.emplace_back(*mp, std::max(0.0, qr.second));
    }
    if (rel.empty() && c.unknown_relevant == 0) {
      ++out.no_relevant;
      continue;
    }
    std::sort(rel.begin(), rel.end());
    for (auto& [p, r] : rel) {
      c.relevant.push_back(p);
      c.revenue.push_back(r);
      c.repeat.push_back(std::binary_search(bought.begin(), bought.end(), p) ? 1 : 0);
    }
    int best = 0;
    for (const auto& [s, n] : acc.segments) {
      if (n > best || (n == best && s < c.segment)) {
        best = n;
        c.segment = s;
      }
    }
    out.customers.push_back(std::move(c));
  }
  std::sort(out.customers.begin(), out.customers.end(),
            [](const TestCustomer& a, const TestCustomer& b) { return a.id < b.id; });
  return out;
}

namespace {
constexpr const char* kPerCustomer[] = {"hr",         "precision",  "recall",        "ndcg",
                                        "map",        "mrr",        "revenue",       "recall_repeat",
                                        "recall_new", "ndcg_repeat", "ndcg_new"};
constexpr int kNumPerCustomer = 11;

double Idcg(size_t k, size_t relevant) {
  double idcg = 0;
  for (size_t pos = 0; pos < std::min(k, relevant); ++pos) idcg += 1.0 / std::log2(pos + 2.0);
  return idcg;
}
}  // namespace

std::vector<std::string> PerCustomerMetricNames(const std::vector<int>& ks) {
  std::vector<std::string> names;
  for (int k : ks) {
    for (const char* m : kPerCustomer) names.push_back(absl::StrCat(m, "@", k));
  }
  return names;
}

EvaluationResult Evaluate(const Model& model, const Scorer& scorer, const TestSet& test,
                          const EvaluationOptions& options) {
  EvaluationResult r;
  r.names = PerCustomerMetricNames(options.ks);
  const size_t n = test.customers.size();
  r.values.assign(r.names.size(), std::vector<float>(n, 0.0f));
  const int kmax = options.ks.empty() ? 0 : *std::max_element(options.ks.begin(), options.ks.end());
  const size_t np = model.products.size();
  std::vector<std::vector<uint32_t>> lists(n);
#pragma omp parallel
  {
    std::vector<float> scores(np);
#pragma omp for schedule(dynamic, 16)
    for (size_t c = 0; c < n; ++c) {
      const TestCustomer& tc = test.customers[c];
      scorer.ScoreAllAt(tc.index, tc.time, scores.data());
      absl::Span<const uint32_t> excluded;
      if (options.exclude_train) excluded = model.purchased.RowIndices(tc.index);
      std::vector<ScoredItem> top = SelectTopK(scores, static_cast<size_t>(kmax), excluded);
      lists[c].reserve(top.size());
      for (const ScoredItem& s : top) lists[c].push_back(s.index);
      const size_t num_rel = tc.relevant.size() + tc.unknown_relevant;
      size_t num_repeat = 0;
      for (char r : tc.repeat) num_repeat += r;
      const size_t num_new = num_rel - num_repeat;  // products unknown to the model are new
      for (size_t ki = 0; ki < options.ks.size(); ++ki) {
        const size_t k = static_cast<size_t>(options.ks[ki]);
        double hits = 0, dcg = 0, ap = 0, rr = 0, revenue = 0;
        double part_hits[2] = {0, 0}, part_dcg[2] = {0, 0};  // [new, repeat]
        for (size_t pos = 0; pos < std::min(k, top.size()); ++pos) {
          auto it = std::lower_bound(tc.relevant.begin(), tc.relevant.end(), top[pos].index);
          if (it == tc.relevant.end() || *it != top[pos].index) continue;
          hits += 1;
          dcg += 1.0 / std::log2(pos + 2.0);
          ap += hits / (pos + 1.0);
          if (rr == 0) rr = 1.0 / (pos + 1.0);
          revenue += tc.revenue[it - tc.relevant.begin()];
          const int part = tc.repeat[it - tc.relevant.begin()];
          part_hits[part] += 1;
          part_dcg[part] += 1.0 / std::log2(pos + 2.0);
        }
        const double idcg = Idcg(k, num_rel);
        float* v[kNumPerCustomer];
        for (int m = 0; m < kNumPerCustomer; ++m) v[m] = &r.values[ki * kNumPerCustomer + m][c];
        *v[0] = hits > 0 ? 1.0f : 0.0f;
        *v[1] = static_cast<float>(hits / k);
        *v[2] = num_rel > 0 ? static_cast<float>(hits / num_rel) : 0.0f;
        *v[3] = idcg > 0 ? static_cast<float>(dcg / idcg) : 0.0f;
        *v[4] = num_rel > 0 ? static_cast<float>(ap / std::min(k, num_rel)) : 0.0f;
        *v[5] = static_cast<float>(rr);
        *v[6] = static_cast<float>(revenue);
        // Each part's hits where the list has them, against that part's
        // ideal; NaN (left out of the means) for a customer without the part.
        *v[7] = num_repeat > 0 ? static_cast<float>(part_hits[1] / num_repeat) : NAN;
        *v[8] = num_new > 0 ? static_cast<float>(part_hits[0] / num_new) : NAN;
        *v[9] = num_repeat > 0 ? static_cast<float>(part_dcg[1] / Idcg(k, num_repeat)) : NAN;
        *v[10] = num_new > 0 ? static_cast<float>(part_dcg[0] / Idcg(k, num_new)) : NAN;
      }
    }
  }
  for (size_t m = 0; m < r.names.size(); ++m) {
    double sum = 0;
    size_t counted = 0;
    for (float x : r.values[m]) {
      if (std::isnan(x)) continue;
      sum += x;
      ++counted;
    }
    r.means[r.names[m]] = counted > 0 ? sum / counted : 0.0;
  }
  // Coverage and novelty over all lists.
  const double num_customers = std::max<double>(1, model.customers.size());
  for (int k : options.ks) {
    std::vector<char> seen(np, 0);
    double novelty = 0;
    uint64_t shown = 0;
    for (const auto& list : lists) {
      for (size_t pos = 0; pos < std::min<size_t>(k, list.size()); ++pos) {
        seen[list[pos]] = 1;
        const double pop = std::max(1.0f, model.item_popularity[list[pos]]);
        novelty += -std::log2(pop / num_customers);
        ++shown;
      }
    }
    uint64_t distinct = 0;
    for (char s : seen) distinct += s;
    r.means[absl::StrCat("coverage@", k)] = np > 0 ? static_cast<double>(distinct) / np : 0.0;
    r.means[absl::StrCat("novelty@", k)] = shown > 0 ? novelty / shown : 0.0;
  }
  return r;
}

std::vector<std::pair<size_t, size_t>> AlignCustomers(const TestSet& a, const TestSet& b) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0, j = 0;
  while (i < a.customers.size() && j < b.customers.size()) {
    if (a.customers[i].id < b.customers[j].id) {
      ++i;
    } else if (b.customers[j].id < a.customers[i].id) {
      ++j;
    } else {
      out.emplace_back(i++, j++);
    }
  }
  return out;
}

absl::StatusOr<std::pair<std::string, int>> ParseMetric(absl::string_view metric) {
  const size_t at = metric.find('@');
  int k = 0;
  if (at != absl::string_view::npos && absl::SimpleAtoi(metric.substr(at + 1), &k) && k >= 1 && k <= 1000) {
    for (const char* m : kPerCustomer) {
      if (metric.substr(0, at) == m) return std::make_pair(std::string(metric), k);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown metric '", metric, "' (expected hr, precision, recall, ndcg, map, mrr or revenue, then @k)"));
}

absl::StatusOr<std::vector<int>> ParseKs(absl::string_view s) {
  std::vector<int> ks;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    int k;
    if (!absl::SimpleAtoi(part, &k) || k < 1 || k > 1000) {
      return absl::InvalidArgumentError(absl::StrCat("bad cut-off '", part, "' (integers in [1, 1000])"));
    }
    ks.push_back(k);
  }
  if (ks.empty()) return absl::InvalidArgumentError("no cut-offs given");
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  return ks;
}

}  // namespace aisle

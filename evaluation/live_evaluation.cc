#include "evaluation/live_evaluation.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "events/live_events.h"

namespace aisle {
namespace {

constexpr int64_t kDay = 86400;

struct Point {
  uint32_t customer;            // in the test log
  std::optional<uint32_t> row;  // in the model
  int64_t day;                  // the day's first second
  size_t history;               // the customer's events before the day: a prefix of their sorted events
  std::vector<uint32_t> targets;  // model products first bought that day, sorted
};

void Score(const std::vector<Recommendation>& items, const std::vector<uint32_t>& targets, size_t k, float* hr,
           float* ndcg) {
  double dcg = 0, idcg = 0;
  bool hit = false;
  for (size_t i = 0; i < std::min(k, items.size()); ++i) {
    if (std::binary_search(targets.begin(), targets.end(), items[i].product)) {
      hit = true;
      dcg += 1.0 / std::log2(static_cast<double>(i) + 2);
    }
  }
  for (size_t i = 0; i < std::min(k, targets.size()); ++i) idcg += 1.0 / std::log2(static_cast<double>(i) + 2);
  *hr = hit ? 1.0f : 0.0f;
  *ndcg = idcg > 0 ? static_cast<float>(dcg / idcg) : 0.0f;
}

LiveComparison Compare(const std::vector<Point>& points, const std::vector<float> (&values)[4],
                       const std::function<bool(const Point&)>& keep, const LiveEvaluationOptions& o) {
  std::vector<float> v[4];
  absl::flat_hash_set<uint32_t> customers;
  for (size_t i = 0; i < points.size(); ++i) {
    if (!keep(points[i])) continue;
    customers.insert(points[i].customer);
    for (int m = 0; m < 4; ++m) v[m].push_back(values[m][i]);
  }
  LiveComparison c;
  c.points = v[0].size();
  c.customers = customers.size();
  if (c.points == 0) return c;
  c.hr = PairedBootstrap(v[0], v[1], o.resamples, o.seed);
  c.ndcg = PairedBootstrap(v[2], v[3], o.resamples, o.seed);
  return c;
}

}  // namespace

LiveEvaluationResult EvaluateLive(const Recommender& r, const EventLog& test, const LiveEvaluationOptions& o) {
  const Model& m = r.model();
  LiveEvaluationResult result;
  result.test_events = test.events.size();
  // Each customer's events in time order.
  std::vector<std::vector<Event>> by_customer(test.customers.size());
  for (const Event& e : test.events) by_customer[e.customer].push_back(e);
  std::vector<Point> points;
  for (uint32_t c = 0; c < by_customer.size(); ++c) {
    std::vector<Event>& events = by_customer[c];
    if (events.empty()) continue;
    ++result.test_customers;
    std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.timestamp < b.timestamp; });
    const std::optional<uint32_t> row = m.customers.Find(test.customers.id_view(c));
    absl::flat_hash_set<uint32_t> bought;
    if (row) {
      for (uint32_t p : m.purchased.RowIndices(*row)) bought.insert(p);
    }
    for (size_t i = 0; i < events.size();) {
      const int64_t day = events[i].timestamp - ((events[i].timestamp % kDay) + kDay) % kDay;
      size_t end = i;
      while (end < events.size() && events[end].timestamp < day + kDay) ++end;
      Point p{c, row, day, i, {}};
      for (size_t j = i; j < end; ++j) {
        if (events[j].type != EventType::kPurchase) continue;
        auto product = m.products.Find(test.products.id_view(events[j].product));
        if (product && !bought.contains(*product)) p.targets.push_back(*product);
      }
      std::sort(p.targets.begin(), p.targets.end());
      p.targets.erase(std::unique(p.targets.begin(), p.targets.end()), p.targets.end());
      for (size_t j = i; j < end; ++j) {
        if (events[j].type != EventType::kPurchase) continue;
        if (auto product = m.products.Find(test.products.id_view(events[j].product))) bought.insert(*product);
      }
      if (!p.targets.empty()) points.push_back(std::move(p));
      i = end;
    }
  }
  std::vector<float> values[4];  // hr static, hr live, ndcg static, ndcg live
  for (auto& v : values) v.assign(points.size(), 0.0f);
  RecommendOptions ro;
  ro.count = o.k;
#pragma omp parallel for schedule(dynamic, 16)
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const absl::string_view id = test.customers.id_view(p.customer);
    auto fixed = r.Recommend(id, ro);
    LiveProfileBuilder builder(m);
    const std::vector<Event>& events = by_customer[p.customer];
    for (size_t j = 0; j < p.history; ++j) builder.Add(test.products.id(events[j].product), events[j].type, events[j].quantity);
    std::shared_ptr<LiveProfile> profile = builder.Finish();
    auto live = r.Recommend(id, ro, profile.get());
    if (fixed.ok()) Score(fixed->result.items, p.targets, o.k, &values[0][i], &values[2][i]);
    if (live.ok()) Score(live->result.items, p.targets, o.k, &values[1][i], &values[3][i]);
  }
  result.all = Compare(points, values, [](const Point&) { return true; }, o);
  result.with_history = Compare(points, values, [](const Point& p) { return p.history > 0; }, o);
  result.known = Compare(points, values, [](const Point& p) { return p.history > 0 && p.row.has_value(); }, o);
  result.unknown = Compare(points, values, [](const Point& p) { return p.history > 0 && !p.row.has_value(); }, o);
  return result;
}

}  // namespace aisle

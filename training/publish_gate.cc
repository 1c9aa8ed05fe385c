#include "training/publish_gate.h"

#include "absl/strings/str_format.h"
#include "evaluation/evaluation.h"
#include "evaluation/split.h"

namespace aisle {

int64_t GateCutoff(const EventLog& log, double holdout_fraction, int64_t current_last_event) {
  SplitOptions so;
  so.method = SplitMethod::kTime;
  so.test_fraction = holdout_fraction;
  SplitResult r = SplitEvents(log, so);
  return std::max(r.test_cutoff, current_last_event + 1);
}

CsrMatrix RemapPurchases(const Model& source, const Model& target) {
  std::vector<Triplet> t;
  for (uint32_t c = 0; c < source.customers.size(); ++c) {
    auto tc = target.customers.Find(source.customers.id_view(c));
    if (!tc) continue;
    for (uint32_t p : source.purchased.RowIndices(c)) {
      auto tp = target.products.Find(source.products.id_view(p));
      if (tp) t.push_back({*tc, *tp, 1.0f});
    }
  }
  CsrMatrix m = BuildCsr(static_cast<uint32_t>(target.customers.size()),
                         static_cast<uint32_t>(target.products.size()), t);
  m.values.clear();
  return m;
}

absl::StatusOr<GateResult> EvaluateGate(const Model& candidate, const Model& current, const EventLog& holdout,
                                        const GateOptions& o) {
  auto metric = ParseMetric(o.metric);
  if (!metric.ok()) return metric.status();
  EvaluationOptions eo;
  eo.ks = {metric->second};
  // Both models must leave out the same products: the candidate's training
  // purchases (everything before the holdout). The current model may have
  // been trained on some held-out events; that favours it, so the gate errs
  // on the side of refusing.
  Model current_view = current;
  current_view.purchased = RemapPurchases(candidate, current);
  current_view.history = {};  // it described the current model's own purchases
  TestSet tc = BuildTestSet(candidate, holdout, true, Segmentation::kNone);
  TestSet tu = BuildTestSet(current_view, holdout, true, Segmentation::kNone);
  auto pairs = AlignCustomers(tc, tu);
  GateResult g;
  g.customers = pairs.size();
  if (pairs.size() < o.min_customers) {
    g.reason = absl::StrFormat(
        "only %d held-out customers can be ranked by both models (at least %d needed): the candidate "
        "cannot be checked", pairs.size(), o.min_customers);
    return g;
  }
  EvaluationResult rc = Evaluate(candidate, *MakeModelScorer(candidate), tc, eo);
  EvaluationResult ru = Evaluate(current_view, *MakeModelScorer(current_view), tu, eo);
  size_t m = 0;
  while (rc.names[m] != metric->first) ++m;
  double sc = 0, su = 0;
  for (auto [i, j] : pairs) {
    sc += rc.values[m][i];
    su += ru.values[m][j];
  }
  g.candidate = sc / pairs.size();
  g.current = su / pairs.size();
  g.passed = g.candidate >= g.current - o.max_drop;
  g.reason = absl::StrFormat("%s on %d held-out customers: candidate %.4f, current %.4f, %s the allowed drop of %.4f",
                             o.metric, g.customers, g.candidate, g.current,
                             g.passed ? "within" : "worse than", o.max_drop);
  return g;
}

}  // namespace aisle

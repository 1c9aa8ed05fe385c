#include "evaluation/experiment_analysis.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/experiment_assignment.h"

namespace aisle {
namespace {

// Regularized upper incomplete gamma Q(a, x) (Numerical Recipes' series and continued fraction).
double GammaQ(double a, double x) {
  if (x <= 0) return 1;
  const double gln = std::lgamma(a);
  if (x < a + 1) {
    double sum = 1 / a, term = sum, ap = a;
    for (int n = 0; n < 1000; ++n) {
      ap += 1;
      term *= x / ap;
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
    }
    return 1 - sum * std::exp(-x + a * std::log(x) - gln);
  }
  double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (std::fabs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - gln) * h;
}

double NormalSurvival2(double z) { return std::erfc(std::fabs(z) / std::sqrt(2.0)); }  // two-sided

struct CustomerValues {
  double conversion = 0, shown_purchases = 0, clicks = 0, revenue = 0;
};

MetricComparison Compare(const std::vector<double>& x, const std::vector<double>& control) {
  auto stats = [](const std::vector<double>& v, double* mean, double* var) {
    *mean = 0;
    for (double a : v) *mean += a;
    *mean /= std::max<size_t>(1, v.size());
    *var = 0;
    for (double a : v) *var += (a - *mean) * (a - *mean);
    *var /= std::max<size_t>(1, v.size() > 1 ? v.size() - 1 : 1);
  };
  MetricComparison m;
  double mc = 0, vc = 0, vx = 0;
  stats(x, &m.mean, &vx);
  stats(control, &mc, &vc);
  m.diff = m.mean - mc;
  const double se = std::sqrt((x.empty() ? 0 : vx / x.size()) + (control.empty() ? 0 : vc / control.size()));
  m.ci_low = m.diff - 1.959963984540054 * se;
  m.ci_high = m.diff + 1.959963984540054 * se;
  m.p_value = se > 0 ? NormalSurvival2(m.diff / se) : (m.diff == 0 ? 1.0 : 0.0);
  return m;
}

}  // namespace

double ChiSquaredSurvival(double x, double df) { return GammaQ(df / 2, x / 2); }

std::vector<ExperimentReport> AnalyzeExperiments(absl::Span<const ExposureRecord> exposures,
                                                 absl::Span<const LiveEvent> events,
                                                 const ExperimentAnalysisOptions& o) {
  // Per experiment and customer: variants seen, first exposure, products shown (with when), exposures.
  struct Seen {
    std::set<std::string> variants;
    int64_t first_ms = INT64_MAX;
    absl::flat_hash_map<std::string, int64_t> shown;  // product -> first time shown
    absl::flat_hash_set<std::string> recommendation_ids;
    uint64_t exposures = 0;
  };
  std::map<std::string, std::map<std::string, Seen>> seen;  // experiment -> customer -> ...
  for (const ExposureRecord& e : exposures) {
    if (e.experiment.empty() || e.customer.empty()) continue;
    Seen& s = seen[e.experiment][e.customer];
    s.variants.insert(e.variant);
    s.first_ms = std::min(s.first_ms, e.at_ms);
    ++s.exposures;
    s.recommendation_ids.insert(e.recommendation_id);
    for (const std::string& p : e.items) {
      auto [it, inserted] = s.shown.try_emplace(p, e.at_ms);
      if (!inserted) it->second = std::min(it->second, e.at_ms);
    }
  }
  absl::flat_hash_map<std::string, std::vector<const LiveEvent*>> by_customer;
  for (const LiveEvent& e : events) by_customer[e.customer_id].push_back(&e);

  std::vector<ExperimentReport> reports;
  for (const auto& [experiment, customers] : seen) {
    ExperimentReport r;
    r.id = experiment;
    std::map<std::string, std::vector<CustomerValues>> values;  // variant -> customers
    std::map<std::string, uint64_t> exposure_counts;
    for (const auto& [customer, s] : customers) {
      if (s.variants.size() > 1) {
        ++r.multi_variant_customers;
        continue;
      }
      const std::string& variant = *s.variants.begin();
      exposure_counts[variant] += s.exposures;
      CustomerValues v;
      const int64_t from = s.first_ms, to = s.first_ms + o.window_seconds * 1000;
      if (auto it = by_customer.find(customer); it != by_customer.end()) {
        for (const LiveEvent* e : it->second) {
          // The event's own time (seconds); the window starts at the first exposure.
          const int64_t t = e->timestamp * 1000 + 999;
          if (t < from || e->timestamp * 1000 > to) continue;
          const double q = e->quantity;
          const double price = std::isnan(e->price) ? 0.0 : e->price;
          if (e->type == EventType::kPurchase) {
            v.conversion = 1;
            v.revenue += price * q;
            auto shown = s.shown.find(e->product_id);
            const bool attributed = !e->recommendation_id.empty() && s.recommendation_ids.contains(e->recommendation_id);
            if (attributed || (shown != s.shown.end() && shown->second <= t)) v.shown_purchases += 1;
          } else if (e->type == EventType::kReturn) {
            v.revenue -= price * q;
          } else if (e->type == EventType::kClick) {
            v.clicks += 1;
          }
        }
      }
      values[variant].push_back(v);
    }
    // The control: configured, else the first variant by name.
    auto c = o.controls.find(experiment);
    r.control = c != o.controls.end() ? c->second : (values.empty() ? "" : values.begin()->first);
    std::vector<std::string> names;
    if (values.count(r.control)) names.push_back(r.control);
    for (const auto& [name, v] : values) {
      if (name != r.control) names.push_back(name);
    }
    // Also variants configured but never seen (an SRM of their own).
    if (auto w = o.weights.find(experiment); w != o.weights.end()) {
      for (const auto& [name, weight] : w->second) {
        if (!values.count(name) && weight > 0) names.push_back(name);
      }
    }
    auto column = [&](const std::string& name, double CustomerValues::*field) {
      std::vector<double> out;
      for (const CustomerValues& v : values[name]) out.push_back(v.*field);
      return out;
    };
    double total_weight = 0;
    auto w = o.weights.find(experiment);
    for (const std::string& name : names) {
      total_weight += w != o.weights.end() ? (w->second.count(name) ? w->second.at(name) : 0.0) : 1.0;
    }
    uint64_t n_total = 0;
    for (const std::string& name : names) n_total += values[name].size();
    for (const std::string& name : names) {
      VariantReport vr;
      vr.name = name;
      vr.customers = values[name].size();
      vr.exposures = exposure_counts[name];
      const double weight = w != o.weights.end() ? (w->second.count(name) ? w->second.at(name) : 0.0) : 1.0;
      vr.expected_share = total_weight > 0 ? weight / total_weight : 0;
      vr.conversion = Compare(column(name, &CustomerValues::conversion), column(r.control, &CustomerValues::conversion));
      vr.shown_purchases =
          Compare(column(name, &CustomerValues::shown_purchases), column(r.control, &CustomerValues::shown_purchases));
      vr.clicks = Compare(column(name, &CustomerValues::clicks), column(r.control, &CustomerValues::clicks));
      vr.revenue = Compare(column(name, &CustomerValues::revenue), column(r.control, &CustomerValues::revenue));
      if (vr.expected_share > 0 && n_total > 0) {
        const double expected = vr.expected_share * static_cast<double>(n_total);
        r.srm_chi2 += (static_cast<double>(vr.customers) - expected) * (static_cast<double>(vr.customers) - expected) / expected;
      }
      r.variants.push_back(std::move(vr));
    }
    size_t positive = 0;
    for (const VariantReport& vr : r.variants) positive += vr.expected_share > 0;
    r.srm_p = positive > 1 ? ChiSquaredSurvival(r.srm_chi2, static_cast<double>(positive - 1)) : 1.0;
    r.srm_flag = r.srm_p < 0.001;
    reports.push_back(std::move(r));
  }
  return reports;
}

Calibration CalibrateByRerandomization(absl::Span<const ExposureRecord> exposures, absl::Span<const LiveEvent> events,
                                       const std::string& experiment, const ExperimentAnalysisOptions& options,
                                       int resamples, double alpha) {
  Calibration cal;
  cal.resamples = resamples;
  cal.alpha = alpha;
  std::vector<ExposureRecord> mine;
  for (const ExposureRecord& e : exposures) {
    if (e.experiment == experiment) mine.push_back(e);
  }
  ExperimentAnalysisOptions o = options;
  o.weights[experiment] = {{"arm-a", 1}, {"arm-b", 1}};
  o.controls[experiment] = "arm-a";
  const VariantWeight arms[] = {{"arm-a", 1}, {"arm-b", 1}};
  for (int i = 0; i < resamples; ++i) {
    const std::string salt = absl::StrCat("rerandomization-", i);
    for (ExposureRecord& e : mine) {
      const int arm = AssignVariant(salt, e.customer, arms);  // both weights positive: never -1
      e.variant = std::string(arms[arm < 0 ? 0 : arm].name);
    }
    const std::vector<ExperimentReport> r = AnalyzeExperiments(mine, events, o);
    if (r.empty() || r[0].variants.size() < 2) continue;
    const VariantReport& b = r[0].variants[1];
    cal.conversion += b.conversion.p_value < alpha;
    cal.shown_purchases += b.shown_purchases.p_value < alpha;
    cal.clicks += b.clicks.p_value < alpha;
    cal.revenue += b.revenue.p_value < alpha;
  }
  if (resamples > 0) {
    cal.conversion /= resamples;
    cal.shown_purchases /= resamples;
    cal.clicks /= resamples;
    cal.revenue /= resamples;
  }
  return cal;
}

}  // namespace aisle

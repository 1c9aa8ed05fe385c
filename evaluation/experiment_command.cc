// aisle-eval experiment: the analysis of online experiments from the
// server's exposure log and event journal (evaluation/experiment_analysis.h).
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/atomic_file.h"

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/experiments.h"
#include "evaluation/experiment_analysis.h"
#include "events/event_journal.h"
#include "events/exposure_record.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(std::string, fail_if_worse);
ABSL_DECLARE_FLAG(double, max_drop);

ABSL_FLAG(std::string, exposures, "", "experiment: the server's --exposures_dir.");
ABSL_FLAG(std::string, events, "", "experiment: the server's --events_dir (the event journal).");
ABSL_FLAG(std::string, experiments_file, "",
          "experiment: the experiments file the server ran (weights for the sample-ratio check, controls); "
          "without it, equal shares and the first variant by name.");
ABSL_FLAG(std::string, experiment, "", "experiment: analyse only this experiment id.");
ABSL_FLAG(int, rerandomize, 0,
          "experiment: also re-randomize each experiment's customers between two arms this many times and report "
          "the share of comparisons significant at 5% (about 5% when the intervals are right).");
ABSL_FLAG(std::string, window, "7d", "experiment: conversion window after a customer's first exposure: Nd, Nh or N seconds.");

namespace aisle {

int ExperimentCommand() {
  auto fail = [](const std::string& msg, int code = 1) {
    std::fprintf(stderr, "aisle-eval experiment: %s\n", msg.c_str());
    return code;
  };
  if (absl::GetFlag(FLAGS_exposures).empty() || absl::GetFlag(FLAGS_events).empty()) {
    return fail("needs --exposures DIR and --events DIR", 2);
  }
  ExperimentAnalysisOptions o;
  std::string w = absl::GetFlag(FLAGS_window);
  int64_t unit = 1;
  if (!w.empty() && (w.back() == 'd' || w.back() == 'h')) {
    unit = w.back() == 'd' ? 86400 : 3600;
    w.pop_back();
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(w, &n) || n <= 0 || n > 3650) return fail("--window must be like 7d, 48h or 3600", 2);
  o.window_seconds = n * unit;
  if (const std::string f = absl::GetFlag(FLAGS_experiments_file); !f.empty()) {
    auto set = ExperimentSet::Load(f);
    if (!set.ok()) return fail(std::string(set.status().message()));
    for (const Experiment& e : set->experiments()) {
      for (const ExperimentVariant& v : e.variants) o.weights[e.id][v.name] = v.weight;
      o.controls[e.id] = e.control;
    }
  }
  auto exposures = ReadExposures(absl::GetFlag(FLAGS_exposures));
  if (!exposures.ok()) return fail(std::string(exposures.status().message()));
  if (const std::string only = absl::GetFlag(FLAGS_experiment); !only.empty()) {
    std::erase_if(*exposures, [&](const ExposureRecord& r) { return r.experiment != only; });
  }
  std::vector<LiveEvent> events;
  auto segments = EventJournal::ListSegments(absl::GetFlag(FLAGS_events), /*include_open=*/true);
  if (!segments.ok()) return fail(std::string(segments.status().message()));
  for (const EventJournal::Segment& s : *segments) {
    absl::Status st = EventJournal::ReadSegment(s.path, [&](LiveEvent&& e) { events.push_back(std::move(e)); });
    if (!st.ok()) return fail(std::string(st.message()));
  }
  const std::vector<ExperimentReport> reports = AnalyzeExperiments(*exposures, events, o);
  if (reports.empty()) return fail("no exposure in an experiment");

  struct Metric {
    const char* name;
    MetricComparison VariantReport::*field;
  };
  const Metric metrics[] = {{"conversion", &VariantReport::conversion},
                            {"shown_purchases", &VariantReport::shown_purchases},
                            {"clicks", &VariantReport::clicks},
                            {"revenue", &VariantReport::revenue}};
  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json out = {{"schema", "aisle.experiment.v1"},
                          {"generated_at", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone())},
                          {"window_seconds", o.window_seconds},
                          {"exposures", exposures->size()},
                          {"events", events.size()},
                          {"experiments", nlohmann::json::array()}};
    for (const ExperimentReport& r : reports) {
      nlohmann::json e = {{"id", r.id},
                          {"control", r.control},
                          {"multi_variant_customers", r.multi_variant_customers},
                          {"sample_ratio", {{"chi2", r.srm_chi2}, {"p_value", r.srm_p}, {"mismatch", r.srm_flag}}},
                          {"variants", nlohmann::json::array()}};
      for (const VariantReport& v : r.variants) {
        nlohmann::json j = {{"name", v.name}, {"customers", v.customers}, {"exposures", v.exposures},
                            {"expected_share", v.expected_share}};
        for (const Metric& m : metrics) {
          const MetricComparison& c = v.*(m.field);
          j[m.name] = {{"mean", c.mean}, {"diff", c.diff}, {"ci_low", c.ci_low}, {"ci_high", c.ci_high},
                       {"p_value", c.p_value}};
        }
        e["variants"].push_back(std::move(j));
      }
      out["experiments"].push_back(std::move(e));
    }
    // With --output, written atomically (a scheduled run for the console:
    // aisle-server --experiment_report reads it); else to stdout.
    if (const std::string path = absl::GetFlag(FLAGS_output); !path.empty() && path != "-") {
      if (absl::Status w = WriteFileAtomically(path, out.dump(2) + "\n"); !w.ok()) return fail(std::string(w.message()));
    } else {
      std::printf("%s\n", out.dump(2).c_str());
    }
  } else {
    std::printf("%zu exposures, %zu events, window %lld s\n", exposures->size(), events.size(),
                static_cast<long long>(o.window_seconds));
    for (const ExperimentReport& r : reports) {
      std::printf("\nexperiment %s (control %s): sample ratio chi2 %.2f, p %.4g%s; %llu customers in several variants "
                  "left out\n",
                  r.id.c_str(), r.control.c_str(), r.srm_chi2, r.srm_p, r.srm_flag ? "  ** SAMPLE RATIO MISMATCH **" : "",
                  static_cast<unsigned long long>(r.multi_variant_customers));
      std::printf("%-14s %9s %7s", "variant", "customers", "share");
      for (const Metric& m : metrics) std::printf("  %-36s", m.name);
      std::printf("\n");
      for (const VariantReport& v : r.variants) {
        std::printf("%-14s %9llu %6.1f%%", v.name.c_str(), static_cast<unsigned long long>(v.customers),
                    100 * v.expected_share);
        for (const Metric& m : metrics) {
          const MetricComparison& c = v.*(m.field);
          if (v.name == r.control) {
            std::printf("  %-36s", absl::StrCat(c.mean).c_str());
          } else {
            std::printf("  %-36s", absl::StrFormat("%.4g %+.4g [%+.4g, %+.4g] p=%.3g", c.mean, c.diff, c.ci_low,
                                                   c.ci_high, c.p_value).c_str());
          }
        }
        std::printf("\n");
      }
    }
  }
  if (const int n = absl::GetFlag(FLAGS_rerandomize); n > 0) {
    for (const ExperimentReport& r : reports) {
      const Calibration c = CalibrateByRerandomization(*exposures, events, r.id, o, n);
      // (On stderr with --json, which keeps stdout one JSON document.)
      std::fprintf(absl::GetFlag(FLAGS_json) ? stderr : stdout,
                   "%s: %d re-randomized A/A analyses, share significant at 5%%: conversion %.3f, shown_purchases "
                   "%.3f, clicks %.3f, revenue %.3f\n",
                   r.id.c_str(), n, c.conversion, c.shown_purchases, c.clicks, c.revenue);
    }
  }
  // --fail_if_worse: a variant worse than the control by more than --max_drop with 95% confidence.
  for (absl::string_view g : absl::StrSplit(absl::GetFlag(FLAGS_fail_if_worse), ',', absl::SkipEmpty())) {
    const Metric* m = nullptr;
    for (const Metric& x : metrics) {
      if (g == x.name) m = &x;
    }
    if (m == nullptr) return fail(absl::StrCat("--fail_if_worse: unknown metric '", g, "'"), 2);
    for (const ExperimentReport& r : reports) {
      for (const VariantReport& v : r.variants) {
        if (v.name != r.control && (v.*(m->field)).ci_high < -absl::GetFlag(FLAGS_max_drop)) {
          std::fprintf(stderr, "aisle-eval experiment: %s variant %s is worse than %s on %s\n", r.id.c_str(),
                       v.name.c_str(), r.control.c_str(), m->name);
          return 3;
        }
      }
    }
  }
  return 0;
}

}  // namespace aisle

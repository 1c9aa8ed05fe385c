// Analysis of online experiments (aisle-eval experiment): the exposure log
// (what each variant showed to whom, server/exposure_log.h) joined with the
// storefront's events (the event journal, with recommendation_id), per
// experiment and variant: customers exposed, conversion within a window
// after their first exposure, purchases of products they were shown,
// clicks, revenue per exposed customer; each against the control as a
// difference with a 95% interval and a two-sided p-value computed over
// customers (the unit of randomization: Welch's unequal-variance normal
// approximation); a sample-ratio-mismatch check (chi-squared of exposed
// customers against the configured weights, flagged below p = 0.001); and
// customers seen in more than one variant, counted and left out.
// Definitions: docs/EVALUATION.md, "Online experiments".
// Thread-safe: free functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "events/exposure_record.h"
#include "events/live_event.h"

namespace aisle {

struct ExperimentAnalysisOptions {
  int64_t window_seconds = 7 * 86400;  // after a customer's first exposure
  // Configured weights, by experiment and variant (for the ratio check);
  // an experiment without them is checked against equal shares.
  std::map<std::string, std::map<std::string, double>> weights;
  std::map<std::string, std::string> controls;  // by experiment; default: the first variant seen by name order
};

// A metric of a variant against the control.
struct MetricComparison {
  double mean = 0;           // per exposed customer
  double diff = 0;           // mean - control's mean
  double ci_low = 0, ci_high = 0;  // 95%
  double p_value = 1;
};

struct VariantReport {
  std::string name;
  uint64_t customers = 0;    // exposed, in this variant only
  uint64_t exposures = 0;
  double expected_share = 0;  // from the weights
  MetricComparison conversion, shown_purchases, clicks, revenue;
};

struct ExperimentReport {
  std::string id;
  std::string control;
  std::vector<VariantReport> variants;  // the control first
  uint64_t multi_variant_customers = 0;  // seen in more than one variant: left out
  double srm_chi2 = 0, srm_p = 1;
  bool srm_flag = false;                 // srm_p < 0.001
};

std::vector<ExperimentReport> AnalyzeExperiments(absl::Span<const ExposureRecord> exposures,
                                                 absl::Span<const LiveEvent> events,
                                                 const ExperimentAnalysisOptions& options);

// Calibration by re-randomization: `resamples` times, every customer of
// `experiment` is re-assigned at random between two arms (a fresh salt each
// time, equal weights; engine/experiment_assignment.h), so that no arm can
// differ but by chance, and the analysis is run again. The share of
// comparisons called significant at `alpha` should be `alpha` within
// binomial noise; more means the intervals are too narrow.
struct Calibration {
  int resamples = 0;
  double alpha = 0.05;
  double conversion = 0, shown_purchases = 0, clicks = 0, revenue = 0;  // shares significant
};
Calibration CalibrateByRerandomization(absl::Span<const ExposureRecord> exposures, absl::Span<const LiveEvent> events,
                                       const std::string& experiment, const ExperimentAnalysisOptions& options,
                                       int resamples, double alpha = 0.05);

// P(X > x) for X chi-squared with `df` degrees of freedom.
double ChiSquaredSurvival(double x, double df);

}  // namespace aisle

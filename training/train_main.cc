// aisle-train: reads purchase history, trains an iALS model and writes the
// model file atomically. Exit status 0 only on success.
#include <omp.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/model_io.h"
#include "training/train_job.h"

ABSL_FLAG(std::string, input, "",
          "Event file(s) to train on, comma-separated; all must have the same --format.");
ABSL_FLAG(std::string, output, "", "Where to write the model file (written atomically).");
ABSL_FLAG(std::string, format, "events",
          "Input format: events (CSV with a header naming the columns), online_retail (UCI Online "
          "Retail / Online Retail II as published) or ncf (tab-separated user item rating "
          "[timestamp], no header). See data/FORMATS.md.");
ABSL_FLAG(std::string, separator, "",
          "Field separator, one character or 'tab'; default ',' (tab for --format=ncf).");
ABSL_FLAG(std::string, customer_column, "customer_id", "events format: customer id column.");
ABSL_FLAG(std::string, product_column, "product_id", "events format: product id column.");
ABSL_FLAG(std::string, timestamp_column, "timestamp",
          "events format: timestamp column (ISO-8601 or Unix seconds).");
ABSL_FLAG(std::string, quantity_column, "quantity",
          "events format: quantity column (optional in the file; 1 when absent).");
ABSL_FLAG(std::string, price_column, "price", "events format: unit price column (optional).");
ABSL_FLAG(std::string, event_column, "event",
          "events format: event type column (optional): purchase, cart, view or return.");
ABSL_FLAG(std::string, channel_column, "channel",
          "events format: channel column (optional): web, app or store.");
ABSL_FLAG(std::string, country_column, "country", "events format: country column (optional).");
ABSL_FLAG(bool, strict, false,
          "Stop at the first malformed row, naming file, line and reason. By default malformed "
          "rows are skipped and counted per reason.");
ABSL_FLAG(double, max_malformed_fraction, 0.01,
          "Without --strict, fail when more than this share of rows is malformed.");
ABSL_FLAG(int, max_id_length, 256, "Customer or product ids longer than this are malformed.");

ABSL_FLAG(double, purchase_weight, 1.0, "Weight of a purchase event.");
ABSL_FLAG(double, cart_weight, 0.3, "Weight of an add-to-cart event.");
ABSL_FLAG(double, view_weight, 0.1, "Weight of a product view event.");
ABSL_FLAG(double, return_weight, 1.0, "Weight subtracted for a return (or cancellation).");
ABSL_FLAG(std::string, quantity_scaling, "log",
          "How quantity scales an event's weight: none, linear or log (log(1 + quantity)).");
ABSL_FLAG(double, half_life_days, 0,
          "Recency half-life in days: an event this old counts half. 0 disables decay.");
ABSL_FLAG(int64_t, reference_time, 0,
          "Reference time (Unix seconds) for the half-life; 0 means the latest event.");

ABSL_FLAG(int, factors, 64, "Latent factors per customer and product.");
ABSL_FLAG(double, regularization, 0.01, "L2 regularization (lambda).");
ABSL_FLAG(bool, frequency_scaled_regularization, false,
          "Scale each row's lambda by (its interactions + unobserved_weight x columns)^"
          "regularization_exponent, as in Rendle et al. 2022.");
ABSL_FLAG(double, regularization_exponent, 1.0,
          "Exponent nu of the frequency scaling (with --frequency_scaled_regularization).");
ABSL_FLAG(double, alpha, 1.0, "Confidence scale: an interaction of weight w counts 1 + alpha x w.");
ABSL_FLAG(double, unobserved_weight, 1.0,
          "Weight alpha0 of every unobserved (customer, product) pair pulled towards 0.");
ABSL_FLAG(int, iterations, 15, "ALS iterations (each solves all customers, then all products).");
ABSL_FLAG(std::string, solver, "cg", "Per-row solver: cg (conjugate gradient) or cholesky (exact).");
ABSL_FLAG(int, cg_steps, 3, "Conjugate-gradient steps per row and iteration.");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the initial factors.");
ABSL_FLAG(int, threads, 0, "Worker threads; 0 uses all cores (or OMP_NUM_THREADS).");
ABSL_FLAG(bool, quiet, false, "Print only errors.");

namespace aisle {
namespace {

absl::StatusOr<char> ParseSeparator(const std::string& s) {
  if (s.empty()) return '\0';
  if (s == "tab" || s == "\\t") return '\t';
  if (s.size() == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r') return s[0];
  return absl::InvalidArgumentError(absl::StrCat("bad --separator '", s, "': one character or 'tab'"));
}

absl::StatusOr<TrainJobOptions> OptionsFromFlags() {
  TrainJobOptions o;
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_input), ',', absl::SkipEmpty())) {
    o.inputs.emplace_back(p);
  }
  if (o.inputs.empty()) return absl::InvalidArgumentError("--input is required");
  auto format = ParseInputFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return format.status();
  o.load.format = *format;
  auto sep = ParseSeparator(absl::GetFlag(FLAGS_separator));
  if (!sep.ok()) return sep.status();
  o.load.separator = *sep;
  o.load.columns.customer = absl::GetFlag(FLAGS_customer_column);
  o.load.columns.product = absl::GetFlag(FLAGS_product_column);
  o.load.columns.timestamp = absl::GetFlag(FLAGS_timestamp_column);
  o.load.columns.quantity = absl::GetFlag(FLAGS_quantity_column);
  o.load.columns.price = absl::GetFlag(FLAGS_price_column);
  o.load.columns.event = absl::GetFlag(FLAGS_event_column);
  o.load.columns.channel = absl::GetFlag(FLAGS_channel_column);
  o.load.columns.country = absl::GetFlag(FLAGS_country_column);
  o.load.strict = absl::GetFlag(FLAGS_strict);
  if (absl::GetFlag(FLAGS_max_id_length) < 1) return absl::InvalidArgumentError("--max_id_length must be >= 1");
  o.load.max_id_length = static_cast<size_t>(absl::GetFlag(FLAGS_max_id_length));
  o.max_malformed_fraction = absl::GetFlag(FLAGS_max_malformed_fraction);
  if (!(o.max_malformed_fraction >= 0 && o.max_malformed_fraction <= 1)) {
    return absl::InvalidArgumentError("--max_malformed_fraction must be in [0, 1]");
  }

  WeightingOptions& w = o.weighting;
  w.purchase_weight = static_cast<float>(absl::GetFlag(FLAGS_purchase_weight));
  w.cart_weight = static_cast<float>(absl::GetFlag(FLAGS_cart_weight));
  w.view_weight = static_cast<float>(absl::GetFlag(FLAGS_view_weight));
  w.return_weight = static_cast<float>(absl::GetFlag(FLAGS_return_weight));
  for (double v : {w.purchase_weight, w.cart_weight, w.view_weight, w.return_weight}) {
    if (!(v >= 0)) return absl::InvalidArgumentError("event weights must be >= 0");
  }
  auto scaling = ParseQuantityScaling(absl::GetFlag(FLAGS_quantity_scaling));
  if (!scaling.ok()) return scaling.status();
  w.quantity_scaling = *scaling;
  w.half_life_days = absl::GetFlag(FLAGS_half_life_days);
  if (!(w.half_life_days >= 0)) return absl::InvalidArgumentError("--half_life_days must be >= 0");
  w.reference_time = absl::GetFlag(FLAGS_reference_time);

  IalsOptions& t = o.ials;
  t.factors = absl::GetFlag(FLAGS_factors);
  t.objective.regularization = static_cast<float>(absl::GetFlag(FLAGS_regularization));
  t.objective.regularization_exponent =
      absl::GetFlag(FLAGS_frequency_scaled_regularization)
          ? static_cast<float>(absl::GetFlag(FLAGS_regularization_exponent))
          : 0.0f;
  t.objective.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
  t.objective.unobserved_weight = static_cast<float>(absl::GetFlag(FLAGS_unobserved_weight));
  t.iterations = absl::GetFlag(FLAGS_iterations);
  const std::string solver = absl::GetFlag(FLAGS_solver);
  if (solver == "cg") {
    t.solve.solver = AlsSolver::kConjugateGradient;
  } else if (solver == "cholesky") {
    t.solve.solver = AlsSolver::kCholesky;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown --solver '", solver, "' (expected cg or cholesky)"));
  }
  t.solve.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  t.seed = absl::GetFlag(FLAGS_seed);
  t.threads = absl::GetFlag(FLAGS_threads);
  if (absl::Status s = t.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("bad training flags: ", s.message()));
  }
  if (absl::GetFlag(FLAGS_quiet)) o.log = nullptr;
  return o;
}

int Main() {
  const std::string output = absl::GetFlag(FLAGS_output);
  auto options = OptionsFromFlags();
  if (options.ok() && output.empty()) options = absl::InvalidArgumentError("--output is required");
  if (!options.ok()) {
    std::fprintf(stderr, "aisle-train: %s\n(see aisle-train --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  auto result = RunTrainJob(*options);
  if (!result.ok()) {
    std::fprintf(stderr, "aisle-train: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = WriteModel(result->model, output); !s.ok()) {
    std::fprintf(stderr, "aisle-train: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (options->log != nullptr) {
    std::fprintf(options->log, "wrote model %s to %s\n",
                 result->model.metadata["model_id"].get<std::string>().c_str(), output.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace aisle

int main(int argc, char** argv) {
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "train_main.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [] { return std::string("aisle-train 0.1.0\n"); };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(
      "Trains an implicit-feedback recommendation model from purchase history.\n"
      "Usage: aisle-train --input FILE[,FILE...] --output MODEL [flags]");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "aisle-train: unexpected argument '%s' (see --help)\n", positional[1]);
    return 2;
  }
  return aisle::Main();
}

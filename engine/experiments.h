// Experiments: the online experiments a server runs, as read from the
// experiments file (JSON; data/FORMATS.md, "Experiments file"): each with
// an id, a salt for assignment (engine/experiment_assignment.h), the
// endpoints it covers, a start and an end, and variants, each with a
// weight and what it serves (the main model, another model, the
// popularity ranking, another offer catalog). Parse() checks everything up
// front and names the experiment, the variant and the reason of the first
// problem, so a bad file is refused whole. At most one experiment covers an
// endpoint at any moment (overlapping ones are refused), so a request is in
// at most one experiment. Immutable once loaded; concurrent reads are safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace aisle {

inline constexpr size_t kMaxExperimentsFileBytes = size_t{16} << 20;

// The endpoints an experiment may cover (also the exposure log's names).
inline constexpr absl::string_view kExperimentEndpoints[] = {"customer_recommendations", "customer_offers",
                                                             "similar_products", "basket_recommendations"};

struct ExperimentVariant {
  std::string name;
  double weight = 1;            // >= 0; shares are weight / sum of weights
  enum class Serve { kModel, kPopularity } serve = Serve::kModel;
  std::string model;            // a model file or publish directory; empty: the server's main model
  std::string offers;           // an offer catalog; empty: the server's (with the variant's model)
};

struct Experiment {
  std::string id;
  std::string salt;
  std::vector<std::string> endpoints;
  absl::Time start = absl::InfinitePast();  // inclusive
  absl::Time end = absl::InfiniteFuture();  // exclusive
  std::vector<ExperimentVariant> variants;
  std::string control;          // the variant the analysis compares with (default: the first)

  bool ActiveAt(absl::Time t) const { return start <= t && t < end; }
  bool Covers(absl::string_view endpoint) const;
};

class ExperimentSet {
 public:
  // Parses the file's text; `name` stands for the file in messages.
  static absl::StatusOr<ExperimentSet> Parse(absl::string_view text, absl::string_view name);
  // A regular file of at most kMaxExperimentsFileBytes (OutOfRange past it).
  static absl::StatusOr<ExperimentSet> Load(const std::string& path);

  const std::vector<Experiment>& experiments() const { return experiments_; }
  // The experiment covering `endpoint` at `t`, or null.
  const Experiment* For(absl::string_view endpoint, absl::Time t) const;
  // Every distinct variant model path (for loading them beside the main one).
  std::vector<std::string> ModelPaths() const;

 private:
  std::vector<Experiment> experiments_;
};

}  // namespace aisle

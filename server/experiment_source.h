// ExperimentSource: the online experiments a server runs (--experiments
// FILE, engine/experiments.h) and what each variant serves. The file is
// reloaded when it changes (on the model watcher's ticks, SIGHUP and
// /v1/admin/reload); a malformed new file is refused with its reason,
// logged and counted, and the previous experiments keep running. Variants
// that serve another model (or another offer catalog) get a ModelSource of
// their own, loaded beside the main one and reloaded like it; a variant
// whose model cannot be loaded refuses the whole file.
// Per request, Pick() says which experiment covers the endpoint now, which
// variant the unit (customer, or anonymous visitor) is in
// (engine/experiment_assignment.h), and what serves it.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <vector>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/experiments.h"
#include "server/model_source.h"

namespace aisle {

class ExperimentSource {
 public:
  // `main` serves variants without a model or offer catalog of their own;
  // the paths and options are the main source's, for variant sources.
  struct MainServing {
    ModelSource* source;
    std::string model, catalog, offers;
    Recommender::Options options;
  };
  ExperimentSource(std::string path, MainServing main);

  // (Re)loads the file and the variant models when they changed. OK when
  // nothing changed or the new file now runs; the error otherwise.
  absl::Status Reload(bool force = false);

  // The experiments running, with answer counters per variant and endpoint.
  struct Running {
    ExperimentSet set;
    std::vector<size_t> first_variant;  // per experiment: index of its first variant in `answers`
    mutable std::vector<std::array<std::atomic<uint64_t>, 4>> answers;  // per variant, per kExperimentEndpoints
  };
  struct Choice {
    std::shared_ptr<const Running> set;        // keeps the pointers below alive
    const Experiment* experiment = nullptr;    // null: no experiment covers the request
    const ExperimentVariant* variant = nullptr;
    std::shared_ptr<const Recommender> recommender;  // the variant's model (null: the main one)
    std::shared_ptr<const OfferRanker> offers;       // the variant's offers (null: the main ones)
    std::atomic<uint64_t>* answers = nullptr;         // the variant's counter for this endpoint
    bool popularity() const { return variant != nullptr && variant->serve == ExperimentVariant::Serve::kPopularity; }
    // Counts an answer given in the variant.
    void Count() const {
      if (answers != nullptr) answers->fetch_add(1, std::memory_order_relaxed);
    }
  };
  // An empty unit is never enrolled.
  Choice Pick(absl::string_view endpoint, absl::string_view unit, absl::Time now) const;

  struct Stats {
    uint64_t reloads_ok = 0, reloads_failed = 0;
    std::string last_error;
    size_t experiments = 0;
  };
  Stats stats() const;
  // Prometheus text: reloads, experiments, answers per experiment, variant and endpoint.
  std::string RenderMetrics() const;

 private:
  using Key = std::pair<std::string, std::string>;  // (model path, offers path) of a variant source
  Key KeyOf(const ExperimentVariant& v) const;

  const std::string path_;
  const MainServing main_;
  std::mutex reload_mu_;
  mutable std::mutex mu_;
  std::shared_ptr<const Running> set_;
  std::map<Key, std::shared_ptr<ModelSource>> sources_;  // variant sources in use
  std::string stat_;
  Stats stats_;
};

}  // namespace aisle

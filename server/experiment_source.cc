#include "server/experiment_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/experiment_assignment.h"
#include "server/metrics.h"
#include "server/server_log.h"

namespace aisle {
namespace {

std::string StatOf(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return "missing";
  return absl::StrCat(sb.st_ino, ":", sb.st_size, ":", sb.st_mtim.tv_sec, ".", sb.st_mtim.tv_nsec);
}

}  // namespace

ExperimentSource::ExperimentSource(std::string path, MainServing main) : path_(std::move(path)), main_(std::move(main)) {}

ExperimentSource::Key ExperimentSource::KeyOf(const ExperimentVariant& v) const {
  if (v.model.empty() && v.offers.empty()) return {};
  return {v.model.empty() ? main_.model : v.model, v.offers.empty() ? main_.offers : v.offers};
}

absl::Status ExperimentSource::Reload(bool force) {
  std::lock_guard<std::mutex> reload(reload_mu_);
  const std::string stat = StatOf(path_);
  std::map<Key, std::shared_ptr<ModelSource>> sources;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sources = sources_;
  }
  if (!force && stat == stat_) {
    // Same file: only the variant models may have changed.
    for (auto& [key, source] : sources) {
      if (absl::Status s = source->Reload(false); !s.ok())
        ServerLog(absl::StrCat("experiment variant model: ", s.message()));
    }
    return absl::OkStatus();
  }
  auto set = ExperimentSet::Load(path_);
  absl::Status status = set.status();
  std::map<Key, std::shared_ptr<ModelSource>> next;
  if (status.ok()) {
    for (const Experiment& e : set->experiments()) {
      for (const ExperimentVariant& v : e.variants) {
        const Key key = KeyOf(v);
        if (key == Key() || next.count(key)) continue;
        auto it = sources.find(key);
        std::shared_ptr<ModelSource> source =
            it != sources.end() ? it->second
                                : std::make_shared<ModelSource>(key.first, main_.catalog, nullptr, main_.options);
        if (it == sources.end() && !key.second.empty()) source->SetOfferCatalog(key.second);
        absl::Status s = source->Reload(it == sources.end());
        if (!s.ok() || source->Current() == nullptr) {
          status = absl::InvalidArgumentError(absl::StrCat("experiment '", e.id, "', variant '", v.name,
                                                           "': cannot load ", key.first, ": ", s.message()));
          break;
        }
        next[key] = std::move(source);
      }
      if (!status.ok()) break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  stat_ = stat;  // a refused file is not retried every tick
  if (!status.ok()) {
    ++stats_.reloads_failed;
    stats_.last_error = std::string(status.message());
    ServerLog(absl::StrCat("experiments file refused, ",
                           set_ != nullptr ? "the previous experiments keep running: " : "no experiment is running: ",
                           status.message()));
    return status;
  }
  auto running = std::make_shared<Running>();
  running->set = *std::move(set);
  size_t variants = 0;
  for (const Experiment& e : running->set.experiments()) {
    running->first_variant.push_back(variants);
    variants += e.variants.size();
  }
  running->answers = std::vector<std::array<std::atomic<uint64_t>, 4>>(variants);
  set_ = std::move(running);
  sources_ = std::move(next);
  ++stats_.reloads_ok;
  stats_.experiments = set_->set.experiments().size();
  ServerLog(absl::StrCat("running ", stats_.experiments, " experiments from ", path_, " (", sources_.size(),
                         " variant models)"));
  return absl::OkStatus();
}

ExperimentSource::Choice ExperimentSource::Pick(absl::string_view endpoint, absl::string_view unit,
                                                absl::Time now) const {
  Choice c;
  std::map<Key, std::shared_ptr<ModelSource>> sources;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c.set = set_;
    if (!c.set) return c;
    c.experiment = c.set->set.For(endpoint, now);
    if (c.experiment == nullptr || unit.empty()) {
      c.experiment = nullptr;
      return c;
    }
    std::vector<VariantWeight> weights;
    for (const ExperimentVariant& v : c.experiment->variants) weights.push_back({v.name, v.weight});
    const int i = AssignVariant(c.experiment->salt, unit, weights);
    if (i < 0 || static_cast<size_t>(i) >= c.experiment->variants.size()) {
      // Unreachable for a validated file (a positive weight is required);
      // never an index from an unchecked assignment.
      c.experiment = nullptr;
      return c;
    }
    c.variant = &c.experiment->variants[static_cast<size_t>(i)];
    const size_t e = static_cast<size_t>(c.experiment - c.set->set.experiments().data());
    const size_t ep = static_cast<size_t>(
        std::find(std::begin(kExperimentEndpoints), std::end(kExperimentEndpoints), endpoint) - std::begin(kExperimentEndpoints));
    if (ep < std::size(kExperimentEndpoints)) c.answers = &c.set->answers[c.set->first_variant[e] + static_cast<size_t>(i)][ep];
    const Key key = KeyOf(*c.variant);
    if (key == Key()) return c;
    auto it = sources_.find(key);
    if (it == sources_.end()) return c;
    c.recommender = it->second->Current();
    c.offers = it->second->CurrentOffers();
  }
  return c;
}

std::string ExperimentSource::RenderMetrics() const {
  std::shared_ptr<const Running> running;
  Stats st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = set_;
    st = stats_;
  }
  std::string out = absl::StrCat(
      "# TYPE aisle_experiments_reloads_total counter\naisle_experiments_reloads_total{result=\"ok\"} ", st.reloads_ok,
      "\naisle_experiments_reloads_total{result=\"failed\"} ", st.reloads_failed,
      "\n# TYPE aisle_experiments gauge\naisle_experiments ", st.experiments,
      "\n# HELP aisle_experiment_answers_total Answers given in an experiment's variant, by endpoint (since the "
      "file was loaded).\n# TYPE aisle_experiment_answers_total counter\n");
  if (!running) return out;
  const std::vector<Experiment>& exps = running->set.experiments();
  for (size_t e = 0; e < exps.size(); ++e) {
    for (size_t v = 0; v < exps[e].variants.size(); ++v) {
      for (size_t ep = 0; ep < std::size(kExperimentEndpoints); ++ep) {
        if (!exps[e].Covers(kExperimentEndpoints[ep])) continue;
        absl::StrAppend(&out, "aisle_experiment_answers_total{experiment=\"", PrometheusLabelValue(exps[e].id),
                        "\",variant=\"", PrometheusLabelValue(exps[e].variants[v].name), "\",endpoint=\"",
                        kExperimentEndpoints[ep], "\"} ",
                        running->answers[running->first_variant[e] + v][ep].load(std::memory_order_relaxed), "\n");
      }
    }
  }
  return out;
}

ExperimentSource::Stats ExperimentSource::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace aisle

#include "engine/experiments.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/atomic_file.h"
#include "engine/json_text.h"
#include "engine/offer_catalog.h"
#include "engine/utf8.h"

namespace aisle {
namespace {

// A positive weight is at least kMinVariantWeight and at least this share of
// the experiment's total: below it a variant gets (nearly) nobody, and
// weights near the smallest doubles make shares that are not finite.
constexpr double kMinVariantWeight = 1e-6;
constexpr double kMinVariantShare = 1e-12;

using json = nlohmann::json;

struct Bad {
  std::string reason;
};

std::string Text(const json& o, const char* key, bool required, size_t max = 256) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) throw Bad{absl::StrCat("'", key, "' is required")};
    return "";
  }
  if (!it->is_string()) throw Bad{absl::StrCat("'", key, "' must be a string")};
  const std::string& s = it->get_ref<const std::string&>();
  if ((required && s.empty()) || s.size() > max || !IsPrintableUtf8(s)) {
    throw Bad{absl::StrCat("'", key, "' must be a non-empty printable string of at most ", max, " bytes")};
  }
  return s;
}

void OnlyKeys(const json& o, std::initializer_list<const char*> keys) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    const std::string& k = it.key();
    if (std::none_of(keys.begin(), keys.end(), [&k](const char* x) { return k == x; })) {
      throw Bad{absl::StrCat("unknown field '", IsPrintableUtf8(k) ? k : "?", "'")};
    }
  }
}

absl::Time Time(const json& o, const char* key, absl::Time otherwise) {
  const std::string s = Text(o, key, false);
  if (s.empty()) return otherwise;
  auto t = ParseOfferTime(s);
  if (!t) throw Bad{absl::StrCat("'", key, "' must be a date, an RFC 3339 time or Unix seconds")};
  return *t;
}

ExperimentVariant ReadVariant(const json& v) {
  if (!v.is_object()) throw Bad{"a variant must be an object"};
  OnlyKeys(v, {"name", "weight", "serve", "model", "offers"});
  ExperimentVariant out;
  out.name = Text(v, "name", true, 64);
  if (auto it = v.find("weight"); it != v.end() && !it->is_null()) {
    const double w = it->is_number() ? it->get<double>() : -1;
    if (!it->is_number() || !(w == 0 || (w >= kMinVariantWeight && w <= 1e6))) {
      throw Bad{absl::StrCat("variant '", out.name, "': 'weight' must be 0 or a number in [1e-6, 1e6]")};
    }
    out.weight = it->get<double>();
  }
  const std::string serve = Text(v, "serve", false, 32);
  if (serve == "popularity") {
    out.serve = ExperimentVariant::Serve::kPopularity;
  } else if (!serve.empty() && serve != "model") {
    throw Bad{absl::StrCat("variant '", out.name, "': 'serve' must be model or popularity")};
  }
  out.model = Text(v, "model", false, 4096);
  out.offers = Text(v, "offers", false, 4096);
  if (out.serve == ExperimentVariant::Serve::kPopularity && !out.model.empty()) {
    throw Bad{absl::StrCat("variant '", out.name, "': a popularity variant has no model")};
  }
  return out;
}

Experiment ReadExperiment(const json& e) {
  if (!e.is_object()) throw Bad{"an experiment must be an object"};
  OnlyKeys(e, {"id", "salt", "endpoints", "start", "end", "variants", "control", "description"});
  Experiment out;
  out.id = Text(e, "id", true, 128);
  try {
    out.salt = Text(e, "salt", false, 256);
    if (out.salt.empty()) out.salt = out.id;
    auto eps = e.find("endpoints");
    if (eps == e.end() || !eps->is_array() || eps->empty()) throw Bad{"'endpoints' must list at least one endpoint"};
    for (const json& x : *eps) {
      const std::string name = x.is_string() ? x.get<std::string>() : "";
      if (std::find(std::begin(kExperimentEndpoints), std::end(kExperimentEndpoints), name) == std::end(kExperimentEndpoints)) {
        throw Bad{"'endpoints' holds an unknown endpoint (customer_recommendations, customer_offers, similar_products, "
                  "basket_recommendations)"};
      }
      if (std::find(out.endpoints.begin(), out.endpoints.end(), name) == out.endpoints.end()) out.endpoints.push_back(name);
    }
    out.start = Time(e, "start", absl::InfinitePast());
    out.end = Time(e, "end", absl::InfiniteFuture());
    if (!(out.start < out.end)) throw Bad{"'start' is not before 'end'"};
    auto vs = e.find("variants");
    if (vs == e.end() || !vs->is_array() || vs->size() < 2 || vs->size() > 100) {
      throw Bad{"'variants' must list 2 to 100 variants"};
    }
    absl::flat_hash_set<std::string> names;
    double total = 0;
    for (const json& v : *vs) {
      out.variants.push_back(ReadVariant(v));
      if (!names.insert(out.variants.back().name).second) {
        throw Bad{absl::StrCat("variant '", out.variants.back().name, "' appears twice")};
      }
      total += out.variants.back().weight;
    }
    if (!(total > 0)) throw Bad{"every variant has weight 0"};
    // Every positive weight must keep a share of the total.
    for (const ExperimentVariant& v : out.variants) {
      const double share = v.weight / total;
      if (v.weight > 0 && (!std::isfinite(share) || !(share >= kMinVariantShare))) {
        throw Bad{absl::StrCat("variant '", v.name, "': its weight is ", v.weight, ", a share of ", share,
                               " of the total ", total, ": a positive weight must be at least ", kMinVariantShare,
                               " of the total (use 0 to give a variant nobody)")};
      }
    }
    out.control = Text(e, "control", false, 64);
    if (out.control.empty()) out.control = out.variants.front().name;
    if (!names.contains(out.control)) throw Bad{absl::StrCat("'control' names no variant: '", out.control, "'")};
  } catch (const Bad& b) {
    throw Bad{absl::StrCat("experiment '", out.id, "': ", b.reason)};
  }
  return out;
}

}  // namespace

bool Experiment::Covers(absl::string_view endpoint) const {
  return std::find(endpoints.begin(), endpoints.end(), endpoint) != endpoints.end();
}

absl::StatusOr<ExperimentSet> ExperimentSet::Parse(absl::string_view text, absl::string_view name) {
  auto doc = ParseJsonText(text);
  if (!doc.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", doc.status().message()));
  ExperimentSet set;
  try {
    if (!doc->is_object()) throw Bad{"the file must be a JSON object {\"experiments\": [...]}"};
    OnlyKeys(*doc, {"experiments", "version"});
    auto list = doc->find("experiments");
    if (list == doc->end() || !list->is_array()) throw Bad{"'experiments' must be an array"};
    if (list->size() > 1000) throw Bad{"more than 1000 experiments"};
    absl::flat_hash_set<std::string> ids;
    for (const json& e : *list) {
      set.experiments_.push_back(ReadExperiment(e));
      if (!ids.insert(set.experiments_.back().id).second) {
        throw Bad{absl::StrCat("experiment '", set.experiments_.back().id, "' appears twice")};
      }
    }
    // One experiment per endpoint at any time: a request is in at most one.
    for (size_t a = 0; a < set.experiments_.size(); ++a) {
      for (size_t b = a + 1; b < set.experiments_.size(); ++b) {
        const Experiment& x = set.experiments_[a];
        const Experiment& y = set.experiments_[b];
        const bool overlap = x.start < y.end && y.start < x.end;
        for (const std::string& ep : x.endpoints) {
          if (overlap && y.Covers(ep)) {
            throw Bad{absl::StrCat("experiments '", x.id, "' and '", y.id, "' both cover ", ep,
                                   " at the same time (one experiment per endpoint at a time)")};
          }
        }
      }
    }
  } catch (const Bad& b) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", b.reason));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", e.what()));
  }
  return set;
}

absl::StatusOr<ExperimentSet> ExperimentSet::Load(const std::string& path) {
  std::string text;
  if (absl::Status s = ReadFileToString(path, &text, kMaxExperimentsFileBytes); !s.ok()) return s;
  return Parse(text, path);
}

const Experiment* ExperimentSet::For(absl::string_view endpoint, absl::Time t) const {
  for (const Experiment& e : experiments_) {
    if (e.ActiveAt(t) && e.Covers(endpoint)) return &e;
  }
  return nullptr;
}

std::vector<std::string> ExperimentSet::ModelPaths() const {
  std::set<std::string> paths;
  for (const Experiment& e : experiments_) {
    for (const ExperimentVariant& v : e.variants) {
      if (!v.model.empty()) paths.insert(v.model);
    }
  }
  return {paths.begin(), paths.end()};
}

}  // namespace aisle

#include "engine/model.h"

#include <cmath>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "engine/utf8.h"

namespace aisle {

namespace {

// Unix seconds of year 9999: later cut-offs are nonsense (and would overflow as ms).
constexpr int64_t kMaxCutoff = 253402300799;

struct NumberField {
  const char* name;
  float* value;
};

// Reads the fields of metadata object `section` that are present into
// their floats: each must be a number in [0, max].
absl::Status ReadNumbers(const nlohmann::json& section, const char* what, double max,
                         std::initializer_list<NumberField> fields) {
  for (const NumberField& f : fields) {
    auto it = section.find(f.name);
    if (it == section.end() || it->is_null()) continue;
    const double v = it->is_number() ? it->get<double>() : -1;
    if (!(v >= 0 && v <= max)) {
      return absl::InvalidArgumentError(absl::StrCat("metadata ", what, " ", f.name, " is not a number in [0, ", max, "]"));
    }
    *f.value = static_cast<float>(v);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Model::SetMetadata(nlohmann::json meta) {
  if (!meta.is_object()) return absl::InvalidArgumentError("metadata is not a JSON object");
  std::string id;
  if (auto it = meta.find("model_id"); it != meta.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metadata model_id is not a string");
    id = it->get<std::string>();
    if (id.size() > kMaxModelIdBytes || !IsPrintableUtf8(id)) {
      return absl::InvalidArgumentError(absl::StrCat("metadata model_id is longer than ", kMaxModelIdBytes,
                                                     " bytes or holds control characters or invalid UTF-8"));
    }
  }
  AlsObjective obj;
  if (auto h = meta.find("hyperparameters"); h != meta.end() && !h->is_null()) {
    if (!h->is_object()) return absl::InvalidArgumentError("metadata hyperparameters is not an object");
    absl::Status s = ReadNumbers(*h, "hyperparameter", 1e30,
                                 {{"alpha", &obj.alpha},
                                  {"unobserved_weight", &obj.unobserved_weight},
                                  {"regularization", &obj.regularization},
                                  {"regularization_exponent", &obj.regularization_exponent}});
    if (!s.ok()) return s;
  }
  if (obj.regularization <= 0 && obj.unobserved_weight <= 0) obj.regularization = 0.01f;
  int64_t cutoff = 0;
  uint64_t through = 0;
  if (auto d = meta.find("data"); d != meta.end() && !d->is_null()) {
    if (!d->is_object()) return absl::InvalidArgumentError("metadata data is not an object");
    if (auto it = d->find("last_event_unix"); it != d->end() && !it->is_null()) {
      if (!it->is_number_integer()) return absl::InvalidArgumentError("metadata last_event_unix is not an integer");
      cutoff = it->get<int64_t>();
      if (cutoff < -kMaxCutoff || cutoff > kMaxCutoff) return absl::InvalidArgumentError("metadata last_event_unix is out of range");
    }
    if (auto it = d->find("events_through_segment"); it != d->end() && !it->is_null()) {
      if (!it->is_number_unsigned()) {
        return absl::InvalidArgumentError("metadata events_through_segment is not a non-negative integer");
      }
      through = it->get<uint64_t>();
    }
  }
  EventWeighting w;
  if (auto h = meta.find("weighting"); h != meta.end() && !h->is_null()) {
    if (!h->is_object()) return absl::InvalidArgumentError("metadata weighting is not an object");
    absl::Status s = ReadNumbers(*h, "weighting", 1e6,
                                 {{"purchase_weight", &w.purchase},
                                  {"cart_weight", &w.cart},
                                  {"view_weight", &w.view},
                                  {"return_weight", &w.return_weight},
                                  {"click_weight", &w.click}});
    if (!s.ok()) return s;
    if (auto it = h->find("quantity_scaling"); it != h->end() && !it->is_null()) {
      const std::string q = it->is_string() ? it->get<std::string>() : "";
      if (q == "none") {
        w.quantity = EventWeighting::Quantity::kNone;
      } else if (q == "linear") {
        w.quantity = EventWeighting::Quantity::kLinear;
      } else if (q == "log") {
        w.quantity = EventWeighting::Quantity::kLog;
      } else {
        return absl::InvalidArgumentError("metadata weighting quantity_scaling is not none, linear or log");
      }
    }
  }
  metadata = std::move(meta);
  model_id = std::move(id);
  objective = obj;
  last_event_unix = cutoff;
  events_through_segment = through;
  weighting = w;
  return absl::OkStatus();
}

absl::Status Model::Validate(bool loaded) const {
  auto fail = [loaded](std::string msg) {
    return loaded ? absl::DataLossError(msg) : absl::InvalidArgumentError(msg);
  };
  const size_t nc = customers.size();
  const size_t np = products.size();
  if (static_cast<size_t>(user_factors.rows()) != nc) {
    return fail(absl::StrCat("user factors have ", user_factors.rows(), " rows for ", nc, " customers"));
  }
  if (static_cast<size_t>(item_factors.rows()) != np) {
    return fail(absl::StrCat("item factors have ", item_factors.rows(), " rows for ", np, " products"));
  }
  if (user_factors.cols() != item_factors.cols()) {
    return fail(absl::StrCat("user factors have ", user_factors.cols(), " columns, item factors ",
                             item_factors.cols()));
  }
  if (item_factors.cols() == 0) return fail("model has zero factors");
  if (!user_factors.allFinite()) return fail("user factors contain NaN or infinity");
  if (!item_factors.allFinite()) return fail("item factors contain NaN or infinity");
  if (item_popularity.size() != np) {
    return fail(absl::StrCat("popularity has ", item_popularity.size(), " entries for ", np, " products"));
  }
  if (purchased.rows != nc || purchased.cols != np || purchased.indptr.size() != nc + 1) {
    return fail(absl::StrCat("purchase matrix is ", purchased.rows, "x", purchased.cols,
                             ", expected ", nc, "x", np));
  }
  if (purchased.indptr[0] != 0 || purchased.indptr[nc] != purchased.indices.size()) {
    return fail("purchase matrix row pointers do not span its entries");
  }
  for (size_t r = 0; r < nc; ++r) {
    uint64_t b = purchased.indptr[r], e = purchased.indptr[r + 1];
    if (e < b || e > purchased.indices.size()) return fail("purchase matrix row pointers not monotone");
    for (uint64_t p = b; p < e; ++p) {
      if (purchased.indices[p] >= np) return fail("purchase matrix product index out of range");
      if (p > b && purchased.indices[p] <= purchased.indices[p - 1]) {
        return fail("purchase matrix row not sorted");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace aisle

#include "engine/model.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "engine/utf8.h"

namespace aisle {

uint64_t InstanceId::Next() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

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
  Algorithm algo = Algorithm::kIals;
  if (auto it = meta.find("algorithm"); it != meta.end() && !it->is_null()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metadata algorithm is not a string");
    auto a = ParseAlgorithm(it->get_ref<const std::string&>());
    if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat("metadata ", a.status().message()));
    algo = *a;
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
      auto q = ParseQuantityScaling(it->is_string() ? it->get_ref<const std::string&>() : "");
      if (!q.ok()) return absl::InvalidArgumentError("metadata weighting quantity_scaling is not none, linear or log");
      w.quantity = *q;
    }
  }
  BuyAgainParams buy_again;
  if (auto b = meta.find("buy_again"); b != meta.end() && !b->is_null()) {
    auto p = BuyAgainParams::FromJson(*b);
    if (!p.ok()) return p.status();
    buy_again = *p;
  }
  metadata = std::move(meta);
  this->buy_again = buy_again;
  model_id = std::move(id);
  algorithm = algo;
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
  const FactorView users = this->users(), items = this->items();
  if (static_cast<size_t>(users.rows()) != nc) {
    return fail(absl::StrCat("user factors have ", users.rows(), " rows for ", nc, " customers"));
  }
  if (static_cast<size_t>(items.rows()) != np) {
    return fail(absl::StrCat("item factors have ", items.rows(), " rows for ", np, " products"));
  }
  if (users.cols() != items.cols()) {
    return fail(absl::StrCat("user factors have ", users.cols(), " columns, item factors ", items.cols()));
  }
  if (ScoresByItems(algorithm)) {
    if (items.cols() != 0) return fail(absl::StrCat(AlgorithmName(algorithm), " model has factors"));
    if (item_weights.empty()) return fail(absl::StrCat(AlgorithmName(algorithm), " model has no item weights"));
  } else {
    if (items.cols() == 0) return fail("model has zero factors");
    if (!item_weights.empty()) return fail("ials model has item weights");
  }
  // Finite factors, in row blocks on all threads (billions of floats at scale).
  auto finite = [](const FactorView& m) {
    constexpr Eigen::Index kBlock = 16384;
    const long blocks = static_cast<long>((m.rows() + kBlock - 1) / kBlock);
    std::atomic<bool> ok{true};
#pragma omp parallel for schedule(dynamic, 4)
    for (long b = 0; b < blocks; ++b) {
      const Eigen::Index first = b * kBlock, n = std::min(kBlock, m.rows() - first);
      // A float is NaN or infinite when its exponent bits are all ones:
      // integer masks, which vectorize (std::isfinite does not here).
      const uint32_t* p = reinterpret_cast<const uint32_t*>(m.data() + first * m.cols());
      uint32_t bad = 0;
      for (Eigen::Index i = 0; i < n * m.cols(); ++i) bad |= static_cast<uint32_t>((p[i] & 0x7F800000u) == 0x7F800000u);
      if (bad != 0) ok = false;
    }
    return ok.load();
  };
  if (!finite(users)) return fail("user factors contain NaN or infinity");
  if (!finite(items)) return fail("item factors contain NaN or infinity");
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
    if (purchased.indptr[r + 1] < purchased.indptr[r]) return fail("purchase matrix row pointers not monotone");
  }
  // Rows sorted and in range, on all threads (hundreds of millions of entries at scale).
  std::atomic<int> bad{0};  // 1 out of range, 2 not sorted
#pragma omp parallel for schedule(dynamic, 4096)
  for (long r = 0; r < static_cast<long>(nc); ++r) {
    const uint64_t b = purchased.indptr[r], e = purchased.indptr[r + 1];
    if (b == e) continue;
    const uint32_t* x = purchased.indices.data();
    // Branch-free: strictly ascending and the last in range means all are.
    bool sorted = true;
    for (uint64_t p = b + 1; p < e; ++p) sorted &= x[p] > x[p - 1];
    if (!sorted) bad = 2;
    if (x[e - 1] >= np) bad = 1;
  }
  if (bad == 1) return fail("purchase matrix product index out of range");
  if (bad == 2) return fail("purchase matrix row not sorted");
  if (absl::Status s = history.Validate(purchased); !s.ok()) return fail(std::string(s.message()));
  if (absl::Status s = neighbours.Validate(static_cast<uint32_t>(products.size())); !s.ok()) {
    return fail(std::string(s.message()));
  }
  if (absl::Status s = item_weights.Validate(static_cast<uint32_t>(products.size()), /*signed_values=*/true,
                                             "item weights");
      !s.ok()) {
    return fail(std::string(s.message()));
  }
  for (const auto* c : {&item_clusters, &similar_clusters}) {
    if (c->empty()) continue;
    if (c->order.size() != np || c->offsets.front() != 0 || c->offsets.back() != np ||
        static_cast<size_t>(c->centroids.rows()) + 1 != c->offsets.size() || c->centroids.cols() != items.cols()) {
      return fail("product clusters do not match the products");
    }
    for (size_t j = 0; j + 1 < c->offsets.size(); ++j) {
      if (c->offsets[j + 1] < c->offsets[j]) return fail("product cluster offsets not ascending");
    }
    std::vector<char> seen(np, 0);
    for (uint32_t p : c->order) {
      if (p >= np || seen[p]) return fail("product cluster order is not a permutation of the products");
      seen[p] = 1;
    }
    if (!c->centroids.allFinite()) return fail("product cluster centres contain NaN or infinity");
  }
  return absl::OkStatus();
}

}  // namespace aisle

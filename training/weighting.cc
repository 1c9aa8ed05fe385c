#include "training/weighting.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace aisle {

absl::StatusOr<QuantityScaling> ParseQuantityScaling(absl::string_view name) {
  if (name == "none") return QuantityScaling::kNone;
  if (name == "linear") return QuantityScaling::kLinear;
  if (name == "log") return QuantityScaling::kLog;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown quantity scaling '", name, "' (expected none, linear or log)"));
}

Interactions BuildInteractions(const EventLog& log, const WeightingOptions& o) {
  return BuildInteractions(log, o, nullptr);
}

Interactions BuildInteractions(const EventLog& log, const WeightingOptions& o, std::vector<Event>* release) {
  Interactions out;
  const uint32_t nc = static_cast<uint32_t>(log.customers.size());
  const uint32_t np = static_cast<uint32_t>(log.products.size());
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const Event& e : log.events) {
    first = std::min(first, e.timestamp);
    last = std::max(last, e.timestamp);
  }
  if (log.events.empty()) first = last = 0;
  out.first_timestamp = first;
  out.last_timestamp = last;
  const int64_t ref = o.reference_time != 0 ? o.reference_time : last;
  const double decay_per_second =
      o.half_life_days > 0 ? std::log(0.5) / (o.half_life_days * 86400.0) : 0.0;

  std::vector<Triplet> weights;
  std::vector<Triplet> net_purchases;
  weights.reserve(log.events.size());
  net_purchases.reserve(static_cast<size_t>(std::count_if(log.events.begin(), log.events.end(), [](const Event& e) {
    return e.type == EventType::kPurchase || e.type == EventType::kReturn;
  })));
  for (const Event& e : log.events) {
    double q = e.quantity;
    switch (o.quantity_scaling) {
      case QuantityScaling::kNone: q = 1; break;
      case QuantityScaling::kLinear: break;
      case QuantityScaling::kLog: q = std::log1p(q); break;
    }
    double w = 0;
    switch (e.type) {
      case EventType::kPurchase: w = o.purchase_weight * q; break;
      case EventType::kCart: w = o.cart_weight * q; break;
      case EventType::kView: w = o.view_weight * q; break;
      case EventType::kReturn: w = -o.return_weight * q; break;
      case EventType::kClick: w = o.click_weight * q; break;
    }
    if (decay_per_second != 0) {
      // Future events (after the reference time) count fully.
      double age = static_cast<double>(std::max<int64_t>(0, ref - e.timestamp));
      w *= std::exp(decay_per_second * age);
    }
    weights.push_back({e.customer, e.product, static_cast<float>(w)});
    if (e.type == EventType::kPurchase) net_purchases.push_back({e.customer, e.product, e.quantity});
    if (e.type == EventType::kReturn) net_purchases.push_back({e.customer, e.product, -e.quantity});
  }
  if (release != nullptr) std::vector<Event>().swap(*release);
  // Pairs that only ever had returns, or whose returns cancel their
  // purchases, carry no positive signal and are dropped.
  out.user_items = BuildCsr(nc, np, weights, /*drop=*/true, 1e-6f, &out.dropped_pairs);
  weights = {};
  out.purchased = BuildCsr(nc, np, net_purchases, /*drop=*/true, 0.0f);
  // Keep only customers and products with a positive weight somewhere.
  std::vector<uint32_t> row_of(nc, UINT32_MAX), col_of(np, UINT32_MAX);
  for (uint32_t r = 0; r < nc; ++r) {
    if (out.user_items.RowLength(r) > 0) {
      row_of[r] = static_cast<uint32_t>(out.customers.size());
      out.customers.push_back(r);
    }
  }
  for (uint32_t i : out.user_items.indices) col_of[i] = 0;
  for (uint32_t i = 0; i < np; ++i) {
    if (col_of[i] == 0) {
      col_of[i] = static_cast<uint32_t>(out.products.size());
      out.products.push_back(i);
    }
  }
  if (out.customers.size() < nc || out.products.size() < np) {
    auto compact = [&](const CsrMatrix& m) {
      std::vector<Triplet> t;
      t.reserve(m.nnz());
      for (uint32_t r = 0; r < m.rows; ++r) {
        if (row_of[r] == UINT32_MAX) continue;
        for (uint64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
          if (col_of[m.indices[p]] == UINT32_MAX) continue;
          t.push_back({row_of[r], col_of[m.indices[p]], m.values[p]});
        }
      }
      return BuildCsr(static_cast<uint32_t>(out.customers.size()),
                      static_cast<uint32_t>(out.products.size()), t);
    };
    out.user_items = compact(out.user_items);
    out.purchased = compact(out.purchased);
  }
  out.item_users = Transpose(out.user_items);
  out.purchased.values.clear();
  out.purchased.values.shrink_to_fit();
  out.item_popularity.resize(out.products.size());
  for (uint32_t i = 0; i < out.products.size(); ++i) out.item_popularity[i] = static_cast<float>(out.item_users.RowLength(i));
  return out;
}

}  // namespace aisle

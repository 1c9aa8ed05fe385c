#include "training/weighting.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "events/event_weight.h"

namespace aisle {

namespace {

// BuildCsr's two matrices (weights summed, pairs not above 1e-6 dropped and
// counted; net purchased quantities, pairs not above 0 dropped) straight
// from the events, without triplets: the events are bucketed by customer
// (12 bytes each), freed, then each customer's bucket is sorted by product
// and summed. The sums are BuildCsr's to the bit: the same sort of the same
// sequence, summed in the same order. Peak: the events plus their buckets.
template <typename WeightOf>
void AggregateReleasing(uint32_t nc, uint32_t np, const WeightOf& weight_of, std::vector<Event>* events,
                        Interactions* out) {
  struct Entry {
    uint32_t product;
    float weight;
    float net;  // +quantity for a purchase, -quantity for a return, NaN otherwise
  };
  std::vector<uint64_t> start(static_cast<size_t>(nc) + 1, 0);
  for (const Event& e : *events) ++start[e.customer + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<Entry> by_row(events->size());
  {
    std::vector<uint64_t> next(start.begin(), start.end() - 1);
    for (const Event& e : *events) {
      const float net = e.type == EventType::kPurchase ? e.quantity
                        : e.type == EventType::kReturn ? -e.quantity
                                                       : NAN;
      by_row[next[e.customer]++] = {e.product, weight_of(e), net};
    }
  }
  std::vector<Event>().swap(*events);
  CsrMatrix& w = out->user_items;
  CsrMatrix& p = out->purchased;
  w.rows = p.rows = nc;
  w.cols = p.cols = np;
  w.indptr.assign(static_cast<size_t>(nc) + 1, 0);
  p.indptr.assign(static_cast<size_t>(nc) + 1, 0);
  // At most one entry per event: reserved once (no doubling copies), cut to size below.
  w.indices.reserve(by_row.size());
  w.values.reserve(by_row.size());
  p.indices.reserve(by_row.size());
  p.values.reserve(by_row.size());
  uint64_t dropped = 0;
  for (uint32_t r = 0; r < nc; ++r) {
    auto b = by_row.begin() + static_cast<ptrdiff_t>(start[r]);
    auto e = by_row.begin() + static_cast<ptrdiff_t>(start[r + 1]);
    std::sort(b, e, [](const Entry& x, const Entry& y) { return x.product < y.product; });
    for (auto it = b; it != e;) {
      const uint32_t col = it->product;
      float sum = 0, net = 0;
      bool bought = false;
      for (; it != e && it->product == col; ++it) {
        sum += it->weight;
        if (!std::isnan(it->net)) {
          net += it->net;
          bought = true;
        }
      }
      if (sum > 1e-6f) {
        w.indices.push_back(col);
        w.values.push_back(sum);
      } else {
        ++dropped;
      }
      if (bought && net > 0.0f) {
        p.indices.push_back(col);
        p.values.push_back(net);
      }
    }
    w.indptr[r + 1] = w.indices.size();
    p.indptr[r + 1] = p.indices.size();
  }
  out->dropped_pairs = dropped;
  std::vector<Entry>().swap(by_row);
  for (CsrMatrix* m : {&w, &p}) {
    m->indices.shrink_to_fit();
    m->values.shrink_to_fit();
  }
}

}  // namespace

Interactions BuildInteractions(const EventLog& log, const WeightingOptions& o) {
  return BuildInteractions(log, o, nullptr);
}

Interactions BuildInteractions(const EventLog& log, const WeightingOptions& o, std::vector<Event>* release) {
  Interactions out;
  const uint32_t nc = static_cast<uint32_t>(log.customers.size());
  const uint32_t np = static_cast<uint32_t>(log.products.size());
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const Event& e : log.events) {
    first = std::min<int64_t>(first, e.timestamp);
    last = std::max<int64_t>(last, e.timestamp);
  }
  if (log.events.empty()) first = last = 0;
  out.first_timestamp = first;
  out.last_timestamp = last;
  const int64_t ref = o.reference_time != 0 ? o.reference_time : last;
  const double decay_per_second =
      o.half_life_days > 0 ? std::log(0.5) / (o.half_life_days * 86400.0) : 0.0;

  // The per-event rule the live loop applies too (events/event_weight.h),
  // then the time decay, which only training has.
  const EventWeighting rule = o.event_weighting();
  auto weight_of = [&](const Event& e) {
    double w = EventWeight(rule, e.type, e.quantity);
    if (decay_per_second != 0) {
      // Future events (after the reference time) count fully.
      double age = static_cast<double>(std::max<int64_t>(0, ref - e.timestamp));
      w *= std::exp(decay_per_second * age);
    }
    return static_cast<float>(w);
  };
  if (release != nullptr) {
    AggregateReleasing(nc, np, weight_of, release, &out);
  } else {
    std::vector<Triplet> weights;
    std::vector<Triplet> net_purchases;
    weights.reserve(log.events.size());
    net_purchases.reserve(static_cast<size_t>(std::count_if(log.events.begin(), log.events.end(), [](const Event& e) {
      return e.type == EventType::kPurchase || e.type == EventType::kReturn;
    })));
    for (const Event& e : log.events) {
      weights.push_back({e.customer, e.product, weight_of(e)});
      if (e.type == EventType::kPurchase) net_purchases.push_back({e.customer, e.product, e.quantity});
      if (e.type == EventType::kReturn) net_purchases.push_back({e.customer, e.product, -e.quantity});
    }
    // Pairs that only ever had returns, or whose returns cancel their
    // purchases, carry no positive signal and are dropped.
    out.user_items = BuildCsr(nc, np, weights, /*drop=*/true, 1e-6f, &out.dropped_pairs);
    weights = {};
    out.purchased = BuildCsr(nc, np, net_purchases, /*drop=*/true, 0.0f);
  }
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

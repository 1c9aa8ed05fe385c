#include "training/purchase_days.h"

#include <algorithm>

namespace aisle {

PurchaseDays CollectPurchaseDays(const EventLog& log) {
  struct Occasion {
    uint32_t customer, product;
    int32_t day;
  };
  std::vector<Occasion> all;
  for (const Event& e : log.events) {
    if (e.type == EventType::kPurchase) all.push_back({e.customer, e.product, PurchaseDay(e.timestamp)});
  }
  PurchaseDays out;
  if (!all.empty()) out.reference_day = INT32_MIN;
  for (const Occasion& o : all) out.reference_day = std::max(out.reference_day, o.day);
  out.customer_days.assign(log.customers.size(), 0);
  // Days with any purchase, per customer.
  std::sort(all.begin(), all.end(), [](const Occasion& a, const Occasion& b) {
    return a.customer != b.customer ? a.customer < b.customer : a.day < b.day;
  });
  for (size_t j = 0; j < all.size(); ++j) {
    if (j == 0 || all[j].customer != all[j - 1].customer || all[j].day != all[j - 1].day) {
      ++out.customer_days[all[j].customer];
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Occasion& a, const Occasion& b) {
    return a.customer != b.customer ? a.customer < b.customer : a.product < b.product;
  });
  for (size_t j = 0; j < all.size();) {
    PurchaseDays::Pair p{all[j].customer, all[j].product, 0, all[j].day, all[j].day, 0.0f};
    int32_t previous = 0;
    double recent = 0;
    for (; j < all.size() && all[j].customer == p.customer && all[j].product == p.product; ++j) {
      if (p.days == 0 || all[j].day != previous) {  // days ascend within the pair (stable sort)
        ++p.days;
        recent += RecencyWeight(out.reference_day - all[j].day);
      }
      previous = all[j].day;
      p.last_day = all[j].day;
    }
    p.recent = static_cast<float>(recent);
    out.pairs.push_back(p);
  }
  return out;
}

PurchaseHistory AlignPurchaseHistory(const PurchaseDays& days, const Interactions& data, int32_t fallback_day) {
  PurchaseHistory h;
  const CsrMatrix& m = data.purchased;
  h.days.resize(m.nnz());
  h.first_day.resize(m.nnz());
  h.last_day.resize(m.nnz());
  h.recent.resize(m.nnz());
  h.reference_day = std::max(days.reference_day, fallback_day);
  h.customer_days.resize(m.rows);
  auto by_customer = [](const PurchaseDays::Pair& a, uint32_t c) { return a.customer < c; };
  for (uint32_t r = 0; r < m.rows; ++r) {
    const uint32_t lc = data.customers[r];
    auto begin = std::lower_bound(days.pairs.begin(), days.pairs.end(), lc, by_customer);
    auto end = begin;
    while (end != days.pairs.end() && end->customer == lc) ++end;
    uint32_t most = 1;
    for (uint64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
      const uint32_t lp = data.products[m.indices[p]];
      auto it = std::lower_bound(begin, end, lp, [](const PurchaseDays::Pair& a, uint32_t x) { return a.product < x; });
      if (it != end && it->product == lp) {
        h.days[p] = it->days;
        h.first_day[p] = it->first_day;
        h.last_day[p] = it->last_day;
        h.recent[p] = it->recent;
      } else {
        h.days[p] = 1;
        h.first_day[p] = h.last_day[p] = fallback_day;
        h.recent[p] = static_cast<float>(RecencyWeight(h.reference_day - fallback_day));
      }
      most = std::max(most, h.days[p]);
    }
    h.customer_days[r] = std::max(most, lc < days.customer_days.size() ? days.customer_days[lc] : 0u);
  }
  return h;
}

}  // namespace aisle

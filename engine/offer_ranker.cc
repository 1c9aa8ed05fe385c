#include "engine/offer_ranker.h"

#include <algorithm>
#include <queue>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"

namespace aisle {

absl::StatusOr<std::shared_ptr<const OfferRanker>> OfferRanker::Create(std::shared_ptr<const Recommender> recommender,
                                                                       std::shared_ptr<const OfferCatalog> catalog) {
  if (recommender == nullptr || catalog == nullptr) return absl::InvalidArgumentError("no model or no offer catalog");
  std::shared_ptr<OfferRanker> r(new OfferRanker());
  r->recommender_ = recommender;
  r->catalog_ = catalog;
  const Model& m = recommender->model();
  const size_t np = m.products.size();
  const std::vector<std::string>& cats = recommender->categories();
  absl::flat_hash_map<absl::string_view, int32_t> cat_index;
  for (size_t c = 0; c < cats.size(); ++c) cat_index[cats[c]] = static_cast<int32_t>(c);
  std::vector<std::vector<uint32_t>> by_category(cats.size());
  r->repurchasable_.assign(np, 0);
  for (uint32_t p = 0; p < np; ++p) {
    const int32_t c = recommender->CategoryIndex(p);
    if (c >= 0) by_category[c].push_back(p);
    r->repurchasable_[p] = catalog->IsRepurchasableProduct(m.products.id(p)) ||
                           (c >= 0 && catalog->IsRepurchasableCategory(cats[c]));
  }
  for (const Offer& o : catalog->offers()) {
    std::vector<uint32_t> ps;
    for (const std::string& id : o.products) {
      if (auto p = m.products.Find(id)) ps.push_back(*p);
    }
    for (const std::string& name : o.categories) {
      if (auto it = cat_index.find(name); it != cat_index.end()) {
        ps.insert(ps.end(), by_category[it->second].begin(), by_category[it->second].end());
      }
    }
    std::sort(ps.begin(), ps.end());
    ps.erase(std::unique(ps.begin(), ps.end()), ps.end());
    r->products_.push_back(std::move(ps));
  }
  float max_pop = 0;
  for (float x : m.item_popularity) max_pop = std::max(max_pop, x);
  r->popularity_.resize(np);
  for (size_t p = 0; p < np; ++p) r->popularity_[p] = max_pop > 0 ? std::max(0.0f, m.item_popularity[p] / max_pop) : 0;
  return std::shared_ptr<const OfferRanker>(std::move(r));
}

std::vector<uint32_t> OfferRanker::Candidates(const OfferOptions& o, bool new_customer) const {
  const absl::Time now = o.now == absl::InfinitePast() ? absl::Now() : o.now;
  OfferAudience audience = o.audience;
  audience.new_customer = new_customer;
  std::vector<uint32_t> out;
  const absl::Span<const Offer> offers = catalog_->offers();
  for (uint32_t i = 0; i < offers.size(); ++i) {
    const Offer& offer = offers[i];
    if (!offer.ValidAt(now) || !IsEligible(offer, audience)) continue;
    if (offer.max_impressions > 0 && o.impressions && o.impressions(i) >= offer.max_impressions) continue;
    out.push_back(i);
  }
  return out;
}

OfferResult OfferRanker::Rank(absl::Span<const float> affinity, absl::Span<const uint32_t> bought,
                              const OfferOptions& o, bool new_customer, absl::Span<const uint32_t> due) const {
  const absl::Span<const Offer> offers = catalog_->offers();
  std::vector<uint32_t> used_products;
  std::vector<int32_t> used_categories;
  auto used = [](const auto& v, auto x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  // The offer's best `o.drivers` products still free to drive it, best first
  // (ties: lower model index), and its score.
  auto evaluate = [&](uint32_t i, std::vector<OfferDriver>* drivers) {
    drivers->clear();
    const Offer& offer = offers[i];
    for (uint32_t p : products_[i]) {
      const float a = affinity[p];
      if (!(a > 0)) continue;
      if (drivers->size() == o.drivers && a <= drivers->back().affinity) continue;
      if (!offer.repurchasable && !repurchasable_[p] && std::binary_search(bought.begin(), bought.end(), p) &&
          !std::binary_search(due.begin(), due.end(), p)) {
        continue;
      }
      if (used(used_products, p)) continue;
      if (const int32_t c = recommender_->CategoryIndex(p); c >= 0 && used(used_categories, c)) continue;
      auto pos = std::upper_bound(drivers->begin(), drivers->end(), a,
                                  [](float x, const OfferDriver& d) { return x > d.affinity; });
      drivers->insert(pos, OfferDriver{p, a});
      if (drivers->size() > o.drivers) drivers->pop_back();
    }
    double s = 0, w = 1;
    for (const OfferDriver& d : *drivers) {
      s += w * d.affinity;
      w *= 0.5;
    }
    return static_cast<float>(s * offer.weight);
  };
  struct Entry {
    float score;
    uint32_t offer;
    size_t epoch;  // selections made when the score was computed
    bool operator<(const Entry& e) const {  // max-heap: higher score, then lower offer index
      return score < e.score || (score == e.score && offer > e.offer);
    }
  };
  std::priority_queue<Entry> heap;
  std::vector<OfferDriver> drivers;
  for (uint32_t i : Candidates(o, new_customer)) {
    const float s = evaluate(i, &drivers);
    if (s > 0) heap.push({s, i, 0});
  }
  OfferResult result;
  while (!heap.empty() && result.offers.size() < o.count) {
    Entry e = heap.top();
    heap.pop();
    const float s = evaluate(e.offer, &drivers);
    if (e.epoch != result.offers.size()) {
      // Products were used up since: re-score; it wins only if still on top.
      if (s > 0) heap.push({s, e.offer, result.offers.size()});
      continue;
    }
    for (const OfferDriver& d : drivers) used_products.push_back(d.product);
    if (const int32_t c = recommender_->CategoryIndex(drivers.front().product); c >= 0) used_categories.push_back(c);
    result.offers.push_back({e.offer, s, drivers});
  }
  return result;
}

namespace {

absl::Status CheckOptions(const OfferOptions& o) {
  if (o.count == 0) return absl::InvalidArgumentError("count must be at least 1");
  if (o.drivers == 0) return absl::InvalidArgumentError("drivers must be at least 1");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OfferResult> OfferRanker::ForCustomer(absl::string_view customer_id, const OfferOptions& o,
                                                     const LiveProfile* live) const {
  if (absl::Status s = CheckOptions(o); !s.ok()) return s;
  const Model& m = recommender_->model();
  auto c = m.customers.Find(customer_id);
  const bool has_live = live != nullptr && !live->empty();
  if (!c && !has_live) return Popular(o);
  std::vector<uint32_t> purchased;
  std::optional<std::vector<float>> scores = recommender_->ScoresFor(c, has_live ? live : nullptr, &purchased);
  if (!scores) {
    OfferResult r = Rank(popularity_, live->purchased, o, /*new_customer=*/live->purchased.empty());
    r.fallback = true;
    return r;
  }
  const absl::Time now = o.now == absl::InfinitePast() ? absl::Now() : o.now;
  const std::vector<uint32_t> due = recommender_->DueProducts(c, has_live ? live : nullptr, absl::ToUnixSeconds(now));
  return Rank(*scores, purchased, o, /*new_customer=*/purchased.empty(), due);
}

absl::StatusOr<OfferResult> OfferRanker::Popular(const OfferOptions& o, bool new_customer) const {
  if (absl::Status s = CheckOptions(o); !s.ok()) return s;
  OfferResult r = Rank(popularity_, {}, o, new_customer);
  r.fallback = true;
  return r;
}

}  // namespace aisle

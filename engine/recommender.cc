#include "engine/recommender.h"

#include <omp.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <iterator>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/batch_scoring.h"
#include "engine/topk.h"

namespace aisle {
namespace {

constexpr float kExcluded = -std::numeric_limits<float>::infinity();

// Candidates to select for `count` results: with approximate scores, a
// wider pool that is then re-scored exactly.
size_t CandidatePool(size_t count, bool approximate) {
  if (count == 0 || !approximate) return count;
  return std::max(4 * count, count + 32);
}

}  // namespace

FactorMatrix UnitRows(const FactorRef& m) {
  FactorMatrix unit = m;
#pragma omp parallel for schedule(static, 4096)
  for (Eigen::Index i = 0; i < unit.rows(); ++i) {
    const float n = unit.row(i).norm();
    if (n > 0) unit.row(i) /= n;
  }
  return unit;
}

absl::StatusOr<std::shared_ptr<const Recommender>> Recommender::Create(std::shared_ptr<const Model> model,
                                                                       std::shared_ptr<const Catalog> catalog) {
  return Create(std::move(model), std::move(catalog), Options());
}

absl::StatusOr<std::shared_ptr<const Recommender>> Recommender::Create(std::shared_ptr<const Model> model,
                                                                       std::shared_ptr<const Catalog> catalog,
                                                                       const Options& options) {
  return Make(std::move(model), std::move(catalog), options, nullptr);
}

absl::StatusOr<std::shared_ptr<const Recommender>> Recommender::WithCatalog(
    std::shared_ptr<const Catalog> catalog) const {
  return Make(model_, std::move(catalog), options_, this);
}

absl::StatusOr<std::shared_ptr<const Recommender>> Recommender::Make(std::shared_ptr<const Model> model,
                                                                     std::shared_ptr<const Catalog> catalog,
                                                                     const Options& options,
                                                                     const Recommender* lists_from) {
  if (model == nullptr) return absl::InvalidArgumentError("no model");
  // Checked once: by the loader, or by the recommender this one derives from.
  const bool checked = options.model_validated || (lists_from != nullptr && lists_from->model_ == model);
  if (!checked) {
    if (absl::Status s = model->Validate(); !s.ok()) return s;
  }
  std::shared_ptr<Recommender> r(new Recommender());
  r->options_ = options;
  r->model_ = model;
  r->catalog_ = catalog;
  r->model_id_ = model->model_id;
  r->objective_ = model->objective;
  r->by_items_ = ScoresByItems(model->algorithm);
  if (lists_from != nullptr && lists_from->model_ == model) {
    r->scorer_ = lists_from->scorer_;
  } else {
    r->scorer_ = std::make_shared<const ProductScorer>(*model);
  }
  if (lists_from != nullptr && lists_from->model_ == model) {
    r->buy_again_ = lists_from->buy_again_;
  } else if (model->buy_again.learnt() && !model->history.empty()) {
    r->buy_again_ = std::make_shared<const BuyAgain>(model->purchased, model->history,
                                                     static_cast<uint32_t>(model->products.size()), model->buy_again,
                                                     &model->neighbours);
  }
  auto cancelled = [&options] { return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed); };
  if (!r->by_items_) r->gram_ = ComputeGram(model->items(), 0);
  const size_t np = model->products.size();
  if (cancelled()) return absl::CancelledError("cancelled");
  r->search_.exact = options.exact_search;
  r->search_.min_scanned = options.search_min_scanned;
  const bool indexed = options.index_min_products > 0 && np >= options.index_min_products;
  if (r->by_items_) {
    // Item-item: every product scored from the weights; nothing to build.
  } else if (lists_from != nullptr && lists_from->model_ == model) {
    // Same model: the index, packings and lists do not depend on the catalog.
    r->index_ = lists_from->index_;
    r->similar_index_ = lists_from->similar_index_;
    r->packed_items_ = lists_from->packed_items_;
    r->packed_bf16_ = lists_from->packed_bf16_;
    r->packed_int8_ = lists_from->packed_int8_;
    r->normalized_items_ = lists_from->normalized_items_;
  } else if (indexed) {
    // A large catalog: searched through the index, never scored whole, so
    // no packed copies.
    // From the clusters the trainer stored when there are any (seconds of
    // k-means saved at every load), else built now.
    auto index = model->item_clusters.empty() ? ClusterIndex::Build(model->items(), {}, options.cancel)
                                              : ClusterIndex::FromClusters(model->items(), model->item_clusters,
                                                                           options.cancel);
    if (!index.ok()) return index.status();
    r->index_ = std::make_shared<const ClusterIndex>(*std::move(index));
    if (cancelled()) return absl::CancelledError("cancelled");
    auto similar = model->similar_clusters.empty()
                       ? ClusterIndex::Build(UnitRows(model->items()), {}, options.cancel)
                       : ClusterIndex::FromClusters(model->items(), model->similar_clusters, options.cancel,
                                                    /*unit_rows=*/true);
    if (!similar.ok()) return similar.status();
    r->similar_index_ = std::make_shared<const ClusterIndex>(*std::move(similar));
  } else {
    switch (options.scoring) {
      case Scoring::kBf16:
        r->packed_bf16_ = PackForScoringBf16(model->items());
        break;
      case Scoring::kInt8:
        r->packed_int8_ = PackForScoringInt8(model->items());
        r->packed_items_ = PackForScoring(model->items());  // filtered requests (ScoreBatch)
        break;
      case Scoring::kFloat32:
        r->packed_items_ = PackForScoring(model->items());
        break;
    }
    r->normalized_items_ = UnitRows(model->items());
  }
  if (cancelled()) return absl::CancelledError("cancelled");
  r->category_.assign(np, -1);
  r->price_.assign(np, NAN);
  r->in_stock_.assign(np, 1);
  if (catalog) {
    // Each product's entry looked up on all threads, then categories
    // numbered in product order.
    const std::vector<const CatalogEntry*> entries = catalog->FindAll(model->products);
    std::vector<int32_t> numbered(catalog->categories().size(), -1);
    for (uint32_t p = 0; p < np; ++p) {
      const CatalogEntry* e = entries[p];
      if (e == nullptr) continue;
      r->price_[p] = e->price;
      r->in_stock_[p] = e->in_stock;
      if (e->category_id >= 0) {
        int32_t& c = numbered[e->category_id];
        if (c < 0) {
          c = static_cast<int32_t>(r->categories_.size());
          r->categories_.emplace_back(e->category);
        }
        r->category_[p] = c;
      }
    }
    if (r->index_) {
      r->category_members_.resize(r->categories_.size());
      for (uint32_t p = 0; p < np; ++p) {
        if (r->category_[p] >= 0) r->category_members_[r->category_[p]].push_back(p);
      }
      // Small categories get the index restricted to them (Best searches
      // those instead of the whole catalog for the few that pass), made on
      // a category's first request (a few milliseconds each).
      r->categories_index_ = std::make_shared<CategoryIndexes>(r->categories_.size(), r->index_->ClusterOf(np));
    }
  }
  if (lists_from != nullptr && lists_from->model_ == model) {
    r->customer_cache_ = lists_from->customer_cache_;
    r->similar_cache_ = lists_from->similar_cache_;
    r->popular_list_ = lists_from->popular_list_;
  } else if (options.top_list_length > 0) {
    // No list needs more entries than there are products.
    const size_t length = std::min<size_t>(options.top_list_length, np);
    if (length > 0) {
      auto popular = std::make_shared<TopLists>(1, length);
      popular->Set(0, SelectTopK(model->item_popularity, length));
      r->popular_list_ = std::move(popular);
      r->customer_cache_ = std::make_shared<TopListCache>(length, options.top_list_max_bytes / 5 * 4);
      r->similar_cache_ = std::make_shared<TopListCache>(length, options.top_list_max_bytes / 5);
    }
  }
  return std::shared_ptr<const Recommender>(std::move(r));
}

absl::StatusOr<Recommender::Filter> Recommender::MakeFilter(const RecommendOptions& o) const {
  if (o.count == 0) return absl::InvalidArgumentError("count must be at least 1");
  if (o.min_price > o.max_price) return absl::InvalidArgumentError("min_price is above max_price");
  auto category_ids = [&](const std::vector<std::string>& names) {
    std::vector<int32_t> ids;
    for (const std::string& n : names) {
      auto it = std::find(categories_.begin(), categories_.end(), n);
      ids.push_back(it == categories_.end() ? -2 : static_cast<int32_t>(it - categories_.begin()));
    }
    return ids;
  };
  Filter f;
  f.include = category_ids(o.categories);
  f.exclude = category_ids(o.exclude_categories);
  f.min_price = o.min_price;
  f.max_price = o.max_price;
  f.in_stock_only = o.in_stock_only;
  for (const std::string& id : o.exclude) {
    if (auto p = model_->products.Find(id)) f.excluded.push_back(*p);
  }
  std::sort(f.excluded.begin(), f.excluded.end());
  return f;
}

bool Recommender::PassesAttributes(const Filter& f, uint32_t p) const {
  const int32_t c = category_[p];
  if (!f.include.empty() && std::find(f.include.begin(), f.include.end(), c) == f.include.end()) return false;
  if (c >= 0 && std::find(f.exclude.begin(), f.exclude.end(), c) != f.exclude.end()) return false;
  if (!std::isnan(f.min_price) || !std::isnan(f.max_price)) {
    const float pr = price_[p];
    if (std::isnan(pr) || (!std::isnan(f.min_price) && pr < f.min_price) ||
        (!std::isnan(f.max_price) && pr > f.max_price)) {
      return false;
    }
  }
  return !f.in_stock_only || in_stock_[p];
}

absl::StatusOr<std::vector<char>> Recommender::Allowed(const RecommendOptions& o,
                                                       absl::Span<const uint32_t> extra_excluded) const {
  auto f = MakeFilter(o);
  if (!f.ok()) return f.status();
  const size_t np = model_->products.size();
  std::vector<char> allowed(np, 1);
  if (f->ByAttributes()) {
    for (uint32_t p = 0; p < np; ++p) allowed[p] = PassesAttributes(*f, p);
  }
  for (uint32_t p : f->excluded) allowed[p] = 0;
  for (uint32_t p : extra_excluded) allowed[p] = 0;
  return allowed;
}

std::optional<std::vector<Recommendation>> Recommender::FromList(absl::Span<const uint32_t> products,
                                                                 absl::Span<const float> scores, bool complete,
                                                                 const RecommendOptions& o,
                                                                 absl::Span<const uint32_t> extra_excluded) const {
  auto f = MakeFilter(o);
  if (!f.ok()) return std::nullopt;  // the full path reports the error
  const bool attributes = f->ByAttributes();
  std::vector<Recommendation> out;
  for (size_t j = 0; j < products.size() && out.size() < o.count; ++j) {
    const uint32_t p = products[j];
    if (attributes && !PassesAttributes(*f, p)) continue;
    if (std::binary_search(f->excluded.begin(), f->excluded.end(), p)) continue;
    if (std::binary_search(extra_excluded.begin(), extra_excluded.end(), p)) continue;
    out.push_back({p, scores[j], {}, {}});
  }
  // Every product outside a full list ranks below every product in it, so
  // `count` passing products from the list are the answer; a short list
  // holds every candidate there was.
  if (out.size() == o.count || complete) return out;
  return std::nullopt;
}

std::optional<RecommendResult> Recommender::FromTopList(uint32_t customer, const RecommendOptions& o) const {
  if (!Cacheable(o)) return std::nullopt;
  std::shared_ptr<const CachedList> list = customer_cache_->Find(customer);
  if (!list) return std::nullopt;
  auto items = FromList(list->products, list->scores, list->products.size() < customer_cache_->length(), o);
  if (!items) return std::nullopt;
  RecommendResult result;
  result.items = std::move(*items);
  if (o.explain) Explain(model_->purchased.RowIndices(customer), {}, o.explain_count, &result.items);
  return result;
}

namespace {

// The sorted union of two sorted lists.
std::vector<uint32_t> Union(absl::Span<const uint32_t> a, absl::Span<const uint32_t> b) {
  std::vector<uint32_t> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<Recommendation> ToRecommendations(const std::vector<ScoredItem>& found) {
  std::vector<Recommendation> out;
  out.reserve(found.size());
  for (const ScoredItem& s : found) out.push_back({s.index, s.score, {}, {}});
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Recommendation>> Recommender::Best(const float* u, absl::Span<const uint32_t> excluded,
                                                              const RecommendOptions& o, size_t count) const {
  if (!index_) {
    auto allowed = Allowed(o, excluded);
    if (!allowed.ok()) return allowed.status();
    const Eigen::Map<const Eigen::VectorXf> uv(u, model_->num_factors());
    Eigen::VectorXf scores = model_->items() * uv;
    return Select(scores.data(), *allowed, count);
  }
  auto f = MakeFilter(o);
  if (!f.ok()) return f.status();
  const std::vector<uint32_t> skip = Union(excluded, f->excluded);
  const bool attributes = f->ByAttributes();
  if (!f->include.empty()) {
    // A category filter: when its categories hold few products, score just
    // those (exact), instead of searching the index for the few that pass.
    size_t members = 0;
    for (int32_t c : f->include) members += c >= 0 ? category_members_[c].size() : 0;
    if (members <= model_->products.size() / 20) {
      // Each category's own index, the other filters applied while searching.
      Filter rest = *f;
      rest.include.clear();  // every member is in the category
      std::function<bool(uint32_t)> accept;
      if (rest.ByAttributes()) accept = [&](uint32_t p) { return PassesAttributes(rest, p); };
      TopKCollector top(count, skip);
      // Always exact: the cost is bounded by the category's size anyway, and
      // an approximate budget sized for the whole catalog would stop after a
      // cluster or two of a small category (recall@10 0.63 measured).
      for (int32_t c : f->include) {
        if (c < 0) continue;
        for (const ScoredItem& x : CategoryIndex(c).Search(u, count, skip, accept, {.exact = true})) {
          top.Offer(x.index, x.score);
        }
      }
      return ToRecommendations(top.Take());
    }
  }
  std::function<bool(uint32_t)> accept;
  if (attributes) accept = [&](uint32_t p) { return PassesAttributes(*f, p); };
  return ToRecommendations(index_->Search(u, count, skip, accept, search_));
}

const ClusterIndex& Recommender::CategoryIndex(int32_t c) const {
  CategoryIndexes& x = *categories_index_;
  std::call_once(x.once[c], [&] {
    x.index[c] = std::make_unique<const ClusterIndex>(
        index_->Restrict(model_->items(), category_members_[c], x.cluster_of));
  });
  return *x.index[c];
}

bool Recommender::NarrowCategory(const RecommendOptions& o) const {
  if (!categories_index_ || o.categories.empty()) return false;
  size_t members = 0;
  for (const std::string& name : o.categories) {
    auto it = std::find(categories_.begin(), categories_.end(), name);
    if (it != categories_.end()) members += category_members_[it - categories_.begin()].size();
  }
  return members <= model_->products.size() / 20;
}

absl::StatusOr<RecommendResult> Recommender::ScoreCustomer(uint32_t customer, const RecommendOptions& o) const {
  const absl::Span<const uint32_t> bought = model_->purchased.RowIndices(customer);
  const float* u = model_->users().row(customer).data();
  RecommendResult result;
  if (Cacheable(o) && !NarrowCategory(o)) {
    // The customer's unfiltered list, cached, then the request's answer from
    // it (not for a small category: the list would rarely hold `count` of it).
    RecommendOptions unfiltered;
    unfiltered.count = customer_cache_->length();
    auto list = Best(u, bought, unfiltered, customer_cache_->length());
    if (!list.ok()) return list.status();
    std::vector<ScoredItem> items;
    for (const Recommendation& x : *list) items.push_back({x.product, x.score});
    CacheCustomer(customer, items);
    std::vector<uint32_t> products;
    std::vector<float> scores;
    for (const ScoredItem& x : items) {
      products.push_back(x.index);
      scores.push_back(x.score);
    }
    if (auto answer = FromList(products, scores, items.size() < customer_cache_->length(), o)) {
      result.items = std::move(*answer);
      if (o.explain) Explain(bought, {}, o.explain_count, &result.items);
      return result;
    }
  }
  auto items = Best(u, o.exclude_purchased ? bought : absl::Span<const uint32_t>(), o, o.count);
  if (!items.ok()) return items.status();
  result.items = *std::move(items);
  if (o.explain) Explain(bought, {}, o.explain_count, &result.items);
  return result;
}

size_t Recommender::WarmCustomers(absl::Span<const uint32_t> customers, const std::atomic<bool>* cancel) const {
  if (!customer_cache_) return 0;
  const size_t length = customer_cache_->length();
  const int threads = options_.top_list_threads > 0 ? options_.top_list_threads : omp_get_max_threads();
  std::atomic<size_t> stored{0};
  auto stop = [&] { return (cancel != nullptr && cancel->load(std::memory_order_relaxed)) || customer_cache_->Full(); };
  constexpr size_t kBatch = 1024;
  for (size_t first = 0; first < customers.size() && !stop(); first += kBatch) {
    std::vector<uint32_t> todo;
    for (size_t j = first; j < std::min(customers.size(), first + kBatch); ++j) {
      if (customers[j] < model_->customers.size() && !customer_cache_->Contains(customers[j])) {
        todo.push_back(customers[j]);
      }
    }
    if (todo.empty()) continue;
    if (by_items_) {
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
      for (size_t j = 0; j < todo.size(); ++j) {
        std::vector<float> scores(model_->products.size());
        scorer_->Customer(todo[j], scores.data());
        stored += CacheCustomer(todo[j], SelectTopK(scores, length, model_->purchased.RowIndices(todo[j])),
                                scores.data());
      }
      continue;
    }
    if (!index_) {
      // Small catalogs: the fused kernel, 8 customers per pass over the products.
      FactorMatrix rows(static_cast<Eigen::Index>(todo.size()), model_->num_factors());
      for (size_t j = 0; j < todo.size(); ++j) rows.row(static_cast<Eigen::Index>(j)) = model_->users().row(todo[j]);
      const bool pack = packed_items_.empty();
      const std::vector<float> packed = pack ? PackForScoring(model_->items()) : std::vector<float>();
      std::shared_ptr<const TopLists> lists = aisle::BuildTopLists(
          pack ? packed : packed_items_, model_->products.size(), rows, length,
          [&](uint32_t j, uint32_t*) { return model_->purchased.RowIndices(todo[j]); }, threads);
      // Each customer's buy-again state is found with their list.
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads) if (buy_again_ != nullptr)
      for (size_t j = 0; j < todo.size(); ++j) {
        std::vector<ScoredItem> items;
        for (size_t i = 0; i < lists->products(j).size(); ++i) items.push_back({lists->products(j)[i], lists->scores(j)[i]});
        stored += CacheCustomer(todo[j], items);
      }
      continue;
    }
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (size_t j = 0; j < todo.size(); ++j) {
      const uint32_t c = todo[j];
      std::vector<ScoredItem> items =
          index_->Search(model_->users().row(c).data(), length, model_->purchased.RowIndices(c), {}, search_);
      stored += CacheCustomer(c, items);
    }
  }
  return stored.load();
}

size_t Recommender::WarmProducts(absl::Span<const uint32_t> products, const std::atomic<bool>* cancel) const {
  if (!similar_cache_) return 0;
  const int threads = options_.top_list_threads > 0 ? options_.top_list_threads : omp_get_max_threads();
  std::atomic<size_t> stored{0};
  std::atomic<bool> stop{false};
#pragma omp parallel for schedule(dynamic, 64) num_threads(threads)
  for (size_t j = 0; j < products.size(); ++j) {
    if (stop.load(std::memory_order_relaxed)) continue;
    if ((cancel != nullptr && cancel->load(std::memory_order_relaxed)) || (j % 1024 == 0 && similar_cache_->Full())) {
      stop = true;
      continue;
    }
    if (products[j] >= model_->products.size() || similar_cache_->Contains(products[j])) continue;
    auto found = Similar(model_->products.id_view(products[j]), similar_cache_->length());
    if (found.ok()) stored += similar_cache_->Contains(products[j]);
  }
  return stored.load();
}

std::vector<Recommendation> Recommender::Select(const float* scores, const std::vector<char>& allowed,
                                                size_t count) const {
  std::vector<float> masked(scores, scores + allowed.size());
  for (size_t p = 0; p < allowed.size(); ++p) {
    if (!allowed[p]) masked[p] = kExcluded;
  }
  std::vector<Recommendation> out;
  for (const ScoredItem& s : SelectTopK(masked, count)) {
    if (s.score == kExcluded) break;
    out.push_back({s.index, s.score, {}, {}});
  }
  return out;
}

void Recommender::Explain(absl::Span<const uint32_t> history, absl::Span<const float> weights, size_t count,
                          std::vector<Recommendation>* items) const {
  if (history.empty()) return;
  if (by_items_) {
    // score(i) = sum_j c_j w(j -> i): product j contributes c_j w(j -> i).
    for (Recommendation& r : *items) {
      std::vector<Contribution> c;
      for (size_t j = 0; j < history.size(); ++j) {
        const float x = (weights.empty() ? 1.0f : weights[j]) * scorer_->Contribution(history[j], r.product);
        if (x > 0) c.push_back({history[j], x});
      }
      const size_t n = std::min(count, c.size());
      std::partial_sort(c.begin(), c.begin() + static_cast<ptrdiff_t>(n), c.end(),
                        [](const Contribution& x, const Contribution& z) { return x.weight > z.weight; });
      c.resize(n);
      r.because = std::move(c);
    }
    return;
  }
  // score(i) = y_i^T W b with W = A^-1 for the customer's normal-equation
  // matrix A and b = sum_j c_j y_j, so product j contributes c_j y_i^T W y_j.
  const FactorMatrix& y = model_->items();
  const float a0 = objective_.unobserved_weight;
  Eigen::MatrixXf a = a0 * gram_;
  a.diagonal().array() += objective_.RowRegularization(static_cast<uint32_t>(history.size()), y.rows());
  std::vector<float> conf(history.size());
  for (size_t j = 0; j < history.size(); ++j) {
    conf[j] = 1.0f + objective_.alpha * (weights.empty() ? 1.0f : weights[j]);
    a.noalias() += (conf[j] - a0) * y.row(history[j]).transpose() * y.row(history[j]);
  }
  Eigen::LDLT<Eigen::MatrixXf> solver(a);
  for (Recommendation& r : *items) {
    Eigen::VectorXf w = solver.solve(y.row(r.product).transpose());
    std::vector<Contribution> c;
    for (size_t j = 0; j < history.size(); ++j) {
      c.push_back({history[j], conf[j] * y.row(history[j]).dot(w)});
    }
    const size_t n = std::min(count, c.size());
    std::partial_sort(c.begin(), c.begin() + n, c.end(),
                      [](const Contribution& x, const Contribution& z) { return x.weight > z.weight; });
    c.resize(n);
    r.because = std::move(c);
  }
}

absl::StatusOr<RecommendResult> Recommender::ForCustomer(absl::string_view customer_id,
                                                         const RecommendOptions& o) const {
  auto answer = Recommend(customer_id, o);
  if (!answer.ok()) return answer.status();
  return std::move(answer->result);
}

namespace {

absl::StatusOr<CustomerAnswer> Answered(absl::StatusOr<RecommendResult> r, AnswerSource source) {
  if (!r.ok()) return r.status();
  return CustomerAnswer{*std::move(r), source};
}

}  // namespace

std::optional<absl::StatusOr<CustomerAnswer>> Recommender::WithoutScoring(std::optional<uint32_t> customer,
                                                                          const RecommendOptions& o) const {
  if (!customer) return Answered(Popular(o), AnswerSource::kPopularity);
  if (auto listed = FromTopList(*customer, o)) return Answered(*std::move(listed), AnswerSource::kTopList);
  return std::nullopt;
}

std::optional<absl::StatusOr<CustomerAnswer>> Recommender::RecommendWithoutScoring(absl::string_view customer_id,
                                                                                   const RecommendOptions& o,
                                                                                   const LiveProfile* live) const {
  const std::optional<uint32_t> c = model_->customers.Find(customer_id);
  if (o.purchased == PurchasedProducts::kOnly) return BuyAgainOnly(c, live, o);
  if (live != nullptr && !live->empty()) return std::nullopt;  // the lists know nothing of live events
  auto answer = WithoutScoring(c, o);
  if (answer) MergeDue(c, live, o, &*answer);
  return answer;
}

absl::StatusOr<CustomerAnswer> Recommender::Recommend(absl::string_view customer_id, const RecommendOptions& o,
                                                      const LiveProfile* live) const {
  const std::optional<uint32_t> c = model_->customers.Find(customer_id);
  if (o.purchased == PurchasedProducts::kOnly) return BuyAgainOnly(c, live, o);
  absl::StatusOr<CustomerAnswer> answer = RecommendModel(c, o, live);
  MergeDue(c, live, o, &answer);
  return answer;
}

absl::StatusOr<CustomerAnswer> Recommender::RecommendModel(std::optional<uint32_t> c, const RecommendOptions& o,
                                                           const LiveProfile* live) const {
  if (live != nullptr && !live->empty()) return by_items_ ? ByItems(c, o, live) : RecommendLive(c, o, *live);
  if (auto listed = WithoutScoring(c, o)) return *std::move(listed);
  if (by_items_) return ByItems(c, o, nullptr);
  if (index_ || Cacheable(o)) return Answered(ScoreCustomer(*c, o), AnswerSource::kScored);
  Eigen::VectorXf scores = model_->items() * model_->users().row(*c).transpose();
  return Answered(SelectForCustomer(*c, scores.data(), o), AnswerSource::kScored);
}

std::vector<absl::StatusOr<CustomerAnswer>> Recommender::RecommendBatch(
    absl::Span<const CustomerRequest> requests) const {
  std::vector<absl::StatusOr<CustomerAnswer>> out(requests.size(), absl::InternalError("not answered"));
  // What needs scoring: unfiltered requests (the common ones) scored fused
  // with selection; filtered ones from scores, then the catalog masks.
  std::vector<size_t> plain, filtered, live;
  std::vector<uint32_t> plain_customers, filtered_customers;
  std::vector<RecommendOptions> plain_options;
  std::vector<CustomerVector> live_vectors;
  std::vector<char> model_answer(requests.size(), 0);  // answered by the model: buy-again merged at the end
  for (size_t j = 0; j < requests.size(); ++j) {
    const CustomerRequest& q = requests[j];
    const std::optional<uint32_t> c = model_->customers.Find(q.customer_id);
    if (q.options.purchased == PurchasedProducts::kOnly) {
      out[j] = BuyAgainOnly(c, q.live.get(), q.options);
      continue;
    }
    model_answer[j] = 1;
    if (by_items_) {
      // Item-item models score each request alone (no shared pass to make).
      out[j] = RecommendModel(c, q.options, q.live.get());
      continue;
    }
    if (q.live && !q.live->empty()) {
      // Unfiltered live requests share the pass over the products below.
      if (IsFiltered(q.options)) {
        out[j] = RecommendLive(c, q.options, *q.live);
        continue;
      }
      std::optional<CustomerVector> v = VectorFor(c, q.live.get());
      if (!v || index_) {
        out[j] = RecommendLive(c, q.options, *q.live);  // popularity
        continue;
      }
      live.push_back(j);
      live_vectors.push_back(*std::move(v));
      continue;
    }
    if (auto now = WithoutScoring(c, q.options)) {
      out[j] = *std::move(now);
      continue;
    }
    if (index_) {
      // A large catalog: each request searches the index (no shared pass).
      out[j] = Answered(ScoreCustomer(*c, q.options), AnswerSource::kScored);
      continue;
    }
    if (IsFiltered(q.options)) {
      filtered.push_back(j);
      filtered_customers.push_back(*c);
    } else {
      plain.push_back(j);
      plain_customers.push_back(*c);
      plain_options.push_back(q.options);
    }
  }
  if (!plain.empty() || !live.empty()) {
    // One pass over the product factors for the known customers' rows and
    // the live customers' re-folded vectors.
    const size_t k = model_->num_factors();
    std::vector<float> users = GatherUsers(plain_customers);
    std::vector<absl::Span<const uint32_t>> excluded;
    for (uint32_t c : plain_customers) excluded.push_back(model_->purchased.RowIndices(c));
    for (size_t j = 0; j < live.size(); ++j) {
      users.insert(users.end(), live_vectors[j].vector.data(), live_vectors[j].vector.data() + k);
      excluded.push_back(live_vectors[j].purchased);
      plain_options.push_back(requests[live[j]].options);
    }
    // Cacheable requests select the customer's whole list, which is cached
    // and then cut to the request's count.
    std::vector<RecommendOptions> select_options = plain_options;
    for (size_t j = 0; j < plain.size(); ++j) {
      if (Cacheable(plain_options[j])) select_options[j].count = customer_cache_->length();
    }
    std::vector<absl::StatusOr<RecommendResult>> results = SelectUsers(users, excluded, select_options);
    for (size_t j = 0; j < plain.size(); ++j) {
      const RecommendOptions& o = plain_options[j];
      if (results[j].ok() && select_options[j].count != o.count) {
        std::vector<ScoredItem> items;
        for (const Recommendation& x : results[j]->items) items.push_back({x.product, x.score});
        CacheCustomer(plain_customers[j], items);
        if (results[j]->items.size() > o.count) results[j]->items.resize(o.count);
      }
      if (results[j].ok() && o.explain) {
        Explain(model_->purchased.RowIndices(plain_customers[j]), {}, o.explain_count, &results[j]->items);
      }
      out[plain[j]] = Answered(std::move(results[j]), AnswerSource::kScored);
    }
    for (size_t j = 0; j < live.size(); ++j) {
      absl::StatusOr<RecommendResult>& r = results[plain.size() + j];
      const CustomerVector& v = live_vectors[j];
      const RecommendOptions& o = requests[live[j]].options;
      if (r.ok()) {
        r->live_events = v.live_events;
        if (o.explain) Explain(v.history, v.weights, o.explain_count, &r->items);
      }
      out[live[j]] = Answered(std::move(r), AnswerSource::kLive);
    }
  }
  if (!filtered.empty()) {
    std::vector<float> scores;
    const bool approximate = ScoreBatch(filtered_customers, &scores);
    for (size_t j = 0; j < filtered.size(); ++j) {
      out[filtered[j]] = Answered(SelectForCustomer(filtered_customers[j], scores.data() + j * ScoreStride(),
                                                    requests[filtered[j]].options, approximate),
                                  AnswerSource::kScored);
    }
  }
  if (buy_again_) {
    for (size_t j = 0; j < requests.size(); ++j) {
      if (!model_answer[j]) continue;
      MergeDue(model_->customers.Find(requests[j].customer_id), requests[j].live.get(), requests[j].options, &out[j]);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Recommendation>> Recommender::BestByItems(absl::Span<const uint32_t> history,
                                                                     absl::Span<const float> weights,
                                                                     absl::Span<const uint32_t> excluded,
                                                                     const RecommendOptions& o, size_t count) const {
  auto allowed = Allowed(o, excluded);
  if (!allowed.ok()) return allowed.status();
  std::vector<float> scores(model_->products.size());
  scorer_->History(history, weights, scores.data());
  return Select(scores.data(), *allowed, count);
}

absl::StatusOr<CustomerAnswer> Recommender::ByItems(std::optional<uint32_t> c, const RecommendOptions& o,
                                                    const LiveProfile* live) const {
  const bool has_live = live != nullptr && !live->empty();
  std::optional<CustomerVector> v = VectorFor(c, live);
  if (!v) {
    // Nothing known of them (or only products the model does not know):
    // popularity, without what they bought.
    auto r = Popular(o, o.exclude_purchased && live != nullptr ? absl::MakeConstSpan(live->purchased)
                                                               : absl::Span<const uint32_t>());
    if (!r.ok()) return r.status();
    return CustomerAnswer{*std::move(r), AnswerSource::kPopularity};
  }
  const AnswerSource source = has_live ? AnswerSource::kLive : AnswerSource::kScored;
  RecommendResult result;
  result.live_events = v->live_events;
  if (!has_live && Cacheable(o)) {
    // The customer's unfiltered list, cached, then the answer from it.
    const size_t length = customer_cache_->length();
    RecommendOptions unfiltered;
    unfiltered.count = length;
    auto list = BestByItems(v->history, v->weights, v->purchased, unfiltered, length);
    if (!list.ok()) return list.status();
    std::vector<ScoredItem> items;
    std::vector<uint32_t> products;
    std::vector<float> scores;
    for (const Recommendation& x : *list) {
      items.push_back({x.product, x.score});
      products.push_back(x.product);
      scores.push_back(x.score);
    }
    CacheCustomer(*c, items);
    if (auto answer = FromList(products, scores, items.size() < length, o)) {
      result.items = std::move(*answer);
      if (o.explain) Explain(v->history, v->weights, o.explain_count, &result.items);
      return CustomerAnswer{std::move(result), source};
    }
  }
  auto items = BestByItems(v->history, v->weights,
                           o.exclude_purchased ? absl::MakeConstSpan(v->purchased) : absl::Span<const uint32_t>(), o,
                           o.count);
  if (!items.ok()) return items.status();
  result.items = *std::move(items);
  if (o.explain) Explain(v->history, v->weights, o.explain_count, &result.items);
  return CustomerAnswer{std::move(result), source};
}

BoughtBefore Recommender::BoughtBeforeOf(std::optional<uint32_t> c, const LiveProfile* live, int32_t now_day) const {
  BoughtBefore b;
  const PurchaseHistory& h = model_->history;
  if (c && !(live != nullptr && live->forget_model_row)) b = aisle::BoughtBeforeOf(model_->purchased, h, *c);
  if (live != nullptr && !live->purchased.empty()) {
    // Bought since the model: one more purchase day each, taken as today
    // (the live profile keeps no times), which keeps them out while the
    // rule says so. The history's `recent` is aged from its reference day
    // to now, so today's purchase enters it scaled back to that day.
    const float today = static_cast<float>(1.0 / RecencyWeight(static_cast<double>(now_day) - h.reference_day));
    BoughtBefore merged;
    size_t a = 0, l = 0;
    while (a < b.products.size() || l < live->purchased.size()) {
      if (l == live->purchased.size() || (a < b.products.size() && b.products[a] < live->purchased[l])) {
        merged.products.push_back(b.products[a]);
        merged.pairs.push_back(b.pairs[a++]);
        continue;
      }
      PairHistory p{0, now_day, now_day, 0.0f};
      if (a < b.products.size() && b.products[a] == live->purchased[l]) p = b.pairs[a++];
      p.days += 1;
      p.last_day = std::max(p.last_day, now_day);
      p.recent += today;
      merged.products.push_back(live->purchased[l++]);
      merged.pairs.push_back(p);
    }
    merged.customer_days = b.customer_days + 1;
    merged.Finish();
    b = std::move(merged);
  }
  return b;  // affinities found by the caller, for what it reads
}

std::vector<uint32_t> Recommender::DueProducts(std::optional<uint32_t> c, const LiveProfile* live,
                                               int64_t now) const {
  std::vector<uint32_t> out;
  if (!buy_again_) return out;
  const int32_t day = PurchaseDay(now != 0 ? now : absl::ToUnixSeconds(absl::Now()));
  const BoughtBefore b = BoughtBeforeOf(c, live, day);
  for (size_t j = 0; j < b.products.size(); ++j) {
    if (!buy_again_->Excluded(b.products[j], b.pairs[j], day)) out.push_back(b.products[j]);
  }
  return out;  // b.products is sorted
}

int32_t Recommender::DayOf(const RecommendOptions& o) {
  return PurchaseDay(o.now != 0 ? o.now : absl::ToUnixSeconds(absl::Now()));
}

absl::StatusOr<std::vector<Recommendation>> Recommender::Due(std::optional<uint32_t> c, const LiveProfile* live,
                                                             const RecommendOptions& o, const BoughtBefore& b,
                                                             int32_t day) const {
  const bool row = c && !(live != nullptr && live->forget_model_row);
  const std::vector<float> scores = buy_again_ ? BoughtScores(row ? c : std::nullopt, b) : std::vector<float>();
  const std::vector<DueItem> due = DueLogits(
      b, day, [&](size_t j) { return scores[j]; }, [&](size_t j) { return BuyAgain::Affinity(b, b.products[j]); });
  return DueAnswer(o, b, day, due, SIZE_MAX);
}

std::vector<float> Recommender::BoughtScores(std::optional<uint32_t> c, const BoughtBefore& b, const float* all) const {
  std::vector<float> out(b.products.size(), 0.0f);  // without a trained row: 0
  if (!c || b.products.empty()) return out;
  // Item-item models: every product's score at once (a lookup per product
  // bought before and product of the history would cost their product).
  std::vector<float> scored;
  if (by_items_ && all == nullptr) {
    scored.resize(model_->products.size());
    scorer_->Customer(*c, scored.data());
    all = scored.data();
  }
  for (size_t j = 0; j < b.products.size(); ++j) out[j] = by_items_ ? all[b.products[j]] : scorer_->One(*c, b.products[j]);
  return out;
}

std::vector<DueItem> Recommender::DueLogits(const BoughtBefore& b, int32_t day, absl::FunctionRef<float(size_t)> score,
                                            absl::FunctionRef<float(size_t)> affinity) const {
  std::vector<DueItem> out;
  if (!buy_again_) return out;
  for (size_t j = 0; j < b.products.size(); ++j) {
    if (buy_again_->Excluded(b.products[j], b.pairs[j], day)) continue;
    out.push_back({static_cast<uint32_t>(j), buy_again_->Logit(buy_again_->Features(b, j, day, score(j), affinity(j)))});
  }
  // b.products is sorted: positions order as their products.
  std::sort(out.begin(), out.end(),
            [](const DueItem& x, const DueItem& y) { return x.logit != y.logit ? x.logit > y.logit : x.at < y.at; });
  return out;
}

absl::StatusOr<std::vector<Recommendation>> Recommender::DueAnswer(const RecommendOptions& o, const BoughtBefore& b,
                                                                   int32_t day, absl::Span<const DueItem> due,
                                                                   size_t limit) const {
  auto f = MakeFilter(o);
  if (!f.ok()) return f.status();
  std::vector<Recommendation> out;
  for (const DueItem& d : due) {
    if (out.size() == limit) break;
    const uint32_t p = b.products[d.at];
    if (f->ByAttributes() && !PassesAttributes(*f, p)) continue;
    if (std::binary_search(f->excluded.begin(), f->excluded.end(), p)) continue;
    Recommendation r{p, d.logit, {}, {}};
    r.repurchase = buy_again_->Explain(p, b.pairs[d.at], day);
    out.push_back(std::move(r));
  }
  return out;
}

std::shared_ptr<const RepurchaseState::DueOnDay> Recommender::DueOnDayOf(const RepurchaseState& st,
                                                                         int32_t day) const {
  {
    std::lock_guard<std::mutex> lock(st.due_mu);
    if (st.due_on_day && st.due_on_day->day == day) return st.due_on_day;
  }
  auto fresh = std::make_shared<RepurchaseState::DueOnDay>();
  fresh->day = day;
  fresh->due = DueLogits(st.history, day, [&](size_t j) { return st.scores[j]; },
                         [&](size_t j) { return st.affinities[j]; });
  // Two requests may both compute it: the same list either way.
  std::lock_guard<std::mutex> lock(st.due_mu);
  st.due_on_day = fresh;
  return fresh;
}

std::shared_ptr<const RepurchaseState> Recommender::RepurchaseStateOf(uint32_t c, absl::Span<const ScoredItem> list,
                                                                      const float* all) const {
  if (!buy_again_) return nullptr;
  // What MergeDue finds for a request answered from `list` (the customer's
  // history, the affinities of its products and the list's, the model's
  // scores), found once.
  BoughtBefore b = aisle::BoughtBeforeOf(model_->purchased, model_->history, c);
  std::vector<uint32_t> listed;
  for (const ScoredItem& x : list) listed.push_back(x.index);
  std::sort(listed.begin(), listed.end());
  buy_again_->FindAffinities(&b, Union(b.products, listed));
  const std::vector<float> scores = BoughtScores(c, b, all);
  auto st = std::make_shared<RepurchaseState>();
  BoughtBefore& h = st->history;
  h.customer_days = b.customer_days;
  h.last_day = b.last_day;
  h.repeat_logit = b.repeat_logit;
  for (size_t j = 0; j < b.products.size(); ++j) {
    const uint32_t p = b.products[j];
    if (!buy_again_->Repurchasable(p)) continue;  // never due: Due skips it on any day
    h.products.push_back(p);
    h.pairs.push_back(b.pairs[j]);
    st->scores.push_back(scores[j]);
    st->affinities.push_back(BuyAgain::Affinity(b, p));
  }
  for (const ScoredItem& x : list) st->list_affinities.push_back(BuyAgain::Affinity(b, x.index));
  return st;
}

bool Recommender::CacheCustomer(uint32_t c, absl::Span<const ScoredItem> items, const float* all) const {
  if (items.size() > customer_cache_->length()) items = items.subspan(0, customer_cache_->length());
  std::shared_ptr<const RepurchaseState> st = RepurchaseStateOf(c, items, all);
  const size_t bytes = st ? st->Bytes() + 32 : 0;  // the state and its control block
  return customer_cache_->Insert(c, items, std::move(st), bytes);
}

std::shared_ptr<const CachedList> Recommender::CachedRepurchase(std::optional<uint32_t> c,
                                                                const LiveProfile* live) const {
  if (!c || !customer_cache_ || (live != nullptr && !live->empty())) return nullptr;
  std::shared_ptr<const CachedList> list = customer_cache_->Peek(*c);
  return list && list->repurchase ? list : nullptr;
}

absl::StatusOr<CustomerAnswer> Recommender::BuyAgainOnly(std::optional<uint32_t> c, const LiveProfile* live,
                                                         const RecommendOptions& o) const {
  const int32_t day = DayOf(o);
  absl::StatusOr<std::vector<Recommendation>> due;
  if (auto cached = CachedRepurchase(c, live)) {
    const RepurchaseState& st = *cached->repurchase;
    due = DueAnswer(o, st.history, day, DueOnDayOf(st, day)->due, o.count);
  } else {
    // Without buy-again Due only checks the options.
    BoughtBefore b;
    if (buy_again_) {
      b = BoughtBeforeOf(c, live, day);
      buy_again_->FindAffinities(&b, b.products);
    }
    due = Due(c, live, o, b, day);
  }
  if (!due.ok()) return due.status();
  if (due->size() > o.count) due->resize(o.count);
  CustomerAnswer a{{}, c ? AnswerSource::kScored : AnswerSource::kLive};
  a.result.items = *std::move(due);
  a.result.live_events = live != nullptr ? live->events : 0;
  return a;
}

void Recommender::MergeDue(std::optional<uint32_t> c, const LiveProfile* live, const RecommendOptions& o,
                           absl::StatusOr<CustomerAnswer>* answer) const {
  if (!buy_again_ || !answer->ok() || !o.exclude_purchased || o.purchased != PurchasedProducts::kDue) return;
  RecommendResult& r = (*answer)->result;
  if (r.fallback) return;  // popularity: nothing personal to merge with
  const int32_t day = DayOf(o);
  absl::StatusOr<std::vector<Recommendation>> due;
  // The affinity of each of the answer's products.
  std::vector<float> shown_affinity;
  shown_affinity.reserve(r.items.size());
  std::shared_ptr<const CachedList> cached = CachedRepurchase(c, live);
  if (cached) {
    // Answered from the cached list (or one holding the same products):
    // the state kept with it.
    for (const Recommendation& x : r.items) {
      auto it = std::find(cached->products.begin(), cached->products.end(), x.product);
      if (it == cached->products.end()) {
        cached = nullptr;
        break;
      }
      shown_affinity.push_back(cached->repurchase->list_affinities[it - cached->products.begin()]);
    }
  }
  if (cached) {
    // At most o.count due products can be in the merged answer: the best.
    const RepurchaseState& st = *cached->repurchase;
    due = DueAnswer(o, st.history, day, DueOnDayOf(st, day)->due, o.count);
  } else {
    BoughtBefore b = BoughtBeforeOf(c, live, day);
    // The affinities read: the products bought before and the answer's.
    std::vector<uint32_t> shown;
    for (const Recommendation& x : r.items) shown.push_back(x.product);
    std::sort(shown.begin(), shown.end());
    buy_again_->FindAffinities(&b, Union(b.products, shown));
    due = Due(c, live, o, b, day);
    shown_affinity.clear();
    for (const Recommendation& x : r.items) shown_affinity.push_back(BuyAgain::Affinity(b, x.product));
  }
  if (!due.ok()) return;
  // The answer's products (never bought, best first) on the same scale:
  // the logit of their model score at their rank.
  std::vector<Recommendation> merged;
  merged.reserve(r.items.size() + due->size());
  for (size_t j = 0; j < r.items.size(); ++j) {
    Recommendation x = std::move(r.items[j]);
    x.score = buy_again_->NewLogit(x.product, x.score, j, shown_affinity[j]);
    merged.push_back(std::move(x));
  }
  for (Recommendation& x : *due) merged.push_back(std::move(x));
  std::stable_sort(merged.begin(), merged.end(),
                   [](const Recommendation& x, const Recommendation& y) { return x.score > y.score; });
  if (merged.size() > o.count) merged.resize(o.count);
  r.items = std::move(merged);
}

absl::StatusOr<RecommendResult> Recommender::Popular(const RecommendOptions& o,
                                                     absl::Span<const uint32_t> excluded) const {
  RecommendResult result;
  result.fallback = true;
  if (popular_list_) {
    if (auto items = FromList(popular_list_->products(0), popular_list_->scores(0), popular_list_->complete(0), o,
                              excluded)) {
      result.items = std::move(*items);
      return result;
    }
  }
  auto allowed = Allowed(o, excluded);
  if (!allowed.ok()) return allowed.status();
  result.items = Select(model_->item_popularity.data(), *allowed, o.count);
  return result;
}

size_t Recommender::ScoreStride() const { return PaddedProducts(model_->products.size()); }

std::vector<float> Recommender::GatherUsers(absl::Span<const uint32_t> customers) const {
  const size_t k = model_->num_factors();
  std::vector<float> users(customers.size() * k);
  for (size_t j = 0; j < customers.size(); ++j) {
    std::copy_n(model_->users().row(customers[j]).data(), k, users.data() + j * k);
  }
  return users;
}

bool Recommender::ScoreBatch(absl::Span<const uint32_t> customers, std::vector<float>* scores) const {
  if (by_items_) {
    scores->assign(customers.size() * ScoreStride(), 0.0f);
    for (size_t j = 0; j < customers.size(); ++j) scorer_->Customer(customers[j], scores->data() + j * ScoreStride());
    return false;
  }
  const size_t k = model_->num_factors();
  const std::vector<float> users = GatherUsers(customers);
  scores->resize(customers.size() * ScoreStride());
  if (!packed_bf16_.empty()) {
    ScorePackedBf16(packed_bf16_.data(), model_->products.size(), k, users.data(), customers.size(), scores->data());
    return true;
  }
  ScorePacked(packed_items_.data(), model_->products.size(), k, users.data(), customers.size(), scores->data());
  return false;
}

std::vector<Recommendation> Recommender::Rerank(const float* user, std::vector<Recommendation> candidates,
                                                size_t count) const {
  const size_t k = model_->num_factors();
  const Eigen::Map<const Eigen::VectorXf> u(user, static_cast<Eigen::Index>(k));
  for (Recommendation& c : candidates) c.score = model_->items().row(c.product).dot(u);
  std::sort(candidates.begin(), candidates.end(), [](const Recommendation& a, const Recommendation& b) {
    return a.score > b.score || (a.score == b.score && a.product < b.product);
  });
  if (candidates.size() > count) candidates.resize(count);
  return candidates;
}

bool Recommender::IsFiltered(const RecommendOptions& o) {
  return !o.categories.empty() || !o.exclude_categories.empty() || !std::isnan(o.min_price) ||
         !std::isnan(o.max_price) || o.in_stock_only || !o.exclude.empty();
}

std::vector<absl::StatusOr<RecommendResult>> Recommender::SelectBatch(absl::Span<const uint32_t> customers,
                                                                     absl::Span<const RecommendOptions> options) const {
  const size_t n = customers.size();
  if (by_items_) {
    std::vector<absl::StatusOr<RecommendResult>> out;
    for (size_t j = 0; j < n; ++j) {
      auto a = ByItems(customers[j], options[j], nullptr);
      out.push_back(a.ok() ? absl::StatusOr<RecommendResult>(std::move(a->result)) : a.status());
    }
    return out;
  }
  const std::vector<float> users = GatherUsers(customers);
  std::vector<absl::Span<const uint32_t>> excluded(n);
  for (size_t j = 0; j < n; ++j) excluded[j] = model_->purchased.RowIndices(customers[j]);
  std::vector<absl::StatusOr<RecommendResult>> out = SelectUsers(users, excluded, options);
  for (size_t j = 0; j < n; ++j) {
    if (out[j].ok() && options[j].explain) {
      Explain(model_->purchased.RowIndices(customers[j]), {}, options[j].explain_count, &out[j]->items);
    }
  }
  return out;
}

std::vector<absl::StatusOr<RecommendResult>> Recommender::SelectUsers(
    const std::vector<float>& users, absl::Span<const absl::Span<const uint32_t>> purchased,
    absl::Span<const RecommendOptions> options) const {
  const size_t k = model_->num_factors(), n = options.size();
  const bool int8 = options_.scoring == Scoring::kInt8;
  const bool approximate = options_.scoring != Scoring::kFloat32;
  std::vector<size_t> pool(n);
  std::vector<absl::Span<const uint32_t>> excluded(n);
  for (size_t j = 0; j < n; ++j) {
    pool[j] = CandidatePool(options[j].count, approximate);
    if (options[j].exclude_purchased) excluded[j] = purchased[j];
  }
  std::vector<std::vector<ScoredItem>> candidates;
  if (int8) {
    SelectPackedInt8(packed_int8_, users.data(), n, pool, excluded, &candidates);
  } else if (approximate) {
    SelectPackedBf16(packed_bf16_.data(), model_->products.size(), k, users.data(), n, pool, excluded, &candidates);
  } else {
    SelectPacked(packed_items_.data(), model_->products.size(), k, users.data(), n, pool, excluded, &candidates);
  }
  std::vector<absl::StatusOr<RecommendResult>> out;
  out.reserve(n);
  for (size_t j = 0; j < n; ++j) {
    const RecommendOptions& o = options[j];
    if (o.count == 0) {
      out.push_back(absl::InvalidArgumentError("count must be at least 1"));
      continue;
    }
    RecommendResult r;
    for (const ScoredItem& s : candidates[j]) r.items.push_back({s.index, s.score, {}, {}});
    if (approximate) r.items = Rerank(users.data() + j * k, std::move(r.items), o.count);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<RecommendResult> Recommender::SelectForCustomer(uint32_t customer, const float* scores,
                                                               const RecommendOptions& o, bool approximate) const {
  absl::Span<const uint32_t> bought = model_->purchased.RowIndices(customer);
  const bool filtered = IsFiltered(o);
  // Approximate scores: a wider pool of candidates, re-scored exactly.
  const size_t pool = CandidatePool(o.count, approximate);
  RecommendResult result;
  if (!filtered) {
    // The common request: no mask to build, the purchases skipped in the scan.
    if (o.count == 0) return absl::InvalidArgumentError("count must be at least 1");
    for (const ScoredItem& s : SelectTopK(absl::MakeConstSpan(scores, model_->products.size()), pool,
                                          o.exclude_purchased ? bought : absl::Span<const uint32_t>())) {
      result.items.push_back({s.index, s.score, {}, {}});
    }
  } else {
    auto allowed = Allowed(o, o.exclude_purchased ? bought : absl::Span<const uint32_t>());
    if (!allowed.ok()) return allowed.status();
    result.items = Select(scores, *allowed, pool);
  }
  if (approximate) result.items = Rerank(model_->users().row(customer).data(), std::move(result.items), o.count);
  if (o.explain) Explain(bought, {}, o.explain_count, &result.items);
  return result;
}

Eigen::VectorXf Recommender::FoldIn(absl::Span<const uint32_t> products, absl::Span<const float> weights) const {
  // Sorted, distinct columns with summed weights, as a CSR row would be.
  std::vector<std::pair<uint32_t, float>> row;
  for (size_t j = 0; j < products.size(); ++j) row.push_back({products[j], weights.empty() ? 1.0f : weights[j]});
  std::sort(row.begin(), row.end());
  std::vector<uint32_t> cols;
  std::vector<float> w;
  for (const auto& [p, x] : row) {
    if (!cols.empty() && cols.back() == p) {
      w.back() += x;
    } else {
      cols.push_back(p);
      w.push_back(x);
    }
  }
  Eigen::VectorXf x = Eigen::VectorXf::Zero(model_->items().cols());
  AlsSolveOptions exact;
  exact.solver = AlsSolver::kCholesky;
  SolveRow(cols, w, model_->items(), gram_, objective_, exact, x);
  return x;
}

absl::StatusOr<RecommendResult> Recommender::ForBasket(absl::Span<const std::string> product_ids,
                                                       absl::Span<const float> weights,
                                                       const RecommendOptions& o) const {
  if (!weights.empty() && weights.size() != product_ids.size()) {
    return absl::InvalidArgumentError("weights must match products one to one");
  }
  std::vector<uint32_t> known;
  std::vector<float> known_w;
  for (size_t j = 0; j < product_ids.size(); ++j) {
    if (auto p = model_->products.Find(product_ids[j])) {
      if (!weights.empty() && !(weights[j] > 0)) return absl::InvalidArgumentError("weights must be > 0");
      known.push_back(*p);
      known_w.push_back(weights.empty() ? 1.0f : weights[j]);
    }
  }
  if (known.empty()) return Popular(o);
  if (absl::Status s = MakeFilter(o).status(); !s.ok()) return s;
  RecommendResult result;
  std::vector<uint32_t> basket = known;
  std::sort(basket.begin(), basket.end());
  basket.erase(std::unique(basket.begin(), basket.end()), basket.end());
  const absl::Span<const uint32_t> excluded =
      o.exclude_purchased ? absl::MakeConstSpan(basket) : absl::Span<const uint32_t>();
  absl::StatusOr<std::vector<Recommendation>> items;
  if (by_items_) {
    items = BestByItems(known, known_w, excluded, o, o.count);
  } else {
    Eigen::VectorXf user = FoldIn(known, known_w);
    items = Best(user.data(), excluded, o, o.count);
  }
  if (!items.ok()) return items.status();
  result.items = *std::move(items);
  if (o.explain) Explain(known, known_w, o.explain_count, &result.items);
  return result;
}

absl::StatusOr<std::vector<Recommendation>> Recommender::Similar(absl::string_view product_id, size_t count) const {
  auto p = model_->products.Find(product_id);
  if (!p) return absl::NotFoundError(absl::StrCat("unknown product '", product_id, "'"));
  if (count == 0) return absl::InvalidArgumentError("count must be at least 1");
  const size_t length = similar_cache_ ? similar_cache_->length() : 0;
  if (count <= length) {
    if (std::shared_ptr<const CachedList> list = similar_cache_->Find(*p)) {
      if (count <= list->products.size() || list->products.size() < length) {
        std::vector<Recommendation> out;
        for (size_t j = 0; j < std::min(count, list->products.size()); ++j) {
          out.push_back({list->products[j], list->scores[j], {}, {}});
        }
        return out;
      }
    }
  }
  // The product's list when it is cached (then cut to `count`), else `count`.
  const size_t want = std::max(count, length);
  std::vector<ScoredItem> found;
  if (by_items_) {
    // What having the product adds most to (the positive item weights).
    const CsrMatrix& w = model_->item_weights.similar;
    for (uint64_t e = w.indptr[*p]; e < w.indptr[*p + 1]; ++e) {
      if (w.values[e] > 0) found.push_back({w.indices[e], w.values[e]});
    }
    std::sort(found.begin(), found.end(), [](const ScoredItem& a, const ScoredItem& b) {
      return a.score != b.score ? a.score > b.score : a.index < b.index;
    });
    if (found.size() > want) found.resize(want);
  } else if (similar_index_) {
    Eigen::VectorXf q = model_->items().row(*p).transpose();
    if (const float n = q.norm(); n > 0) q /= n;
    const uint32_t self[1] = {*p};
    found = similar_index_->Search(q.data(), want, self, {}, search_);
  } else {
    Eigen::VectorXf scores = normalized_items_ * normalized_items_.row(*p).transpose();
    const uint32_t self[1] = {*p};
    found = SelectTopK(absl::MakeConstSpan(scores.data(), scores.size()), want, self);
  }
  if (length > 0) similar_cache_->Insert(*p, found);
  std::vector<Recommendation> out = ToRecommendations(found);
  if (out.size() > count) out.resize(count);
  return out;
}

absl::StatusOr<std::vector<Recommender::Ranked>> Recommender::Rank(absl::string_view customer_id,
                                                                  absl::Span<const std::string> product_ids,
                                                                  bool* fallback, const LiveProfile* live) const {
  std::optional<uint32_t> c = model_->customers.Find(customer_id);
  std::optional<CustomerVector> v;
  std::vector<float> by_items;  // item-item: every product's score for the customer
  if (by_items_) {
    v = VectorFor(c, live);
    if (v) {
      by_items.resize(model_->products.size());
      scorer_->History(v->history, v->weights, by_items.data());
    }
    c.reset();
  } else if (live != nullptr && !live->empty()) {
    v = VectorFor(c, live);
    c.reset();
  }
  *fallback = !c && !v;
  std::vector<Ranked> known, unknown;
  for (const std::string& id : product_ids) {
    auto p = model_->products.Find(id);
    if (!p) {
      unknown.push_back({id, NAN});
      continue;
    }
    const float s = !by_items.empty() ? by_items[*p]
                    : v   ? model_->items().row(*p).dot(v->vector)
                    : c ? model_->users().row(*c).dot(model_->items().row(*p))
                        : model_->item_popularity[*p];
    known.push_back({id, s});
  }
  std::stable_sort(known.begin(), known.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
  known.insert(known.end(), unknown.begin(), unknown.end());
  return known;
}


std::optional<CustomerVector> Recommender::VectorFor(std::optional<uint32_t> c, const LiveProfile* live) const {
  const bool use_row = c.has_value() && !(live != nullptr && live->forget_model_row);
  const absl::Span<const uint32_t> bought = use_row ? model_->purchased.RowIndices(*c) : absl::Span<const uint32_t>();
  CustomerVector v;
  v.purchased = Union(bought, live != nullptr ? absl::MakeConstSpan(live->purchased) : absl::Span<const uint32_t>());
  auto from_row = [&]() {
    v.vector = model_->users().row(*c).transpose();
    v.history.assign(bought.begin(), bought.end());
    return v;
  };
  if (live == nullptr || live->products.empty()) {
    if (!use_row) return std::nullopt;
    return from_row();
  }
  // The model's purchases (weight 1, as a basket's) and the live events.
  std::vector<std::pair<uint32_t, float>> rows;
  rows.reserve(bought.size() + live->products.size());
  for (uint32_t p : bought) rows.push_back({p, 1.0f});
  for (size_t j = 0; j < live->products.size(); ++j) rows.push_back({live->products[j], live->weights[j]});
  std::sort(rows.begin(), rows.end());
  for (size_t j = 0; j < rows.size();) {
    uint32_t p = rows[j].first;
    float w = 0;
    for (; j < rows.size() && rows[j].first == p; ++j) w += rows[j].second;
    if (w > 0) {
      v.history.push_back(p);
      v.weights.push_back(w);
    }
  }
  if (v.history.empty()) {
    // Everything was returned: the model's row if there is one.
    if (!use_row) return std::nullopt;
    v.weights.clear();
    return from_row();
  }
  if (!by_items_) v.vector = FoldIn(v.history, v.weights);
  v.live_events = live->events;
  return v;
}

std::optional<std::vector<float>> Recommender::ScoresFor(std::optional<uint32_t> c, const LiveProfile* live,
                                                        std::vector<uint32_t>* purchased) const {
  std::optional<CustomerVector> v = VectorFor(c, live);
  if (!v) return std::nullopt;
  std::vector<float> scores(model_->products.size());
  if (by_items_) {
    scorer_->History(v->history, v->weights, scores.data());
  } else {
    Eigen::Map<Eigen::VectorXf>(scores.data(), static_cast<Eigen::Index>(scores.size())).noalias() =
        model_->items() * v->vector;
  }
  *purchased = std::move(v->purchased);
  return scores;
}

absl::StatusOr<CustomerAnswer> Recommender::RecommendLive(std::optional<uint32_t> c, const RecommendOptions& o,
                                                          const LiveProfile& live) const {
  std::optional<CustomerVector> v = VectorFor(c, &live);
  if (!v) {
    // Nothing to fold in (products unknown to the model): popularity, without what they bought.
    auto r = Popular(o, o.exclude_purchased ? absl::MakeConstSpan(live.purchased) : absl::Span<const uint32_t>());
    if (!r.ok()) return r.status();
    return CustomerAnswer{*std::move(r), AnswerSource::kPopularity};
  }
  auto items = Best(v->vector.data(), o.exclude_purchased ? absl::MakeConstSpan(v->purchased) : absl::Span<const uint32_t>(),
                    o, o.count);
  if (!items.ok()) return items.status();
  RecommendResult result;
  result.items = *std::move(items);
  result.live_events = v->live_events;
  if (o.explain) Explain(v->history, v->weights, o.explain_count, &result.items);
  return CustomerAnswer{std::move(result), AnswerSource::kLive};
}

}  // namespace aisle

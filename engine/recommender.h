// Recommender: everything the storefront asks of a loaded model, in ids:
// top-K products for a known customer (purchases excluded, business
// filters applied while selecting), a popularity fallback for unknown
// customers (flagged), recommendations for an anonymous basket by folding
// it into the model (one ALS half-step, no retraining), similar products
// (cosine over product factors), ranking of a caller-given list, and
// explanations (which purchased products contributed most to a score,
// after Hu, Koren and Volinsky 2008, section 5).
// Immutable after Create(); all methods are const and safe to call
// concurrently. Holds the model and catalog by shared_ptr, so a server can
// swap in a new Recommender while requests finish on the old one.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/als_solver.h"
#include "engine/batch_scoring.h"
#include "engine/buy_again.h"
#include "engine/catalog.h"
#include "engine/model.h"
#include "engine/cluster_index.h"
#include "engine/product_scorer.h"
#include "engine/top_list_cache.h"
#include "engine/top_lists.h"

namespace aisle {

// What happens to products the customer bought before.
enum class PurchasedProducts : uint8_t {
  kDue,   // with a model that learnt buy-again: shown when due, on one scale with new
          // products (engine/buy_again.h); otherwise excluded
  kAll,   // all excluded (exclude_purchased=all)
  kOnly,  // only they, by buy-again (mode=buy_again); empty without buy-again
};

struct RecommendOptions {
  size_t count = 10;
  std::vector<std::string> categories;          // only these categories (empty: all)
  std::vector<std::string> exclude_categories;  // never these categories
  float min_price = NAN;                        // inclusive; products without a price fail price filters
  float max_price = NAN;
  bool in_stock_only = false;                   // products not in the catalog count as in stock
  std::vector<std::string> exclude;             // product ids never to return
  bool exclude_purchased = true;               // false: purchases scored like any product (no buy-again)
  PurchasedProducts purchased = PurchasedProducts::kDue;
  int64_t now = 0;                              // the request's Unix time, for buy-again (0: the clock's)
  bool explain = false;
  size_t explain_count = 3;                     // contributing products per recommendation
};

struct Contribution {
  uint32_t product;  // a product the customer bought (or has in the basket)
  float weight;      // its share of the score
};

struct Recommendation {
  uint32_t product;  // model index; see Recommender::model().products
  // model score, or popularity for fallbacks; with buy-again, the estimated
  // log-odds of the product being in the customer's next basket
  float score;
  std::vector<Contribution> because;  // with explain
  std::optional<Repurchase> repurchase;  // bought before: why it is due
};

struct RecommendResult {
  std::vector<Recommendation> items;
  bool fallback = false;  // true: popularity ranking (the customer or basket is unknown)
  size_t live_events = 0; // events since the model's training that shaped the answer
};

// How the answer to a customer request was made.
enum class AnswerSource {
  kTopList,     // read from the customer's precomputed list
  kScored,      // every product scored
  kPopularity,  // the customer is unknown: the popularity ranking
  kLive,        // scored with the customer's live events folded in
};

// What a customer did since the model was trained, resolved against this
// model (events/live_events.h makes it): folded in with their model history,
// so that the next answer reflects it. Empty: answer from the model alone.
struct LiveProfile {
  std::vector<uint32_t> products;   // model indexes, sorted, distinct
  std::vector<float> weights;       // net event weight per product (may be <= 0)
  std::vector<uint32_t> purchased;  // bought since (net quantity > 0), sorted: excluded like model purchases
  bool forget_model_row = false;    // erased since the model was trained: the model's row is not used
  size_t events = 0;                // live events behind it (those of products the model knows)
  bool empty() const { return products.empty() && purchased.empty() && !forget_model_row; }
};

// A customer as the model sees them now: their vector and what they bought.
struct CustomerVector {
  Eigen::VectorXf vector;
  std::vector<uint32_t> history;   // products folded in (or the model's purchases), for explanations
  std::vector<float> weights;      // their weights (empty: 1 each)
  std::vector<uint32_t> purchased; // model and live purchases, sorted
  size_t live_events = 0;
};

struct CustomerAnswer {
  RecommendResult result;
  AnswerSource source;
};

// One customer's request, as the batch entry takes it.
struct CustomerRequest {
  std::string customer_id;
  RecommendOptions options;
  std::shared_ptr<const LiveProfile> live;  // null or empty: the model alone
};

// The rows of `m` scaled to unit length (zero rows stay zero): the vectors
// similar products compare by cosine.
FactorMatrix UnitRows(const FactorRef& m);

class Recommender {
 public:
  // How the batch path scores (engine/batch_scoring.h). The reduced
  // precisions select a wider pool of candidates that is re-ranked exactly
  // in float32, so answers are float32's.
  enum class Scoring { kFloat32, kBf16, kInt8 };
  struct Options {
    Scoring scoring = Scoring::kFloat32;
    // Cached lists (engine/top_list_cache.h): each known customer's best
    // `top_list_length` products (purchases excluded) and each product's
    // most similar ones, stored when a request computes them or by
    // WarmCustomers/WarmProducts, within `top_list_max_bytes` (4/5 for
    // customers, 1/5 for products), least recently used evicted. A request
    // a list determines (unfiltered, or filters leaving `count` of the list)
    // is answered from it without scoring. 0: no lists.
    size_t top_list_length = 0;
    size_t top_list_max_bytes = size_t{1} << 30;
    int top_list_threads = 0;  // the Warm* threads (0: all OpenMP threads)
    // Catalogs of at least this many products are searched through a
    // ClusterIndex (engine/cluster_index.h) built by Create, instead of
    // scoring every product; 0: never. A category filter on at most 1/20 of
    // such a catalog scores just that category's products.
    size_t index_min_products = 200000;
    // The index search: exact (pruned: the same answers as scoring every
    // product) or approximate, scanning at least `search_min_scanned`
    // products (0: the index's default) once `count` candidates passed.
    bool exact_search = false;
    size_t search_min_scanned = 0;
    // Create stops with Cancelled when this turns true (a server stopping
    // during a load); may be null.
    const std::atomic<bool>* cancel = nullptr;
    // The model comes as LoadModel or MapModel returned it, which validated
    // it: Create skips checking it again (a pass over every factor and
    // purchase, 0.14 s at 5M customers x 1M products).
    bool model_validated = false;
  };
  // `catalog` may be null. InvalidArgument when the model fails Validate()
  // (not checked with Options::model_validated).
  static absl::StatusOr<std::shared_ptr<const Recommender>> Create(std::shared_ptr<const Model> model,
                                                                   std::shared_ptr<const Catalog> catalog);
  static absl::StatusOr<std::shared_ptr<const Recommender>> Create(std::shared_ptr<const Model> model,
                                                                   std::shared_ptr<const Catalog> catalog,
                                                                   const Options& options);
  // The same model and options with another catalog (which may be null):
  // the index and the cached lists, which do not depend on the catalog, are
  // shared, not rebuilt.
  absl::StatusOr<std::shared_ptr<const Recommender>> WithCatalog(std::shared_ptr<const Catalog> catalog) const;

  // The entry for a customer request. Unknown customer: popularity
  // (fallback). Known: the precomputed list when it determines the answer,
  // otherwise every product scored. The answer says which.
  // InvalidArgument for a bad option (count 0, min_price > max_price).
  // With a non-empty `live` profile, the customer's vector is re-folded from
  // their model purchases and live events (kLive; never from the lists),
  // their live purchases excluded too; a customer unknown to the model is
  // personalized from their live events alone.
  absl::StatusOr<CustomerAnswer> Recommend(absl::string_view customer_id, const RecommendOptions& options,
                                           const LiveProfile* live = nullptr) const;
  // Recommend's answer when it needs no scoring (popularity, list); nullopt
  // when the request must be scored: then RecommendBatch, where concurrent
  // requests share one pass over the product factors.
  std::optional<absl::StatusOr<CustomerAnswer>> RecommendWithoutScoring(absl::string_view customer_id,
                                                                        const RecommendOptions& options,
                                                                        const LiveProfile* live = nullptr) const;
  // Several requests answered together; answer j is Recommend(requests[j]).
  // Unfiltered requests are scored fused with selection (SelectBatch),
  // filtered ones from one shared score matrix (ScoreBatch).
  std::vector<absl::StatusOr<CustomerAnswer>> RecommendBatch(absl::Span<const CustomerRequest> requests) const;

  // The popularity ranking with the request's filters (fallback = true):
  // what an unknown customer gets, and one who did not consent.
  absl::StatusOr<RecommendResult> Popularity(const RecommendOptions& options) const { return Popular(options); }

  // Recommend's result without its source.
  absl::StatusOr<RecommendResult> ForCustomer(absl::string_view customer_id, const RecommendOptions& options) const;

  // New or anonymous customer with these products (unknown ids ignored): the
  // basket is folded in as one customer row (weights default to 1) and its
  // products are excluded. No known product: popularity, fallback = true.
  absl::StatusOr<RecommendResult> ForBasket(absl::Span<const std::string> product_ids,
                                            absl::Span<const float> weights, const RecommendOptions& options) const;

  // Products most similar to `product_id` by cosine of factors, itself
  // excluded. NotFound for an unknown product.
  absl::StatusOr<std::vector<Recommendation>> Similar(absl::string_view product_id, size_t count) const;

  struct Ranked {
    std::string product_id;
    float score;     // NaN for products unknown to the model (ranked last, in given order)
  };
  // The given products ordered for the customer (popularity order, fallback,
  // for an unknown customer).
  absl::StatusOr<std::vector<Ranked>> Rank(absl::string_view customer_id, absl::Span<const std::string> product_ids,
                                           bool* fallback, const LiveProfile* live = nullptr) const;

  // The customer's vector: the model's row, or with live events the fold-in
  // of their model purchases (weight 1 each) and live events (net weights;
  // products with a total <= 0 left out). nullopt when neither gives one
  // (unknown or forgotten customer without usable live events).
  std::optional<CustomerVector> VectorFor(std::optional<uint32_t> customer, const LiveProfile* live) const;
  // Every product's score for the customer as their answers are scored (the
  // model's row or VectorFor's fold-in; for item-item models their products
  // summed through the weights), with their model and live purchases in
  // `purchased` (sorted). nullopt when VectorFor gives nothing.
  std::optional<std::vector<float>> ScoresFor(std::optional<uint32_t> customer, const LiveProfile* live,
                                              std::vector<uint32_t>* purchased) const;

  // The answer from the cached list (Options::top_list_length) of a known
  // customer, the same as ForCustomer's (up to float rounding of the
  // scores); nullopt when no list is cached or it does not determine the
  // answer: purchases not excluded, invalid options, or fewer than `count`
  // products of a full list passing the filters. ForCustomer tries it first.
  std::optional<RecommendResult> FromTopList(uint32_t customer, const RecommendOptions& options) const;
  // The cached lists of customers and of similar products, or null (no lists).
  const TopListCache* customer_cache() const { return customer_cache_.get(); }
  const TopListCache* similar_cache() const { return similar_cache_.get(); }
  // Computes and caches the lists of these customers (or products) that are
  // not cached yet, in order, on Options::top_list_threads, until the cache
  // is full or `*cancel` turns true. Returns how many lists were stored.
  size_t WarmCustomers(absl::Span<const uint32_t> customers, const std::atomic<bool>* cancel = nullptr) const;
  size_t WarmProducts(absl::Span<const uint32_t> products, const std::atomic<bool>* cancel = nullptr) const;
  // The search index, or null (catalog below Options::index_min_products).
  const ClusterIndex* index() const { return index_.get(); }

  // The kernels behind RecommendBatch, for tests and benchmarks.
  // Scores of every product for several customers in one pass over the
  // product factors (engine/batch_scoring.h): customer j's scores start at
  // (*scores)[j * ScoreStride()]. Returns true when the scores are
  // approximate (reduced precision); pass that on to SelectForCustomer.
  bool ScoreBatch(absl::Span<const uint32_t> customers, std::vector<float>* scores) const;
  size_t ScoreStride() const;
  // ForCustomer's selection, given that customer's scores (from ScoreBatch).
  // With `approximate`, the top candidates are re-scored exactly first, so
  // the result is ForCustomer's.
  absl::StatusOr<RecommendResult> SelectForCustomer(uint32_t customer, const float* scores,
                                                    const RecommendOptions& options, bool approximate = false) const;

  // True when a request needs the catalog filters (category, price, stock,
  // exclude list): SelectBatch serves only the others.
  static bool IsFiltered(const RecommendOptions& options);
  // The batch path for unfiltered requests: scoring fused with top-K
  // selection for several customers in one pass over the product factors
  // (no score arrays; engine/batch_scoring.h). Answers are ForCustomer's,
  // also with reduced precision (the candidates are re-ranked exactly).
  std::vector<absl::StatusOr<RecommendResult>> SelectBatch(absl::Span<const uint32_t> customers,
                                                           absl::Span<const RecommendOptions> options) const;

  // The fold-in of a customer's own training purchases: the vector ForBasket
  // uses (exposed for tests and tools).
  Eigen::VectorXf FoldIn(absl::Span<const uint32_t> products, absl::Span<const float> weights) const;

  // The customer's products bought before (model history unless forgotten,
  // and live purchases) that buy-again's learnt rule lets through at Unix
  // time `now` (0: the clock's), sorted: what offers may show again. Empty
  // without buy-again.
  std::vector<uint32_t> DueProducts(std::optional<uint32_t> customer, const LiveProfile* live, int64_t now) const;

  // Buy-again (engine/buy_again.h), or null when the model did not learn it.
  const BuyAgain* buy_again() const { return buy_again_.get(); }

  const Model& model() const { return *model_; }
  const Catalog* catalog() const { return catalog_.get(); }
  // The catalog entry of a model product, or nullptr.
  const CatalogEntry* Entry(uint32_t product) const {
    return catalog_ ? catalog_->Find(model_->products.id_view(product)) : nullptr;
  }
  const std::string& model_id() const { return model_id_; }
  // A product's category as an index into categories(), or -1 (none known).
  int32_t CategoryIndex(uint32_t product) const { return category_[product]; }
  const std::vector<std::string>& categories() const { return categories_; }

 private:
  Recommender() = default;
  // Create(), sharing the top lists of `lists_from` (same model) when given.
  static absl::StatusOr<std::shared_ptr<const Recommender>> Make(std::shared_ptr<const Model> model,
                                                                 std::shared_ptr<const Catalog> catalog,
                                                                 const Options& options, const Recommender* lists_from);
  // A request's filters, resolved to model indexes.
  struct Filter {
    std::vector<int32_t> include, exclude;  // category indexes (-2: a category no product has)
    float min_price = NAN, max_price = NAN;
    bool in_stock_only = false;
    std::vector<uint32_t> excluded;  // product indexes, sorted
    bool ByAttributes() const {
      return !include.empty() || !exclude.empty() || !std::isnan(min_price) || !std::isnan(max_price) || in_stock_only;
    }
  };
  absl::StatusOr<Filter> MakeFilter(const RecommendOptions& o) const;
  bool PassesAttributes(const Filter& f, uint32_t product) const;
  // The first `o.count` products of a list (best first; `complete`: it holds
  // every candidate there was) passing o's filters, or nullopt when the
  // list does not determine them.
  std::optional<std::vector<Recommendation>> FromList(absl::Span<const uint32_t> products, absl::Span<const float> scores,
                                                      bool complete, const RecommendOptions& o,
                                                      absl::Span<const uint32_t> extra_excluded = {}) const;
  // The `count` best products for vector `u` with o's filters, `excluded`
  // (sorted) left out: the category's products when a category filter keeps
  // few, the index search, or every product scored.
  absl::StatusOr<std::vector<Recommendation>> Best(const float* u, absl::Span<const uint32_t> excluded,
                                                   const RecommendOptions& o, size_t count) const;
  // A known customer's answer scored alone (through the index when there is
  // one), caching their unfiltered list on the way when the lists can hold it.
  absl::StatusOr<RecommendResult> ScoreCustomer(uint32_t customer, const RecommendOptions& o) const;
  // Whether a request's category filter keeps at most 1/20 of the products
  // (searched through that category's own index).
  bool NarrowCategory(const RecommendOptions& o) const;
  // Whether a request for a known customer can be answered from (and so
  // fills) a cached list.
  bool Cacheable(const RecommendOptions& o) const {
    return customer_cache_ && o.exclude_purchased && o.count > 0 && o.count <= customer_cache_->length();
  }
  // RecommendWithoutScoring for a customer already looked up (nullopt: unknown).
  std::optional<absl::StatusOr<CustomerAnswer>> WithoutScoring(std::optional<uint32_t> customer,
                                                               const RecommendOptions& o) const;
  // The popularity fallback (fallback = true), `excluded` (sorted) left out.
  absl::StatusOr<RecommendResult> Popular(const RecommendOptions& o, absl::Span<const uint32_t> excluded = {}) const;
  // Recommend with a non-empty live profile.
  absl::StatusOr<CustomerAnswer> RecommendLive(std::optional<uint32_t> customer, const RecommendOptions& o,
                                               const LiveProfile& live) const;
  absl::StatusOr<std::vector<char>> Allowed(const RecommendOptions& o, absl::Span<const uint32_t> extra_excluded) const;
  std::vector<float> GatherUsers(absl::Span<const uint32_t> customers) const;  // their factor rows, packed
  std::vector<Recommendation> Select(const float* scores, const std::vector<char>& allowed, size_t count) const;
  void Explain(absl::Span<const uint32_t> history, absl::Span<const float> weights, size_t count,
               std::vector<Recommendation>* items) const;

  // The customer's products bought before, as buy-again reads them at
  // `now_day`: their model history (unless forgotten) and their live
  // purchases (each one more purchase, today).
  // No affinities: the caller finds those it reads (BuyAgain::FindAffinities).
  BoughtBefore BoughtBeforeOf(std::optional<uint32_t> customer, const LiveProfile* live, int32_t now_day) const;
  // The day buy-again reads a request at (its `now`, or the clock's).
  static int32_t DayOf(const RecommendOptions& o);
  // The products bought before (`bought`: BoughtBeforeOf at `day`) that are
  // due and pass o's filters, by buy-again logit, best first, with why.
  absl::StatusOr<std::vector<Recommendation>> Due(std::optional<uint32_t> customer, const LiveProfile* live,
                                                  const RecommendOptions& o, const BoughtBefore& bought,
                                                  int32_t day) const;
  // The model's score of each of `bought`'s products (by position) from
  // customer c's trained row (0 without one); `all`: c's score of every
  // product for item-item models (scored here when null).
  std::vector<float> BoughtScores(std::optional<uint32_t> c, const BoughtBefore& bought,
                                  const float* all = nullptr) const;
  // The products of `bought` the rule shows at `day`, by logit from each
  // one's model score and affinity (by position in `bought`), best first
  // (ties: the smaller product index).
  std::vector<DueItem> DueLogits(const BoughtBefore& bought, int32_t day, absl::FunctionRef<float(size_t)> score,
                                 absl::FunctionRef<float(size_t)> affinity) const;
  // The first `limit` of `due` (DueLogits of `bought`) passing o's filters,
  // with why.
  absl::StatusOr<std::vector<Recommendation>> DueAnswer(const RecommendOptions& o, const BoughtBefore& bought,
                                                        int32_t day, absl::Span<const DueItem> due,
                                                        size_t limit) const;
  // DueLogits of a cached state at `day`, kept in it for that day's next
  // requests.
  std::shared_ptr<const RepurchaseState::DueOnDay> DueOnDayOf(const RepurchaseState& st, int32_t day) const;
  // Customer c's buy-again state for their cached list `list` (null
  // without buy-again); `all`: c's score of every product for item-item
  // models (scored here when null).
  std::shared_ptr<const RepurchaseState> RepurchaseStateOf(uint32_t c, absl::Span<const ScoredItem> list,
                                                           const float* all) const;
  // Caches customer c's unfiltered list `items` (best first) with their
  // buy-again state; false when the cache would not hold it.
  bool CacheCustomer(uint32_t c, absl::Span<const ScoredItem> items, const float* all = nullptr) const;
  // The cached buy-again state of a known customer without live events,
  // or null.
  std::shared_ptr<const CachedList> CachedRepurchase(std::optional<uint32_t> customer, const LiveProfile* live) const;
  // mode=buy_again: Due's first o.count.
  absl::StatusOr<CustomerAnswer> BuyAgainOnly(std::optional<uint32_t> customer, const LiveProfile* live,
                                              const RecommendOptions& o) const;
  // The default answer's last step: the due products merged into a
  // personalized answer on the buy-again scale (nothing without buy-again,
  // for fallbacks and for requests that exclude every purchase).
  void MergeDue(std::optional<uint32_t> customer, const LiveProfile* live, const RecommendOptions& o,
                absl::StatusOr<CustomerAnswer>* answer) const;
  // Recommend without buy-again's steps.
  absl::StatusOr<CustomerAnswer> RecommendModel(std::optional<uint32_t> customer, const RecommendOptions& o,
                                                const LiveProfile* live) const;

  std::shared_ptr<const Model> model_;
  // The model's scores whatever its algorithm; the item-item models
  // (by_items_) are answered from it: the customer's products (and live
  // events, or a basket) summed through the item weights, every product
  // scored (no factors, index or packed copies).
  std::shared_ptr<const ProductScorer> scorer_;
  bool by_items_ = false;
  // An item-item model's answer for a customer (their model purchases and
  // live events; kLive with a non-empty profile) or, with `basket`, for
  // those products and weights.
  absl::StatusOr<CustomerAnswer> ByItems(std::optional<uint32_t> customer, const RecommendOptions& o,
                                         const LiveProfile* live) const;
  // The best products for a history through the item weights, `excluded`
  // (sorted) left out, o's filters applied.
  absl::StatusOr<std::vector<Recommendation>> BestByItems(absl::Span<const uint32_t> history,
                                                          absl::Span<const float> weights,
                                                          absl::Span<const uint32_t> excluded,
                                                          const RecommendOptions& o, size_t count) const;
  std::shared_ptr<const BuyAgain> buy_again_;
  std::shared_ptr<const Catalog> catalog_;
  std::string model_id_;
  AlsObjective objective_;            // from the model's hyperparameters
  Eigen::MatrixXf gram_;              // Y^T Y, for fold-in and explanations
  FactorMatrix normalized_items_;     // rows of Y scaled to unit length, for Similar
  std::vector<float> packed_items_;   // Y packed for ScoreBatch (float32)
  std::vector<uint16_t> packed_bf16_; // Y packed for ScoreBatch (bfloat16), with Scoring::kBf16
  Int8Packed packed_int8_;            // Y packed for SelectBatch, with Scoring::kInt8
  // Candidates re-scored exactly in float32 against `user` (k floats), best `count` kept.
  std::vector<Recommendation> Rerank(const float* user, std::vector<Recommendation> candidates, size_t count) const;
  // SelectBatch's kernel for user vectors packed one after another (n x k),
  // each with its purchases (sorted) to skip; no explanations.
  std::vector<absl::StatusOr<RecommendResult>> SelectUsers(const std::vector<float>& users,
                                                           absl::Span<const absl::Span<const uint32_t>> purchased,
                                                           absl::Span<const RecommendOptions> options) const;
  std::vector<int32_t> category_;     // per product: index into categories_, -1 none
  std::vector<std::string> categories_;
  std::vector<float> price_;          // per product, NaN unknown
  std::vector<char> in_stock_;        // per product
  Options options_;
  std::shared_ptr<TopListCache> customer_cache_;  // with Options::top_list_length
  std::shared_ptr<TopListCache> similar_cache_;   // per product: the most similar
  std::shared_ptr<const TopLists> popular_list_;  // one list: by popularity
  std::shared_ptr<const ClusterIndex> index_;          // over the product factors, for large catalogs
  std::shared_ptr<const ClusterIndex> similar_index_;  // over their unit vectors (Similar)
  ClusterIndex::SearchOptions search_;
  std::vector<std::vector<uint32_t>> category_members_;  // per category index: its products, ascending
  // Per category: the index restricted to it, made on first use (for
  // categories of at most 1/20 of the products). Null without an index.
  struct CategoryIndexes {
    CategoryIndexes(size_t n, std::vector<uint32_t> of)
        : once(new std::once_flag[n]), index(n), cluster_of(std::move(of)) {}
    std::unique_ptr<std::once_flag[]> once;
    std::vector<std::unique_ptr<const ClusterIndex>> index;
    std::vector<uint32_t> cluster_of;  // each product's cluster in index_
  };
  std::shared_ptr<CategoryIndexes> categories_index_;
  const ClusterIndex& CategoryIndex(int32_t c) const;
};

}  // namespace aisle

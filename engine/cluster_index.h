// ClusterIndex: maximum-inner-product search over product factors that does
// not score the whole catalog. Products are grouped by k-means into about
// sqrt(n) clusters and stored contiguously cluster by cluster; each cluster
// keeps its centre c and radius r (largest distance of a member from c), so
// that no member can score above  q.c + |q| r  for a query q (Cauchy-
// Schwarz). A search visits clusters in decreasing order of that bound:
//  - exact: until the next bound is below the k-th best score found, which
//    proves that the rest cannot enter (the answer equals a full scan's);
//  - approximate: also stops after `min_scanned` products once `count`
//    candidates passed, trading a measured recall (docs/BENCHMARKS.md) for
//    a bounded cost.
// Exclusions and filters are applied while scanning, so a filtered search
// keeps going until `count` products pass (or the catalog is exhausted).
// Immutable after Build; Search is const and thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/model.h"
#include "engine/topk.h"

namespace aisle {

class ClusterIndex {
 public:
  struct BuildOptions {
    size_t clusters = 0;          // 0: about sqrt(n)
    int iterations = 8;           // k-means iterations on the sample
    size_t sample = 131072;       // products k-means trains on
    uint64_t seed = 1;
  };
  // Cancelled when `*cancel` becomes true (checked between chunks of work).
  static absl::StatusOr<ClusterIndex> Build(const FactorRef& items, const BuildOptions& options,
                                            const std::atomic<bool>* cancel = nullptr);

  // The index over `items` from clusters computed before (a model file's,
  // engine/model.h ProductClusters): rows gathered in their order, centres as
  // given, radii measured (so a stored radius is never trusted).
  // InvalidArgument when the clusters do not fit the items.
  // With `unit_rows`, the index is over the rows scaled to unit length (as
  // the clusters were computed), without a scaled copy of `items`.
  static absl::StatusOr<ClusterIndex> FromClusters(const FactorRef& items, const ProductClusters& clusters,
                                                   const std::atomic<bool>* cancel = nullptr, bool unit_rows = false);
  // The clusters, to store beside the model.
  ProductClusters ToClusters() const;
  // An index over some of the products (`members`, indexes of `items`):
  // this index's clusters restricted to them, same centres, radii measured
  // over the members. A search of it is a search of this index with every
  // other product filtered out, at the cost of the members only (a category
  // holding 1% of the catalog searched in 1% of the time).
  // `cluster_of` is ClusterOf() (computed once for many restrictions).
  ClusterIndex Restrict(const FactorRef& items, absl::Span<const uint32_t> members,
                        const std::vector<uint32_t>& cluster_of) const;
  // Each product's cluster (UINT32_MAX for products not in the index), by product index.
  std::vector<uint32_t> ClusterOf(size_t products) const;

  struct SearchOptions {
    bool exact = false;
    // Approximate: products to scan at least before stopping early (0: a
    // default of max(2% of the catalog, 16 clusters' worth)).
    size_t min_scanned = 0;
  };
  struct SearchStats {
    size_t clusters = 0, scanned = 0;
  };
  // The `count` best products for query `q` (k floats), best first, ties to
  // the lower index, skipping `excluded` (sorted product indexes) and
  // products `accept` (may be empty) refuses.
  std::vector<ScoredItem> Search(const float* q, size_t count, absl::Span<const uint32_t> excluded,
                                 const std::function<bool(uint32_t)>& accept, const SearchOptions& options,
                                 SearchStats* stats = nullptr) const;

  size_t size() const { return ids_.size(); }
  size_t clusters() const { return radii_.size(); }
  size_t bytes() const;

 private:
  FactorMatrix items_;              // rows in cluster order
  std::vector<uint32_t> ids_;       // row -> product index
  std::vector<uint32_t> offsets_;   // cluster j holds rows offsets_[j] .. offsets_[j + 1]
  FactorMatrix centroids_;          // clusters x k
  std::vector<float> radii_;

  // Gathers the rows in cluster order and measures each cluster's radius.
  void Finish(const FactorRef& items, bool unit_rows = false);
};

}  // namespace aisle

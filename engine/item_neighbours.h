// ItemNeighbours: each product's most similar products by who bought them
// together (item-based collaborative filtering, Sarwar et al. 2001; the
// co-occurrence model of implicit's ItemItemRecommender and Microsoft's
// SAR): the similarity of products i and j is the cosine of their buyer
// sets, |B(i) & B(j)| / (sqrt(|B(i)| |B(j)|) + shrink), and each product
// keeps its `k` best. A customer's affinity for a product is the
// (recency-weighted) mean similarity of the products they bought to it,
// what buy-again's neighbourhood features read (engine/buy_again.h) and
// what a live purchase changes at once.
// Plain data; immutable once built or loaded, so concurrent reads are safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/csr_matrix.h"

namespace aisle {

struct NeighbourOptions {
  uint32_t k = 50;      // neighbours kept per product
  float shrink = 10;    // added to the cosine's denominator: pairs seen together rarely count less
};

struct ItemNeighbours {
  // products x products: row i holds i's neighbours (sorted by index, never
  // i itself) and their similarity (finite, > 0).
  CsrMatrix similar;

  bool empty() const { return similar.indptr.empty(); }
  // Similarity of `to` from `from`'s list (0 when not a neighbour).
  float Similarity(uint32_t from, uint32_t to) const;
  // f(t, weight[j] x Similarity(sources[j], t)) for every neighbour t of
  // each source in turn (weights empty: 1 each; sources out of range skipped).
  template <typename F>
  void ForEachWeighted(absl::Span<const uint32_t> sources, absl::Span<const float> weights, F&& f) const {
    if (empty()) return;
    for (size_t j = 0; j < sources.size(); ++j) {
      const uint32_t s = sources[j];
      if (s >= similar.rows) continue;
      const float w = weights.empty() ? 1.0f : weights[j];
      for (uint64_t p = similar.indptr[s]; p < similar.indptr[s + 1]; ++p) f(similar.indices[p], w * similar.values[p]);
    }
  }
  // out[t] += weight[j] x Similarity(sources[j], t) for every t (out holds
  // one float per product).
  void Accumulate(absl::Span<const uint32_t> sources, absl::Span<const float> weights, float* out) const {
    ForEachWeighted(sources, weights, [out](uint32_t t, float x) { out[t] += x; });
  }
  // Checks the shape against `num_products`; InvalidArgument naming the
  // first problem (as `what`). Empty is valid (a model written before
  // neighbours). Values must be finite and > 0, or with `signed_values`
  // finite and nonzero (item-item weights, Model::item_weights).
  absl::Status Validate(uint32_t num_products, bool signed_values = false,
                        const char* what = "neighbours") const;
};

// The neighbours of every product from `purchased` (customers x products
// pattern), parallel over products (OpenMP). Time: the sum over customers
// of their distinct products squared; memory: products x k.
ItemNeighbours BuildItemNeighbours(const CsrMatrix& purchased, uint32_t num_products, const NeighbourOptions& options);

}  // namespace aisle

#include "training/item_item_trainer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "absl/strings/str_cat.h"
#include "engine/stopwatch.h"
#include "engine/topk.h"

namespace aisle {

absl::Status ItemItemOptions::Validate() const {
  if (knn.k == 0) return absl::InvalidArgumentError("--item_knn_k must be at least 1");
  if (!(knn.shrink >= 0 && std::isfinite(knn.shrink))) return absl::InvalidArgumentError("--item_knn_shrink must be >= 0");
  if (!(ease.lambda > 0 && std::isfinite(ease.lambda))) return absl::InvalidArgumentError("--ease_lambda must be > 0");
  if (ease.k == 0) return absl::InvalidArgumentError("--ease_k must be at least 1");
  if (ease.max_products == 0 || ease.max_products > 50000) {
    return absl::InvalidArgumentError("--ease_max_products must be in [1, 50000] (memory: 8 n^2 bytes)");
  }
  return absl::OkStatus();
}

absl::StatusOr<ItemItemResult> TrainEase(const CsrMatrix& purchased, const std::vector<float>& popularity,
                                         const EaseOptions& options) {
  const Stopwatch start;
  const uint32_t np = purchased.cols;
  // The products weighted: the most bought, at most max_products, in index order.
  std::vector<uint32_t> chosen(np);
  std::iota(chosen.begin(), chosen.end(), 0u);
  if (np > options.max_products) {
    std::partial_sort(chosen.begin(), chosen.begin() + options.max_products, chosen.end(), [&](uint32_t a, uint32_t b) {
      return popularity[a] != popularity[b] ? popularity[a] > popularity[b] : a < b;
    });
    chosen.resize(options.max_products);
    std::sort(chosen.begin(), chosen.end());
  }
  const auto n = static_cast<Eigen::Index>(chosen.size());
  std::vector<int32_t> slot(np, -1);
  for (Eigen::Index i = 0; i < n; ++i) slot[chosen[i]] = static_cast<int32_t>(i);

  // G = X^T X + lambda I over the chosen products, row by row on all
  // threads: row i counts, for every buyer of i, their other products.
  const CsrMatrix buyers = Transpose(purchased);  // products x customers
  Eigen::MatrixXf g = Eigen::MatrixXf::Zero(n, n);  // symmetric: column i is row i
#pragma omp parallel for schedule(dynamic, 16)
  for (Eigen::Index i = 0; i < n; ++i) {
    float* col = g.col(i).data();
    for (uint32_t c : buyers.RowIndices(chosen[i])) {
      for (uint32_t j : purchased.RowIndices(c)) {
        if (slot[j] >= 0) col[slot[j]] += 1;
      }
    }
    col[i] += options.lambda;
  }
  // P = G^-1 = L^-T L^-1 with G = L L^T (G is positive definite: a Gram
  // matrix plus lambda I), in g's own memory: one n x n matrix in all.
  // Flops: n^3/3 (Cholesky) + n^3/3 (L^-1) + n^3 (P, a column block at a
  // time, each block consumed at once).
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXf>> llt(g);  // L in g's lower triangle
  if (llt.info() != Eigen::Success) {
    return absl::InternalError("ease: the regularized Gram matrix lost positive definiteness in float precision; "
                               "raise --ease_lambda");
  }
  constexpr Eigen::Index kBlock = 256;
  const int threads = omp_get_max_threads();
  // L^-1, a column block at a time left to right: block [j0, j1) of L^-1 is
  // zero above row j0 and needs L[j0:, j0:] only, so it overwrites L's
  // columns j0..j1, which no later block reads. The block's columns are
  // solved on all threads (Eigen's triangular solves are single-threaded).
  for (Eigen::Index j0 = 0; j0 < n; j0 += kBlock) {
    const Eigen::Index b = std::min(kBlock, n - j0), m = n - j0;
    Eigen::MatrixXf x = Eigen::MatrixXf::Identity(m, b);
    const auto lower = g.block(j0, j0, m, m).triangularView<Eigen::Lower>();
    const Eigen::Index per = (b + threads - 1) / threads;
#pragma omp parallel for schedule(static, 1)
    for (Eigen::Index c0 = 0; c0 < b; c0 += per) {
      auto cols = x.middleCols(c0, std::min(per, b - c0));
      lower.solveInPlace(cols);
    }
    g.block(j0, j0, m, b) = x;
  }
  g.triangularView<Eigen::StrictlyUpper>().setZero();  // g = L^-1 (M below)
  // diag(P)_k = |M e_k|^2.
  Eigen::VectorXf diag(n);
#pragma omp parallel for schedule(static)
  for (Eigen::Index k = 0; k < n; ++k) diag[k] = g.col(k).tail(n - k).squaredNorm();
  // P's columns a block at a time (P[:, j] = M^T M e_j, M e_j zero above j);
  // column j of P is row j of P (symmetric), so block j gives the rows of B
  // for sources j: B_jk = -P_jk / P_kk, keeping the k of largest magnitude.
  std::vector<std::vector<ScoredItem>> rows(static_cast<size_t>(n));
  const uint32_t keep_k = options.k;
  for (Eigen::Index j0 = 0; j0 < n; j0 += kBlock) {
    const Eigen::Index b = std::min(kBlock, n - j0), m = n - j0;
    Eigen::MatrixXf pb(n, b);
    pb.noalias() = g.bottomRows(m).transpose() * g.block(j0, j0, m, b);
#pragma omp parallel
    {
      std::vector<ScoredItem> all;
#pragma omp for schedule(dynamic, 8)
      for (Eigen::Index t = 0; t < b; ++t) {
        const Eigen::Index i = j0 + t;
        const float* col = pb.col(t).data();
        all.clear();
        for (Eigen::Index k = 0; k < n; ++k) {
          if (k == i) continue;
          const float w = -col[k] / diag[k];
          if (w != 0 && std::isfinite(w)) all.push_back({chosen[k], w});
        }
        const size_t keep = std::min<size_t>(all.size(), keep_k);
        auto by_magnitude = [](const ScoredItem& a, const ScoredItem& z) {
          const float x = std::fabs(a.score), y = std::fabs(z.score);
          return x != y ? x > y : a.index < z.index;
        };
        std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(keep), all.end(), by_magnitude);
        std::sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(keep),
                  [](const ScoredItem& a, const ScoredItem& z) { return a.index < z.index; });
        rows[static_cast<size_t>(i)].assign(all.begin(), all.begin() + static_cast<ptrdiff_t>(keep));
      }
    }
  }
  ItemItemResult out;
  CsrMatrix& m = out.weights.similar;
  m.rows = m.cols = np;
  m.indptr.assign(uint64_t{np} + 1, 0);
  for (uint32_t q = 0; q < np; ++q) m.indptr[q + 1] = m.indptr[q] + (slot[q] >= 0 ? rows[slot[q]].size() : 0);
  m.indices.reserve(m.indptr.back());
  m.values.reserve(m.indptr.back());
  for (uint32_t q = 0; q < np; ++q) {
    if (slot[q] < 0) continue;
    for (const ScoredItem& s : rows[slot[q]]) {
      m.indices.push_back(s.index);
      m.values.push_back(s.score);
    }
  }
  out.weighted_products = static_cast<uint32_t>(n);
  out.seconds = start.Seconds();
  return out;
}

absl::StatusOr<ItemItemResult> TrainItemItem(Algorithm algorithm, const CsrMatrix& purchased,
                                             const std::vector<float>& popularity, const ItemItemOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  switch (algorithm) {
    case Algorithm::kItemKnn: {
      const Stopwatch start;
      ItemItemResult out;
      out.weights = BuildItemNeighbours(purchased, purchased.cols, options.knn);
      out.weighted_products = purchased.cols;
      out.seconds = start.Seconds();
      return out;
    }
    case Algorithm::kEase:
      return TrainEase(purchased, popularity, options.ease);
    case Algorithm::kIals:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(AlgorithmName(algorithm), " is not an item-item algorithm"));
}

}  // namespace aisle

#include "engine/item_neighbours.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/topk.h"

namespace aisle {

float ItemNeighbours::Similarity(uint32_t from, uint32_t to) const {
  if (empty() || from >= similar.rows) return 0;
  auto row = similar.RowIndices(from);
  auto it = std::lower_bound(row.begin(), row.end(), to);
  if (it == row.end() || *it != to) return 0;
  return similar.values[similar.indptr[from] + static_cast<uint64_t>(it - row.begin())];
}

absl::Status ItemNeighbours::Validate(uint32_t num_products, bool signed_values, const char* what) const {
  if (empty()) return absl::OkStatus();
  const CsrMatrix& m = similar;
  if (m.rows != num_products || m.cols != num_products || m.indptr.size() != uint64_t{num_products} + 1) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", m.rows, "x", m.cols, " for ", num_products, " products"));
  }
  if (m.indptr[0] != 0 || m.indptr.back() != m.indices.size() || m.values.size() != m.indices.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": offsets do not match the entries"));
  }
  for (uint32_t i = 0; i < num_products; ++i) {
    if (m.indptr[i] > m.indptr[i + 1]) return absl::InvalidArgumentError(absl::StrCat(what, ": offsets decrease"));
    for (uint64_t p = m.indptr[i]; p < m.indptr[i + 1]; ++p) {
      if (m.indices[p] >= num_products || m.indices[p] == i || (p > m.indptr[i] && m.indices[p] <= m.indices[p - 1])) {
        return absl::InvalidArgumentError(absl::StrCat(what, " of product ", i, ": bad or unsorted index"));
      }
      const float v = m.values[p];
      if (!(std::isfinite(v) && (signed_values ? v != 0 : v > 0))) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " of product ", i, signed_values ? ": weight not finite and nonzero" : ": similarity not finite and > 0"));
      }
    }
  }
  return absl::OkStatus();
}

ItemNeighbours BuildItemNeighbours(const CsrMatrix& purchased, uint32_t num_products, const NeighbourOptions& options) {
  const CsrMatrix buyers = Transpose(purchased);  // products x customers
  const long np = static_cast<long>(num_products);
  std::vector<double> norm(num_products, 0);
  for (uint32_t i = 0; i < num_products && i < buyers.rows; ++i) norm[i] = std::sqrt(static_cast<double>(buyers.RowLength(i)));
  std::vector<std::vector<ScoredItem>> rows(num_products);
#pragma omp parallel
  {
    std::vector<float> together(num_products, 0);
    std::vector<uint32_t> touched;
    std::vector<ScoredItem> best;
#pragma omp for schedule(dynamic, 64)
    for (long li = 0; li < np; ++li) {
      const auto i = static_cast<uint32_t>(li);
      if (i >= buyers.rows) continue;
      touched.clear();
      for (uint32_t c : buyers.RowIndices(i)) {
        for (uint32_t j : purchased.RowIndices(c)) {
          if (j == i) continue;
          if (together[j] == 0) touched.push_back(j);
          together[j] += 1;
        }
      }
      best.clear();
      for (uint32_t j : touched) {
        best.push_back({j, static_cast<float>(together[j] / (norm[i] * norm[j] + options.shrink))});
        together[j] = 0;
      }
      const size_t keep = std::min<size_t>(best.size(), options.k);
      std::partial_sort(best.begin(), best.begin() + static_cast<ptrdiff_t>(keep), best.end(),
                        [](const ScoredItem& a, const ScoredItem& b) {
                          return a.score != b.score ? a.score > b.score : a.index < b.index;
                        });
      std::sort(best.begin(), best.begin() + static_cast<ptrdiff_t>(keep),
                [](const ScoredItem& a, const ScoredItem& b) { return a.index < b.index; });
      rows[i].assign(best.begin(), best.begin() + static_cast<ptrdiff_t>(keep));  // not best's capacity
    }
  }
  ItemNeighbours out;
  CsrMatrix& m = out.similar;
  m.rows = m.cols = num_products;
  m.indptr.assign(uint64_t{num_products} + 1, 0);
  for (uint32_t i = 0; i < num_products; ++i) m.indptr[i + 1] = m.indptr[i] + rows[i].size();
  m.indices.reserve(m.indptr.back());
  m.values.reserve(m.indptr.back());
  for (const auto& row : rows) {
    for (const ScoredItem& s : row) {
      m.indices.push_back(s.index);
      m.values.push_back(s.score);
    }
  }
  return out;
}

}  // namespace aisle

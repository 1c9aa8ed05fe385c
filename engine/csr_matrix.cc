#include "engine/csr_matrix.h"

#include <algorithm>
#include <numeric>

namespace aisle {

CsrMatrix Transpose(const CsrMatrix& m) {
  CsrMatrix t;
  t.rows = m.cols;
  t.cols = m.rows;
  t.indptr.assign(static_cast<size_t>(m.cols) + 1, 0);
  for (uint32_t c : m.indices) ++t.indptr[c + 1];
  std::partial_sum(t.indptr.begin(), t.indptr.end(), t.indptr.begin());
  t.indices.resize(m.nnz());
  const bool has_values = !m.values.empty();
  if (has_values) t.values.resize(m.nnz());
  std::vector<uint64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Rows of m are visited in order, so each row of t receives ascending indexes.
  for (uint32_t r = 0; r < m.rows; ++r) {
    for (uint64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
      uint64_t dst = next[m.indices[p]]++;
      t.indices[dst] = r;
      if (has_values) t.values[dst] = m.values[p];
    }
  }
  return t;
}

CsrMatrix BuildCsr(uint32_t rows, uint32_t cols, absl::Span<const Triplet> triplets, bool drop,
                   float drop_at_or_below, uint64_t* dropped) {
  if (dropped != nullptr) *dropped = 0;
  // Counting sort by row, then sort each row by column and merge duplicates.
  std::vector<uint64_t> start(static_cast<size_t>(rows) + 1, 0);
  for (const Triplet& t : triplets) ++start[t.row + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::pair<uint32_t, float>> by_row(triplets.size());
  {
    std::vector<uint64_t> next(start.begin(), start.end() - 1);
    for (const Triplet& t : triplets) by_row[next[t.row]++] = {t.col, t.value};
  }
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.assign(static_cast<size_t>(rows) + 1, 0);
  m.indices.reserve(triplets.size());
  m.values.reserve(triplets.size());
  for (uint32_t r = 0; r < rows; ++r) {
    auto b = by_row.begin() + static_cast<ptrdiff_t>(start[r]);
    auto e = by_row.begin() + static_cast<ptrdiff_t>(start[r + 1]);
    std::sort(b, e, [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto it = b; it != e;) {
      uint32_t col = it->first;
      float sum = 0;
      for (; it != e && it->first == col; ++it) sum += it->second;
      if (drop && !(sum > drop_at_or_below)) {
        if (dropped != nullptr) ++*dropped;
        continue;
      }
      m.indices.push_back(col);
      m.values.push_back(sum);
    }
    m.indptr[r + 1] = m.indices.size();
  }
  return m;
}

}  // namespace aisle
